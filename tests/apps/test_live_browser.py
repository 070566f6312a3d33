"""The apps on a live source: `mancerops serve --prometheus` against a real Prometheus."""

from __future__ import annotations

import time

import httpx
from browser import FIRST_CASE, UI_TIMEOUT_MS, open_app, text

from workbench import datasets, investigate


def test_incident_from_prometheus_ranks_as_the_recorded_case(live_served, page):
    open_app(page, live_served, "incident")
    recorded = investigate(datasets.load(FIRST_CASE))
    summary = text(page.locator(".wb-summary"))
    assert summary.startswith("prometheus/127.0.0.1:")  # the pull, not the dataset
    assert "2022-05-17T18:37:55Z" in summary  # the onset the recorded case gives
    top = recorded.ranking[0]
    assert page.get_by_text(f"#1 {top.service} · {top.indicator}").first.is_visible()
    assert page.locator(".wb-suite select").input_value() == "prometheus"


def _range_queries(prometheus) -> float:
    """Return how many range queries Prometheus says it has answered (its own counter)."""
    body = httpx.get(f"{prometheus.url}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith("prometheus_http_requests_total{")
        and 'handler="/api/v1/query_range"' in line
    )


def test_refresh_pulls_again_and_keeps_the_view(live_served, live_prometheus, page):
    open_app(page, live_served, "incident")
    before = text(page.locator(".wb-summary"))
    asked = _range_queries(live_prometheus)
    page.locator(".wb-refresh button").click()
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while _range_queries(live_prometheus) == asked and time.monotonic() < deadline:
        time.sleep(0.25)
    assert _range_queries(live_prometheus) > asked  # the click pulled the source again
    page.locator(".wb-timeline .js-plotly-plot").wait_for(timeout=UI_TIMEOUT_MS)
    assert text(page.locator(".wb-summary")) == before  # same range pulled: same answer
    assert page.locator(".wb-every select").input_value() == "off"


def test_overview_of_the_live_source_maps_its_services(live_served, page):
    open_app(page, live_served, "overview")
    labels = page.locator(".wb-map .js-plotly-plot").evaluate("el => el.data[0].text")
    assert len(labels) == datasets.load(FIRST_CASE).metrics["service"].n_unique()
    assert "service map (from metrics)" in text(page.locator(".wb-map"))
