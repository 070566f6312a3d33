"""Log signals for RCA: what changed in each service's logs between two windows.

``log_signals(logs, baseline=(t0, t1), incident=(t1, t2))`` mines templates over both
windows with one miner (so a template has one id in both), counts lines per service
and template in each window, and reports three kinds of signal:

* ``new template``: a template of the service seen in the incident window and never in
  the baseline window;
* ``rate shift``: a template whose count moved away from what its baseline rate
  predicts for the incident window's length (up or down; a template that vanished is a
  shift down);
* ``error spike``: more error- and fatal-level lines of the service than its baseline
  rate predicts (``template`` is the most common error template of the incident window).

``deviation`` is a Poisson z-score, ``(observed - expected) / sqrt(expected + 1)``, where
``expected`` is the baseline count scaled by the ratio of window lengths: counts of
log lines are the counts of events, and the ``+ 1`` keeps a template that was absent
from scoring infinitely. Each signal carries up to ``examples`` lines behind it (from
the incident window, or from the baseline for a template that dropped).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from workbench import frames
from workbench.errors import UsageError
from workbench.logs.miner import TemplateMiner

NEW_TEMPLATE = "new template"
RATE_SHIFT = "rate shift"
ERROR_SPIKE = "error spike"
# A rate shift or error spike is reported from this many Poisson standard units on.
DEFAULT_MIN_DEVIATION = 3.0
# A new template is reported from this many lines in the incident window on.
DEFAULT_MIN_NEW = 1
DEFAULT_EXAMPLES = 3
ERROR_LEVELS = ("error", "fatal")

SIGNAL_SCHEMA = {
    "service": pl.String,
    "kind": pl.String,
    "template_id": pl.String,
    "template": pl.String,
    "baseline_count": pl.Int64,
    "observed_count": pl.Int64,
    "deviation": pl.Float64,
    "examples": pl.List(pl.String),
}

Window = tuple[datetime, datetime]


def log_signals(
    logs: Any,
    baseline: Window,
    incident: Window,
    *,
    miner: TemplateMiner | None = None,
    min_deviation: float = DEFAULT_MIN_DEVIATION,
    min_new: int = DEFAULT_MIN_NEW,
    examples: int = DEFAULT_EXAMPLES,
) -> pl.DataFrame:
    """Return the log signals of each service, strongest first.

    Columns: service, kind, template_id, template, baseline_count, observed_count,
    deviation, examples. ``baseline`` and ``incident`` are ``[start, end)`` windows
    (tz-aware, or naive read as UTC). ``miner`` may carry templates learned before; it
    learns the two windows' lines as well.
    """
    base_start, base_end = (_utc(t) for t in baseline)
    inc_start, inc_end = (_utc(t) for t in incident)
    if base_end <= base_start or inc_end <= inc_start:
        raise UsageError("each window must end after it starts")
    scale = (inc_end - inc_start) / (base_end - base_start)
    frame = frames.validate(logs, frames.LOGS)
    if "level" not in frame.columns:
        frame = frame.with_columns(pl.lit("").alias("level"))
    in_base = pl.col("timestamp").is_between(base_start, base_end, closed="left")
    in_incident = pl.col("timestamp").is_between(inc_start, inc_end, closed="left")
    window = pl.when(in_incident).then(pl.lit("incident")).when(in_base).then(pl.lit("baseline"))
    frame = frame.with_columns(window.alias("_window")).filter(pl.col("_window").is_not_null())
    if frame.is_empty():
        return pl.DataFrame(schema=SIGNAL_SCHEMA)
    miner = miner if miner is not None else TemplateMiner()
    mined = miner.mine(frame.sort("timestamp"))
    per_template = _compare(mined, ["service", "template_id"], scale, examples)
    templates = per_template.join(
        mined.select("template_id", "template").unique("template_id"), on="template_id"
    )
    new = templates.filter((pl.col("baseline_count") == 0) & (pl.col("observed_count") >= min_new))
    shifted = templates.filter(
        (pl.col("baseline_count") > 0) & (pl.col("deviation").abs() >= min_deviation)
    )
    errors = _error_spikes(mined, scale, examples, min_deviation)
    signals = pl.concat(
        [
            new.with_columns(pl.lit(NEW_TEMPLATE).alias("kind")),
            shifted.with_columns(pl.lit(RATE_SHIFT).alias("kind")),
            errors.with_columns(pl.lit(ERROR_SPIKE).alias("kind")),
        ],
        how="diagonal",
    )
    return signals.select([pl.col(name).cast(dtype) for name, dtype in SIGNAL_SCHEMA.items()]).sort(
        [pl.col("deviation").abs(), "service", "kind", "template_id"],
        descending=[True, False, False, False],
    )


def _compare(mined: pl.DataFrame, keys: list[str], scale: float, examples: int) -> pl.DataFrame:
    """Return counts per key in both windows, the deviation, and example lines."""
    counts = mined.group_by(keys).agg(
        (pl.col("_window") == "baseline").sum().cast(pl.Int64).alias("baseline_count"),
        (pl.col("_window") == "incident").sum().cast(pl.Int64).alias("observed_count"),
        pl.col("message").filter(pl.col("_window") == "incident").head(examples).alias("_inc"),
        pl.col("message").filter(pl.col("_window") == "baseline").head(examples).alias("_base"),
    )
    expected = pl.col("baseline_count") * scale
    deviation = (pl.col("observed_count") - expected) / (expected + 1).sqrt()
    return counts.with_columns(deviation.alias("deviation")).select(
        *keys,
        "baseline_count",
        "observed_count",
        "deviation",
        pl.when(pl.col("deviation") < 0)
        .then(pl.col("_base"))
        .otherwise(pl.col("_inc"))
        .alias("examples"),
    )


def _error_spikes(
    mined: pl.DataFrame, scale: float, examples: int, min_deviation: float
) -> pl.DataFrame:
    errors = mined.filter(pl.col("level").is_in(ERROR_LEVELS))
    if errors.is_empty():
        return pl.DataFrame(schema=SIGNAL_SCHEMA)
    spikes = _compare(errors, ["service"], scale, examples).filter(
        pl.col("deviation") >= min_deviation
    )
    top = (
        errors.filter(pl.col("_window") == "incident")
        .group_by("service", "template_id", "template")
        .len()
        .sort(["service", "len", "template_id"], descending=[False, True, False])
        .unique("service", keep="first")
        .select("service", "template_id", "template")
    )
    return spikes.join(top, on="service", how="left")


def _utc(moment: datetime) -> datetime:
    """Return ``moment`` as tz-aware UTC (naive read as UTC)."""
    from datetime import UTC

    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
