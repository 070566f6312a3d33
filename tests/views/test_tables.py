from pathlib import Path

import polars as pl

from workbench.views.tables import for_table

# ../shared/cases beside the checkout: inputs from real bug reports.
CASES = Path(__file__).resolve().parents[2].parent / "shared" / "cases"


def test_bl32_times_shown_in_utc_with_the_zone_named_and_a_gap_left_blank():
    # BL-32: across the DST change (+01:00 then +02:00) with one missing time.
    raw = pl.read_csv(CASES / "BL-32.csv")
    frame = raw.with_columns(pl.col("ts").str.to_datetime(time_zone="UTC"))
    shown = for_table(frame)
    assert list(shown.columns) == ["ts (UTC)", "service", "latency_ms"]
    assert shown["ts (UTC)"].tolist() == [
        "2024-03-31 00:30:00.000",
        "",
        "2024-03-31 01:30:00.000",
    ]
