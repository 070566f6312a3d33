"""JaegerSource against a loopback server replaying Jaeger answers (v3, v1 and faults).

The answers are the Jaeger fixtures and edge cases of ../shared; the faults (an HTML page
from a proxy, truncated JSON) are ones a real Jaeger cannot be made to show.
"""

import os
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from workbench.errors import AuthError, SourceUnavailable
from workbench.sources.jaeger import JaegerSource

DATA = Path(os.environ["MANCEROPS_DATASETS"])
JAEGER = DATA / "fixtures" / "jaeger"
CASES = DATA.parent / "cases"
JSON = "application/json"
NOT_FOUND = (404, JSON, b'{"error":{"httpCode":404,"message":"No traces found"}}')


class Replay:
    """A server on 127.0.0.1 answering each path from ``routes`` and logging requests."""

    def __init__(self, routes):
        self.routes = routes
        self.requests = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                replay.requests.append((parts.path, query))
                route = replay.routes.get(parts.path)
                status, kind, body = route(query) if callable(route) else route or NOT_FOUND
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def replay():
    servers = []

    def start(routes):
        servers.append(Replay(routes))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def ok(path_or_bytes):
    body = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()
    return (200, JSON, body)


def v1_envelope(*trace_files):
    traces = [orjson.loads(f.read_bytes()) for f in trace_files]
    return orjson.dumps({"data": traces, "total": 0, "limit": 0, "offset": 0, "errors": None})


def test_v3_is_preferred_and_search_sends_rfc3339_times(replay):
    server = replay(
        {
            "/api/v3/services": ok(JAEGER / "v3_api_GetServices_response.json"),
            "/api/v3/operations": ok(JAEGER / "v3_api_GetOperations_response.json"),
            "/api/v3/traces": ok(CASES / "BL-17b.json"),
        }
    )
    with JaegerSource(server.url) as jaeger:
        assert jaeger.api_ == "v3"
        assert jaeger.services() == ["foo"]
        assert jaeger.operations("foo").to_dicts() == [{"name": "get_users", "span_kind": "server"}]
        loaded = jaeger.find_traces(
            "web",
            operation="GET /",
            start=datetime(2023, 11, 14, 22, tzinfo=UTC),
            end=datetime(2023, 11, 14, 23, tzinfo=UTC),
            min_duration="5ms",
            limit=20,
        )
    assert sorted(loaded.spans["service"]) == ["db", "web"]
    path, query = server.requests[-1]
    assert path == "/api/v3/traces"
    assert query["query.service_name"] == "web"
    assert query["query.operation_name"] == "GET /"
    assert query["query.start_time_min"] == "2023-11-14T22:00:00Z"
    assert query["query.start_time_max"] == "2023-11-14T23:00:00Z"
    assert query["query.duration_min"] == "5000us"
    # Jaeger's HTTP gateway reads query.num_traces (without it: 500 "search depth must be
    # greater than 0"); query.search_depth is its gRPC field name and is ignored over HTTP.
    assert query["query.num_traces"] == "20"


def test_v3_no_traces_found_is_an_empty_result(replay):
    server = replay({"/api/v3/services": ok(b'{"services": []}'), "/api/v3/traces": NOT_FOUND})
    loaded = JaegerSource(server.url).find_traces("web", start="now-1h")
    assert loaded.spans.is_empty()


def test_v1_fallback_sends_a_window_in_microseconds_and_tags_as_json(replay):
    trace = JAEGER / "v1_ui_trace_object_spring_petclinic.json"
    server = replay(
        {
            "/api/services": ok(b'{"data": ["api-gateway", "customers-service"], "total": 2}'),
            "/api/traces": ok(v1_envelope(trace)),
            "/api/services/api-gateway/operations": ok(b'{"data": ["GET /api/customer"]}'),
        }
    )
    jaeger = JaegerSource(server.url)
    assert jaeger.api_ == "v1"
    assert jaeger.services() == ["api-gateway", "customers-service"]
    assert jaeger.operations("api-gateway")["name"].to_list() == ["GET /api/customer"]
    loaded = jaeger.find_traces(
        "api-gateway",
        tags={"http.status_code": "200"},
        start=datetime(2020, 1, 15, 6, tzinfo=UTC),
        end=datetime(2020, 1, 15, 7, tzinfo=UTC),
    )
    assert loaded.spans.height == 5
    path, query = server.requests[-1]
    assert path == "/api/traces"
    # 2020-01-15T06:00:00Z = 1579068000 s; Jaeger v1 wants µs.
    assert (query["start"], query["end"]) == ("1579068000000000", "1579071600000000")
    assert orjson.loads(query["tags"]) == {"http.status_code": "200"}


def test_a_full_page_splits_the_window_whatever_traces_the_backend_picks(replay):
    # A backend that fills a page with the OLDEST matching traces: moving the window's end
    # to the earliest trace seen would then never find the newest one ("a").
    def trace(trace_id, start_us):
        return {
            "traceID": trace_id,
            "spans": [
                {
                    "traceID": trace_id,
                    "spanID": trace_id[-16:],
                    "operationName": "op",
                    "references": [],
                    "startTime": start_us,
                    "duration": 1000,
                    "tags": [],
                    "processID": "p1",
                }
            ],
            "processes": {"p1": {"serviceName": "web", "tags": []}},
        }

    base = 1_700_000_000_000_000
    stored = [
        trace("a" * 32, base + 3_000_000),
        trace("b" * 32, base + 2_000_000),
        trace("c" * 32, base + 1_000_000),
    ]

    def answer(query):
        low, high, limit = int(query["start"]), int(query["end"]), int(query["limit"])
        inside = [t for t in stored if low <= t["spans"][0]["startTime"] <= high]
        oldest = sorted(inside, key=lambda t: t["spans"][0]["startTime"])[:limit]
        return ok(orjson.dumps({"data": oldest, "errors": None}))

    server = replay({"/api/services": ok(b'{"data": ["web"]}'), "/api/traces": answer})
    loaded = JaegerSource(server.url, api="v1").find_traces(
        "web", start=datetime(2023, 11, 14, tzinfo=UTC), end="2023-11-15T00:00:00Z", limit=2
    )
    assert sorted(set(loaded.spans["trace_id"])) == ["a" * 32, "b" * 32, "c" * 32]
    assert not loaded.partial
    searches = [q for p, q in server.requests if p == "/api/traces"]
    # The whole day was full (2 of 3), so it was split: every later window lies inside it.
    assert len(searches) > 2
    assert all(int(q["end"]) - int(q["start"]) < 86_400_000_000 for q in searches[1:])


def test_more_traces_in_one_millisecond_than_the_limit_is_reported_as_partial(replay):
    start_us = 1_700_000_000_000_000
    traces = [
        {
            "traceID": f"{n:032x}",
            "spans": [
                {
                    "traceID": f"{n:032x}",
                    "spanID": f"{n:016x}",
                    "operationName": "op",
                    "references": [],
                    "startTime": start_us,
                    "duration": 10,
                    "tags": [],
                    "processID": "p1",
                }
            ],
            "processes": {"p1": {"serviceName": "web", "tags": []}},
        }
        for n in (1, 2, 3)
    ]

    def answer(query):
        inside = int(query["start"]) <= start_us <= int(query["end"])
        data = traces[: int(query["limit"])] if inside else []
        return ok(orjson.dumps({"data": data, "errors": None}))

    server = replay({"/api/services": ok(b'{"data": ["web"]}'), "/api/traces": answer})
    loaded = JaegerSource(server.url, api="v1").find_traces(
        "web", start=start_us / 1e6 - 1, end=start_us / 1e6 + 1, limit=2
    )
    assert loaded.spans["trace_id"].n_unique() == 2
    assert loaded.partial
    assert "only 2 of them were read" in loaded.problem("truncated search").message


def test_html_from_a_proxy_is_a_clear_error(replay):
    page = (200, "text/html", b"<!doctype html><html><body>Sign in</body></html>")
    server = replay({"/api/v3/services": page, "/api/services": page})
    with pytest.raises(SourceUnavailable, match="answered HTML, not JSON"):
        JaegerSource(server.url).services()


def test_truncated_trace_answer_is_a_clear_error(replay):
    body = (CASES / "BL-17b.json").read_bytes()[:700]
    server = replay({"/api/v3/services": ok(b'{"services": []}'), "/api/v3/traces": ok(body)})
    with pytest.raises(SourceUnavailable, match="truncated"):
        JaegerSource(server.url).find_traces("web", start="now-1h")


def test_refused_credentials_are_an_auth_error(replay):
    server = replay({"/api/v3/services": (401, JSON, b'{"error": "unauthorized"}')})
    with pytest.raises(AuthError, match="401"):
        JaegerSource(server.url, api="v3").services()


def test_dependencies_become_the_graph(replay):
    links = orjson.loads((JAEGER / "v1_dependencies_list_sample_small.json").read_bytes())
    server = replay({"/api/dependencies": ok(orjson.dumps({"data": links}))})
    graph = JaegerSource(server.url, api="v1").dependencies(
        end="2024-01-01T00:00:00Z", lookback="1h"
    )
    assert graph.edges["Service2", "Service4"]["calls"] == 129216
    _, query = server.requests[-1]
    # endTs and lookback in milliseconds.
    assert (query["endTs"], query["lookback"]) == ("1704067200000", "3600000")
