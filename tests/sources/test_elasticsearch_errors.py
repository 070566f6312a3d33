"""Every way a pull fails gives one clear error with the server's reason; secrets never show.

Real servers give the bad query, missing index, down server, expired point in time
(deleted under the pull, which is what expiry leaves behind) and a real partial result.
A server stopped mid-pull is a TCP proxy in front of the real one, cut mid-pull: open
connections reset, new ones refused, as when the process dies (a second OpenSearch
just to kill it would cost the session another JVM start). Overload (429), 5xx, older
and newer versions and auth are scripted loopback servers.
"""

import base64
import logging

import httpx
import orjson
import pytest
from esdata import ECS_PATTERN
from esreplay import ELASTIC, ES6_INFO, ES8_INFO, OPENSEARCH_INFO, Script, hit, page
from search_server import Answer, CutProxy
from servers import SlowProxy, free_port

from workbench.errors import (
    AuthError,
    QueryError,
    SourceError,
    SourceTimeout,
    SourceUnavailable,
    SourceWarning,
)
from workbench.sources import ElasticsearchSource

SECRET = "hunter2-7c1e-secret"
WINDOW = ("2023-01-29T09:00:00Z", "2023-01-29T10:00:00Z")
INDEX = ECS_PATTERN


def quick(url, **options):
    options.setdefault("retries", 1)
    return ElasticsearchSource(url, backoff=0.01, **options)


@pytest.fixture
def script():
    made = []

    def make(routes, **options):
        made.append(Script(routes, **options))
        return made[-1]

    yield make
    for one in made:
        one.close()


# -- real servers ----------------------------------------------------------------------


def test_a_bad_query_string_gives_the_servers_own_reason(search):
    with pytest.raises(QueryError) as raised, quick(search.url) as source:
        source.logs(INDEX, *WINDOW, query="message:(timeout OR")
    message = str(raised.value)
    assert "Failed to parse query [message:(timeout OR]" in message  # the server's words
    assert "Cannot parse 'message:(timeout OR'" in message  # and where it broke
    assert f"at {search.url} rejected the search of {INDEX!r}" in message
    assert raised.value.exit_code == 2 and raised.value.url == search.url


def test_a_bad_filter_gives_the_servers_own_reason(search):
    with pytest.raises(QueryError) as raised, quick(search.url) as source:
        source.logs(INDEX, *WINDOW, filter={"bogus": {"field": "x"}})
    assert "unknown query [bogus]" in str(raised.value)


@pytest.mark.parametrize("index", ["nope", "nope-*", f"{INDEX},nope"])
def test_a_missing_index_says_so(search, index):
    with pytest.raises(QueryError) as raised, quick(search.url) as source:
        source.logs(index, *WINDOW)
    message = str(raised.value)
    assert f"no index matches {index!r}" in message
    assert "_cat/indices" in message
    if index != "nope-*":
        assert "no such index [nope]" in message


def test_a_down_server_says_where_and_what_to_check():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SourceUnavailable) as raised, quick(url) as source:
        source.logs(INDEX, *WINDOW)
    message = str(raised.value)
    assert f"cannot reach the search server at {url}" in message
    assert "Connection refused" in message and "running" in message


def test_a_server_stopped_mid_pull_says_how_far_it_got(opensearch):
    proxy = CutProxy(opensearch.port)
    searches = []

    def cut_before_third_page(request):
        if request.url.path == "/_search":
            searches.append(request)
            if len(searches) == 3:
                proxy.cut()

    source = quick(
        proxy.url, page_size=100, keep_alive="10s", event_hooks={"request": [cut_before_third_page]}
    )
    try:
        with pytest.raises(SourceUnavailable) as raised, source:
            source.logs(INDEX, *WINDOW)
    finally:
        proxy.cut()
    message = str(raised.value)
    assert f"OpenSearch at {proxy.url} stopped answering during the search of {INDEX!r}" in message
    assert "after 200 hits in 2 page(s)" in message


def test_an_expired_point_in_time_is_an_error_and_never_reopened(search):
    opened, deleted = [], []

    def expire_before_third_page(request):
        path = request.url.path
        if path.endswith(("/_pit", "/_search/point_in_time")) and request.method == "POST":
            opened.append(path)
        if path == "/_search":
            pit_id = orjson.loads(request.content)["pit"]["id"]
            deleted.append(pit_id)
            if len(deleted) == 3:
                drop_pit(search, pit_id)

    source = quick(search.url, page_size=100, event_hooks={"request": [expire_before_third_page]})
    with pytest.raises(SourceError) as raised, source:
        source.logs(INDEX, *WINDOW)
    message = str(raised.value)
    assert f"the point in time on {INDEX!r} at {search.url} expired after 200 hits" in message
    assert "search_context_missing_exception" in message  # the server's reason
    assert "not reopened" in message and "keep_alive" in message
    assert len(opened) == 1 and len(deleted) == 3


def drop_pit(server, pit_id):
    if server.flavor == "opensearch":
        server.request("DELETE", "_search/point_in_time", {"pit_id": [pit_id]})
    else:
        server.request("DELETE", "_pit", {"id": pit_id})


def test_shard_failures_stop_the_pull_unless_partial_results_are_allowed(search):
    # conflict-a maps `code` as a long, conflict-b as a keyword: the term "abc" fails on
    # conflict-a's shard only, and the server answers 200 with one failed shard.
    window = ("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z")
    term = {"term": {"code": "abc"}}
    with pytest.raises(SourceError) as raised, quick(search.url) as source:
        source.logs("conflict-*", *window, filter=term)
    message = str(raised.value)
    assert "1 of 2 shards failed on page 1 of the search of 'conflict-*'" in message
    assert "number_format_exception" in message or "For input string" in message
    assert "allow_partial=True" in message
    warned = pytest.warns(SourceWarning, match="1 of 2 shards failed")
    with warned, quick(search.url, allow_partial=True) as source:
        frame = source.logs("conflict-*", *window, filter=term)
    assert frame["message"].to_list() == ["b"]


def test_a_slow_answer_past_the_timeout_is_a_timeout(opensearch):
    proxy = SlowProxy(opensearch.port, delay=3.0)
    try:
        with pytest.raises(SourceTimeout) as raised, quick(proxy.url, timeout=0.3) as source:
            source.info()
    finally:
        proxy.close()
    message = str(raised.value)
    assert f"at {proxy.url} did not answer the server information (GET /) within 0.3 s" in message
    assert "raise the timeout" in message


# -- scripted faults -------------------------------------------------------------------


def es8(search_answers, **extra):
    return {
        ("GET", "/"): [ES8_INFO],
        ("POST", "/_pit"): [{"id": "pit-1"}],
        ("DELETE", "/_pit"): [{"succeeded": True, "num_freed": 1}],
        ("POST", "/_search"): search_answers,
        **extra,
    }


def test_429_is_retried_with_backoff_then_the_pull_goes_on(script):
    busy = Answer(429, {"error": {"type": "es_rejected_execution_exception",
                                  "reason": "rejected execution"}, "status": 429},
                  {"Retry-After": "0"})  # fmt: skip
    server = script(
        es8([page(hit("a", 1)), busy, busy, page(hit("b", 2)), page()]), headers=ELASTIC
    )
    with quick(server.url, retries=3) as source:
        hits = [h["_id"] for p in source.iter_hits("logs", *WINDOW) for h in p]
    assert hits == ["a", "b"]
    searches = server.server.searches()
    assert len(searches) == 5
    # the retried request is the same page, not the next one
    assert searches[1]["search_after"] == searches[2]["search_after"] == searches[3]["search_after"]


def test_lasting_429_says_how_much_was_read(script):
    busy = Answer(429, {"error": {"type": "circuit_breaking_exception",
                                  "reason": "[parent] Data too large"}, "status": 429})  # fmt: skip
    server = script(es8([page(hit("a", 1), hit("b", 2)), busy]), headers=ELASTIC)
    with pytest.raises(SourceUnavailable) as raised, quick(server.url, retries=2) as source:
        source.logs("logs", *WINDOW)
    message = str(raised.value)
    assert "circuit_breaking_exception: [parent] Data too large" in message
    assert "3 attempt(s)" in message and "after 2 hits in 1 page(s)" in message
    assert "overloaded" in message
    assert len(server.calls("DELETE", "/_pit")) == 1  # closed all the same


def test_a_scroll_page_is_not_retried_after_a_server_error(script):
    # A scroll moves on with every answer: repeating a request that may have been served
    # would skip a page silently.
    server = script(
        {
            ("GET", "/"): [ES6_INFO],
            ("POST", "/_search/scroll"): [Answer(503, {"error": "unavailable"})],
            ("DELETE", "/_search/scroll"): [{"succeeded": True}],
            ("POST", "/_search"): [{**page(hit("a", 1), total=2), "_scroll_id": "s1"}],
        }
    )
    with pytest.raises(SourceUnavailable) as raised, quick(server.url, retries=3) as source:
        source.logs("logs", *WINDOW)
    assert "HTTP 503" in str(raised.value) and "1 attempt(s)" in str(raised.value)
    assert len(server.calls("POST", "/_search/scroll")) == 1
    assert orjson.loads(server.calls("DELETE", "/_search/scroll")[0][3]) == {"scroll_id": ["s1"]}


def test_elasticsearch_6_is_paged_by_scroll_in_milliseconds(script):
    # ES 6: no PIT, no numeric_type (sort values in ms), hits.total an integer.
    first = page(total=2)
    first["hits"]["hits"] = [
        {"_index": "logs", "_id": "a", "_source": {"message": "x"}, "sort": [1674984796822]},
        {"_index": "logs", "_id": "b", "_source": {"message": "y"}, "sort": [1674984796823]},
    ]
    server = script(
        {
            ("GET", "/"): [ES6_INFO],
            ("POST", "/_search/scroll"): [{**page(total=2), "_scroll_id": "s2"}],
            ("DELETE", "/_search/scroll"): [{"succeeded": True}],
            ("POST", "/_search"): [{**first, "_scroll_id": "s1"}],
        }
    )
    with quick(server.url) as source:
        frame = source.logs("logs", *WINDOW)
    assert frame["message"].to_list() == ["x", "y"]
    assert str(frame["timestamp"][0]) == "2023-01-29 09:33:16.822000+00:00"
    start = server.server.searches()[0]
    assert "numeric_type" not in orjson.dumps(start).decode()
    assert start["query"]["bool"]["filter"][0]["range"]["@timestamp"]["format"] == "epoch_millis"
    assert orjson.loads(server.calls("POST", "/_search/scroll")[0][3])["scroll_id"] == "s1"
    assert orjson.loads(server.calls("DELETE", "/_search/scroll")[0][3]) == {"scroll_id": ["s2"]}


def test_elasticsearch_8_without_get_root_still_gets_the_pit_dialect(script):
    # Recorded from the Elasticsearch 8.19 integ-test distribution (SERVERS.md): GET /
    # has no handler, but every answer carries X-elastic-product.
    no_root = Answer(405, {"error": "Incorrect HTTP method for uri [/] and method [GET], "
                                    "allowed: [DELETE]", "status": 405})  # fmt: skip
    server = script({**es8([page(hit("a", 5)), page()]), ("GET", "/"): [no_root]}, headers=ELASTIC)
    with quick(server.url) as source:
        frame = source.logs("logs", *WINDOW)
        assert source.info().flavor == "elasticsearch" and source.info().version is None
    assert frame.height == 1
    assert server.server.searches()[0]["sort"][1] == {"_shard_doc": "asc"}


def test_an_unknown_flavour_finds_the_opensearch_dialect(script):
    # A user without the monitor privilege on OpenSearch: GET / is refused, no product
    # header; Elasticsearch's PIT URL is unknown there, OpenSearch's works.
    denied = "no permissions for [cluster:monitor/main]"
    forbidden = Answer(403, {"error": {"type": "security_exception", "reason": denied}})
    server = script(
        {
            ("GET", "/"): [forbidden],
            ("POST", "/_search/point_in_time"): [{"pit_id": "os-1"}],
            ("DELETE", "/_search/point_in_time"): [{"pits": []}],
            ("POST", "/_search"): [page(hit("a", 5), pit_id="os-1"), page(pit_id="os-1")],
        }
    )
    with quick(server.url) as source:
        frame = source.logs("logs", *WINDOW)
    assert frame.height == 1
    assert [r[1].split("?")[0] for r in server.requests if r[0] == "POST"][:2] == [
        "/logs/_pit",
        "/logs/_search/point_in_time",
    ]
    assert server.server.searches()[0]["sort"][1] == {"_id": "asc"}
    assert orjson.loads(server.calls("DELETE", "/_search/point_in_time")[0][3]) == {
        "pit_id": ["os-1"]
    }


# -- credentials -----------------------------------------------------------------------


@pytest.fixture
def certificate(tls_certificate):
    return tls_certificate


def guarded(script, certificate, accepted):
    def route(answers):
        return [Answer(200, a) for a in answers]

    server = script(
        {
            ("GET", "/"): route([OPENSEARCH_INFO]),
            ("POST", "/_search/point_in_time"): route([{"pit_id": "p"}]),
            ("DELETE", "/_search/point_in_time"): route([{"pits": []}]),
            ("POST", "/_search"): route([page(hit("a", 5), pit_id="p"), page(pit_id="p")]),
        },
        certificate=certificate,
    )
    original = server.answer

    def check(method, path, body):
        header = server.requests[-1][2].get("Authorization", "")
        if header != accepted:
            return Answer(401, {"error": {"type": "security_exception", "reason":
                                          f"unable to authenticate with [{header}]"}})  # fmt: skip
        return original(method, path, body)

    server.server.answer = check
    return server


@pytest.mark.parametrize(
    ("options", "header"),
    [
        ({"username": "reader", "password": SECRET},
         "Basic " + base64.b64encode(f"reader:{SECRET}".encode()).decode()),
        ({"api_key": ("key-id", SECRET)},
         "ApiKey " + base64.b64encode(f"key-id:{SECRET}".encode()).decode()),
        ({"api_key": "ZW5jb2RlZDprZXk="}, "ApiKey ZW5jb2RlZDprZXk="),
        ({"bearer_token": SECRET}, f"Bearer {SECRET}"),
    ],
)  # fmt: skip
def test_each_kind_of_credentials_is_sent_over_tls_with_a_ca(script, certificate, options, header):
    server = guarded(script, certificate, header)
    with quick(server.url, ca_bundle=certificate[0], **options) as source:
        assert source.logs("logs", *WINDOW).height == 1
        assert SECRET not in repr(source)


def test_credentials_in_the_url_are_basic_auth_and_never_shown(script, certificate):
    header = "Basic " + base64.b64encode(f"reader:{SECRET}".encode()).decode()
    server = guarded(script, certificate, header)
    url = server.url.replace("https://", f"https://reader:{SECRET}@")
    with quick(url, ca_bundle=certificate[0]) as source:
        assert source.logs("logs", *WINDOW).height == 1
        assert source.url == server.url and SECRET not in repr(source)


@pytest.mark.parametrize(
    "options",
    [
        {"bearer_token": SECRET},
        {"username": "reader", "password": SECRET},
        {"api_key": ("key-id", SECRET)},
        {"headers": {"X-Api-Token": SECRET}},
    ],
)
def test_wrong_credentials_are_an_auth_error_that_never_shows_them(
    script, certificate, caplog, options
):
    caplog.set_level(logging.DEBUG)
    server = guarded(script, certificate, "Bearer right-token")
    source = quick(server.url, ca_bundle=certificate[0], **options)
    with pytest.raises(AuthError) as raised, source:
        source.logs("logs", *WINDOW)
    message = str(raised.value)
    assert f"at {server.url} refused" in message and "HTTP 401" in message
    assert "check the credentials" in message or "needs credentials" in message
    assert "unable to authenticate with [" in message  # the server echoed the header
    encoded = base64.b64encode(f"reader:{SECRET}".encode()).decode()
    encoded_key = base64.b64encode(f"key-id:{SECRET}".encode()).decode()
    for shown in (message, repr(raised.value), repr(source), caplog.text):
        assert SECRET not in shown and encoded not in shown and encoded_key not in shown


def test_an_untrusted_certificate_says_to_pass_the_ca(script, certificate):
    server = guarded(script, certificate, "")
    with pytest.raises(AuthError) as raised, quick(server.url) as source:
        source.info()
    assert "TLS certificate" in str(raised.value) and "ca_bundle=" in str(raised.value)


def test_plain_http_to_a_tls_port_is_unavailable(certificate):
    server = Script({("GET", "/"): [OPENSEARCH_INFO]}, certificate=certificate)
    try:
        with pytest.raises(SourceUnavailable), quick(server.url.replace("https", "http")) as source:
            source.info()
    finally:
        server.close()


def test_transport_errors_do_not_leak_httpx_types():
    with pytest.raises(SourceUnavailable) as raised, quick("http://127.0.0.1:9", retries=0) as s:
        s.info()
    assert not isinstance(raised.value, httpx.HTTPError)


def test_a_server_without_a_pit_handler_is_paged_by_scroll(script):
    # OpenSearch 1.x with compatibility.override_main_response_version reports 7.10.2:
    # new enough by the number, but it has no point-in-time API.
    server = script(
        {
            ("GET", "/"): [{"version": {"distribution": "opensearch", "number": "7.10.2"}}],
            ("POST", "/_search/scroll"): [{**page(), "_scroll_id": "s1"}],
            ("DELETE", "/_search/scroll"): [{"succeeded": True}],
            ("POST", "/_search"): [{**page(hit("a", 5)), "_scroll_id": "s1"}],
        }
    )
    with quick(server.url) as source:
        assert source.logs("logs", *WINDOW).height == 1
    assert [r[1].split("?")[0] for r in server.requests if r[0] == "POST"] == [
        "/logs/_search/point_in_time",
        "/logs/_search",
        "/_search/scroll",
    ]
    with (
        pytest.raises(SourceError, match="no handler found"),
        quick(server.url, pagination="pit") as source,
    ):
        source.logs("logs", *WINDOW)
