import numpy as np
import polars as pl

from workbench.views import DEFAULT_DISPLAY_POINTS, for_display

MILLION = 1_000_000


def _series(values: np.ndarray) -> pl.DataFrame:
    start = pl.datetime(2024, 1, 1, time_zone="UTC")
    times = pl.datetime_range(
        start, start + pl.duration(seconds=len(values) - 1), "1s", eager=True
    ).dt.cast_time_unit("ns")
    return pl.DataFrame({"timestamp": times, "value": values})


def test_million_points_become_display_points_keeping_spikes_and_ends():
    values = np.sin(np.arange(MILLION) / 1000.0)
    values[123_457] = 50.0  # one spike up and one down, far beyond the sine's +-1
    values[654_321] = -40.0
    shown = for_display(_series(values))
    assert shown.height == DEFAULT_DISPLAY_POINTS
    assert shown["value"].max() == 50.0
    assert shown["value"].min() == -40.0
    assert shown["timestamp"][0] == _series(values[:1])["timestamp"][0]
    assert (shown["timestamp"][-1] - shown["timestamp"][0]).total_seconds() == MILLION - 1
    assert shown["timestamp"].is_sorted()


def test_series_with_gaps_keeps_its_spike():
    values = np.cos(np.arange(50_000) / 100.0)
    values[10:20] = np.nan
    values[33_333] = 9.0
    shown = for_display(_series(values), points=500)
    assert shown.height <= 500
    assert shown["value"].max() == 9.0


def test_short_series_is_returned_whole():
    series = _series(np.arange(10, dtype=float))
    assert for_display(series).equals(series)
