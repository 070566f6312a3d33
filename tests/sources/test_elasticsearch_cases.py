"""Edge cases BL-25, BL-26 and BL-27 (../shared/cases/README.md), each with its expected value.

The inputs are the recorded answers in ../shared/cases, replayed by a loopback server,
since no real server changes its PIT id, loses a scroll context or reports a
10,000-hit lower bound on demand.
"""

import orjson
import pytest
from esreplay import ELASTIC, ES6_INFO, ES8_INFO, Script, case, page
from search_server import Answer

from workbench.errors import SourceError, SourceWarning
from workbench.sources import ElasticsearchSource
from workbench.sources.elasticsearch import hits_total

WINDOW = ("2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z")


def quick(url, **options):
    return ElasticsearchSource(url, retries=0, backoff=0.01, **options)


@pytest.fixture
def script():
    made = []

    def make(routes, **options):
        made.append(Script(routes, **options))
        return made[-1]

    yield make
    for one in made:
        one.close()


def ids(pages):
    return [hit["_id"] for hits in pages for hit in hits]


# -- BL-25: hits.total is an object from ES 7 on, and only a lower bound when "gte" -----


def test_bl25_total_reads_both_forms():
    es7, es6 = case("BL-25")
    assert hits_total(es7["hits"]) == (10000, "gte")  # at least 10,000
    assert hits_total(es6["hits"]) == (12, "eq")


def test_bl25_paging_stops_on_an_empty_page_not_on_the_total(script):
    es7, _ = case("BL-25")
    server = script(
        {
            ("GET", "/"): [ES8_INFO],
            ("POST", "/_pit"): [{"id": "p1"}],
            ("DELETE", "/_pit"): [{"succeeded": True}],
            ("POST", "/_search"): [{**es7, "pit_id": "p1"}, page(pit_id="p1")],
        },
        headers=ELASTIC,
    )
    seen = []
    with quick(server.url) as source:
        got = ids(source.iter_hits("logs", *WINDOW, timestamp="ts", progress=seen.append))
    assert got == ["x1"]  # not 10,000 hits, and no endless loop
    assert len(server.server.searches()) == 2
    assert (seen[0].total, seen[0].total_exact) == (10000, False)


def test_bl25_more_hits_than_an_exact_total_are_all_read(script):
    # Elasticsearch 6: integer total, scroll. A total of 12 does not cap the pull.
    _, es6 = case("BL-25")
    second = page(total=12)
    second["hits"]["hits"] = [{**es6["hits"]["hits"][0], "_id": f"y{n}"} for n in range(2, 15)]
    server = script(
        {
            ("GET", "/"): [ES6_INFO],
            ("POST", "/_search/scroll"): [
                {**second, "_scroll_id": "s"},
                {**page(total=12), "_scroll_id": "s"},
            ],
            ("DELETE", "/_search/scroll"): [{"succeeded": True}],
            ("POST", "/_search"): [{**es6, "_scroll_id": "s"}],
        }
    )
    seen = []
    with quick(server.url) as source:
        got = ids(source.iter_hits("logs", *WINDOW, timestamp="ts", progress=seen.append))
    assert len(got) == 14 and got[0] == "y1"
    assert (seen[0].total, seen[0].total_exact) == (12, True)


# -- BL-26: a 200 scroll page with a failed shard ---------------------------------------


def bl26_server(script):
    first = page(total={"value": 1701553, "relation": "eq"})
    first["hits"]["hits"] = [
        {"_index": "audit-2024.03", "_id": "q0", "_source": {"user": "svc", "action": "list"},
         "sort": [1709251200000000000]},
    ]  # fmt: skip
    failing = case("BL-26")
    failing["hits"]["hits"][0]["sort"] = [1709251201000000000]
    return script(
        {
            ("GET", "/"): [ES8_INFO],
            ("POST", "/_search/scroll"): [failing, {**page(), "_scroll_id": failing["_scroll_id"]}],
            ("DELETE", "/_search/scroll"): [{"succeeded": True}],
            ("POST", "/_search"): [{**first, "_scroll_id": "scroll-1"}],
        },
        headers=ELASTIC,
    )


def test_bl26_a_failed_shard_on_a_scroll_page_is_an_error_not_fewer_hits(script):
    server = bl26_server(script)
    with pytest.raises(SourceError) as raised, quick(server.url, pagination="scroll") as source:
        source.logs("audit-*", *WINDOW)
    message = str(raised.value)
    assert "1 of 5 shards failed on page 2 of the scroll of 'audit-*'" in message
    assert "search_context_missing_exception: No search context found for id [4711]" in message
    assert "after 1 hits in 1 page(s)" in message and "incomplete" in message
    # the scroll is cleared with the latest id
    cleared = orjson.loads(server.calls("DELETE", "/_search/scroll")[0][3])
    assert cleared == {"scroll_id": [case("BL-26")["_scroll_id"]]}


def test_bl26_allowed_partial_results_are_reported(script):
    server = bl26_server(script)
    with (
        pytest.warns(SourceWarning, match="1 of 5 shards failed") as warned,
        quick(server.url, pagination="scroll", allow_partial=True) as source,
    ):
        pages = list(source.iter_hits("audit-*", *WINDOW))
    assert ids(pages) == ["q0", "q1"]
    assert "search_context_missing_exception" in str(warned[0].message)


# -- BL-27: the pit_id changes between answers; a PIT expires ---------------------------


def bl27_server(script, last):
    first, second, _ = case("BL-27")
    return script(
        {
            ("GET", "/"): [ES8_INFO],
            ("POST", "/traces/_pit"): [{"id": "PIT_ID_v1_AAAA"}],
            ("DELETE", "/_pit"): [{"succeeded": True, "num_freed": 1}],
            ("POST", "/_search"): [first, second, last],
        },
        headers=ELASTIC,
    )


def test_bl27_every_request_uses_the_latest_pit_id_and_it_is_closed(script):
    server = bl27_server(script, page(pit_id="PIT_ID_v2_BBBB"))
    with quick(server.url) as source:
        got = ids(source.iter_hits("traces", *WINDOW, timestamp="ts"))
    assert got == ["t1", "t2", "t3"]
    searches = server.server.searches()
    assert [s["pit"]["id"] for s in searches] == [
        "PIT_ID_v1_AAAA",
        "PIT_ID_v1_AAAA",
        "PIT_ID_v2_BBBB",
    ]
    # the large _shard_doc sort value goes back as the same integer, not a float
    assert searches[2]["search_after"] == [3, 4294967298]
    assert b"[3,4294967298]" in [r[3] for r in server.calls("POST", "/_search")][2]
    closed = [orjson.loads(r[3]) for r in server.calls("DELETE", "/_pit")]
    assert closed == [{"id": "PIT_ID_v2_BBBB"}]


def test_bl27_an_expired_pit_raises_and_is_not_reopened(script):
    *_, expired = case("BL-27")
    server = bl27_server(script, Answer(404, expired))
    pages = []
    with pytest.raises(SourceError) as raised, quick(server.url) as source:
        for hits in source.iter_hits("traces", *WINDOW, timestamp="ts"):
            pages.append(hits)
    assert ids(pages) == ["t1", "t2", "t3"]  # what was read came through, then the error
    message = str(raised.value)
    assert (
        "the point in time on 'traces'" in message
        and "expired after 3 hits in 2 page(s)" in message
    )
    assert "search_context_missing_exception: No search context found for id [91]" in message
    assert "not reopened" in message
    assert len(server.calls("POST", "/traces/_pit")) == 1  # never a second PIT
    closed = [orjson.loads(r[3]) for r in server.calls("DELETE", "/_pit")]
    assert closed == [{"id": "PIT_ID_v2_BBBB"}]
