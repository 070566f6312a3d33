"""Every OTLP trace fixture of ../shared, sent to a real Jaeger and read back through v1
and v3, gives the spans frame the trace-file reader gives for the file itself.

Each fixture gets a Jaeger of its own (two fixtures share trace ids), started in well
under a second.
"""

import os
import time
from pathlib import Path

import polars as pl
import pytest
from jaeger_server import JaegerServer
from polars.testing import assert_frame_equal

from workbench.errors import QueryError
from workbench.sources import traces
from workbench.sources.jaeger import JaegerSource

FIXTURES = Path(os.environ["MANCEROPS_DATASETS"]) / "fixtures"
OTLP_FILES = [
    FIXTURES / "jaeger" / "otlp_trace_input_for_v1_conversion.json",
    *sorted((FIXTURES / "otlp").glob("otlp_trace_*.json*")),
    FIXTURES / "otlp" / "otlp_proto_example_trace.json",
]
# What survives either API: Jaeger adds tags of its own (otel.scope.name, span.kind...).
COMPARED = (
    "trace_id", "span_id", "parent_span_id", "service", "operation",
    "kind", "http_status", "references",
)  # fmt: skip


@pytest.fixture
def fresh_jaeger(tmp_path):
    server = JaegerServer(tmp_path).start()
    yield server
    server.stop()


def comparable(spans: pl.DataFrame, api: str) -> pl.DataFrame:
    start = pl.col("start").dt.epoch("ns")
    end = start + (pl.col("duration_ms") * 1e6).round().cast(pl.Int64)
    if api == "v1":  # whole microseconds
        start, end = start // 1000 * 1000, end // 1000 * 1000
    status = pl.col("status").replace("ok", "unset") if api == "v1" else pl.col("status")
    return spans.select(
        *COMPARED, start.alias("start_ns"), end.alias("end_ns"), status.alias("status")
    ).sort("trace_id", "span_id")


@pytest.mark.parametrize("path", OTLP_FILES, ids=lambda p: p.name)
def test_a_fixture_reads_the_same_from_the_file_and_both_apis(path, fresh_jaeger):
    from_file = traces.load_spans(path).spans
    for line in path.read_bytes().splitlines() if path.suffix == ".jsonl" else [path.read_bytes()]:
        if line.strip():
            fresh_jaeger.send(line)
    trace_ids = sorted(set(from_file["trace_id"]))
    for api in ("v1", "v3"):
        with JaegerSource(fresh_jaeger.url, api=api) as jaeger:
            read = pl.concat(
                [
                    wait_for(jaeger, trace_id, (from_file["trace_id"] == trace_id).sum()).spans
                    for trace_id in trace_ids
                ]
            )
        assert_frame_equal(comparable(read, api), comparable(from_file, api), check_dtypes=False)


def wait_for(jaeger, trace_id, spans, timeout=10.0):
    """Return the trace once Jaeger holds all its ``spans`` (each POST is flushed apart)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            loaded = jaeger.trace(trace_id)
            if loaded.spans.height >= spans or time.monotonic() > deadline:
                return loaded
        except QueryError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)
