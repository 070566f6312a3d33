"""Real Nezha Train Ticket traces for the Jaeger tests, and their expected answers.

Sent to Jaeger: the spans of one minute file (``2023-01-30/11_59``, the minute of the
ts-basic-service CPU fault: 4,231 spans, 63 traces, 28 services), read by the dataset
loader and written as OTLP JSON by ``traces.write.to_otlp_json``. Plus two copies of one
of its traces with new trace ids moved to 47 and 49 hours before now (the first copy's
root span is errored and has the attribute ``http.status_code: 503``), to show the
48-hour look-back of ``/api/traces`` and a tag search.

The expected answers are read from the CSV here, with plain polars, independently of the
dataset loader and the trace readers.
"""

from __future__ import annotations

import functools
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import polars as pl

from workbench.datasets import nezha
from workbench.sources.traces import write

MINUTE_FILE = Path("rca_data/2023-01-30/trace/11_59_trace.csv.gz")
# Jaeger's memory store matches a trace when a span of the service starts in the window.
WINDOW = (
    datetime(2023, 1, 30, 11, 58, 50, tzinfo=UTC),
    datetime(2023, 1, 30, 11, 59, 55, tzinfo=UTC),
)
COMPARED = ("trace_id", "span_id", "parent_span_id", "service", "operation", "start", "duration_ms")
RECENT_AGES = (timedelta(hours=47), timedelta(hours=49))
ROOT_TAG = ("http.status_code", "503")  # on the root span of the 47 h copy


def csv_file() -> Path:
    return Path(os.environ["MANCEROPS_DATASETS"]) / "nezha" / MINUTE_FILE


@functools.cache
def expected() -> pl.DataFrame:
    """Return the CSV's spans in frame columns, read here with plain polars."""
    raw = pl.read_csv(csv_file(), infer_schema=False)
    return raw.select(
        pl.col("TraceID").alias("trace_id"),
        pl.col("SpanID").alias("span_id"),
        pl.col("ParentID").replace("root", "").alias("parent_span_id"),
        # ts-basic-service-7d8f5b8b4b-abcde -> ts-basic-service (pod hash and suffix dropped)
        pl.col("PodName").str.replace(r"-[^-]+-[^-]+$", "").alias("service"),
        pl.col("OperationName").alias("operation"),
        pl.col("StartTimeUnixNano").cast(pl.Int64).alias("start_ns"),
        pl.col("Duration").cast(pl.Int64).alias("duration_us"),
    ).sort("trace_id", "span_id")


def sample_trace_id() -> str:
    """Return the trace with the most services (the one copied to recent times)."""
    per_trace = expected().group_by("trace_id").agg(pl.col("service").n_unique().alias("n"))
    return per_trace.sort("n", "trace_id", descending=[True, False])["trace_id"][0]


@functools.cache
def sent_spans() -> pl.DataFrame:
    """Return the spans frame of the minute file, as the dataset loader reads it."""
    return nezha.read_spans([csv_file()])


def recent_copy(age: timedelta, now: datetime, errored: bool) -> pl.DataFrame:
    """Return the sample trace with a new id, its root starting ``age`` before ``now``."""
    spans = sent_spans().filter(pl.col("trace_id") == sample_trace_id())
    shift = (now - age) - spans["start"].min()
    new_id = f"{int(age.total_seconds() // 3600):032x}"
    copy = spans.with_columns(
        pl.lit(new_id).alias("trace_id"),
        pl.col("start") + shift,
        pl.when(pl.col("parent_span_id") == "")
        .then(pl.lit("error" if errored else "unset"))
        .otherwise(pl.lit("unset"))
        .alias("status"),
    )
    return copy


def with_root_attribute(otlp_json: bytes) -> bytes:
    """Return the OTLP document with ``http.status_code: 503`` on its root span.

    (The writer writes no attributes; a tag search needs one.)
    """
    document = orjson.loads(otlp_json)
    for resource in document["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                if not span["parentSpanId"]:
                    span["attributes"] = [{"key": ROOT_TAG[0], "value": {"intValue": ROOT_TAG[1]}}]
    return orjson.dumps(document)


def load(server) -> dict[str, str]:
    """Send the minute file and the two recent copies; return the copies' trace ids by age."""
    now = datetime.now(UTC)
    server.send(write.to_otlp_json(sent_spans()))
    recent = {}
    for age in RECENT_AGES:
        errored = age == RECENT_AGES[0]
        copy = recent_copy(age, now, errored=errored)
        server.send(with_root_attribute(write.to_otlp_json(copy)) if errored else
                    write.to_otlp_json(copy))  # fmt: skip
        recent[f"{int(age.total_seconds() // 3600)}h"] = copy["trace_id"][0]
    return recent


def expected_links(start: datetime, end: datetime) -> dict[tuple[str, str], int]:
    """Return parent -> child service call counts as Jaeger's memory store counts them.

    Counted over traces lying wholly inside (start, end): each span whose parent is in
    the same trace gives one call from the parent's service to the span's service.
    """
    spans = expected().with_columns(
        (pl.col("start_ns") + pl.col("duration_us") * 1000).alias("end_ns")
    )
    lo, hi = int(start.timestamp() * 1e9), int(end.timestamp() * 1e9)
    inside = (
        spans.group_by("trace_id")
        .agg(pl.col("start_ns").min().alias("first"), pl.col("end_ns").max().alias("last"))
        .filter((pl.col("first") > lo) & (pl.col("last") < hi))["trace_id"]
    )
    kept = spans.filter(pl.col("trace_id").is_in(inside.implode()))
    parents = kept.select("trace_id", "span_id", pl.col("service").alias("parent_service"))
    calls = kept.join(
        parents,
        left_on=["trace_id", "parent_span_id"],
        right_on=["trace_id", "span_id"],
        how="inner",
    )
    counted = calls.group_by("parent_service", "service").len()
    return {(r["parent_service"], r["service"]): r["len"] for r in counted.iter_rows(named=True)}


def wait_until_stored(server, recent: dict[str, str], timeout: float = 30.0) -> None:
    """Wait until every sent span can be read back (the batch processor flushes them)."""
    ids = [*expected()["trace_id"].unique().sort(), *recent.values()]
    wanted = (
        expected().height + 2 * sent_spans().filter(pl.col("trace_id") == sample_trace_id()).height
    )
    deadline = time.monotonic() + timeout
    found = 0
    while time.monotonic() < deadline:
        # /api/traces with traceID parameters: a search by ids, no service needed.
        answer = httpx.get(
            f"{server.url}/api/traces", params={"traceID": ids}, timeout=10, trust_env=False
        )
        found = sum(len(t["spans"]) for t in answer.json()["data"] or [])
        if found >= wanted:
            return
        time.sleep(0.2)
    raise AssertionError(f"Jaeger holds {found} of the {wanted} spans sent after {timeout:g} s")
