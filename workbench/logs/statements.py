"""Log statement shifts: which log statements a service wrote more or less often per request.

A fault inside a service changes which of its log statements run: code after an injected
``return`` or exception is skipped (its statement falls silent), an error branch starts
to log. Counting whole-service lines hides that under the workload mix, which changes
from minute to minute. So each line is counted per request of the operation that wrote
it, where the line carries the trace and span ids of its span:

* ``statement``: the ``logger#line`` of the header when the line has one (logback's
  ``%logger#%line``, as Train Ticket writes it: one id per statement in the code), else
  the mined template of the line (:class:`~workbench.logs.miner.TemplateMiner`);
* ``operation``: the operation of the span the line was written in (joined on
  ``trace_id`` + ``span_id``), "" when the line links to no span; then the service's
  other unlinked lines are the denominator instead of requests;
* ``expected``: the baseline count scaled by the ratio of requests (observed /
  baseline) of that operation;
* ``fold``: ``log((observed + 1) / (expected + 1))``, natural log, signed: positive when
  the statement ran more often per request than before, negative when it fell silent;
  then shrunk toward 0 by ``z`` standard errors of a log ratio of two counts,
  ``sqrt(1 / (observed + 1) + 1 / (baseline + 1))`` (counts, not rates), so a statement
  seen in one or two baseline requests (0 -> 6 lines) weighs less than one whose
  baseline rate is well known (30 -> 0 lines).

Statements with fewer than ``min_lines`` lines both expected and observed are left out
(too few to tell). A drop of an error- or warning-level statement is a recovery, not a
fault, and is left out as well.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from workbench import frames
from workbench.logs.miner import TemplateMiner

DEFAULT_MIN_LINES = 5
DEFAULT_EXAMPLES = 3
# Standard errors a fold is shrunk by (see ``statement_shifts``).
DEFAULT_Z = 1.0
DEFAULT_TRACE_IDS = 5
PROBLEM_LEVELS = ("warn", "error", "fatal")
# ``<LEVEL> <logger>#<line>`` after the time at the start of a message.
_STATEMENT = r"^\S+\s+(?:TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL)\s+(\S+#\d+)\s"

SHIFT_SCHEMA = {
    "service": pl.String,
    "operation": pl.String,
    "statement": pl.String,
    "level": pl.String,
    "baseline_count": pl.Int64,
    "baseline_requests": pl.Int64,
    "observed_count": pl.Int64,
    "observed_requests": pl.Int64,
    "expected": pl.Float64,
    "fold": pl.Float64,
    "examples": pl.List(pl.String),
    "trace_ids": pl.List(pl.String),
}


def statement_shifts(
    baseline_logs: Any,
    observed_logs: Any,
    baseline_spans: Any = None,
    observed_spans: Any = None,
    *,
    min_lines: int = DEFAULT_MIN_LINES,
    examples: int = DEFAULT_EXAMPLES,
    z: float = DEFAULT_Z,
) -> pl.DataFrame:
    """Return one row per (service, operation, statement) whose rate per request changed.

    Rows are sorted by ``|fold|``, largest first (then service, operation, statement).
    ``examples`` and ``trace_ids`` hold lines and trace ids behind each row, from the
    observed window (from the baseline for a statement that fell silent).
    """
    base = _with_statement(frames.validate(baseline_logs, frames.LOGS), False)
    seen = _with_statement(frames.validate(observed_logs, frames.LOGS), True)
    lines = pl.concat([base, seen], how="diagonal_relaxed")
    if lines.is_empty():
        return pl.DataFrame(schema=SHIFT_SCHEMA)
    lines = _templates_for_the_rest(lines)
    spans = _spans(baseline_spans, observed_spans)
    lines = lines.join(
        spans.select("trace_id", "span_id", "operation").unique(["trace_id", "span_id"]),
        on=["trace_id", "span_id"],
        how="left",
    ).with_columns(pl.col("operation").fill_null(""))
    counts = lines.group_by("service", "operation", "statement").agg(
        (~pl.col("_observed")).sum().cast(pl.Int64).alias("baseline_count"),
        pl.col("_observed").sum().cast(pl.Int64).alias("observed_count"),
        pl.col("level").filter(pl.col("level").is_in(PROBLEM_LEVELS)).first().alias("level"),
        pl.col("message").filter(pl.col("_observed")).head(examples).alias("_seen"),
        pl.col("message").filter(~pl.col("_observed")).head(examples).alias("_base"),
        pl.col("trace_id")
        .filter(pl.col("_observed") & (pl.col("trace_id") != ""))
        .unique(maintain_order=True)
        .head(DEFAULT_TRACE_IDS)
        .alias("_seen_traces"),
        pl.col("trace_id")
        .filter(~pl.col("_observed") & (pl.col("trace_id") != ""))
        .unique(maintain_order=True)
        .head(DEFAULT_TRACE_IDS)
        .alias("_base_traces"),
    )
    requests = spans.group_by("service", "operation").agg(
        (~pl.col("_observed")).sum().cast(pl.Int64).alias("baseline_requests"),
        pl.col("_observed").sum().cast(pl.Int64).alias("observed_requests"),
    )
    # Lines linked to no span are measured against the service's other such lines.
    unlinked = (
        counts.filter(pl.col("operation") == "")
        .group_by("service")
        .agg(
            pl.col("baseline_count").sum().alias("_b"),
            pl.col("observed_count").sum().alias("_o"),
        )
    )
    table = (
        counts.join(requests, on=["service", "operation"], how="left")
        .join(unlinked, on="service", how="left")
        .with_columns(
            pl.when(pl.col("operation") == "")
            .then(pl.col("_b"))
            .otherwise(pl.col("baseline_requests"))
            .alias("baseline_requests"),
            pl.when(pl.col("operation") == "")
            .then(pl.col("_o"))
            .otherwise(pl.col("observed_requests"))
            .alias("observed_requests"),
        )
        .filter((pl.col("baseline_requests") > 0) & (pl.col("observed_requests") > 0))
    )
    expected = pl.col("baseline_count") * pl.col("observed_requests") / pl.col("baseline_requests")
    table = (
        table.with_columns(expected.alias("expected"))
        .filter((pl.col("expected") >= min_lines) | (pl.col("observed_count") >= min_lines))
        .with_columns(
            ((pl.col("observed_count") + 1) / (pl.col("expected") + 1)).log().alias("fold")
        )
        .with_columns(_confident(pl.col("fold"), z).alias("fold"))
        .filter(~(pl.col("level").is_not_null() & (pl.col("fold") < 0)))
        .with_columns(
            pl.when(pl.col("fold") < 0).then("_base").otherwise("_seen").alias("examples"),
            pl.when(pl.col("fold") < 0)
            .then("_base_traces")
            .otherwise("_seen_traces")
            .alias("trace_ids"),
            pl.col("level").fill_null(""),
        )
    )
    return (
        table.select([pl.col(name).cast(dtype) for name, dtype in SHIFT_SCHEMA.items()])
        .with_columns(pl.col("fold").abs().alias("_size"))
        .sort(
            ["_size", "service", "operation", "statement"], descending=[True, False, False, False]
        )
        .drop("_size")
    )


def _confident(fold: pl.Expr, z: float) -> pl.Expr:
    """Shrink a fold toward 0 by ``z`` standard errors of a log ratio of two counts."""
    se = (1.0 / (pl.col("observed_count") + 1) + 1.0 / (pl.col("baseline_count") + 1)).sqrt()
    return fold.sign() * (fold.abs() - z * se).clip(lower_bound=0.0)


def fold_of(shift: dict) -> float:
    """Return the e-fold size of a shift row (``|fold|``), for ranking."""
    return abs(float(shift["fold"])) if math.isfinite(shift["fold"]) else 0.0


def _with_statement(logs: pl.DataFrame, observed: bool) -> pl.DataFrame:
    for name in ("level", "trace_id", "span_id"):
        if name not in logs.columns:
            logs = logs.with_columns(pl.lit("").alias(name))
    return logs.select(
        "timestamp",
        "service",
        "message",
        pl.col("level").fill_null(""),
        pl.col("trace_id").fill_null(""),
        pl.col("span_id").fill_null(""),
        pl.col("message").str.extract(_STATEMENT, 1).alias("statement"),
        pl.lit(observed).alias("_observed"),
    )


def _templates_for_the_rest(lines: pl.DataFrame) -> pl.DataFrame:
    """Give lines without a ``logger#line`` their mined template as the statement."""
    rest = lines.filter(pl.col("statement").is_null())
    if rest.is_empty():
        return lines
    mined = TemplateMiner().mine(rest.sort("timestamp"))
    named = mined.with_columns(pl.col("template").alias("statement")).select(lines.columns)
    return pl.concat([lines.filter(pl.col("statement").is_not_null()), named])


def _spans(baseline: Any, observed: Any) -> pl.DataFrame:
    parts = []
    for frame, flag in ((baseline, False), (observed, True)):
        if frame is None:
            continue
        spans = frames.validate(frame, frames.SPANS)
        parts.append(
            spans.select("trace_id", "span_id", "service", "operation").with_columns(
                pl.lit(flag).alias("_observed")
            )
        )
    if not parts:
        return pl.DataFrame(
            schema={
                "trace_id": pl.String,
                "span_id": pl.String,
                "service": pl.String,
                "operation": pl.String,
                "_observed": pl.Boolean,
            }
        )
    return pl.concat(parts)
