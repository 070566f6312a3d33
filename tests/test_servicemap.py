from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from spanrows import span_frame

from workbench import datasets, graph, investigate
from workbench.servicemap import METRICS, TRACES, service_map

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _spans():
    rows = [
        # trace a: front -> carts (fails) -> db; trace b: front -> carts 10 s later
        ("a", "1", "", "front", "GET /", T0, 50.0, "ok"),
        ("a", "2", "1", "carts", "add", T0 + timedelta(milliseconds=5), 40.0, "error"),
        ("a", "3", "2", "db", "query", T0 + timedelta(milliseconds=6), 30.0, "ok"),
        ("b", "4", "", "front", "GET /", T0 + timedelta(seconds=10), 20.0, "ok"),
        ("b", "5", "4", "carts", "add", T0 + timedelta(seconds=10), 10.0, "ok"),
    ]
    return span_frame(rows)


def test_map_from_traces_has_rates_errors_latency_and_health():
    found = service_map(spans=_spans())
    assert found.source == TRACES
    nodes = {row["service"]: row for row in found.nodes.iter_rows(named=True)}
    # Spans cover 10 s: carts answered 2 calls (0.2/s), one failed (50 %: failing).
    assert nodes["carts"]["request_rate"] == pytest.approx(0.2)
    assert nodes["carts"]["error_ratio"] == 0.5
    assert nodes["carts"]["health"] == graph.HEALTH_FAILING
    assert nodes["db"]["health"] == graph.HEALTH_OK and nodes["db"]["error_ratio"] == 0.0
    assert nodes["front"]["request_rate"] == pytest.approx(0.2)
    edges = {(r["caller"], r["callee"]): r for r in found.edges.iter_rows(named=True)}
    assert set(edges) == {("front", "carts"), ("carts", "db")}
    assert edges["front", "carts"]["calls"] == 2
    assert edges["front", "carts"]["error_ratio"] == 0.5


def test_map_window_keeps_the_spans_inside_it():
    found = service_map(spans=_spans(), window=(T0 + timedelta(seconds=5), T0 + timedelta(hours=1)))
    assert set(found.nodes["service"]) == {"front", "carts"}
    assert found.edges.height == 1


def test_map_from_metrics_when_no_traces_names_every_container_and_ranks():
    case = datasets.load("rcd-sockshop/carts-cpu/1")
    result = investigate(case)
    found = service_map(case.metrics, case.spans, investigation=result)
    assert found.source == METRICS and found.edges.is_empty()
    assert found.nodes.height == 13  # the 13 containers of the RCD Sock Shop files
    folder = datasets.path("rcd-sockshop") / "sock-shop-data" / "carts-cpu" / "1"
    both = pl.concat([pl.read_csv(folder / f) for f in ("normal.csv", "anomalous.csv")])
    carts = found.nodes.row(by_predicate=pl.col("service") == "carts", named=True)
    assert carts["request_rate"] == pytest.approx(both["carts_lod"].mean())
    assert carts["latency_ms"] == pytest.approx(both["carts_lat_90"].mean() * 1000)
    assert carts["error_ratio"] is None and carts["health"] == "ok"
    assert carts["rank"] == 1
    user = found.nodes.row(by_predicate=pl.col("service") == "user", named=True)
    assert user["request_rate"] is None  # the user container has only cpu and mem columns
