"""Clock skew between hosts: find child spans that lie outside their parent, and shift them.

A span recorded on another host than its parent's can start before the parent or end
after it because the two clocks differ (jaeger#1459). That is tolerated, never an error:
such spans are flagged and, when asked, shifted the way Jaeger's adjuster does. For a
child on another host that does not fit inside its (already adjusted) parent:

* if it lasts longer than the parent (an async call), it is moved to start with the
  parent if it started earlier, else left alone;
* otherwise it is centred in the parent: shifted so that it starts
  ``(parent duration - child duration) / 2`` after the parent.

Children on the same host as their parent move with it. The host is the process' ``ip``
or ``hostname`` tag (OTLP: ``host.name``, ``host.ip``), else the service name.
"""

from __future__ import annotations

import polars as pl

# Deeper traces than this are adjusted down to this depth only (guards against cycles).
MAX_DEPTH = 10_000

_START = pl.col("start").dt.epoch("ns")
_DURATION = (pl.col("duration_ms") * 1e6).round().cast(pl.Int64)


def id_hash(span_column: str) -> pl.Expr:
    """Return a 64-bit hash of (trace_id, ``span_column``), the same for span and parent."""
    return pl.struct(pl.col("trace_id").alias("t"), pl.col(span_column).alias("s")).hash()


def skew_ns(start: pl.Expr, duration: pl.Expr, p_start: pl.Expr, p_duration: pl.Expr) -> pl.Expr:
    """Return the shift, in ns, that puts a child span inside its parent (0 when it fits)."""
    contained = (start >= p_start) & (start + duration <= p_start + p_duration)
    return (
        pl.when(contained)
        .then(pl.lit(0, pl.Int64))
        .when(duration > p_duration)
        .then(pl.when(start < p_start).then(p_start - start).otherwise(pl.lit(0, pl.Int64)))
        .otherwise(p_start + (p_duration - duration) // 2 - start)
    )


def check(
    spans: pl.DataFrame, *, host: str, adjust: bool, unique_ids: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Return the spans (shifted when ``adjust``), the skewed ones and the orphans.

    Skewed: span_id, delta_us. Orphans: span_id of spans whose parent is not in the data.
    ``host`` names the column holding each span's host ("" when unknown);
    ``unique_ids`` says no (trace, span) id pair repeats, which saves a pass.
    """
    keyed = spans.with_row_index("_i").with_columns(
        pl.when(pl.col(host) != "").then(pl.col(host)).otherwise(pl.col("service")).alias("_key"),
        _START.alias("_s"),
        _DURATION.alias("_d"),
        id_hash("span_id").alias("_h"),
        id_hash("parent_span_id").alias("_ph"),
    )
    parents = keyed.select(
        pl.col("_h").alias("_ph"),
        pl.col("trace_id").alias("_pt"),
        pl.col("span_id").alias("_pid"),
        pl.col("_i").alias("_pi"),
        pl.col("_s").alias("_ps"),
        pl.col("_d").alias("_pd"),
        pl.col("_key").alias("_pkey"),
    )
    if not unique_ids:
        parents = parents.unique(subset=["_pt", "_pid"], keep="first", maintain_order=True)
    # One join gives both the orphans (no parent found) and the parent of everyone else.
    # It runs on 64-bit hashes of (trace id, span id), then checks the ids themselves, so
    # a hash collision can only hide a parent (odds ~1e-8 per million spans), never
    # invent one.
    linked = (
        keyed.filter(pl.col("parent_span_id") != "")
        .select("_i", "trace_id", "span_id", "parent_span_id", "_s", "_d", "_key", "_ph")
        .join(parents.unique(subset="_ph", keep="first"), on="_ph", how="left")
        .with_columns(
            pl.when(
                (pl.col("_pt") == pl.col("trace_id")) & (pl.col("_pid") == pl.col("parent_span_id"))
            )
            .then(pl.col("_pi"))
            .alias("_pi")
        )
    )
    orphans = linked.filter(pl.col("_pi").is_null()).select("span_id")
    pairs = linked.filter(pl.col("_pi").is_not_null()).with_columns(
        (pl.col("_key") != pl.col("_pkey")).alias("_cross")
    )
    skewed = pairs.filter(pl.col("_cross")).with_columns(
        skew_ns(pl.col("_s"), pl.col("_d"), pl.col("_ps"), pl.col("_pd")).alias("_delta")
    )
    skewed = skewed.filter(pl.col("_delta") != 0).select(
        "span_id", (pl.col("_delta") / 1000).alias("delta_us")
    )
    if not adjust or skewed.is_empty():
        return spans, skewed, orphans
    return _shift(spans, keyed, pairs), skewed, orphans


def _shift(spans: pl.DataFrame, keyed: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    # Level by level from the roots: each step is one join over the spans not yet placed,
    # so the work is (depth of the deepest trace) columnar passes, not a loop over spans.
    frontier = keyed.join(pairs.select("_i"), on="_i", how="anti").select(
        pl.col("_i").alias("_pi"), pl.lit(0, pl.Int64).alias("_ptotal")
    )
    remaining = pairs
    placed = [frontier.rename({"_pi": "_i", "_ptotal": "_total"})]
    for _ in range(MAX_DEPTH):
        step = remaining.join(frontier, on="_pi", how="inner")
        if step.is_empty():
            break
        step = step.with_columns(
            pl.when(pl.col("_cross"))
            .then(
                skew_ns(
                    pl.col("_s"), pl.col("_d"), pl.col("_ps") + pl.col("_ptotal"), pl.col("_pd")
                )
            )
            .otherwise(pl.col("_ptotal"))
            .alias("_total")
        )
        placed.append(step.select("_i", "_total"))
        frontier = step.select(pl.col("_i").alias("_pi"), pl.col("_total").alias("_ptotal"))
        remaining = remaining.join(step.select("_i"), on="_i", how="anti")
    totals = pl.concat(placed).unique(subset="_i", keep="first")
    shift = pl.duration(nanoseconds=pl.col("_total").fill_null(0))
    shifted = (
        spans.with_row_index("_i")
        .join(totals, on="_i", how="left")
        .with_columns((pl.col("start") + shift).alias("start"))
    )
    if "events" in shifted.columns:
        shifted = _shift_events(shifted)
    return shifted.drop("_i", "_total")


def _shift_events(frame: pl.DataFrame) -> pl.DataFrame:
    exploded = (
        frame.select("_i", "_total", "events")
        .explode("events")
        .drop_nulls("events")
        .unnest("events")
        .with_columns(pl.col("time") + pl.duration(nanoseconds=pl.col("_total").fill_null(0)))
        .group_by("_i")
        .agg(pl.struct("time", "name", "attributes").alias("events"))
    )
    return (
        frame.drop("events")
        .join(exploded, on="_i", how="left")
        .with_columns(pl.col("events").fill_null(pl.lit([], dtype=frame.schema["events"])))
    )
