"""Look through logs as a log explorer does: search, a hit histogram, a template table.

>>> hits = search(case.logs, "timeout", services=["ts-travel-service"], window=(t0, t1))
>>> histogram(hits, every="15s")            # bin, level, lines
>>> template_table(hits)                    # template_id, template, lines, first, last
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from workbench import frames
from workbench.logs.miner import TemplateMiner

DEFAULT_BIN = "15s"


def search(
    logs: Any,
    text: str = "",
    *,
    services: list[str] | None = None,
    levels: list[str] | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> pl.DataFrame:
    """Return the lines whose message holds ``text`` (case-insensitive, literal), by time.

    ``services`` and ``levels`` keep only those (None: all); ``window`` is ``[start, end]``.
    """
    frame = frames.validate(logs, frames.LOGS)
    keep = pl.lit(True)
    if text:
        keep &= pl.col("message").str.to_lowercase().str.contains(text.lower(), literal=True)
    if services:
        keep &= pl.col("service").is_in(services)
    if levels and "level" in frame.columns:
        keep &= pl.col("level").is_in(levels)
    if window is not None:
        keep &= pl.col("timestamp").is_between(window[0], window[1], closed="both")
    return frame.filter(keep).sort("timestamp", maintain_order=True)


def histogram(logs: Any, every: str = DEFAULT_BIN) -> pl.DataFrame:
    """Return the count of lines per time bin and level: ``bin, level, lines``."""
    frame = frames.validate(logs, frames.LOGS)
    level = pl.col("level") if "level" in frame.columns else pl.lit("")
    return (
        frame.group_by(pl.col("timestamp").dt.truncate(every).alias("bin"), level.alias("level"))
        .len("lines")
        .with_columns(pl.col("lines").cast(pl.Int64))
        .sort("bin", "level")
    )


def template_table(logs: Any, miner: TemplateMiner | None = None) -> pl.DataFrame:
    """Return the templates of ``logs``: ``template_id, template, lines, first, last``.

    Largest first, ties by id; ``miner`` may carry templates learned before.
    """
    frame = frames.validate(logs, frames.LOGS)
    schema = {
        "template_id": pl.String,
        "template": pl.String,
        "lines": pl.Int64,
        "first": pl.Datetime("ns", "UTC"),
        "last": pl.Datetime("ns", "UTC"),
    }
    if frame.is_empty():
        return pl.DataFrame(schema=schema)
    mined = (miner if miner is not None else TemplateMiner()).mine(frame)
    return (
        mined.group_by("template_id", "template")
        .agg(
            pl.len().cast(pl.Int64).alias("lines"),
            pl.col("timestamp").min().alias("first"),
            pl.col("timestamp").max().alias("last"),
        )
        .sort(["lines", "template_id"], descending=[True, False])
        .select(list(schema))
    )
