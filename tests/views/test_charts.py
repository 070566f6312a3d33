from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from spanrows import span_frame

from workbench import datasets, investigate
from workbench.servicemap import ServiceMap
from workbench.views import (
    DEFAULT_DISPLAY_POINTS,
    indicator_figure,
    timeline_figure,
    waterfall_figure,
)
from workbench.views.charts import HEALTH_COLOURS, service_map_figure

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def test_waterfall_lists_spans_depth_first_children_by_start():
    trace = span_frame(
        [
            ("t1", "c", "a", "orders", "late child", T0 + timedelta(milliseconds=50), 10.0, "ok"),
            ("t1", "a", "", "front", "GET /", T0, 100.0, "ok"),
            ("t1", "d", "b", "db", "query", T0 + timedelta(milliseconds=6), 3.0, "error"),
            ("t1", "b", "a", "carts", "early child", T0 + timedelta(milliseconds=5), 20.0, "ok"),
            ("t2", "x", "", "other", "elsewhere", T0, 1.0, "ok"),
        ]
    )
    figure = waterfall_figure(trace, "t1")
    bar = figure.data[0]
    labels = list(figure.layout.yaxis.ticktext)
    assert labels == [
        "front: GET /",
        "  carts: early child",
        "    db: query",
        "  orders: late child",
    ]
    assert list(bar.base) == [0.0, 5.0, 6.0, 50.0]
    assert list(bar.x) == [100.0, 20.0, 3.0, 10.0]
    assert bar.marker.color[2] == "#cf222e"  # the failed span


def test_waterfall_of_unknown_trace_raises():
    with pytest.raises(KeyError):
        waterfall_figure(span_frame([]), "nope")


def test_timeline_marks_onset_and_truth_and_takes_the_range():
    case = datasets.load("nezha/2023-01-30/12_52")
    result = investigate(case)
    window = (result.onset - timedelta(minutes=2), result.onset + timedelta(minutes=1))
    figure = timeline_figure(
        result, logs=case.logs, spans=case.spans, truth=case.truth, x_range=window
    )
    lines = {shape.x0 for shape in figure.layout.shapes}
    assert {result.onset, case.truth.fault_start} <= lines
    texts = [a.text for a in figure.layout.annotations]
    assert "fault: ts-food-service" in texts and "onset (detected)" in texts
    names = {trace.name for trace in figure.data}
    assert {"indicator onsets", "logs: info", "span p95 (ms)", "failed spans"} <= names
    log_lines = sum(sum(t.y) for t in figure.data if t.name.startswith("logs:"))
    assert log_lines == case.logs.height
    assert list(figure.layout.xaxis.range) == [window[0], window[1]]


def test_bl31_million_row_frame_draws_far_below_the_websocket_limit():
    # BL-31: a 1M x 4 frame (about 32 MB) would close a Bokeh/Tornado websocket (10 MiB).
    rows = 1_000_000
    rng = np.random.default_rng(31)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    times = pl.datetime_range(
        start, start + timedelta(seconds=rows - 1), "1s", eager=True
    ).dt.cast_time_unit("ns")
    for column in ("cpu", "mem", "lat"):
        values = rng.random(rows)
        values[777_777] = 5.0  # a spike the display must keep
        figure = indicator_figure(pl.DataFrame({"timestamp": times, "value": values}), title=column)
        payload = len(figure.to_json())
        assert payload < 1024 * 1024, payload  # Tornado's limit is 10 MiB
        assert len(figure.data[0].x) == DEFAULT_DISPLAY_POINTS
        assert max(figure.data[0].y) == 5.0


def test_service_map_colours_health_and_rings_the_suspects():
    nodes = pl.DataFrame(
        {
            "service": ["a", "b", "c", "d"],
            "request_rate": [1.0, 2.0, None, 0.5],
            "error_ratio": [0.0, 0.6, None, 0.1],
            "latency_ms": [10.0, 20.0, None, 5.0],
            "health": ["ok", "failing", "idle", "degraded"],
            "rank": [4, 1, None, 2],
        }
    )
    edges = pl.DataFrame(
        {"caller": ["a", "a"], "callee": ["b", "d"], "calls": [3, 1]},
        schema_overrides={"calls": pl.Int64},
    )
    figure = service_map_figure(ServiceMap(nodes, edges, "traces"))
    points = figure.data[0]
    assert list(points.text) == ["a", "#1 b", "c", "#2 d"]
    assert list(points.marker.color) == [
        HEALTH_COLOURS["ok"],
        HEALTH_COLOURS["failing"],
        HEALTH_COLOURS["idle"],
        HEALTH_COLOURS["degraded"],
    ]
    assert list(points.marker.line.width) == [1, 4, 1, 4]
    assert len(figure.layout.annotations) == 2  # one arrow per call edge
    x = dict(zip(points.text, points.x, strict=True))
    assert x["a"] < x["#1 b"]  # callers sit left of their callees
