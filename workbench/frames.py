"""Canonical frames: the schemas every source and dataset produces, and their validation.

All frames are polars DataFrames with timestamps as ``Datetime("ns", "UTC")``. Every
public function accepts pandas too; :func:`validate` converts it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import polars as pl

from workbench.errors import SchemaError

UTC_NS = pl.Datetime("ns", "UTC")

METRICS = "metrics"
LOGS = "logs"
SPANS = "spans"
EVENTS = "events"
UNITS = "units"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    dtype: pl.DataType
    required: bool


_REFERENCE = pl.Struct({"trace_id": pl.String, "span_id": pl.String, "type": pl.String})

SCHEMAS: dict[str, tuple[Column, ...]] = {
    METRICS: (
        Column("timestamp", UTC_NS, True),
        Column("service", pl.String, True),
        Column("metric", pl.String, True),
        Column("value", pl.Float64, True),
        Column("series", pl.String, False),
        Column("labels", pl.String, False),
    ),
    LOGS: (
        Column("timestamp", UTC_NS, True),
        Column("service", pl.String, True),
        Column("message", pl.String, True),
        Column("level", pl.String, False),
        Column("host", pl.String, False),
        Column("pod", pl.String, False),
        Column("container", pl.String, False),
        Column("trace_id", pl.String, False),
        Column("span_id", pl.String, False),
        Column("source", pl.String, False),
    ),
    SPANS: (
        Column("trace_id", pl.String, True),
        Column("span_id", pl.String, True),
        Column("parent_span_id", pl.String, True),
        Column("service", pl.String, True),
        Column("operation", pl.String, True),
        Column("start", UTC_NS, True),
        Column("duration_ms", pl.Float64, True),
        Column("status", pl.String, False),
        Column("kind", pl.String, False),
        Column("http_status", pl.Int32, False),
        Column("references", pl.List(_REFERENCE), False),
        Column("attributes", pl.String, False),
    ),
    EVENTS: (
        Column("timestamp", UTC_NS, True),
        Column("kind", pl.String, True),
        Column("service", pl.String, True),
        Column("summary", pl.String, True),
        Column("host", pl.String, False),
        Column("details", pl.String, False),
    ),
    UNITS: (
        Column("host", pl.String, True),
        Column("unit", pl.String, True),
        Column("load", pl.String, True),
        Column("active", pl.String, True),
        Column("sub", pl.String, True),
        Column("description", pl.String, True),
        Column("since", UTC_NS, False),
        Column("restarts", pl.Int64, False),
        Column("main_pid", pl.Int64, False),
        Column("memory_bytes", pl.Int64, False),
    ),
}

# Columns that may hold a struct or its JSON text (DESIGN.md: "struct or JSON str").
_STRUCT_OR_JSON = ("labels",)

# Columns whose values are normalised to lower case on the way in.
_LOWER_CASE = {
    LOGS: ("level", "trace_id", "span_id"),
    SPANS: ("trace_id", "span_id", "parent_span_id", "status", "kind"),
}

# Kubernetes pod names: <deployment>-<replicaset hash>-<pod suffix>, both drawn from the
# alphabet Kubernetes uses for generated names (no vowels, no 0/1/3).
_POD_SUFFIX = re.compile(r"-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$")


def service_of(name: str) -> str:
    """Return the service a container or pod name belongs to, lower case, pod suffix dropped."""
    return _POD_SUFFIX.sub("", name.strip().lower())


def service_expr(column: str | pl.Expr) -> pl.Expr:
    """Return :func:`service_of` as a polars expression over a string column."""
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.str.strip_chars().str.to_lowercase().str.replace(_POD_SUFFIX.pattern, "")


def epoch_expr(column: str | pl.Expr, unit: str = "ns") -> pl.Expr:
    """Return epoch numbers (integers, or digit strings as OTLP writes them) as UTC datetimes.

    Strings go through Int64, never float, so nanoseconds stay exact: a float64 holds only
    about 16 significant digits and an epoch in ns has 19.
    """
    expr = pl.col(column) if isinstance(column, str) else column
    multiplier = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}[unit]
    nanoseconds = expr.cast(pl.Int64, strict=True) * multiplier
    return pl.from_epoch(nanoseconds, time_unit="ns").dt.replace_time_zone("UTC")


def empty(kind: str) -> pl.DataFrame:
    """Return an empty frame of ``kind`` with its required columns."""
    return pl.DataFrame(schema={c.name: c.dtype for c in _schema(kind) if c.required})


def validate(df: Any, kind: str) -> pl.DataFrame:
    """Check ``df`` against the schema of ``kind`` and return it as a canonical polars frame.

    Coerces what is safe: pandas input, naive timestamps (read as UTC), other time zones
    and units, integer values to float, categoricals to strings, level and id case. Raises
    :class:`SchemaError` naming the missing or mistyped column otherwise.
    """
    schema = _schema(kind)
    frame = _to_polars(df, kind)
    missing = [c.name for c in schema if c.required and c.name not in frame.columns]
    if missing:
        raise SchemaError(
            f"{kind} frame is missing required column(s) {', '.join(missing)}; "
            f"it has {', '.join(frame.columns) or 'no columns'}. "
            f"Required: {', '.join(c.name for c in schema if c.required)}."
        )
    casts = []
    for column in schema:
        if column.name in frame.columns:
            casts.append(_coerce(frame, kind, column))
    frame = frame.with_columns(casts) if casts else frame
    lower = [pl.col(c).str.to_lowercase() for c in _LOWER_CASE.get(kind, ()) if c in frame.columns]
    if lower:
        frame = frame.with_columns(lower)
    known = [c.name for c in schema if c.name in frame.columns]
    extra = [c for c in frame.columns if c not in known]
    return frame.select(known + extra)


def wide(metrics: Any) -> pl.DataFrame:
    """Return the wide view: ``timestamp``, then one ``<service>_<metric>`` column per indicator.

    Samples of several series with the same service and metric at the same time are averaged.
    """
    frame = validate(metrics, METRICS)
    if frame.is_empty():
        return pl.DataFrame(schema={"timestamp": UTC_NS})
    keyed = frame.select(
        "timestamp",
        pl.when(pl.col("service") == "")
        .then(pl.col("metric"))
        .otherwise(pl.col("service") + "_" + pl.col("metric"))
        .alias("column"),
        "value",
    )
    out = keyed.pivot(on="column", index="timestamp", values="value", aggregate_function="mean")
    return out.sort("timestamp")


def _schema(kind: str) -> tuple[Column, ...]:
    try:
        return SCHEMAS[kind]
    except KeyError:
        raise SchemaError(f"unknown frame kind {kind!r}; known: {', '.join(SCHEMAS)}") from None


def _to_polars(df: Any, kind: str) -> pl.DataFrame:
    if isinstance(df, pl.DataFrame):
        return df
    if isinstance(df, pl.LazyFrame):
        return df.collect()
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(df, pd.DataFrame):
        return pl.from_pandas(df.reset_index(drop=not _has_named_index(df)))
    raise SchemaError(f"{kind} frame must be a polars or pandas DataFrame, got {type(df).__name__}")


def _has_named_index(df: Any) -> bool:
    return any(name is not None for name in df.index.names)


def _coerce(frame: pl.DataFrame, kind: str, column: Column) -> pl.Expr:
    actual = frame.schema[column.name]
    expr = pl.col(column.name)
    if column.name in _STRUCT_OR_JSON and isinstance(actual, pl.Struct):
        return expr
    target = column.dtype
    if actual == target:
        return expr
    if isinstance(target, pl.Datetime):
        if isinstance(actual, pl.Datetime):
            if actual.time_zone is None:
                expr = expr.dt.replace_time_zone("UTC")
            return expr.dt.convert_time_zone("UTC").dt.cast_time_unit("ns")
        if isinstance(actual, pl.Date):
            return expr.cast(pl.Datetime("ns")).dt.replace_time_zone("UTC")
        if actual == pl.Null:
            return expr.cast(target)
    elif target == pl.String:
        if actual in (pl.Categorical, pl.Enum, pl.Null) or isinstance(actual, pl.Enum):
            return expr.cast(pl.String)
    elif target == pl.Float64:
        if actual.is_numeric() or actual in (pl.Null, pl.Boolean):
            return expr.cast(pl.Float64)
    elif target in (pl.Int32, pl.Int64):
        if actual.is_integer() or actual == pl.Null:
            return expr.cast(target, strict=True)
    elif isinstance(target, pl.List) and actual == pl.Null:
        return expr.cast(target)
    elif isinstance(target, pl.List) and isinstance(actual, pl.List):
        return expr
    raise SchemaError(
        f"{kind} frame column {column.name!r} has type {actual}, expected {target}; "
        "convert it before loading (timestamps must be datetimes, not strings or epoch numbers)"
    )
