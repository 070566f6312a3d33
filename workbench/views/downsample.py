"""Downsample a series for display only: MinMax-LTTB keeps its shape, spikes and ends.

A browser draws a few thousand points per chart without effort and a million with a
stall, so charts get at most :data:`DEFAULT_DISPLAY_POINTS` points. MinMax-LTTB
(``tsdownsample``) first keeps the minimum and maximum of many small buckets, then
runs LTTB over those: every extreme survives, which plain LTTB or striding can lose.
Never used for analysis: the ranking always sees every sample.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from workbench._optional import import_optional

DEFAULT_DISPLAY_POINTS = 2_000


def for_display(
    series: pl.DataFrame,
    *,
    x: str = "timestamp",
    y: str = "value",
    points: int = DEFAULT_DISPLAY_POINTS,
) -> pl.DataFrame:
    """Return at most ``points`` rows of ``series`` (sorted by ``x``) that draw like all of them.

    The first and last rows and every local extreme of the MinMax buckets are kept;
    NaN values are kept as gaps (the NaN-aware variant is used when there are any).
    """
    if series.height <= points:
        return series
    tsdownsample = import_optional("tsdownsample", "dashboards")
    xs = series[x].to_physical().to_numpy()
    ys = np.ascontiguousarray(series[y].cast(pl.Float64).to_numpy())
    downsampler = (
        tsdownsample.NaNMinMaxLTTBDownsampler()
        if np.isnan(ys).any()
        else tsdownsample.MinMaxLTTBDownsampler()
    )
    index = downsampler.downsample(xs, ys, n_out=points)
    return series[np.asarray(index, dtype=np.int64)]
