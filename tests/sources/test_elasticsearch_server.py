"""Pulls from a real OpenSearch 2.19.1 and a real Elasticsearch 7.17.29 holding Nezha logs.

Every test runs against both servers (the ``search`` fixture), so both dialects are
exercised for real: OpenSearch's ``_search/point_in_time`` with an ``_id`` tiebreaker,
Elasticsearch's ``_pit`` with ``_shard_doc``. Expected values are the dataset's own
logs frame (ECS indices) or the raw CSV rows (Nezha-layout index).
"""

import subprocess
import sys
from datetime import timedelta

import esdata
import polars as pl
import pytest
from esdata import COMPARED, ECS_INDICES, ECS_PATTERN, RAW_INDEX, sortable
from polars.testing import assert_frame_equal

from workbench.errors import QueryError
from workbench.sources import ElasticsearchSource, LogMapping

NEZHA_LAYOUT = LogMapping(
    timestamp="Timestamp",
    service="PodName",
    message="Log",
    level=(),
    host="Node",
    pod="PodName",
    container="Container",
    trace_id="TraceID",
    span_id="SpanID",
)


def window():
    """Return [first line, last line + 1 ns) of the case."""
    stamps = esdata.case_logs()["timestamp"]
    return stamps.min(), stamps.max() + timedelta(microseconds=1)


def between(frame, start, end):
    return frame.filter((pl.col("timestamp") >= start) & (pl.col("timestamp") < end))


def pull(server, index, start, end, *, page_size, **options):
    seen = []
    with ElasticsearchSource(server.url, page_size=page_size, **options) as source:
        frame = source.logs(index, start, end, progress=seen.append)
    return frame, seen


def test_detects_flavour_and_version(search):
    with ElasticsearchSource(search.url) as source:
        info = source.info()
    assert info.flavor == search.flavor
    assert info.number == search.version
    assert info.version == tuple(int(p) for p in search.version.split("."))
    assert info.has_pit


def test_a_case_window_comes_back_exactly_across_many_pages(search):
    expected = esdata.case_logs()
    frame, seen = pull(search, ECS_PATTERN, *window(), page_size=100)
    assert frame.height == expected.height == 2387
    assert_frame_equal(sortable(frame), sortable(expected))
    assert len(seen) == 24 and seen[-1].hits == expected.height
    assert seen[0].total == expected.height and seen[0].total_exact
    # oldest first, each line's index named, the other columns filled
    assert frame["timestamp"].is_sorted()
    for index, lines in esdata.halves().items():
        assert frame.filter(pl.col("source") == index).height == lines.height
    others = ["timestamp", "host", "pod", "container"]
    assert_frame_equal(sortable(frame, others), sortable(expected, others))


def test_a_sub_window_is_half_open_and_exact(search):
    expected = esdata.case_logs()
    first = expected["timestamp"].min()
    start, end = first + timedelta(seconds=100), first + timedelta(seconds=160)
    frame, seen = pull(search, ECS_PATTERN, start, end, page_size=97)
    want = between(expected, start, end)
    assert 1000 < want.height == frame.height
    assert len(seen) == -(-want.height // 97)
    assert_frame_equal(sortable(frame), sortable(want))
    # a line stamped exactly at the start is in, one exactly at the end is out
    edge, after = expected["timestamp"].sort().unique(maintain_order=True)[1000:1002]
    edged, _ = pull(search, ECS_PATTERN, edge, after, page_size=50)
    assert edged["timestamp"].unique().to_list() == [edge]


def test_one_index_and_a_list_of_indices(search):
    halves = esdata.halves()
    first, _ = pull(search, ECS_INDICES[0], *window(), page_size=500)
    assert_frame_equal(sortable(first), sortable(halves[ECS_INDICES[0]]))
    listed, _ = pull(search, ",".join(ECS_INDICES), *window(), page_size=500)
    assert listed.height == esdata.case_logs().height


def test_query_string_and_dsl_filter_select_lines(search):
    expected = esdata.case_logs()
    with ElasticsearchSource(search.url, page_size=100) as source:
        errors = source.logs(
            ECS_PATTERN,
            *window(),
            query='service.name:"ts-travel-service" AND log.level:ERROR',
        )
        orders = source.logs(
            ECS_PATTERN,
            *window(),
            filter=[{"term": {"service.name": "ts-order-service"}}],
        )
    want = expected.filter(
        (pl.col("service") == "ts-travel-service") & (pl.col("level") == "error")
    )
    assert want.height > 20
    assert_frame_equal(sortable(errors), sortable(want))
    want = expected.filter(pl.col("service") == "ts-order-service")
    assert want.height > 100
    assert_frame_equal(sortable(orders), sortable(want))


def test_field_projection_adds_named_fields_only(search):
    with ElasticsearchSource(search.url) as source:
        frame = source.logs(ECS_PATTERN, *window(), fields=["labels.case"])
        pages = source.iter_hits(ECS_PATTERN, *window(), fields=["trace.id"], page_size=3)
        hits = next(pages)
        pages.close()
    assert frame.columns[-1] == "labels.case"
    assert set(frame["labels.case"]) == {esdata.CASE}
    # only the asked field travels, whichever way the document spelled it
    for hit in hits:
        assert set(flat_keys(hit["_source"])) == {"trace.id"}


def flat_keys(source, prefix=""):
    for key, value in source.items():
        if isinstance(value, dict):
            yield from flat_keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_scroll_gives_the_same_lines_as_point_in_time(search):
    by_pit, _ = pull(search, ECS_PATTERN, *window(), page_size=300)
    by_scroll, seen = pull(search, ECS_PATTERN, *window(), page_size=300, pagination="scroll")
    assert len(seen) == 8
    assert_frame_equal(sortable(by_scroll), sortable(by_pit))
    assert by_scroll["timestamp"].is_sorted()


def test_a_custom_layout_matches_the_raw_csv_rows(search):
    rows = esdata.raw_rows()
    expected = esdata.raw_expected(rows)
    start = expected["timestamp"].min()
    end = expected["timestamp"].max() + timedelta(microseconds=1)
    with ElasticsearchSource(search.url, mapping=NEZHA_LAYOUT, page_size=100) as source:
        frame = source.logs(RAW_INDEX, start, end)
    assert frame.height == rows.height  # every CSV row, the Go zero-time ones included
    columns = ["timestamp", "service", "message", "host", "trace_id", "span_id"]
    assert_frame_equal(sortable(frame, columns), sortable(expected, columns))
    assert "level" not in frame.columns


def test_point_in_time_is_closed_after_a_pull_and_after_an_early_stop(search):
    before = open_contexts(search)
    with ElasticsearchSource(search.url, page_size=100) as source:
        source.logs(ECS_INDICES[0], *window())
        assert open_contexts(search) == before
        pages = source.iter_logs(ECS_INDICES[0], *window())
        next(pages)
        assert open_contexts(search) == before + 1  # one shard, one reader
        pages.close()
    assert open_contexts(search) == before


def open_contexts(server):
    stats = server.request("GET", "_nodes/stats/indices/search")
    return sum(node["indices"]["search"]["open_contexts"] for node in stats["nodes"].values())


def test_an_empty_window_is_an_empty_frame_of_the_logs_schema(search):
    start, _ = window()
    with ElasticsearchSource(search.url) as source:
        frame = source.logs(ECS_PATTERN, start, start)
    assert frame.is_empty()
    assert frame.schema["timestamp"] == pl.Datetime("ns", "UTC")
    assert set(COMPARED) <= set(frame.columns)


def test_to_parquet_writes_the_window_page_by_page(search, tmp_path):
    out = tmp_path / "logs.parquet"
    with ElasticsearchSource(search.url, page_size=100) as source:
        written = source.to_parquet(out, ECS_PATTERN, *window(), page_size=500)
        with pytest.raises(QueryError):
            source.to_parquet(tmp_path / "never.parquet", "nope", *window())
    assert written == esdata.case_logs().height
    assert_frame_equal(sortable(pl.read_parquet(out)), sortable(esdata.case_logs()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs.parquet"]  # no partial file


def test_the_logs_pull_command_writes_parquet_and_keeps_secrets_in_the_environment(
    opensearch, tmp_path
):
    out = tmp_path / "errors.parquet"
    start, end = (t.isoformat() for t in window())
    run = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "logs", "pull", "--es", opensearch.url,
         "--index", ECS_PATTERN, "--start", start, "--end", end, "--out", str(out),
         "--query", "log.level:ERROR", "--page-size", "20"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    want = esdata.case_logs().filter(pl.col("level") == "error")
    assert f"wrote {want.height:,} log lines to {out}" in run.stdout
    assert_frame_equal(sortable(pl.read_parquet(out)), sortable(want))
    for extra, says in (
        ([], "no index matches 'nope'"),
        (["--password-env", "NO_SUCH_VARIABLE_SET"], "NO_SUCH_VARIABLE_SET is not set"),
    ):
        failed = subprocess.run(
            [sys.executable, "-m", "workbench.cli", "logs", "pull", "--es", opensearch.url,
             "--index", "nope", "--out", str(tmp_path / "no.parquet"), *extra],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert failed.returncode == 2 and says in failed.stderr
    assert not (tmp_path / "no.parquet").exists()
