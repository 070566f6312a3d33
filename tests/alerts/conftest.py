"""Servers for the alerting tests: a Prometheus holding hand-written series and (in
test_delivery) a real Alertmanager."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from alertdata import LIVE_BEFORE_MIN, SERIES, SERVER_RULES, live_series, live_start, write_series
from receiver import Receiver
from servers import (
    LOOPBACK,
    READY_TIMEOUT_S,
    PrometheusServer,
    backfill,
    free_port,
    stop_process,
    tool,
)

# The mirror beside the checkout, as the Makefile exports it, for runs of plain pytest.
_MIRROR = Path(__file__).resolve().parents[3] / "shared" / "datasets"
if "MANCEROPS_DATASETS" not in os.environ and _MIRROR.is_dir():
    os.environ["MANCEROPS_DATASETS"] = str(_MIRROR)


@pytest.fixture(scope="session")
def history_prometheus(tmp_path_factory):
    """A real Prometheus on 127.0.0.1 holding SERIES from T0."""
    root = tmp_path_factory.mktemp("alerts-prometheus")
    server = PrometheusServer(root)
    backfill(write_series(root / "series.om", SERIES), root / "data")
    server.start()
    yield server
    server.stop()


@dataclass
class AlertmanagerServer:
    """A real Alertmanager on 127.0.0.1 (no gossip port), routing to ``webhook``."""

    root: Path
    webhook: str
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> AlertmanagerServer:
        config = self.root / "alertmanager.yml"
        config.write_text(
            "route: {receiver: hook, group_by: [alertname], group_wait: 1s, "
            "group_interval: 1s, repeat_interval: 1h}\n"
            f"receivers: [{{name: hook, webhook_configs: [{{url: '{self.webhook}', "
            "send_resolved: true}]}]\n"
        )
        self.port = free_port()
        log = self.root / "alertmanager.log"
        with log.open("ab") as sink:
            self.process = subprocess.Popen(
                [
                    tool("prometheus-alertmanager"),
                    f"--config.file={config}",
                    f"--storage.path={self.root / 'data'}",
                    f"--web.listen-address={LOOPBACK}:{self.port}",
                    "--cluster.listen-address=",
                ],
                stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"alertmanager exited: {log.read_text()[-2000:]}", pytrace=False)
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1, trust_env=False).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"alertmanager was not ready: {log.read_text()[-2000:]}", pytrace=False)

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture(scope="session")
def receiver():
    """The loopback webhook receiver: Alertmanager posts to /am, we post to /direct."""
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(scope="session")
def alertmanager(tmp_path_factory, receiver):
    server = AlertmanagerServer(tmp_path_factory.mktemp("alertmanager"), receiver.url("/am"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_prometheus(tmp_path_factory):
    """A real Prometheus holding LIVE_SERIES around the test's start (see alertdata)."""
    root = tmp_path_factory.mktemp("alerts-live-prometheus")
    server = PrometheusServer(root)
    t0 = live_start()
    backfill(write_series(root / "live.om", live_series(), t0), root / "data")
    server.start()
    server.t0 = t0
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ruled_prometheus(tmp_path_factory):
    """A real Prometheus on the live series that evaluates SERVER_RULES itself, every second."""
    root = tmp_path_factory.mktemp("alerts-ruled-prometheus")
    server = PrometheusServer(root)
    (root / "rules.yml").write_text(SERVER_RULES)
    (root / "prometheus.yml").write_text(
        "global: {scrape_interval: 15s, evaluation_interval: 1s}\n"
        f"rule_files: ['{root / 'rules.yml'}']\nscrape_configs: []\n"
    )
    past = {key: values[: LIVE_BEFORE_MIN + 1] for key, values in live_series().items()}
    backfill(write_series(root / "live.om", past, live_start()), root / "data")
    server.start()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:  # until every rule was evaluated once
        groups = httpx.get(f"{server.url}/api/v1/rules", trust_env=False).json()["data"]["groups"]
        if groups and all(r.get("lastEvaluation", "0001").startswith("20")
                          for r in groups[0]["rules"]):  # fmt: skip
            break
        time.sleep(0.2)
    yield server
    server.stop()
