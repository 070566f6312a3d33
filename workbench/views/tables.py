"""Tables for display: times as UTC text with the zone in the header, gaps left blank.

A browser table otherwise shows tz-aware times in UTC with no label and a missing time
as NaN or -9223372036854776 (panel#3012, bokeh#14907).
"""

from __future__ import annotations

from typing import Any

import polars as pl

TIME_FORMAT = "%Y-%m-%d %H:%M:%S%.3f"


def for_table(frame: pl.DataFrame) -> Any:
    """Return ``frame`` as pandas for a table pane: datetimes as UTC text, headed ``(UTC)``."""
    times = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Datetime)]
    shown = frame.with_columns(
        _utc(pl.col(name), frame.schema[name]).dt.to_string(TIME_FORMAT).fill_null("")
        for name in times
    ).rename({name: f"{name} (UTC)" for name in times})
    return shown.to_pandas()


def _utc(column: pl.Expr, dtype: pl.Datetime) -> pl.Expr:
    if dtype.time_zone is None:  # naive times are UTC in every frame (DESIGN.md)
        return column
    return column.dt.convert_time_zone("UTC")
