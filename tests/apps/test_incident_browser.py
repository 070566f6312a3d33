"""The Incident app in Debian's headless Chromium, against `mancerops serve`."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import polars as pl
from browser import (
    FIRST_CASE,
    SCREENSHOTS,
    UI_TIMEOUT_MS,
    as_time,
    open_app,
    plotly_time,
    text,
    x_range,
)
from playwright.sync_api import expect

from workbench import datasets, investigate

NEZHA_CASE = "2023-01-30/12_52"


def test_incident_first_render_shows_case_onset_and_ranking(served, page):
    seconds = open_app(page, served, "incident")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "incident-first-render.json").write_text(
        json.dumps({"case": FIRST_CASE, "first_render_s": round(seconds, 3)})
    )
    print(f"Incident app first render: {seconds:.2f} s")  # reported, not asserted
    summary = text(page.locator(".wb-summary"))
    assert FIRST_CASE in summary
    assert "2022-05-17T18:37:55Z" in summary  # detected onset: the first anomalous row
    assert "ground truth: carts (cpu)" in summary
    header = page.get_by_text("#1 carts · carts_cpu").first
    assert header.is_visible()


def test_choose_a_case_and_open_a_cause_to_see_its_evidence(served, page):
    open_app(page, served, "incident")
    page.locator(".wb-case select").select_option(label="user-mem/1")
    page.get_by_text("rcd-sockshop/user-mem/1").wait_for(timeout=UI_TIMEOUT_MS)
    top = investigate(datasets.load("rcd-sockshop/user-mem/1")).ranking[0]
    assert top.service == "user"  # ground truth of user-mem/1
    page.get_by_text(f"#1 {top.service} · {top.indicator}").first.click()
    evidence = page.locator(".wb-evidence-1")
    evidence.locator(".wb-indicator .js-plotly-plot").wait_for(timeout=UI_TIMEOUT_MS)
    shown = text(evidence)
    assert f"{top.indicator}: baseline" in shown
    assert "This case has no logs." in shown and "This case has no traces." in shown
    title = text(evidence.locator(".wb-indicator .gtitle"))
    assert title == top.indicator


def test_nezha_cause_shows_log_templates_and_a_trace_waterfall(served, page):
    open_app(page, served, "incident", f"?suite=nezha&case={NEZHA_CASE}")
    page.get_by_text(f"nezha/{NEZHA_CASE}").first.wait_for(timeout=UI_TIMEOUT_MS)
    case = datasets.load(f"nezha/{NEZHA_CASE}")
    top = investigate(case).ranking[0]
    page.get_by_text(f"#1 {top.service}").first.click()
    evidence = page.locator(".wb-evidence-1")
    evidence.locator(".wb-waterfall .js-plotly-plot").wait_for(timeout=UI_TIMEOUT_MS)
    rows = evidence.locator(".wb-logs table tbody tr")
    assert rows.count() >= 1
    first_trace = evidence.locator(".wb-trace select").input_value()
    spans = case.spans.filter(pl.col("trace_id") == first_trace)
    bars = evidence.locator(".wb-waterfall .js-plotly-plot").evaluate("el => el.data[0].x.length")
    assert bars == spans.unique("span_id").height


def test_time_range_narrows_the_timeline_and_the_evidence(served, page):
    open_app(page, served, "incident")
    page.get_by_text("#1 carts · carts_cpu").first.click()
    page.locator(".wb-evidence-1 .wb-indicator .js-plotly-plot").wait_for(timeout=UI_TIMEOUT_MS)
    folder = datasets.path("rcd-sockshop") / "sock-shop-data" / "carts-cpu" / "1"
    last = pl.read_csv(folder / "anomalous.csv")["time"].max()
    end = pl.Series([last * 10**9]).cast(pl.Datetime("ns", "UTC"))[0]
    start = end - timedelta(minutes=5)
    page.locator(".wb-time select").select_option(label="last 5 min")
    timeline = x_range(page, ".wb-timeline", plotly_time(start))
    assert [as_time(x) for x in timeline] == [plotly_time(start), plotly_time(end)]
    indicator = x_range(page, ".wb-evidence-1 .wb-indicator", plotly_time(start))
    assert [as_time(x) for x in indicator] == [plotly_time(start), plotly_time(end)]


def test_links_to_other_apps_keep_the_case_and_the_time_range(served, page):
    open_app(page, served, "incident")
    page.locator(".wb-case select").select_option(label="payment-cpu/2")
    page.get_by_text("rcd-sockshop/payment-cpu/2").wait_for(timeout=UI_TIMEOUT_MS)
    page.locator(".wb-time select").select_option(label="last 15 min")
    link = page.locator(".wb-nav a", has_text="Explore")
    expect(link).to_have_attribute("href", re.compile(r"case=payment-cpu%2F2&range=last\+15\+min"))
    link.click()
    page.wait_for_url("**/explore?*")
    page.locator(".wb-metric-chart .js-plotly-plot").wait_for(timeout=UI_TIMEOUT_MS)
    assert page.locator(".wb-case select").input_value() == "payment-cpu/2"
    assert page.locator(".wb-time select").input_value() == "last 15 min"
