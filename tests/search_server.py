"""Real OpenSearch and Elasticsearch for the tests, per ../shared/SERVERS.md section 2.

The integ-test-zip distributions from Maven Central (installed, once, by
``bash .ci/run servers``) run on 127.0.0.1 with free ports, a 512 MB heap and a data
directory of their own, as the unprivileged ``mancerops-search`` user when the tests run
as root (neither server runs as root), and are stopped by PID. A server that cannot start
fails the test with the reason and its log.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest
from servers import LOOPBACK, free_port

OPENSEARCH_VERSION = "2.19.1"
ELASTICSEARCH_VERSION = "7.17.29"
RUN_USER = "mancerops-search"
RUN_HOME = Path("/var/lib/mancerops-search")
HEAP = "-Xms512m -Xmx512m"
READY_TIMEOUT_S = 120.0  # about 12 s alone; much longer while another JVM starts on 2 cores
INSTALL_HINT = "install it with `bash .ci/run servers` (downloads from Maven Central once)"


def _cache() -> Path:
    if "MANCEROPS_CI_CACHE" in os.environ:
        return Path(os.environ["MANCEROPS_CI_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mancerops-ci"


def _java_home() -> str:
    if os.environ.get("MANCEROPS_JAVA_HOME"):
        return os.environ["MANCEROPS_JAVA_HOME"]
    debian = Path("/usr/lib/jvm/java-17-openjdk-amd64")
    if debian.is_dir():
        return str(debian)
    java = shutil.which("java")
    if java is None:
        pytest.fail("java is not installed: the search servers need Java 17", pytrace=False)
    return str(Path(java).resolve().parent.parent)


@dataclass
class SearchServer:
    """One OpenSearch or Elasticsearch node on 127.0.0.1; ``flavor`` is the artifact name."""

    flavor: str
    version: str
    port: int = 0
    process: subprocess.Popen | None = None
    root: Path | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    def home(self) -> Path:
        """Return the unpacked distribution, failing the test with the fix when it is absent."""
        trees = RUN_HOME if self.as_root else _cache()
        tree = trees / f"{self.flavor}-{self.version}"
        if not (tree / "bin" / self.flavor).exists():
            pytest.fail(
                f"{self.flavor} {self.version} is not at {tree}: {INSTALL_HINT}", pytrace=False
            )
        return tree

    def launch(self) -> SearchServer:
        """Start the process without waiting for it (see :meth:`wait_ready`)."""
        home = self.home()
        if self.as_root:
            try:
                user = pwd.getpwnam(RUN_USER)
            except KeyError:
                pytest.fail(
                    f"no user {RUN_USER} to run {self.flavor}: {INSTALL_HINT}", pytrace=False
                )
            self.root = Path(tempfile.mkdtemp(prefix=f"{self.flavor}-run-", dir=RUN_HOME))
        else:
            user = None
            self.root = Path(tempfile.mkdtemp(prefix=f"{self.flavor}-run-"))
        config = self.root / "config"
        shutil.copytree(home / "config", config)
        # The stock jvm.options write the GC log and heap dumps relative to the working
        # directory; keep them in this run's folder.
        options = (config / "jvm.options").read_text()
        options = options.replace("file=logs/gc.log", f"file={self.root}/logs/gc.log")
        options = options.replace("HeapDumpPath=data", f"HeapDumpPath={self.root}/data")
        options = options.replace("ErrorFile=logs/", f"ErrorFile={self.root}/logs/")
        (config / "jvm.options").write_text(options)
        for name in ("data", "logs", "tmp"):
            (self.root / name).mkdir()
        if user is not None:
            for path in [self.root, *self.root.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid)
        self.log = self.root / "console.log"
        self.port = free_port()
        settings = [
            f"http.host={LOOPBACK}",
            f"http.port={self.port}",
            f"transport.host={LOOPBACK}",
            f"transport.port={free_port()}",
            "discovery.type=single-node",
            f"path.data={self.root / 'data'}",
            f"path.logs={self.root / 'logs'}",
            "cluster.routing.allocation.disk.threshold_enabled=false",
        ]
        if self.flavor == "elasticsearch":
            settings += ["xpack.security.enabled=false", "xpack.ml.enabled=false"]
        prefix = "OPENSEARCH" if self.flavor == "opensearch" else "ES"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(self.root),
            f"{prefix}_JAVA_HOME": _java_home(),
            f"{prefix}_JAVA_OPTS": HEAP,
            f"{prefix}_PATH_CONF": str(config),
            f"{prefix}_TMPDIR": str(self.root / "tmp"),
        }
        command = [str(home / "bin" / self.flavor)]
        for setting in settings:
            command += ["-E", setting]
        with self.log.open("ab") as log:
            # Popen drops to the run user itself (no runuser or shell in between), so
            # .pid is the server's own PID and stop() reaches it.
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.root,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
                extra_groups=[] if user else None,
                start_new_session=True,
            )
        return self

    def wait_ready(self) -> SearchServer:
        """Wait until the node answers with a yellow or green cluster; fail with its log."""
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self._log_tail()
                self.cleanup()
                pytest.fail(
                    f"{self.flavor} exited with {self.process.returncode}: {tail}", pytrace=False
                )
            if self._ready():
                return self
            time.sleep(0.2)
        tail = self._log_tail()
        self.stop()
        pytest.fail(
            f"{self.flavor} was not ready within {READY_TIMEOUT_S:g} s: {tail}", pytrace=False
        )

    def start(self) -> SearchServer:
        return self.launch().wait_ready()

    def stop(self) -> None:
        """Stop the server by its PID (SIGTERM, then SIGKILL after 20 s) and remove its files."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.cleanup()

    def cleanup(self) -> None:
        if self.root is None or os.environ.get("MANCEROPS_KEEP_SERVER_FILES"):
            return
        shutil.rmtree(self.root, ignore_errors=True)

    # -- data --------------------------------------------------------------------------

    def request(self, method: str, path: str, body=None, **params) -> dict:
        """Send one request and return its JSON answer, failing the test on an error status."""
        content = body if isinstance(body, bytes) else None if body is None else orjson.dumps(body)
        answer = httpx.request(
            method,
            f"{self.url}/{path.lstrip('/')}",
            content=content,
            params=params or None,
            headers={"Content-Type": "application/json"},
            timeout=60,
            trust_env=False,
        )
        if answer.status_code >= 300:
            pytest.fail(f"{method} {path} -> {answer.status_code} {answer.text[:2000]}")
        return answer.json()

    def create_index(self, name: str, properties: dict) -> None:
        """Create an index of one shard, no replicas (a single node stays green).

        Test data need no durability: the translog is synced in the background.
        """
        settings = {
            "number_of_shards": 1,
            "number_of_replicas": 0,
            "translog": {"durability": "async"},
        }
        self.request("PUT", name, {"settings": settings, "mappings": {"properties": properties}})

    def bulk(self, documents: dict[str, list[dict]], chunk: int = 10_000) -> None:
        """Index ``{index: [document, ...]}`` with ``_bulk``, then refresh once."""
        lines = []
        for index, listed in documents.items():
            action = orjson.dumps({"index": {"_index": index}})
            for document in listed:
                lines += [action, orjson.dumps(document)]
        for first in range(0, len(lines), 2 * chunk):
            body = b"\n".join(lines[first : first + 2 * chunk]) + b"\n"
            answer = self.request("POST", "_bulk", body)
            if answer.get("errors"):
                failed = next(i for i in answer["items"] if i["index"].get("error"))
                pytest.fail(f"bulk indexing failed: {failed}")
        self.request("POST", "_refresh")

    def _ready(self) -> bool:
        try:
            answer = httpx.get(f"{self.url}/_cluster/health", timeout=1.0, trust_env=False)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200 and answer.json().get("status") in ("yellow", "green")

    def _log_tail(self) -> str:
        if self.log is None or not self.log.exists():
            return "(no log)"
        return self.log.read_text(errors="replace")[-3000:]


class CutProxy:
    """A TCP proxy on 127.0.0.1 to a server; :meth:`cut` drops every connection and the port.

    Stands in for a search server that goes away mid-pull: after the cut, open
    connections are reset and new ones are refused, as when the process dies.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._cut = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def cut(self) -> None:
        self._cut.set()
        # close() alone leaves a thread blocked in accept() accepting; shutdown wakes it.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()

    def _accept(self) -> None:
        while not self._cut.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                return
            try:
                upstream = socket.create_connection((LOOPBACK, self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
            threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


@dataclass
class Answer:
    """One scripted HTTP answer of a :class:`Replay` server."""

    status: int
    body: bytes | dict | list = b"{}"
    headers: dict[str, str] = field(default_factory=dict)


class Replay:
    """An HTTP(S) server on 127.0.0.1 that answers each request through ``answer``.

    For what a real server will not show on demand: recorded answers of other versions
    (ES 6, ES 8), 429s and 5xx, a ``pit_id`` that changes, shard failures on a scroll
    page. ``answer(method, path, body)`` returns an :class:`Answer`; ``requests`` records
    ``(method, path, headers, body)`` of each call.
    """

    def __init__(self, answer, *, certificate: tuple[Path, Path] | None = None) -> None:
        import http.server
        import ssl

        self.answer = answer
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                owner.requests.append((self.command, self.path, dict(self.headers), body))
                reply = owner.answer(self.command, self.path, body)
                content = reply.body if isinstance(reply.body, bytes) else orjson.dumps(reply.body)
                self.send_response(reply.status)
                for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.scheme = "http"
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(certificate[0]), str(certificate[1]))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.port}"

    def searches(self) -> list[dict]:
        """Return the JSON bodies of the search requests, in order."""
        return [
            orjson.loads(body)
            for method, path, _, body in self.requests
            if method == "POST" and path.split("?")[0].endswith("_search")
        ]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start_search_servers(flavors=("opensearch", "elasticsearch")) -> dict[str, SearchServer]:
    """Start one node of each flavour at once (the JVMs warm up in parallel)."""
    versions = {"opensearch": OPENSEARCH_VERSION, "elasticsearch": ELASTICSEARCH_VERSION}
    servers = {flavor: SearchServer(flavor, versions[flavor]) for flavor in flavors}
    try:
        for server in servers.values():
            server.launch()
        for server in servers.values():
            server.wait_ready()
    except BaseException:
        for server in servers.values():
            if server.process is not None:
                server.stop()
        raise
    return servers


class Fleet:
    """Search servers that boot (and take their data) in a background thread.

    Started when collection shows a test needs them, so the JVMs warm up while earlier
    tests run on the other core; the fixture then only waits for them.
    """

    def __init__(self, load, flavors=("opensearch", "elasticsearch")) -> None:
        self.load = load
        self.flavors = flavors
        self.servers: dict[str, SearchServer] = {}
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="search-servers", daemon=True)

    def start(self) -> Fleet:
        self._thread.start()
        return self

    def wait(self) -> dict[str, SearchServer]:
        """Return the ready, loaded servers; raise what went wrong otherwise."""
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.servers

    def stop(self) -> None:
        self._thread.join()
        for server in self.servers.values():
            server.stop()

    def _run(self) -> None:
        try:
            self.servers = start_search_servers(self.flavors)
            for server in self.servers.values():
                self.load(server)
        except BaseException as exc:  # pytest.fail raises a BaseException: hand it on
            self.error = exc
