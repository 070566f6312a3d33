from datetime import UTC, datetime, timedelta

from spanrows import span_frame

from workbench.traces.summaries import trace_summaries

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _spans():
    rows = [
        ("a", "1", "", "front", "GET /", T0, 50.0, "ok"),
        ("a", "2", "1", "carts", "add", T0 + timedelta(milliseconds=30), 40.0, "error"),
        ("b", "4", "", "front", "GET /x", T0 + timedelta(seconds=10), 20.0, "ok"),
    ]
    return span_frame(rows)


def test_summaries_span_from_first_start_to_last_end_longest_first():
    listed = trace_summaries(_spans())
    assert listed["trace_id"].to_list() == ["a", "b"]
    a = listed.row(0, named=True)
    # the child ends at 30 + 40 = 70 ms, after the root's 50 ms
    assert a["duration_ms"] == 70.0
    assert (a["root_service"], a["root_operation"]) == ("front", "GET /")
    assert (a["spans"], a["services"], a["errors"]) == (2, 2, 1)


def test_summaries_filter_by_service_and_window():
    assert trace_summaries(_spans(), service="carts")["trace_id"].to_list() == ["a"]
    window = (T0 + timedelta(seconds=1), T0 + timedelta(seconds=20))
    assert trace_summaries(_spans(), window=window)["trace_id"].to_list() == ["b"]
