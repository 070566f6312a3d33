from datetime import UTC, datetime

import polars as pl

from workbench import datasets, frames

# By hand from the CSVs and labels/combined_windows.json (shared README, traps 23-24).
NO_WINDOW_CASES = {
    "artificialNoAnomaly/art_daily_no_noise",
    "artificialNoAnomaly/art_daily_perfect_square_wave",
    "artificialNoAnomaly/art_daily_small_noise",
    "artificialNoAnomaly/art_flatline",
    "artificialNoAnomaly/art_noisy",
    "realAWSCloudwatch/ec2_cpu_utilization_c6585a",
}


def test_suite_has_58_series_in_seven_groups():
    ids = datasets.cases("nab")
    assert len(ids) == 58
    groups = pl.Series([i.split("/")[0] for i in ids]).value_counts().sort("")
    assert dict(groups.iter_rows()) == {
        "artificialNoAnomaly": 5,
        "artificialWithAnomaly": 6,
        "realAWSCloudwatch": 17,
        "realAdExchange": 6,
        "realKnownCause": 7,
        "realTraffic": 7,
        "realTweets": 10,
    }


def test_every_window_is_an_annotation_event():
    total = 0
    empty = set()
    for case in datasets.iter_cases("nab"):
        assert set(case.events["kind"]) <= {"annotation"}
        total += case.events.height
        if case.events.is_empty():
            empty.add(case.case_id)
            assert case.truth.fault_start is None
    assert total == 116
    assert empty == NO_WINDOW_CASES


def test_first_window_is_the_truth():
    case = datasets.load("nab/artificialWithAnomaly/art_daily_jumpsdown")
    assert case.metrics.height == 4032
    assert case.truth.root_cause_service == ""
    assert case.truth.fault_type == "anomaly"
    assert case.truth.fault_start == datetime(2014, 4, 10, 16, 15, tzinfo=UTC)
    assert case.truth.fault_end == datetime(2014, 4, 12, 1, 45, tzinfo=UTC)
    assert frames.validate(case.metrics, frames.METRICS).equals(case.metrics)
    assert set(case.metrics["metric"]) == {"art_daily_jumpsdown"}


def test_repeated_timestamps_are_kept_in_file_order():
    metrics = datasets.load("nab/realAWSCloudwatch/ec2_disk_write_bytes_1ef3de").metrics
    assert metrics.height == 4730
    dst = metrics.filter(pl.col("timestamp") == datetime(2014, 3, 9, 3, 0, tzinfo=UTC))
    assert dst.height == 12


def test_backward_jump_is_kept_in_place():
    times = datasets.load("nab/realKnownCause/machine_temperature_system_failure").metrics[
        "timestamp"
    ]
    # Data rows 10149 and 10150 (file lines 10150-10151): 02:55 then back to 02:00.
    assert times[10148] == datetime(2014, 1, 7, 2, 55, tzinfo=UTC)
    assert times[10149] == datetime(2014, 1, 7, 2, 0, tzinfo=UTC)
