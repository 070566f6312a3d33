"""The Overview and Explore apps in Debian's headless Chromium, against `mancerops serve`."""

from __future__ import annotations

import time

import polars as pl
from browser import UI_TIMEOUT_MS, open_app, text

from workbench import datasets

NEZHA = "nezha/2023-01-30/12_52"
NEZHA_QUERY = "?suite=nezha&case=2023-01-30/12_52"
RCD_FOLDER = ("sock-shop-data", "carts-cpu", "1")


def _eventually(read, expected, timeout_s: float = 30.0):
    """Return what ``read`` gives once it equals ``expected`` (or at the timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            found = read()
        except (ValueError, IndexError):  # a table caught mid-redraw: empty cells
            found = None
        if found == expected or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def _service_row(page, service: str) -> list[str]:
    row = page.locator(".wb-services table tbody tr", has_text=service).first
    return [cell.strip() for cell in row.locator("td").all_inner_texts()]


def test_overview_maps_the_services_of_the_traces_and_marks_the_suspect(served, page):
    open_app(page, served, "overview", NEZHA_QUERY)
    case = datasets.load(NEZHA)
    plot = page.locator(".wb-map .js-plotly-plot")
    labels = plot.evaluate("el => el.data[0].text")
    assert len(labels) == case.spans["service"].n_unique()
    assert "service map (from traces)" in text(plot)
    suspects = [label for label in labels if label.startswith("#1 ")]
    assert len(suspects) == 1


def test_overview_time_range_recomputes_the_service_numbers(served, page):
    open_app(page, served, "overview")
    folder = datasets.path("rcd-sockshop").joinpath(*RCD_FOLDER)
    both = pl.concat([pl.read_csv(folder / f) for f in ("normal.csv", "anomalous.csv")])
    whole = both["carts_lod"].mean()
    # The last 5 min of the re-timed series: samples at the last second and 300 s before it.
    last_rows = both.tail(301)["carts_lod"].mean()
    header = page.locator(".wb-services table thead th").all_inner_texts()
    column = [h.strip() for h in header].index("request_rate")

    def shown() -> str:
        return f"{float(_service_row(page, 'carts')[column]):g}"

    assert _eventually(shown, f"{round(whole, 3):g}") == f"{round(whole, 3):g}"
    page.locator(".wb-time select").select_option(label="last 5 min")
    expected = f"{round(last_rows, 3):g}"
    assert _eventually(shown, expected) == expected


def test_explore_log_search_shows_hits_histogram_and_templates(served, page):
    open_app(page, served, "explore", NEZHA_QUERY)
    page.get_by_text("Logs", exact=True).click()
    page.locator(".wb-log-histogram .js-plotly-plot").wait_for(timeout=UI_TIMEOUT_MS)
    case = datasets.load(NEZHA)
    # Worked out line by line: messages holding "error" in any case.
    matching = sum("error" in message.lower() for message in case.logs["message"])
    search = page.locator(".wb-log-search input")
    search.fill("ERROR")
    search.press("Enter")
    said = _eventually(lambda: text(page.locator(".wb-log-hits")), f"{matching} lines match.")
    assert said == f"{matching} lines match."
    bars = page.locator(".wb-log-histogram .js-plotly-plot").evaluate(
        "el => el.data.reduce((n, t) => n + t.y.reduce((a, b) => a + b, 0), 0)"
    )
    assert bars == matching
    assert page.locator(".wb-log-templates table tbody tr").count() >= 1


def test_explore_trace_view_draws_the_waterfall_of_the_chosen_trace(served, page):
    open_app(page, served, "explore", NEZHA_QUERY)
    page.get_by_text("Traces", exact=True).click()
    plot = page.locator(".wb-waterfall .js-plotly-plot")
    plot.wait_for(timeout=UI_TIMEOUT_MS)
    chosen = page.locator(".wb-trace-id select").input_value()
    case = datasets.load(NEZHA)
    spans = case.spans.filter(pl.col("trace_id") == chosen).unique("span_id")
    # The picker opens on the longest trace of the case: its first start to its last end.
    longest = (
        case.spans.with_columns(
            (pl.col("start") + pl.duration(microseconds=pl.col("duration_ms") * 1000)).alias("e")
        )
        .group_by("trace_id")
        .agg((pl.col("e").max() - pl.col("start").min()).alias("d"))
        .sort("d", descending=True)["trace_id"][0]
    )
    assert chosen == longest
    assert plot.evaluate("el => el.data[0].x.length") == spans.height


def test_explore_metric_chart_follows_the_chosen_metric(served, page):
    open_app(page, served, "explore")
    page.locator(".wb-metric select").select_option(label="mem")
    plot = page.locator(".wb-metric-chart .js-plotly-plot")
    title = _eventually(lambda: text(plot.locator(".gtitle")), "carts mem")
    assert title == "carts mem"
