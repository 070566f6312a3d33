import os
from pathlib import Path

import pytest

# The mirror beside the checkout, as the Makefile exports it, for runs of plain pytest.
_MIRROR = Path(__file__).resolve().parents[3] / "shared" / "datasets"
if "MANCEROPS_DATASETS" not in os.environ and _MIRROR.is_dir():
    os.environ["MANCEROPS_DATASETS"] = str(_MIRROR)

import promdata  # noqa: E402
from servers import PrometheusServer, backfill  # noqa: E402


def start_prometheus(root: Path) -> PrometheusServer:
    """Backfill the test history into a fresh TSDB under ``root`` and start Prometheus on it."""
    server = PrometheusServer(root)
    history = promdata.write_history(root / "history")
    for file in sorted(history.glob("*.om")):
        backfill(file, root / "data")
    return server.start()


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory):
    """A real Prometheus on 127.0.0.1 with the RCD case, the `up` fixtures and synthetic series."""
    server = start_prometheus(tmp_path_factory.mktemp("prometheus"))
    yield server
    server.stop()
