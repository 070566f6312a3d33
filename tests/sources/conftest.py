import os
import ssl
import subprocess
from pathlib import Path

import bcrypt
import httpx
import pytest

# The mirror beside the checkout, as the Makefile exports it, for runs of plain pytest.
_MIRROR = Path(__file__).resolve().parents[3] / "shared" / "datasets"
if "MANCEROPS_DATASETS" not in os.environ and _MIRROR.is_dir():
    os.environ["MANCEROPS_DATASETS"] = str(_MIRROR)

import esdata  # noqa: E402
import promdata  # noqa: E402
from promdata import PASSWORD, USER  # noqa: E402
from search_server import Fleet  # noqa: E402
from servers import PrometheusServer, backfill, tool  # noqa: E402


def start_prometheus(root: Path, only: str = "*") -> PrometheusServer:
    """Backfill the test history (files matching ``only``) into a fresh TSDB and start on it."""
    server = PrometheusServer(root)
    history = promdata.write_history(root / "history")
    for file in sorted(history.glob(f"{only}.om")):
        backfill(file, root / "data")
    return server.start()


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory):
    """A real Prometheus on 127.0.0.1 with the RCD case, the `up` fixtures and synthetic series."""
    server = start_prometheus(tmp_path_factory.mktemp("prometheus"))
    yield server
    server.stop()


@pytest.fixture
def doomed_prometheus(tmp_path):
    """A Prometheus of its own (synthetic series only) for a test that stops it."""
    server = start_prometheus(tmp_path, only="synth")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def secure_prometheus(tmp_path_factory):
    """A Prometheus behind real TLS and basic auth (``--web.config.file``), empty TSDB."""
    root = tmp_path_factory.mktemp("prometheus-tls")
    make_certificate(root)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    web = root / "web.yml"
    web.write_text(
        "tls_server_config: {cert_file: tls.crt, key_file: tls.key}\n"
        f"basic_auth_users: {{{USER}: '{hashed}'}}\n"
    )
    server = PrometheusServer(root, web_config=web)
    ca = ssl.create_default_context(cafile=str(root / "tls.crt"))

    def ready(url):
        try:
            answer = httpx.get(
                f"{url}/-/ready", auth=(USER, PASSWORD), verify=ca, timeout=1, trust_env=False
            )
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    server.start(ready=ready)
    server.ca = root / "tls.crt"
    yield server
    server.stop()


def make_certificate(root: Path) -> None:
    """Write a self-signed certificate for localhost and 127.0.0.1 (tls.crt, tls.key)."""
    run = subprocess.run(
        [
            tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(root / "tls.key"), "-out", str(root / "tls.crt"), "-days", "3650",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if run.returncode != 0:
        pytest.fail(
            f"openssl could not make a test certificate: {run.stderr[-1000:]}", pytrace=False
        )


_fleet: Fleet | None = None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Boot the search servers in the background as soon as a selected test needs them."""
    global _fleet
    if _fleet is None and any("search_servers" in item.fixturenames for item in items):
        _fleet = Fleet(esdata.load).start()


def pytest_sessionfinish(session):
    if _fleet is not None:
        _fleet.stop()


@pytest.fixture(scope="session")
def search_servers():
    """OpenSearch 2.19.1 and Elasticsearch 7.17.29 on 127.0.0.1, holding the Nezha test logs.

    Booted once per session, from the end of collection on (see esdata.py for the data).
    """
    global _fleet
    if _fleet is None:
        _fleet = Fleet(esdata.load).start()
    return _fleet.wait()


@pytest.fixture(params=["opensearch", "elasticsearch"])
def search(request, search_servers):
    """Each search server in turn: the test runs against both dialects."""
    return search_servers[request.param]


@pytest.fixture
def opensearch(search_servers):
    return search_servers["opensearch"]


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory):
    """A self-signed certificate for localhost and 127.0.0.1: (tls.crt, tls.key)."""
    root = tmp_path_factory.mktemp("tls")
    make_certificate(root)
    return root / "tls.crt", root / "tls.key"


@pytest.fixture(scope="session")
def jaeger(tmp_path_factory):
    """A real Jaeger v2.12.0 on 127.0.0.1 (memory storage) holding Nezha traces.

    See jaegerdata.py for what is sent; ``jaeger.recent`` maps "47h"/"49h" to the trace
    ids of the two copies moved to recent times.
    """
    import jaegerdata
    from jaeger_server import JaegerServer

    server = JaegerServer(tmp_path_factory.mktemp("jaeger")).start()
    try:
        server.recent = jaegerdata.load(server)
        jaegerdata.wait_until_stored(server, server.recent)
        yield server
    finally:
        server.stop()
