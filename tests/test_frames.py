from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from workbench import frames
from workbench.errors import SchemaError

# ../shared/cases beside the checkout: inputs from real bug reports.
CASES = Path(__file__).resolve().parents[1].parent / "shared" / "cases"


def test_validate_names_missing_column():
    df = pl.DataFrame({"timestamp": [datetime(2024, 1, 1, tzinfo=UTC)], "service": ["a"]})
    with pytest.raises(SchemaError, match="metric, value"):
        frames.validate(df, frames.METRICS)


def test_validate_names_mistyped_column():
    df = pl.DataFrame(
        {"timestamp": ["2024-01-01"], "service": ["a"], "metric": ["cpu"], "value": [1.0]}
    )
    with pytest.raises(SchemaError, match="'timestamp' has type String"):
        frames.validate(df, frames.METRICS)


def test_validate_accepts_pandas_and_reads_naive_time_as_utc():
    df = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-01-01 00:00:01"]),
            "service": ["carts"],
            "metric": ["cpu"],
            "value": [3],
        }
    )
    out = frames.validate(df, frames.METRICS)
    assert out.schema["timestamp"] == pl.Datetime("ns", "UTC")
    assert out.schema["value"] == pl.Float64
    assert out["timestamp"][0] == datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_validate_converts_other_time_zones_to_utc():
    ts = pl.Series([datetime(2024, 1, 1, 9, 0)]).dt.replace_time_zone("Asia/Shanghai")
    df = pl.DataFrame({"timestamp": ts, "service": ["a"], "metric": ["m"], "value": [1.0]})
    out = frames.validate(df, frames.METRICS)
    assert out["timestamp"][0] == datetime(2024, 1, 1, 1, 0, tzinfo=UTC)


def test_validate_lowercases_levels_and_ids():
    df = pl.DataFrame(
        {
            "timestamp": [datetime(2024, 1, 1, tzinfo=UTC)],
            "service": ["a"],
            "message": ["boom"],
            "level": ["ERROR"],
            "trace_id": ["5B8EFFF798038103D269B633813FC60C"],
        }
    )
    out = frames.validate(df, frames.LOGS)
    assert out["level"][0] == "error"
    assert out["trace_id"][0] == "5b8efff798038103d269b633813fc60c"


def test_nan_and_inf_are_kept_as_values():
    df = pl.DataFrame(
        {
            "timestamp": [datetime(2024, 1, 1, tzinfo=UTC)] * 3,
            "service": ["a"] * 3,
            "metric": ["m"] * 3,
            "value": [float("nan"), float("inf"), float("-inf")],
        }
    )
    values = frames.validate(df, frames.METRICS)["value"].to_list()
    assert values[0] != values[0] and values[1:] == [float("inf"), float("-inf")]


@pytest.mark.parametrize(
    ("name", "service"),
    [
        ("ts-travel-service-64469b5b48-25zj6", "ts-travel-service"),
        ("ts-contacts-service-866bd68c97-xcqfx", "ts-contacts-service"),
        ("carts-db", "carts-db"),
        ("Front-End", "front-end"),
        ("queue-master", "queue-master"),
    ],
)
def test_service_of_drops_pod_suffix(name, service):
    assert frames.service_of(name) == service
    assert pl.select(frames.service_expr(pl.lit(name))).item() == service


def test_wide_names_columns_service_metric():
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    t1 = datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC)
    long = pl.DataFrame(
        {
            "timestamp": [t1, t0, t0, t1],
            "service": ["carts", "carts", "front-end", "front-end"],
            "metric": ["cpu", "cpu", "lat_50", "lat_50"],
            "value": [2.0, 1.0, 5.0, 6.0],
        }
    )
    out = frames.wide(long)
    assert out.columns == ["timestamp", "carts_cpu", "front-end_lat_50"]
    assert out["carts_cpu"].to_list() == [1.0, 2.0]


def test_empty_frame_has_required_columns():
    assert frames.empty(frames.SPANS).columns[:3] == ["trace_id", "span_id", "parent_span_id"]


def test_epoch_nanosecond_strings_stay_exact_bl38():
    # ../shared/cases BL-38: OTLP writes int64 as strings; a float path gives ...000000256.
    case = pl.read_csv(CASES / "BL-38.csv", infer_schema=False)
    starts = case.select(frames.epoch_expr("startTimeUnixNano"))["startTimeUnixNano"]
    assert starts.dtype == pl.Datetime("ns", "UTC")
    assert starts.dt.to_string("%Y-%m-%d %H:%M:%S%.9fZ").to_list() == [
        "2020-02-11 20:26:12.000000321Z",
        "2023-11-14 22:13:20.000000001Z",
    ]


def test_epoch_seconds_are_scaled():
    out = pl.select(frames.epoch_expr(pl.lit(1652812675), "s")).item()
    assert out == datetime(2022, 5, 17, 18, 37, 55, tzinfo=UTC)


def test_labels_may_be_a_struct_or_json_text():
    base = {
        "timestamp": [datetime(2024, 1, 1, tzinfo=UTC)],
        "service": ["a"],
        "metric": ["up"],
        "value": [1.0],
    }
    as_struct = pl.DataFrame({**base, "labels": [{"job": "api", "instance": "h:9"}]})
    assert isinstance(frames.validate(as_struct, frames.METRICS).schema["labels"], pl.Struct)
    as_text = pl.DataFrame({**base, "labels": ['{"job": "api"}']})
    assert frames.validate(as_text, frames.METRICS).schema["labels"] == pl.String
    with pytest.raises(SchemaError, match="'labels' has type Int64"):
        frames.validate(pl.DataFrame({**base, "labels": [3]}), frames.METRICS)
