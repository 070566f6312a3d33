"""One row per trace, as a trace search lists them: root, start, duration, spans, errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from workbench import frames


def trace_summaries(
    spans: Any,
    *,
    service: str | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> pl.DataFrame:
    """Return one row per trace, longest first.

    Columns: trace_id, root_service, root_operation, start, duration_ms (first start to
    last end), spans, services, errors. ``service`` keeps traces with a span of that
    service; ``window`` keeps traces that start in ``[start, end]``.
    """
    frame = frames.validate(spans, frames.SPANS)
    status = pl.col("status") if "status" in frame.columns else pl.lit("unset")
    end = pl.col("start") + pl.duration(microseconds=pl.col("duration_ms") * 1000)
    summary = (
        frame.with_columns(end.alias("_end"), (status == "error").alias("_error"))
        .sort("start")
        .group_by("trace_id")
        .agg(
            pl.col("service").filter(pl.col("parent_span_id") == "").first().alias("root_service"),
            pl.col("operation")
            .filter(pl.col("parent_span_id") == "")
            .first()
            .alias("root_operation"),
            pl.col("start").min(),
            ((pl.col("_end").max() - pl.col("start").min()).dt.total_microseconds() / 1000).alias(
                "duration_ms"
            ),
            pl.len().cast(pl.Int64).alias("spans"),
            pl.col("service").n_unique().cast(pl.Int64).alias("services"),
            pl.col("_error").sum().cast(pl.Int64).alias("errors"),
            pl.col("service").unique().alias("_services"),
        )
    )
    if service is not None:
        summary = summary.filter(pl.col("_services").list.contains(service))
    if window is not None:
        summary = summary.filter(pl.col("start").is_between(window[0], window[1], closed="both"))
    return summary.drop("_services").sort(["duration_ms", "trace_id"], descending=[True, False])
