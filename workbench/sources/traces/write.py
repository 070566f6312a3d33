"""Write a spans frame as OTLP JSON or Jaeger v1 JSON (to send to a collector, or to test).

Written: ids, parent, service, operation, start, duration, kind, status and the other
references. Attributes and events are not written. Each span's JSON is made by polars
(``struct.json_encode``) and the documents are joined as strings: no Python per span.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from workbench import frames

_KIND_NUMBERS = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
_STATUS_NUMBERS = {"unset": 0, "ok": 1, "error": 2}


def _optional(frame: pl.DataFrame, name: str) -> pl.Expr:
    return pl.col(name).fill_null("") if name in frame.columns else pl.lit("")


def to_otlp_json(spans: Any) -> bytes:
    """Return ``spans`` as one OTLP JSON ``TracesData`` document, a resource per service."""
    frame = frames.validate(spans, frames.SPANS)
    start = pl.col("start").dt.epoch("ns")
    end = start + (pl.col("duration_ms") * 1e6).round().cast(pl.Int64)
    span_json = pl.struct(
        pl.col("trace_id").alias("traceId"),
        pl.col("span_id").alias("spanId"),
        pl.col("parent_span_id").alias("parentSpanId"),
        pl.col("operation").alias("name"),
        _optional(frame, "kind").replace_strict(_KIND_NUMBERS, default=0).alias("kind"),
        start.cast(pl.String).alias("startTimeUnixNano"),
        end.cast(pl.String).alias("endTimeUnixNano"),
        pl.struct(
            _optional(frame, "status").replace_strict(_STATUS_NUMBERS, default=0).alias("code")
        ).alias("status"),
    ).struct.json_encode()
    service_json = pl.struct(pl.col("service").alias("v")).struct.json_encode().str.slice(5)
    resources = (
        frame.with_columns(span_json.alias("_span"))
        .group_by("service", maintain_order=True)
        .agg(pl.col("_span").str.join(","))
        .select(
            '{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":'
            + service_json.str.strip_suffix("}")
            + '}}]},"scopeSpans":[{"scope":{},"spans":['
            + pl.col("_span")
            + "]}]}"
        )
        .to_series()
    )
    return ('{"resourceSpans":[' + ",".join(resources.to_list()) + "]}").encode()


def to_jaeger_json(spans: Any) -> bytes:
    """Return ``spans`` as a Jaeger ``/api/traces`` envelope (times in microseconds)."""
    frame = frames.validate(spans, frames.SPANS)
    reference = pl.struct(
        pl.lit("CHILD_OF").alias("refType"),
        pl.col("trace_id").alias("traceID"),
        pl.col("parent_span_id").alias("spanID"),
    )
    references = pl.when(pl.col("parent_span_id") != "").then(pl.concat_list(reference))
    kind_tag = pl.struct(
        pl.lit("span.kind").alias("key"),
        pl.lit("string").alias("type"),
        _optional(frame, "kind").alias("value"),
    )
    error_tag = pl.struct(
        pl.lit("error").alias("key"), pl.lit("bool").alias("type"), pl.lit(True).alias("value")
    )
    span_json = pl.struct(
        pl.col("trace_id").alias("traceID"),
        pl.col("span_id").alias("spanID"),
        pl.col("operation").alias("operationName"),
        references.fill_null(pl.lit([], dtype=pl.List(reference_dtype()))).alias("references"),
        (pl.col("start").dt.epoch("us")).alias("startTime"),
        (pl.col("duration_ms") * 1000).round().cast(pl.Int64).alias("duration"),
        pl.when(_optional(frame, "kind") != "")
        .then(pl.concat_list(kind_tag))
        .otherwise(pl.lit([], dtype=pl.List(kind_tag_dtype())))
        .alias("tags"),
        pl.col("service").alias("processID"),
    ).struct.json_encode()
    # The error tag is spliced in as text so that every span's tag list has one dtype.
    error_json = error_tag.struct.json_encode()
    failed = _optional(frame, "status") == "error"
    tagged = (
        pl.when(failed & (_optional(frame, "kind") != ""))
        .then(span_json.str.replace('"tags":[', '"tags":[' + error_json + ",", literal=True))
        .when(failed)
        .then(span_json.str.replace('"tags":[', '"tags":[' + error_json, literal=True))
    )
    process = pl.struct(pl.col("service").alias("v")).struct.json_encode().str.slice(5).str.head(-1)
    traces = (
        frame.with_columns(tagged.otherwise(span_json).alias("_span"))
        .group_by("trace_id", maintain_order=True)
        .agg(
            pl.col("_span").str.join(","),
            (process + ':{"serviceName":' + process + ',"tags":[]}')
            .unique(maintain_order=True)
            .str.join(",")
            .alias("_processes"),
        )
        .select(
            '{"traceID":"'
            + pl.col("trace_id")
            + '","spans":['
            + pl.col("_span")
            + '],"processes":{'
            + pl.col("_processes")
            + '},"warnings":null}'
        )
        .to_series()
    )
    body = ",".join(traces.to_list())
    return ('{"data":[' + body + '],"total":0,"limit":0,"offset":0,"errors":null}').encode()


def reference_dtype() -> pl.Struct:
    """Return the dtype of a written Jaeger reference."""
    return pl.Struct({"refType": pl.String, "traceID": pl.String, "spanID": pl.String})


def kind_tag_dtype() -> pl.Struct:
    """Return the dtype of a written Jaeger tag."""
    return pl.Struct({"key": pl.String, "type": pl.String, "value": pl.String})
