"""Servers for the alerting tests: a Prometheus holding hand-written series and (in
test_delivery) a real Alertmanager."""

from __future__ import annotations

import pytest
from alertdata import SERIES, write_series
from servers import PrometheusServer, backfill


@pytest.fixture(scope="session")
def history_prometheus(tmp_path_factory):
    """A real Prometheus on 127.0.0.1 holding SERIES from T0."""
    root = tmp_path_factory.mktemp("alerts-prometheus")
    server = PrometheusServer(root)
    backfill(write_series(root / "series.om", SERIES), root / "data")
    server.start()
    yield server
    server.stop()
