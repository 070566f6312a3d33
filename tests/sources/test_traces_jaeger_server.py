"""JaegerSource against a real Jaeger v2.12.0 holding real Nezha Train Ticket traces.

The session's Jaeger (conftest.py, `jaeger`) holds the 4,231 spans of one Nezha minute
file sent as OTLP JSON, plus two copies of one trace at 47 and 49 hours ago
(jaegerdata.py). Every answer is checked against the CSV, read with plain polars, or
against Jaeger's own raw answer.
"""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jaegerdata as data
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from workbench import graph
from workbench.errors import QueryError
from workbench.sources.jaeger import JaegerSource

GATEWAY = "ts-gateway-service"  # the root service of all 63 traces
LOW, HIGH = data.WINDOW
US = 1_000_000


class CountingTransport(httpx.HTTPTransport):
    """An httpx transport that records the path and query of each request."""

    def __init__(self):
        super().__init__()
        self.requests = []

    def handle_request(self, request):
        self.requests.append((request.url.path, dict(request.url.params)))
        return super().handle_request(request)


@pytest.fixture(params=["v1", "v3"])
def api(request):
    return request.param


@pytest.fixture
def counted():
    return CountingTransport()


@pytest.fixture
def jaeger_source(jaeger, api, counted):
    with JaegerSource(jaeger.url, api=api, transport=counted) as source:
        yield source


def comparable(spans: pl.DataFrame, api: str) -> pl.DataFrame:
    """Return a spans frame in the expected columns: start in ns, duration in µs."""
    return spans.select(
        "trace_id",
        "span_id",
        "parent_span_id",
        "service",
        "operation",
        pl.col("start").dt.epoch("ns").alias("start_ns"),
        (pl.col("duration_ms") * 1000).round().cast(pl.Int64).alias("duration_us"),
    ).sort("trace_id", "span_id")


def expected(api: str, traces=None) -> pl.DataFrame:
    """Return the CSV's spans (of ``traces``), with starts cut to µs when read through v1."""
    spans = data.expected()
    if traces is not None:
        spans = spans.filter(pl.col("trace_id").is_in(list(traces)))
    if api == "v1":  # v1 times are whole microseconds
        spans = spans.with_columns((pl.col("start_ns") // 1000 * 1000).alias("start_ns"))
    return spans


def raw(jaeger, path, **params):
    return httpx.get(f"{jaeger.url}{path}", params=params, timeout=30, trust_env=False)


def v1_window(low=LOW, high=HIGH):
    return {"start": int(low.timestamp()) * US, "end": int(high.timestamp()) * US}


def v3_window(low=LOW, high=HIGH):
    return {
        "query.start_time_min": low.isoformat().replace("+00:00", "Z"),
        "query.start_time_max": high.isoformat().replace("+00:00", "Z"),
    }


def test_v3_is_the_api_family_found_first(jaeger):
    with JaegerSource(jaeger.url) as source:
        assert source.api_ == "v3"


def test_services_are_the_csv_services(jaeger_source):
    assert jaeger_source.services() == sorted(set(data.expected()["service"]))


def test_operations_are_the_csv_operations_of_every_service(jaeger_source, api):
    spans = data.expected()
    for service in sorted(set(spans["service"])):
        operations = jaeger_source.operations(service)
        wanted = sorted(set(spans.filter(pl.col("service") == service)["operation"]))
        assert operations["name"].to_list() == wanted, service
        # The spans were sent without a kind (Nezha has none): v3 says "", v1 cannot say.
        assert set(operations["span_kind"]) == {""}


def test_search_pages_past_the_limit_and_reads_back_the_csv_spans(jaeger_source, api, counted):
    loaded = jaeger_source.find_traces(GATEWAY, start=LOW, end=HIGH, limit=10, max_traces=500)
    assert loaded.format == f"jaeger-{api}"
    # The only problem: Nezha's clock skew (children starting before their parent on
    # another host), flagged as the file readers flag it; nothing left out.
    assert {p.kind for p in loaded.problems} == {"clock skew"}
    assert not loaded.partial
    assert_frame_equal(comparable(loaded.spans, api), expected(api))
    searches = [q for path, q in counted.requests if path.endswith("/traces")]
    # 63 traces at 10 a page: the window was split until each part held fewer than 10.
    assert len(searches) >= 7


def test_max_traces_keeps_the_latest_traces(jaeger_source, api):
    loaded = jaeger_source.find_traces(GATEWAY, start=LOW, end=HIGH, limit=10, max_traces=5)
    firsts = data.expected().group_by("trace_id").agg(pl.col("start_ns").min())
    latest = firsts.sort("start_ns", descending=True)["trace_id"].head(5)
    assert sorted(set(loaded.spans["trace_id"])) == sorted(latest)
    assert_frame_equal(comparable(loaded.spans, api), expected(api, latest))


def test_limit_caps_traces_not_spans_v1(jaeger):
    answer = raw(jaeger, "/api/traces", service=GATEWAY, limit=3, **v1_window()).json()
    traces = answer["data"]
    assert len(traces) == 3
    ids = [t["traceID"] for t in traces]
    sizes = data.expected().filter(pl.col("trace_id").is_in(ids)).height
    assert sum(len(t["spans"]) for t in traces) == sizes > 3


def test_limit_caps_traces_not_spans_v3(jaeger):
    answer = raw(jaeger, "/api/v3/traces", **{"query.service_name": GATEWAY}, **v3_window(),
                 **{"query.num_traces": 3}).json()  # fmt: skip
    spans = [
        (span["traceId"], span["spanId"])
        for resource in answer["result"]["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]
    ids = {trace_id for trace_id, _ in spans}
    assert len(ids) == 3
    assert len(spans) == data.expected().filter(pl.col("trace_id").is_in(list(ids))).height > 3


def test_v3_search_needs_num_traces(jaeger):
    answer = raw(jaeger, "/api/v3/traces", **{"query.service_name": GATEWAY}, **v3_window())
    assert answer.status_code == 500
    assert "search depth must be greater than 0" in answer.text


def test_v1_search_without_start_looks_back_48_hours_and_ignores_lookback(jaeger):
    recent_47h = jaeger.recent["47h"]
    for extra in ({}, {"lookback": "168h"}, {"lookback": "7d"}):
        answer = raw(jaeger, "/api/traces", service=GATEWAY, **extra).json()
        # Only the copy from 47 h ago; v1 writes a trace id whose top half is zero in 16 digits.
        assert [t["traceID"] for t in answer["data"]] == [recent_47h[-16:]], extra
    older = datetime.now(UTC) - timedelta(hours=50)
    answer = raw(jaeger, "/api/traces", service=GATEWAY, start=int(older.timestamp() * US))
    assert len(answer.json()["data"]) == 2


def test_find_traces_always_sends_the_window(jaeger_source):
    loaded = jaeger_source.find_traces(GATEWAY, start="now-3d", end="now")
    assert sorted(set(loaded.spans["trace_id"])) == sorted(jaeger_source_recent(jaeger_source))
    loaded = jaeger_source.find_traces(GATEWAY)  # default: the last hour, nothing there
    assert loaded.spans.is_empty()


def jaeger_source_recent(source):
    # The copies' ids: 32 hex digits, whatever the API wrote.
    return [f"{hours:032x}" for hours in (47, 49)]


def test_v3_answers_an_empty_search_with_404_no_traces_found(jaeger):
    day = datetime(2020, 1, 1, tzinfo=UTC)
    window = v3_window(day, day + timedelta(days=1))
    answer = raw(jaeger, "/api/v3/traces", **window,
                 **{"query.service_name": GATEWAY, "query.num_traces": 10})  # fmt: skip
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "No traces found"
    v1 = raw(jaeger, "/api/traces", service=GATEWAY, start=0, end=US)
    assert v1.status_code == 200 and v1.json()["data"] == []


def test_an_empty_search_is_an_empty_result(jaeger_source):
    loaded = jaeger_source.find_traces(GATEWAY, start="2020-01-01", end="2020-01-02")
    assert loaded.spans.is_empty()
    assert not loaded.problems


def test_times_are_microseconds_in_v1_and_nanoseconds_in_v3(jaeger):
    first = data.expected().sort("start_ns").row(0, named=True)
    trace_id, span_id, start_ns = first["trace_id"], first["span_id"], first["start_ns"]
    v1 = raw(jaeger, f"/api/traces/{trace_id}").json()["data"][0]["spans"]
    v1_span = next(s for s in v1 if s["spanID"] == span_id)
    assert v1_span["startTime"] == start_ns // 1000
    assert v1_span["duration"] == first["duration_us"]
    v3 = raw(jaeger, f"/api/v3/traces/{trace_id}").json()["result"]["resourceSpans"]
    v3_span = next(
        s for r in v3 for sc in r["scopeSpans"] for s in sc["spans"] if s["spanId"] == span_id
    )
    assert v3_span["startTimeUnixNano"] == str(start_ns)


def test_trace_by_id(jaeger_source, api):
    trace_id = data.sample_trace_id()
    loaded = jaeger_source.trace(trace_id)
    assert_frame_equal(comparable(loaded.spans, api), expected(api, [trace_id]))
    # A 64-bit id (top half zero): v1 writes it in 16 digits; the frame pads it to 32.
    recent = jaeger_source.trace(f"{47:032x}")
    assert set(recent.spans["trace_id"]) == {f"{47:032x}"}
    with pytest.raises(QueryError, match="is not in Jaeger"):
        jaeger_source.trace("0123456789abcdef0123456789abcdef")


def test_duration_filter(jaeger_source, api):
    service, floor_us = "ts-basic-service", 400_000
    loaded = jaeger_source.find_traces(
        service, start=LOW, end=HIGH, min_duration=f"{floor_us // 1000}ms", limit=50
    )
    # Jaeger matches a trace when one span of the service passes every filter.
    spans = data.expected()
    matching = spans.filter(
        (pl.col("service") == service)
        & (pl.col("duration_us") >= floor_us)
        & pl.col("start_ns").is_between(LOW.timestamp() * 1e9, HIGH.timestamp() * 1e9)
    )["trace_id"].unique()
    assert 0 < matching.len() < spans["trace_id"].n_unique()
    assert_frame_equal(comparable(loaded.spans, api), expected(api, matching))


def test_tag_search(jaeger_source, api, counted):
    # Only the 47 h copy's root has http.status_code 503; v3's HTTP gateway ignores
    # attribute filters, so a tag search goes to v1's /api/traces whichever API is in use.
    key, value = data.ROOT_TAG
    loaded = jaeger_source.find_traces(GATEWAY, tags={key: value}, start="now-3d")
    assert set(loaded.spans["trace_id"]) == {f"{47:032x}"}
    assert loaded.spans.filter(pl.col("status") == "error")["parent_span_id"].to_list() == [""]
    assert counted.requests[-1][0] == "/api/traces"


def test_v3_http_search_ignores_attribute_filters(jaeger):
    key, value = data.ROOT_TAG
    now = datetime.now(UTC)
    params = {
        "query.service_name": GATEWAY,
        "query.num_traces": 10,
        f"query.attributes[{key}]": value,
    }
    answer = raw(jaeger, "/api/v3/traces", **params, **v3_window(now - timedelta(days=3), now))
    ids = {
        span["traceId"]
        for resource in answer.json()["result"]["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    }
    assert ids == {f"{47:032x}", f"{49:032x}"}


def test_dependencies_become_the_graph(jaeger_source):
    links = data.expected_links(LOW, HIGH)
    dependencies = jaeger_source.dependencies(end=HIGH, lookback=HIGH - LOW)
    assert {edge: dependencies.edges[edge]["calls"] for edge in dependencies.edges} == links
    # The calls between services are those of the graph built from the spans themselves.
    built = graph.service_graph(jaeger_source.find_traces(GATEWAY, start=LOW, end=HIGH).spans)
    between = {edge: calls for edge, calls in links.items() if edge[0] != edge[1]}
    assert {edge: built.edges[edge]["calls"] for edge in built.edges} == between
    assert built.has_edge("ts-travel-service", "ts-route-service")


def test_dependencies_are_asked_in_milliseconds(jaeger):
    end_ms = int(HIGH.timestamp()) * 1000
    lookback_ms = int((HIGH - LOW).total_seconds()) * 1000
    in_ms = raw(jaeger, "/api/dependencies", endTs=end_ms, lookback=lookback_ms).json()["data"]
    assert sum(link["callCount"] for link in in_ms) == sum(data.expected_links(LOW, HIGH).values())
    in_s = raw(jaeger, "/api/dependencies", endTs=end_ms // 1000, lookback=lookback_ms)
    assert in_s.json()["data"] == []


def test_operation_and_max_duration_filters(jaeger_source, api):
    spans = data.expected().filter(pl.col("service") == "ts-travel-service")
    operation = spans["operation"].mode().sort()[0]
    ceiling_us = 20_000
    loaded = jaeger_source.find_traces(
        "ts-travel-service",
        operation=operation,
        start=LOW,
        end=HIGH,
        max_duration=f"{ceiling_us // 1000}ms",
        limit=50,
    )
    matching = spans.filter(
        (pl.col("operation") == operation) & (pl.col("duration_us") <= ceiling_us)
    )["trace_id"].unique()
    every = spans.filter(pl.col("operation") == operation)["trace_id"].n_unique()
    assert 0 < matching.len() < every
    assert_frame_equal(comparable(loaded.spans, api), expected(api, matching))


def test_jaeger_listens_on_loopback_only(jaeger):
    # The sockets of Jaeger's own PID, from /proc: every listener is on 127.0.0.1, and
    # they are the four ports of the config (no default 0.0.0.0 or fixed 8888 listener).
    pid = jaeger.process.pid
    inodes = {
        link.removeprefix("socket:[").removesuffix("]")
        for link in (os.readlink(f) for f in Path(f"/proc/{pid}/fd").iterdir() if f.is_symlink())
        if link.startswith("socket:[")
    }
    listening = set()
    for table in ("tcp", "tcp6"):
        for row in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].split(":")
                listening.add((address, int(port, 16)))
    assert listening == {("0100007F", port) for port in jaeger.ports.values()}
