"""The Jaeger and OTLP edge cases BL-12..BL-23 of ../shared/cases, each with its expectation."""

import os
from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl
import pytest

from workbench.errors import FileFormatError
from workbench.sources import traces
from workbench.sources.traces import problems

CASES = Path(os.environ["MANCEROPS_DATASETS"]).parent / "cases"


def load(name, **options):
    return traces.load_spans(CASES / name, **options)


def test_bl12_bare_trace_object_is_one_trace_of_two_spans():
    spans = load("BL-12.json").spans.sort("start")
    assert spans.height == 2
    assert spans["trace_id"].n_unique() == 1
    assert spans["service"].to_list() == ["order-api", "order-db"]
    gap = spans["start"][1] - spans["start"][0]
    assert gap.total_seconds() * 1000 == pytest.approx(20.0)
    assert spans["parent_span_id"].to_list() == ["", "7d1e3b2a9c4f6a10"]


def test_bl14_clock_skew_is_flagged_and_shifted_the_jaeger_way():
    loaded = load("BL-14.json")
    skew = loaded.problem(problems.CLOCK_SKEW)
    assert skew is not None and skew.count == 1
    assert "00000000000000c2 +8.000 ms" in skew.examples
    # Not adjusted unless asked: the child keeps its recorded start.
    child = loaded.spans.filter(pl.col("service") == "pricing")
    assert child["start"][0] == datetime(2023, 11, 14, 22, 13, 20, 995000, tzinfo=UTC)

    adjusted = load("BL-14.json", adjust_clock_skew=True).spans
    child = adjusted.filter(pl.col("service") == "pricing").row(0, named=True)
    parent = adjusted.filter(pl.col("service") == "gateway").row(0, named=True)
    # latency (10000 - 4000) / 2 = 3000 µs: start 1700000001003000 µs, log at ...004000 µs.
    assert child["start"] == datetime(2023, 11, 14, 22, 13, 21, 3000, tzinfo=UTC)
    assert child["events"][0]["time"] == datetime(2023, 11, 14, 22, 13, 21, 4000, tzinfo=UTC)
    assert child["events"][0]["name"] == "cache miss"
    gap_ms = (child["start"] - parent["start"]).total_seconds() * 1000
    assert gap_ms == pytest.approx(3.0)
    assert gap_ms + child["duration_ms"] <= parent["duration_ms"]


def test_bl15_spans_with_empty_or_zero_ids_are_reported_not_merged():
    loaded = load("BL-15.json")
    invalid = loaded.problem(problems.INVALID_ID)
    assert invalid.count == 3
    assert "2 empty, 1 all zeros" in invalid.message
    assert loaded.partial
    assert loaded.spans["operation"].to_list() == ["valid"]
    assert loaded.spans["trace_id"].to_list() == ["5b8efff798038103d269b633813fc60c"]
    assert (loaded.spans["trace_id"] != "").all()


def test_bl16_json_lines_give_one_trace_of_three_spans():
    spans = load("BL-16.jsonl").spans
    assert spans.height == 3
    assert spans["trace_id"].n_unique() == 1
    assert sorted(spans["service"].unique()) == ["auth", "web"]
    by_id = {r["span_id"]: r for r in spans.iter_rows(named=True)}
    chain = []
    current = next(r for r in by_id.values() if r["parent_span_id"] == "")
    while current:
        chain.append(current["operation"])
        current = next(
            (r for r in by_id.values() if r["parent_span_id"] == current["span_id"]), None
        )
    assert chain == ["GET /", "check token", "redis GET"]


def test_bl17_v3_wrappers_single_array_and_concatenated():
    single = load("BL-17a.json")
    assert single.format == "jaeger-v3"
    assert single.spans.height == 1
    array = load("BL-17b.json").spans.sort("span_id")
    stream = load("BL-17c.txt").spans.sort("span_id")
    assert array.height == 2
    assert array.equals(stream)
    assert sorted(array["service"]) == ["db", "web"]
    assert dict(zip(array["service"], array["kind"], strict=True)) == {
        "web": "server",
        "db": "client",
    }


def test_bl18_console_exporter_output_is_converted():
    loaded = load("BL-18.json")
    assert loaded.format == "otel-console"
    span = loaded.spans.row(0, named=True)
    assert span["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span["span_id"] == "00f067aa0ba902b7"
    assert span["duration_ms"] == pytest.approx(1.655)
    assert span["kind"] == "internal"
    assert span["service"] == "agent-worker"
    assert orjson.loads(span["attributes"]) == {"code.lineno": 249, "step": 1}


def test_bl19_base64_ids_and_batches_key():
    span = load("BL-19.json").spans.row(0, named=True)
    assert span["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert span["span_id"] == "f875ae17bca0f574"
    assert span["duration_ms"] == pytest.approx(12.0)


def test_bl21_enums_as_numbers_or_names():
    spans = load("BL-21.json").spans.sort("span_id")
    # 2 = SERVER, SPAN_KIND_CLIENT, 0 = UNSPECIFIED ("" in the frame).
    assert spans["kind"].to_list() == ["server", "client", ""]
    assert spans["status"].to_list() == ["error", "error", "unset"]


def test_bl22_snake_case_loads_like_camel_case():
    snake = load("BL-22.json").spans
    camel_text = (
        (CASES / "BL-22.json")
        .read_bytes()
        .replace(b'"resource_spans"', b'"resourceSpans"')
        .replace(b'"scope_spans"', b'"scopeSpans"')
        .replace(b'"string_value"', b'"stringValue"')
        .replace(b'"trace_id"', b'"traceId"')
        .replace(b'"span_id"', b'"spanId"')
        .replace(b'"parent_span_id"', b'"parentSpanId"')
        .replace(b'"start_time_unix_nano"', b'"startTimeUnixNano"')
        .replace(b'"end_time_unix_nano"', b'"endTimeUnixNano"')
    )
    camel = traces.parse_spans(camel_text).spans
    assert snake.equals(camel)
    span = snake.row(0, named=True)
    assert (span["operation"], span["service"], span["duration_ms"]) == ("job.run", "legacy", 900.0)


def test_bl23_negative_dropped_count_is_flagged_and_the_event_kept():
    loaded = load("BL-23.json")
    span = loaded.spans.row(0, named=True)
    assert span["operation"] == "compile"
    assert span["status"] == "error"
    assert len(span["events"]) == 1
    event = span["events"][0]
    assert event["name"] == "exception"
    assert orjson.loads(event["attributes"]) == {"exception.message": "class not found"}
    assert loaded.problem(problems.BAD_COUNT).count == 1


def test_unsupported_json_is_an_error_naming_the_file(tmp_path):
    odd = tmp_path / "odd.json"
    odd.write_text('{"hello": "world"}')
    with pytest.raises(FileFormatError, match=r"unsupported trace format in .*odd\.json"):
        traces.load_spans(odd)
