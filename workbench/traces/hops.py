"""Hop shifts: per caller -> callee edge, how the callee's own time and the hop around it changed.

For each cross-service call (:func:`workbench.graph.calls`) two times are compared
between a baseline and an observed window of spans, as medians over the calls:

* ``latency``: the callee span's duration, the time the callee measured for itself;
* ``gap``: the parent span's duration minus the callee span's duration. The parent of a
  server span is usually the caller's client span, so the gap is the time the caller
  waited beyond what the callee measured: the network both ways, connection queues and
  the callee's work before its span opens. A network delay injected at a pod adds to the
  gap of every call into it (its answers leave late), while its own spans stay as fast.

Each time is compared as a fold, ``log((observed + floor) / (baseline + floor))``
(natural log), where ``floor_ms`` keeps a few milliseconds of jitter on a sub-millisecond
hop from counting as a many-fold change.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from workbench import frames, graph

DEFAULT_FLOOR_MS = 10.0
DEFAULT_MIN_CALLS = 1
DEFAULT_TRACE_IDS = 5

HOP_SCHEMA = {
    "caller": pl.String,
    "callee": pl.String,
    "baseline_calls": pl.Int64,
    "observed_calls": pl.Int64,
    "baseline_latency_ms": pl.Float64,
    "observed_latency_ms": pl.Float64,
    "latency_fold": pl.Float64,
    "baseline_gap_ms": pl.Float64,
    "observed_gap_ms": pl.Float64,
    "gap_fold": pl.Float64,
    "trace_ids": pl.List(pl.String),
}


def hop_shifts(
    baseline_spans: Any,
    observed_spans: Any,
    *,
    floor_ms: float = DEFAULT_FLOOR_MS,
    min_calls: int = DEFAULT_MIN_CALLS,
) -> pl.DataFrame:
    """Return one row per edge seen in both windows with its latency and gap folds.

    ``trace_ids`` lists observed traces with the longest hop (caller-side time) on the
    edge. Edges with fewer than ``min_calls`` calls in either window are left out.
    """
    base = _hops(baseline_spans)
    seen = _hops(observed_spans)
    if base.is_empty() or seen.is_empty():
        return pl.DataFrame(schema=HOP_SCHEMA)
    keys = ["caller", "callee"]
    stats = [
        pl.len().cast(pl.Int64).alias("calls"),
        pl.col("duration_ms").median().alias("latency_ms"),
        pl.col("gap_ms").median().alias("gap_ms"),
    ]
    before = base.group_by(keys).agg(stats)
    after = seen.group_by(keys).agg(
        *stats,
        pl.col("trace_id")
        .sort_by("parent_ms", descending=True)
        .unique(maintain_order=True)
        .head(DEFAULT_TRACE_IDS)
        .alias("trace_ids"),
    )
    floor = pl.lit(float(floor_ms))
    table = (
        before.rename({"calls": "baseline_calls", "latency_ms": "baseline_latency_ms"})
        .rename({"gap_ms": "baseline_gap_ms"})
        .join(
            after.rename(
                {
                    "calls": "observed_calls",
                    "latency_ms": "observed_latency_ms",
                    "gap_ms": "observed_gap_ms",
                }
            ),
            on=keys,
            how="inner",
        )
        .filter((pl.col("baseline_calls") >= min_calls) & (pl.col("observed_calls") >= min_calls))
        .with_columns(
            _fold("observed_latency_ms", "baseline_latency_ms", floor).alias("latency_fold"),
            _fold("observed_gap_ms", "baseline_gap_ms", floor).alias("gap_fold"),
        )
    )
    return table.select([pl.col(n).cast(t) for n, t in HOP_SCHEMA.items()]).sort(keys)


def _fold(observed: str, baseline: str, floor: pl.Expr) -> pl.Expr:
    low = pl.lit(0.0)
    return (
        (pl.max_horizontal(pl.col(observed), low) + floor)
        / (pl.max_horizontal(pl.col(baseline), low) + floor)
    ).log()


def _hops(spans: Any) -> pl.DataFrame:
    if spans is None:
        return pl.DataFrame(
            schema={
                "caller": pl.String,
                "callee": pl.String,
                "trace_id": pl.String,
                "duration_ms": pl.Float64,
                "parent_ms": pl.Float64,
                "gap_ms": pl.Float64,
            }
        )
    frame = frames.validate(spans, frames.SPANS)
    parents = frame.select(
        "trace_id",
        pl.col("span_id").alias("parent_span_id"),
        pl.col("duration_ms").alias("parent_ms"),
    ).unique(subset=["trace_id", "parent_span_id"], keep="first")
    return (
        graph.calls(frame)
        .join(parents, on=["trace_id", "parent_span_id"], how="inner")
        .select(
            "caller",
            "callee",
            "trace_id",
            "duration_ms",
            "parent_ms",
            (pl.col("parent_ms") - pl.col("duration_ms")).alias("gap_ms"),
        )
    )
