"""Real servers for the tests: started on 127.0.0.1, free ports, stopped by PID.

Recipes follow ../shared/SERVERS.md. A server that cannot start fails the test with the
reason (never a silent skip): install Prometheus with `bash .ci/run servers`.
"""

from __future__ import annotations

import contextlib
import http.server
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

LOOPBACK = "127.0.0.1"
READY_TIMEOUT_S = 30.0
INSTALL_HINT = "install it with `bash .ci/run servers` (Debian's prometheus package)"


def stop_process(process: subprocess.Popen | None) -> None:
    """Stop a test server by its PID: SIGTERM, then SIGKILL after 10 s; wait for it."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def free_port() -> int:
    """Return a TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def tool(name: str) -> str:
    """Return the path of a server binary, failing the test with the fix when it is absent."""
    found = shutil.which(name) or (
        f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
    )
    if found is None:
        pytest.fail(f"{name} is not installed: {INSTALL_HINT}", pytrace=False)
    return found


def backfill(openmetrics: Path, data_dir: Path) -> None:
    """Write the samples of an OpenMetrics file into TSDB blocks under ``data_dir``."""
    run = subprocess.run(
        [
            tool("promtool"),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(openmetrics),
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    if run.returncode != 0:
        pytest.fail(
            f"promtool backfill of {openmetrics} failed: {run.stderr.strip()[-2000:]}",
            pytrace=False,
        )


@dataclass
class PrometheusServer:
    """A Prometheus process on 127.0.0.1 serving the TSDB in ``root / "data"``."""

    root: Path
    web_config: Path | None = None
    port: int = 0
    process: subprocess.Popen | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.root / "prometheus.log"
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        (self.root / "prometheus.yml").write_text(
            "global: {scrape_interval: 15s}\nscrape_configs: []\n"
        )

    @property
    def url(self) -> str:
        scheme = "https" if self.web_config else "http"
        return f"{scheme}://{LOOPBACK}:{self.port}"

    def start(self, ready: Callable[[str], bool] | None = None) -> PrometheusServer:
        """Start the server and wait until it is ready; fail with its log otherwise."""
        self.port = free_port()
        command = [
            tool("prometheus"),
            f"--config.file={self.root / 'prometheus.yml'}",
            f"--web.listen-address={LOOPBACK}:{self.port}",
            f"--storage.tsdb.path={self.root / 'data'}",
            "--storage.tsdb.retention.time=100y",
        ]
        if self.web_config is not None:
            command.append(f"--web.config.file={self.web_config}")
        with self.log.open("ab") as log:
            # Popen without a shell: .pid is the server's own PID, so stop() reaches it.
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        probe = ready or self._ready
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"prometheus exited with {self.process.returncode}: {self._log_tail()}",
                    pytrace=False,
                )
            if probe(self.url):
                return self
            time.sleep(0.1)
        self.stop()
        pytest.fail(
            f"prometheus was not ready within {READY_TIMEOUT_S:g} s: {self._log_tail()}",
            pytrace=False,
        )

    def stop(self) -> None:
        """Stop the server by its PID (SIGTERM, then SIGKILL after 10 s) and wait for it."""
        stop_process(self.process)

    @staticmethod
    def _ready(url: str) -> bool:
        try:
            return httpx.get(f"{url}/-/ready", timeout=1.0, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else "(no log)"


class SlowProxy:
    """A TCP proxy on 127.0.0.1 that waits ``delay`` seconds before relaying a connection."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.target_port = target_port
        self.delay = delay
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def close(self) -> None:
        self._stopped.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self._stopped.wait(self.delay):
            client.close()
            return
        try:
            upstream = socket.create_connection((LOOPBACK, self.target_port))
        except OSError:
            client.close()
            return
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)


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
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedServer:
    """An HTTP server on 127.0.0.1 that gives ``replies`` in order (the last one repeats).

    For answers a real Prometheus will not give on demand: 429s, 5xx, partial-response
    warnings as Thanos sends them. ``requests`` records (method, path, body) of each call.
    """

    def __init__(self, replies: Sequence[Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[tuple[str, str, bytes]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                owner.requests.append((self.command, self.path, body))
                reply = owner.replies[min(len(owner.requests), len(owner.replies)) - 1]
                self.send_response(reply.status)
                for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
