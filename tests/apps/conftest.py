"""`mancerops serve` on a loopback port, and Debian's Chromium driven by Playwright.

The browser is /usr/bin/chromium (`apt-get install chromium chromium-driver`, done by
.ci/run); Playwright never downloads a browser of its own. Screenshots go to
``screenshots/`` at the top of the checkout (gitignored; CI keeps it as an artifact), or
to ``$MANCEROPS_SCREENSHOTS``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from browser import FIRST_CASE, SCREENSHOTS
from servers import LOOPBACK, PrometheusServer, backfill, free_port

from workbench import datasets
from workbench.rca.model import iso
from workbench.sources.openmetrics import write_openmetrics

CHROMIUM = "/usr/bin/chromium"
# Flags for a headless Chromium on a closed network (see shared/SERVERS.md, polyglot.md).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVE_READY_TIMEOUT_S = 60.0


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """Yield the base URL of `mancerops serve --dataset FIRST_CASE` on a free loopback port."""
    yield from _serve(tmp_path_factory, f"--dataset={FIRST_CASE}")


# The RCD case's series in Prometheus, pulled back with this selector (as the source tests).
RCD_QUERY = '{__name__=~"cpu|mem|lod|lat_.+"}'


@pytest.fixture(scope="session")
def live_prometheus(tmp_path_factory):
    """Yield a real Prometheus on 127.0.0.1 holding FIRST_CASE's series."""
    root = tmp_path_factory.mktemp("prometheus-live")
    write_openmetrics(datasets.load(FIRST_CASE).metrics, root / "rcd.om")
    prometheus = PrometheusServer(root)
    backfill(root / "rcd.om", root / "data")
    prometheus.start()
    yield prometheus
    prometheus.stop()


@pytest.fixture(scope="session")
def live_served(live_prometheus, tmp_path_factory):
    """Yield the base URL of `mancerops serve --live`, pulling FIRST_CASE's series over the
    case's own time range at 1 s from the Prometheus, step and queries of a settings file."""
    metrics = datasets.load(FIRST_CASE).metrics
    folder = tmp_path_factory.mktemp("settings")
    (folder / "rcd.toml").write_text(f"[[query]]\nmetric = \"\"\npromql = '{RCD_QUERY}'\n")
    config = folder / "mancerops.toml"
    config.write_text(
        f'[prometheus]\nurl = "{live_prometheus.url}"\nstep = "1s"\nqueries = "rcd.toml"\n'
    )
    yield from _serve(
        tmp_path_factory,
        "--live",
        f"--config={config}",
        f"--start={iso(metrics['timestamp'].min())}",
        f"--end={iso(metrics['timestamp'].max())}",
    )


def _serve(tmp_path_factory, *options: str):
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "workbench.cli", "serve", f"--port={port}", *options],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    base = f"http://{LOOPBACK}:{port}"
    deadline = time.monotonic() + SERVE_READY_TIMEOUT_S
    while True:
        if server.poll() is not None:
            pytest.fail(f"mancerops serve exited: {log_path.read_text()[-2000:]}", pytrace=False)
        try:
            if httpx.get(f"{base}/liveness", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.terminate()
            pytest.fail(f"mancerops serve not ready: {log_path.read_text()[-2000:]}")
        time.sleep(0.3)
    yield base
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Yield a headless Chromium context with a fresh profile."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is not installed: apt-get install chromium chromium-driver "
            "(`bash .ci/run servers` does it)",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        yield context
        context.close()


class ConsoleLog:
    """The browser console's errors, uncaught page errors and failed requests of a page."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on(
            "requestfailed",
            lambda request: self.errors.append(f"request failed: {request.url}"),
        )

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")


@pytest.fixture
def page(browser, request):
    """Yield a new tab; after the test, save its screenshot and fail on console errors."""
    tab = browser.new_page()
    tab.console_log = ConsoleLog(tab)
    yield tab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    errors = tab.console_log.errors
    tab.close()
    assert errors == [], f"the browser reported errors: {errors}"
