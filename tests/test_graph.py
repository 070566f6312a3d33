"""Service graph, critical path and trace signals: hand-built traces and real Nezha spans."""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from workbench import graph
from workbench.sources import traces
from workbench.traces import (
    ERROR_JUMP,
    LATENCY_SHIFT,
    NEW_EDGE,
    OperationBaseline,
    TraceSignals,
    trace_signals,
)

DATA = Path(os.environ.get("MANCEROPS_DATASETS", Path(__file__).parents[2] / "shared/datasets"))
NEZHA = DATA / "nezha" / "rca_data"
CASES = DATA.parent / "cases"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def span(trace, span_id, parent, service, start_ms, duration_ms, status="ok", operation="op"):
    return {
        "trace_id": trace,
        "span_id": span_id,
        "parent_span_id": parent,
        "service": service,
        "operation": operation,
        "start": T0 + timedelta(milliseconds=start_ms),
        "duration_ms": float(duration_ms),
        "status": status,
    }


def frame(rows):
    return pl.DataFrame(rows).with_columns(pl.col("start").dt.cast_time_unit("ns"))


@pytest.fixture(scope="module")
def nezha_0843():
    return traces.load_spans(NEZHA / "2023-01-29" / "trace" / "08_43_trace.csv.gz")


def test_nezha_csv_reads_through_the_trace_reader(nezha_0843):
    assert nezha_0843.format == "nezha-csv"
    # 4,445 data rows in the file (zcat | wc -l, minus the header); no repeated rows.
    assert nezha_0843.spans.height == 4445


def test_nezha_graph_has_the_call_edges_read_from_the_raw_spans(nezha_0843):
    g = graph.service_graph(nezha_0843.spans)
    # Read in 08_43_trace.csv: trace c5161446..., gateway span 2af947ac3824364f
    # (HTTP POST) is the parent of travel span fbc578c7eb02e900, whose TravelController
    # span calls basic (c8a9044cd02a3690), which calls route (d06a554099a776e8); trace
    # ffc8ca7e... has travel span 0be9d4a365c5e68f calling route span 65029707a25cb65e.
    for caller, callee in [
        ("ts-gateway-service", "ts-travel-service"),
        ("ts-travel-service", "ts-basic-service"),
        ("ts-basic-service", "ts-route-service"),
        ("ts-travel-service", "ts-route-service"),
        ("ts-auth-service", "ts-verification-code-service"),
    ]:
        assert g.has_edge(caller, callee), (caller, callee)
    # awk over the raw file: 7 verification-code spans have an auth parent, 2 route spans
    # a travel parent.
    assert g.edges["ts-auth-service", "ts-verification-code-service"]["calls"] == 7
    assert g.edges["ts-travel-service", "ts-route-service"]["calls"] == 2
    assert not g.has_edge("ts-route-service", "ts-gateway-service")
    calls = graph.calls(nezha_0843.spans)
    hop = calls.filter(pl.col("span_id") == "fbc578c7eb02e900").row(0, named=True)
    assert (hop["caller"], hop["callee"]) == ("ts-gateway-service", "ts-travel-service")
    assert hop["parent_span_id"] == "2af947ac3824364f"
    assert hop["duration_ms"] == pytest.approx(187.174)  # Duration 187174 µs in the CSV


def test_edge_stats_and_node_health_by_hand():
    rows = []
    # Ten calls a -> b of 1..10 ms, the last two failing, in two one-minute windows.
    for i in range(10):
        trace = f"{i:032x}"
        rows.append(span(trace, f"{2 * i + 1:016x}", "", "a", i * 10_000, 20))
        status = "error" if i >= 8 else "ok"
        rows.append(
            span(trace, f"{2 * i + 2:016x}", f"{2 * i + 1:016x}", "b", i * 10_000, i + 1, status)
        )
    spans = frame(rows)
    edge = graph.edges(spans).row(0, named=True)
    assert (edge["caller"], edge["callee"], edge["calls"], edge["errors"]) == ("a", "b", 10, 2)
    assert edge["error_rate"] == pytest.approx(0.2)
    assert edge["p50_ms"] == pytest.approx(5.5)  # linear between 5 and 6
    assert edge["p95_ms"] == pytest.approx(9.55)  # 9 + 0.55 * (10 - 9)
    windows = graph.edges(spans, window="1m")
    assert windows["calls"].to_list() == [6, 4]  # starts 0..50 s, then 60..90 s
    assert windows["errors"].to_list() == [0, 2]
    health = dict(graph.nodes(spans).select("service", "health").iter_rows())
    assert health == {"a": "ok", "b": "degraded"}  # b answers 20 % errors
    g = graph.service_graph(spans, window="1m")
    assert [w["calls"] for w in g.edges["a", "b"]["windows"]] == [6, 4]
    assert g.nodes["b"]["error_rate"] == pytest.approx(0.2)


def test_graph_from_jaeger_dependencies_fixture():
    g = graph.from_dependencies(DATA / "fixtures/jaeger/v1_dependencies_list_sample_small.json")
    assert g.number_of_edges() == 7
    assert g.edges["Service2", "Service4"]["calls"] == 129216
    assert g.edges["Service6", "Service1"]["calls"] == 30489
    enveloped = graph.from_dependencies(
        b'{"data": [{"parent": "x", "child": "y", "callCount": 3}]}'
    )
    assert enveloped.edges["x", "y"]["calls"] == 3


def test_critical_path_follows_the_last_finishing_children():
    # root 0..100; children A 10..25, D 20..35, B 30..90 (finishes last); B's child C 50..80.
    spans = frame(
        [
            span("t", "r", "", "front", 0, 100),
            span("t", "a", "r", "svc-a", 10, 15),
            span("t", "d", "r", "svc-d", 20, 15),
            span("t", "b", "r", "svc-b", 30, 60),
            span("t", "c", "b", "svc-c", 50, 30),
        ]
    )
    path = graph.critical_path(spans, "t")
    got = [(r["span_id"], r["self_ms"]) for r in path.iter_rows(named=True)]
    # Back from 100: root 90..100, B 80..90, C 50..80, B 30..50; D ends after B began
    # (35 > 30) so it is passed over; root 25..30, A 10..25, root 0..10.
    assert got == [
        ("r", 10.0),
        ("a", 15.0),
        ("r", 5.0),
        ("b", 20.0),
        ("c", 30.0),
        ("b", 10.0),
        ("r", 10.0),
    ]
    assert path["self_ms"].sum() == pytest.approx(100.0)


def test_critical_path_of_a_skewed_trace_has_no_negative_segment():
    spans = traces.load_spans(CASES / "BL-14.json").spans
    path = graph.critical_path(spans, spans["trace_id"][0])
    assert (path["self_ms"] >= 0).all()
    assert path["self_ms"].sum() == pytest.approx(10.0)  # the parent's 10 ms


def _window(base_ms, slow, fail_from, extra_edge=False, offset=0):
    rows = []
    for i in range(20):
        trace = f"{offset + i:032x}"
        root, child = f"{2 * i + 1:016x}", f"{2 * i + 2:016x}"
        rows.append(span(trace, root, "", "front", offset * 1000 + i * 1000, 200))
        status = "error" if i >= fail_from else "ok"
        latency = base_ms + (i % 5) + slow
        rows.append(span(trace, child, root, "cart", offset * 1000 + i * 1000, latency, status))
        if extra_edge and i < 3:
            rows.append(
                span(trace, f"{100 + i:016x}", child, "cart-db", offset * 1000 + i * 1000, 1)
            )
    return frame(rows)


def test_signals_report_latency_shift_error_jump_and_new_edge_with_their_traces():
    before = _window(10, 0, fail_from=20)
    after = _window(10, 40, fail_from=15, extra_edge=True, offset=100)
    found = TraceSignals().fit(before).detect(after)
    kinds = {(s.kind, s.caller, s.callee): s for s in found}
    shift = kinds[(LATENCY_SHIFT, "front", "cart")]
    # Baseline 10..14 ms, four calls each (p95 = 14), then 50..54 ms (p95 = 54).
    assert shift.baseline == pytest.approx(14.0)
    assert shift.observed == pytest.approx(54.0)
    assert shift.service == "cart"
    assert shift.indicator == "trace:edge front->cart p95"
    assert len(shift.trace_ids) == 5
    errors = kinds[(ERROR_JUMP, "front", "cart")]
    assert (errors.baseline, errors.observed) == (0.0, 0.25)
    assert errors.trace_ids == tuple(f"{100 + i:032x}" for i in range(15, 20))
    new = kinds[(NEW_EDGE, "cart", "cart-db")]
    assert new.calls == 3
    assert new.trace_ids == tuple(f"{100 + i:032x}" for i in range(3))
    assert new.to_dict()["window"]["start"].endswith("Z")


def test_unchanged_window_gives_no_signal():
    assert TraceSignals().fit(_window(10, 0, 20)).detect(_window(10, 0, 20, offset=100)) == []


def test_operation_baseline_scores_the_slow_operation_highest():
    before = _window(10, 0, fail_from=20)
    after = _window(10, 40, fail_from=20, offset=100)
    scored = OperationBaseline().fit(before).score(after)
    top = scored.row(0, named=True)
    assert (top["service"], top["operation"]) == ("cart", "op")
    assert top["median_ms"] - top["base_median_ms"] == pytest.approx(40.0)
    assert top["latency_deviation"] > 10


def test_nezha_cpu_contention_on_basic_shows_as_latency_shift_into_basic():
    # Fault list 2023-01-30: cpu_contention on ts-basic-service at 11:59:21 (trap 8: its
    # spans go from ~10 ms to ~100 ms).
    folder = NEZHA / "2023-01-30" / "trace"
    spans = pl.concat(
        traces.load_spans(folder / f"{m}_trace.csv.gz").spans for m in ("11_59", "12_00")
    )
    found = trace_signals(spans, datetime(2023, 1, 30, 11, 59, 21, tzinfo=UTC))
    shifts = [s for s in found if s.kind == LATENCY_SHIFT]
    assert shifts and shifts[0].callee in ("ts-basic-service", "ts-travel2-service")
    assert any(s.callee == "ts-basic-service" for s in shifts[:3])
