from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from workbench import datasets, frames
from workbench.datasets import rcd
from workbench.errors import DatasetError

# From the CSVs by hand: data rows and first/last `time` of each file.
CARTS_CPU_1_NORMAL_ROWS = 292
CARTS_CPU_1_ANOMALOUS_ROWS = 282
CARTS_CPU_1_FIRST_ANOMALOUS = datetime(2022, 5, 17, 18, 37, 55, tzinfo=UTC)  # 1652812675
CARTS_CPU_1_LAST_ANOMALOUS = datetime.fromtimestamp(1652812956, tz=UTC)
INDICATOR_COLUMNS = 38  # 39 columns minus `time`
ORDERS_MEM_5_FIRST_ANOMALOUS = datetime.fromtimestamp(1652846051, tz=UTC)


def test_suite_has_fifty_cases_in_natural_order():
    ids = datasets.cases("rcd-sockshop")
    assert len(ids) == 50
    assert ids[:5] == [f"carts-cpu/{n}" for n in range(1, 6)]
    assert ids[-1] == "user-mem/5"


def test_case_holds_normal_then_anomalous_rows_for_every_indicator():
    case = datasets.load("rcd-sockshop/carts-cpu/1")
    rows = CARTS_CPU_1_NORMAL_ROWS + CARTS_CPU_1_ANOMALOUS_ROWS
    assert case.metrics.height == rows * INDICATOR_COLUMNS
    assert case.metrics["series"].n_unique() == INDICATOR_COLUMNS
    assert case.metrics["timestamp"].n_unique() == rows
    assert case.name == "rcd-sockshop/carts-cpu/1"
    assert case.logs.is_empty() and case.spans.is_empty()


def test_case_frames_are_canonical():
    case = datasets.load("rcd-sockshop/carts-cpu/1")
    assert frames.validate(case.metrics, frames.METRICS).equals(case.metrics)
    assert case.metrics.schema["timestamp"] == pl.Datetime("ns", "UTC")


def test_retimed_series_is_contiguous_at_one_second():
    times = datasets.load("rcd-sockshop/carts-cpu/1").metrics["timestamp"].unique().sort()
    steps = times.diff().drop_nulls().unique()
    assert steps.to_list() == [timedelta(seconds=1)]


def test_truth_comes_from_folder_and_anomalous_window():
    truth = datasets.load("rcd-sockshop/carts-cpu/1").truth
    assert truth.root_cause_service == "carts"
    assert truth.fault_type == "cpu"
    assert truth.fault_start == CARTS_CPU_1_FIRST_ANOMALOUS
    assert truth.fault_end == CARTS_CPU_1_LAST_ANOMALOUS


def test_anomalous_values_keep_their_timestamps():
    metrics = datasets.load("rcd-sockshop/carts-cpu/1").metrics
    at_start = metrics.filter(
        (pl.col("series") == "carts_cpu") & (pl.col("timestamp") == CARTS_CPU_1_FIRST_ANOMALOUS)
    )
    assert at_start["value"].to_list() == [100.06266460914617]  # anomalous.csv row 2
    before = metrics.filter(
        (pl.col("series") == "carts_cpu")
        & (pl.col("timestamp") == CARTS_CPU_1_FIRST_ANOMALOUS - timedelta(seconds=1))
    )
    assert before["value"].to_list() == [0.7656898266658472]  # last row of normal.csv


def test_reversed_case_still_puts_normal_before_anomalous():
    case = datasets.load("rcd-sockshop/orders-mem/5")
    assert case.truth.fault_start == ORDERS_MEM_5_FIRST_ANOMALOUS
    times = case.metrics["timestamp"]
    before = case.metrics.filter(pl.col("timestamp") < ORDERS_MEM_5_FIRST_ANOMALOUS)
    assert before["timestamp"].n_unique() == 292  # normal.csv rows
    assert times.max() == datetime.fromtimestamp(1652846337, tz=UTC)


def test_columns_split_on_first_underscore():
    metrics = datasets.load("rcd-sockshop/catalogue-mem/2").metrics
    pairs = set(metrics.select("series", "service", "metric").unique().iter_rows())
    assert ("carts-db_cpu", "carts-db", "cpu") in pairs
    assert ("carts_lat_50", "carts", "lat_50") in pairs
    assert ("front-end_mem", "front-end", "mem") in pairs
    assert ("queue-master_cpu", "queue-master", "cpu") in pairs


def test_wide_view_gives_back_the_rcd_columns():
    wide = frames.wide(datasets.load("rcd-sockshop/user-cpu/3").metrics)
    header = (datasets.path("rcd-sockshop") / "sock-shop-data/user-cpu/3/normal.csv").open()
    columns = header.readline().strip().split(",")[1:]
    assert sorted(wide.columns[1:]) == sorted(columns)


def _write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "anomalous.csv"
    file.write_text(text)
    return file


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("time,a_cpu,b_mem\n1,2.0,3\n2,abc,4\n", ":3: column 'a_cpu': not a number: 'abc'"),
        ("time,a_cpu,b_mem\n1,2.0,3\n2,4\n", ":3: expected 3 fields, found 2"),
        ("time,a_cpu,b_mem\n1,2.0,3\n2,4,5\n3,4,5,6\n", ":4: expected 3 fields, found 4"),
        ("time,a_cpu,b_mem\n1,2.0,3\n2,,5\n", ":3: column 'a_cpu': empty cell"),
        ("stamp,a_cpu\n1,2.0\n", ":1: no 'time' column"),
        ("time,a_cpu,b_mem\n1,2.0,3\n2,nan,4\n", ":3: column 'a_cpu': nan is not a finite"),
        ("time,a_cpu,b_mem\n1,2.0,3\n2,4,inf\n", ":3: column 'b_mem': inf is not a finite"),
        ("time,a_cpu,b_mem\n2,2.0,3\n1,4,5\n", ":3: time 1 follows 2"),
        ("time,a_cpu,b_mem\n1,2.0,3\n2,4,5\n9,4,5\n", ":4: time 9 follows 2"),
        ("time,a_cpu,a_cpu\n1,2.0,3\n", ":1: column(s) named twice: a_cpu"),
    ],
)
def test_malformed_csv_names_file_and_line(tmp_path, text, expected):
    file = _write(tmp_path, text)
    with pytest.raises(DatasetError) as info:
        rcd.read_indicator_csv(file)
    assert f"{file}{expected}" in str(info.value)


def test_a_header_that_is_not_utf8_is_refused(tmp_path):
    file = tmp_path / "anomalous.csv"
    file.write_bytes(b"time,c\xe4rts_cpu\n1,2.0\n")
    with pytest.raises(DatasetError, match=r"anomalous.csv:1: the header is not UTF-8"):
        rcd.read_indicator_csv(file)


def test_normal_and_anomalous_must_share_their_header(tmp_path):
    case = tmp_path / "sock-shop-data" / "carts-cpu" / "1"
    case.mkdir(parents=True)
    (case / "normal.csv").write_text("time,a_cpu,b_mem\n1,1,1\n2,1,1\n")
    (case / "anomalous.csv").write_text("time,a_cpu\n3,1\n4,1\n")
    with pytest.raises(DatasetError, match=r"only in normal: \['b_mem'\]"):
        rcd.load_case(tmp_path, "carts-cpu/1")


def test_a_case_missing_a_file_is_listed_and_named_when_loaded(tmp_path):
    case = tmp_path / "sock-shop-data" / "carts-cpu" / "1"
    case.mkdir(parents=True)
    (case / "normal.csv").write_text("time,a_cpu\n1,1\n")
    assert rcd.case_ids(tmp_path) == ["carts-cpu/1"]
    with pytest.raises(DatasetError, match=r"cannot read .*carts-cpu/1/anomalous.csv"):
        rcd.load_case(tmp_path, "carts-cpu/1")
