"""Every Jaeger and OTLP fixture converts to the spans frame; bad input gets a clear answer."""

import gzip
import os
from pathlib import Path

import orjson
import polars as pl
import pytest

from workbench import frames
from workbench.errors import FileFormatError
from workbench.sources import traces
from workbench.sources.traces import problems

FIXTURES = Path(os.environ["MANCEROPS_DATASETS"]) / "fixtures"
JAEGER = FIXTURES / "jaeger"
OTLP = FIXTURES / "otlp"

# File -> (format, spans, services), counted by hand from each file.
TRACE_FIXTURES = {
    JAEGER / "otlp_trace_input_for_v1_conversion.json": ("otlp", 1, {"telemetrygen"}),
    JAEGER / "v1_api_traces_response_converted_from_otlp.json": ("jaeger", 1, {"telemetrygen"}),
    JAEGER / "v1_anonymized_span_list_embedded_process.json": (
        "jaeger",
        2,
        {"16af988c443cff37", "3c220036602f839e"},
    ),
    JAEGER / "v1_ui_trace_object_spring_petclinic.json": (
        "jaeger",
        5,
        {"api-gateway", "customers-service"},
    ),
    JAEGER / "v1_ui_trace_object_synthetic_follows_from.json": (
        "jaeger",
        11,
        {"service1", "service2"},
    ),
    JAEGER / "v1_ui_trace_object_typed_tags_and_logs.json": (
        "jaeger",
        5,
        {"service-x", "service-y"},
    ),
    JAEGER / "v3_api_FindTraces_response.json": ("jaeger-v3", 1, {""}),
    JAEGER / "v3_api_GetTrace_response.json": ("jaeger-v3", 1, {""}),
    OTLP / "otlp_proto_example_trace.json": ("otlp", 1, {"my.service"}),
    OTLP / "otlp_trace_jaeger_integration_example_3_resources.json": (
        "otlp",
        5,
        {"example-service-1", "example-service-2", "example-service-3"},
    ),
    OTLP / "otlp_trace_jaeger_memstore_otel_traces_01.json": ("otlp", 4, {"service-x"}),
    OTLP / "otlp_trace_jaeger_ui_multi_resource_combined.json": ("otlp", 4, {"example-trace"}),
    OTLP / "otlp_trace_jsonl_4_lines_jaeger_ui_upload.jsonl": ("otlp", 4, {"example-trace"}),
}
NOT_TRACES = {
    JAEGER / "v1_dependencies_list_sample_small.json": "dependency links",
    JAEGER / "v3_api_FindTraceSummaries_response.json": "trace summaries",
    JAEGER / "v3_api_GetOperations_response.json": "operation list",
    JAEGER / "v3_api_GetServices_response.json": "service list",
    OTLP / "otlp_proto_example_logs.json": "OTLP logs",
    OTLP / "otlp_proto_example_events.json": "OTLP logs",
    OTLP / "otlp_proto_example_metrics.json": "OTLP metrics",
}


def test_every_fixture_is_covered():
    listed = set(TRACE_FIXTURES) | set(NOT_TRACES)
    present = {p for p in [*JAEGER.iterdir(), *OTLP.iterdir()] if p.suffix in (".json", ".jsonl")}
    assert present == listed


@pytest.mark.parametrize("path", sorted(TRACE_FIXTURES), ids=lambda p: p.name)
def test_trace_fixture_converts_to_the_spans_frame(path):
    fmt, count, services = TRACE_FIXTURES[path]
    loaded = traces.load_spans(path)
    assert loaded.format == fmt
    assert loaded.spans.height == count
    assert set(loaded.spans["service"]) == services
    assert frames.validate(loaded.spans, frames.SPANS).equals(loaded.spans)


@pytest.mark.parametrize("path", sorted(NOT_TRACES), ids=lambda p: p.name)
def test_non_trace_fixture_is_refused_with_what_it_holds(path):
    with pytest.raises(FileFormatError, match=NOT_TRACES[path]) as error:
        traces.load_spans(path)
    assert error.value.path == str(path)


def test_otlp_and_its_jaeger_v1_conversion_give_the_same_spans():
    otlp = traces.load_spans(JAEGER / "otlp_trace_input_for_v1_conversion.json")
    v1 = traces.load_spans(JAEGER / "v1_api_traces_response_converted_from_otlp.json")
    assert otlp.spans.equals(v1.spans)
    span = otlp.spans.row(0, named=True)
    # 1706678909209712000 -> 1706678909209835000 ns: 123 µs.
    assert span["duration_ms"] == pytest.approx(0.123)
    assert span["kind"] == "server"
    assert orjson.loads(span["attributes"]) == {
        "otel.scope.name": "telemetrygen",
        "net.peer.ip": "1.2.3.4",
        "peer.service": "telemetrygen-client",
    }
    # Trap 27: the same span twice, and a parent that is not in the trace.
    for loaded in (otlp, v1):
        assert loaded.problem(problems.DUPLICATE_SPAN).count == 1
        assert loaded.problem(problems.ORPHAN).examples == ("e127af99e3b3e074",)


def test_jsonl_and_combined_upload_files_give_the_same_spans():
    lines = traces.load_spans(OTLP / "otlp_trace_jsonl_4_lines_jaeger_ui_upload.jsonl").spans
    combined = traces.load_spans(OTLP / "otlp_trace_jaeger_ui_multi_resource_combined.json").spans
    assert lines.sort("span_id").equals(combined.sort("span_id"))
    root = lines.filter(pl.col("parent_span_id") == "")
    assert root["operation"].to_list() == ["main"]


def test_uppercase_hex_ids_are_lower_cased():
    span = traces.load_spans(OTLP / "otlp_proto_example_trace.json").spans.row(0, named=True)
    assert span["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert span["span_id"] == "eee19b7ec3c1b174"
    assert span["parent_span_id"] == "eee19b7ec3c1b173"
    assert orjson.loads(span["attributes"])["my.span.attr"] == "some value"


def test_typed_tags_references_and_logs_of_the_v1_fixture():
    spans = traces.load_spans(JAEGER / "v1_ui_trace_object_typed_tags_and_logs.json").spans
    typed = spans.filter(
        pl.col("operation") == "some-operation", pl.col("span_id").str.ends_with("2")
    )
    row = typed.row(0, named=True)
    assert row["status"] == "error"  # the bool tag error=true
    assert orjson.loads(row["attributes"]) == {
        "peer.service": "service-y",
        "peer.ipv4": 23456,
        "temperature": 72.5,
        "javascript_limit": 9223372036854775222,
        "blob": "AAAwOQ==",
    }
    ref = spans.filter(pl.col("operation") == "reference-test").row(0, named=True)
    # First CHILD_OF in the same trace is the parent; the other two references are kept.
    assert ref["parent_span_id"] == "0000000000000002"
    assert ref["references"] == [
        {
            "trace_id": "000000000000000000000000000000ff",
            "span_id": "00000000000000ff",
            "type": "child_of",
        },
        {
            "trace_id": "00000000000000000000000000000001",
            "span_id": "0000000000000002",
            "type": "follows_from",
        },
    ]
    logged = spans.filter(pl.col("operation") == "test-general-conversion").row(0, named=True)
    assert [e["name"] for e in logged["events"]] == ["some-event", ""]
    assert orjson.loads(logged["events"][1]["attributes"]) == {"x": "y"}


def test_follows_from_becomes_the_parent_when_it_is_the_only_reference():
    spans = traces.load_spans(JAEGER / "v1_ui_trace_object_synthetic_follows_from.json").spans
    consumer = spans.filter(pl.col("span_id") == "span-7").row(0, named=True)
    assert consumer["parent_span_id"] == "span-6"
    assert consumer["kind"] == "consumer"
    assert spans.filter(pl.col("span_id") == "span-2")["status"].to_list() == ["error"]


def test_otlp_links_keep_their_opentracing_reference_type():
    spans = traces.load_spans(OTLP / "otlp_trace_jaeger_memstore_otel_traces_01.json").spans
    refs = spans.filter(pl.col("span_id") == "0000000000000002")["references"][0].to_list()
    assert [r["type"] for r in refs] == ["follows_from", "child_of"]


def test_gzip_file_reads_like_the_plain_one(tmp_path):
    plain = JAEGER / "v1_ui_trace_object_spring_petclinic.json"
    packed = tmp_path / "trace.json.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert traces.load_spans(packed).spans.equals(traces.load_spans(plain).spans)


def test_truncated_json_names_file_line_and_column(tmp_path):
    text = (JAEGER / "v1_ui_trace_object_spring_petclinic.json").read_bytes()
    cut = tmp_path / "cut.json"
    cut.write_bytes(text[:1000])
    with pytest.raises(FileFormatError, match=r"cut\.json: .*truncated at line \d+, column \d+"):
        traces.load_spans(cut)


def test_truncated_jsonl_line_is_skipped_and_reported(tmp_path):
    lines = (OTLP / "otlp_trace_jsonl_4_lines_jaeger_ui_upload.jsonl").read_bytes().splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"\n".join([lines[0], lines[1][:50], *lines[2:]]))
    loaded = traces.load_spans(broken)
    assert loaded.spans.height == 3
    assert loaded.partial
    skipped = loaded.problem(problems.SKIPPED_INPUT)
    assert "line 2" in skipped.message


def test_empty_result_is_an_error_unless_allowed():
    empty = b'{"data": [], "total": 0, "limit": 0, "offset": 0, "errors": null}'
    with pytest.raises(FileFormatError, match="no spans in answer"):
        traces.parse_spans(empty, source="answer")
    assert traces.parse_spans(empty, allow_empty=True).spans.is_empty()


def test_api_errors_in_the_envelope_are_reported():
    body = orjson.loads((JAEGER / "v1_api_traces_response_converted_from_otlp.json").read_bytes())
    body["errors"] = [{"code": 500, "msg": "storage timeout", "traceID": "abc"}]
    loaded = traces.parse_spans(orjson.dumps(body))
    assert loaded.partial
    assert "storage timeout" in loaded.problem(problems.API_ERROR).message


def test_explicit_format_must_match():
    with pytest.raises(FileFormatError, match="holds otlp data, not jaeger"):
        traces.load_spans(OTLP / "otlp_proto_example_trace.json", format="jaeger")


def test_nezha_spans_written_as_otlp_and_jaeger_read_back_the_same():
    from workbench.sources.traces.write import to_jaeger_json, to_otlp_json

    csv = FIXTURES.parent / "nezha/rca_data/2023-01-29/trace/08_43_trace.csv.gz"
    source = traces.load_spans(csv).spans
    core = ["trace_id", "span_id", "parent_span_id", "service", "operation", "start"]
    expected = source.sort("trace_id", "span_id")
    for body, start_unit in ((to_otlp_json(source), "1ns"), (to_jaeger_json(source), "1us")):
        back = traces.parse_spans(body).spans.sort("trace_id", "span_id")
        assert back.height == expected.height == 4445
        assert back.select(core).equals(
            expected.select(core).with_columns(pl.col("start").dt.truncate(start_unit))
        )
        assert back["duration_ms"].to_numpy() == pytest.approx(expected["duration_ms"].to_numpy())


def test_read_spans_logs_each_problem_and_is_exported_lazily(caplog):
    from workbench import sources

    with caplog.at_level("WARNING", logger="workbench.sources.traces.load"):
        spans = sources.read_spans(JAEGER / "v1_anonymized_span_list_embedded_process.json")
    assert spans.height == 2
    assert "whose parent is not in the data" in caplog.text
    assert "v1_anonymized_span_list_embedded_process.json" in caplog.text
