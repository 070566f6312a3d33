"""Prometheus API answers into frames: the BL-01..BL-07 cases and the real `up` fixtures."""

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import promdata
import pytest

from workbench.sources import plan_chunks, wide_on_grid
from workbench.sources._prometheus_json import (
    ApiError,
    parse_body,
    parse_payload,
    parse_result,
    series_key,
    to_frame,
)

CASES = Path(__file__).resolve().parents[3] / "shared" / "cases"


def case(name):
    return json.loads((CASES / name).read_text())


def frame_of(payload, **kw):
    return to_frame([parse_payload(payload)], **kw)


def test_bl01_string_values_become_float64_and_average():
    frame = frame_of(case("BL-01.json"))
    assert frame.schema["value"] == pl.Float64
    assert frame["value"].mean() == 27.0  # (26.5 + 27.5) / 2
    assert frame["metric"].to_list() == ["queue_depth", "queue_depth"]


def test_bl02_nan_is_kept_as_nan_and_stats_skip_it():
    values = frame_of(case("BL-02.json"))["value"].to_numpy()
    assert np.isnan(values).sum() == 1
    assert np.nansum(values) == 4.0 and np.nanmean(values) == 2.0 and np.nanmax(values) == 3.0
    assert math.isnan(values[1])  # not turned into 0


def test_bl03_infinities_are_values_and_buckets_sort_numerically():
    frame = frame_of(case("BL-03.json"))
    ratio = frame.filter(pl.col("series").str.starts_with("{"))
    assert sorted(ratio["value"].to_list()) == [-math.inf, math.inf]
    buckets = (
        frame.filter(pl.col("metric") == "rpc_seconds_bucket")
        .with_columns(pl.col("labels").struct.field("le").alias("le"))
        .sort(pl.col("le").cast(pl.Float64))
    )
    assert buckets["le"].to_list() == ["0.05", "0.5", "+Inf"]
    assert buckets["value"].to_list() == [120.0, 800.0, 1027.0]


def test_bl04_missing_steps_and_nan_steps_give_the_same_grid():
    cases = case("BL-04.json")
    q = cases["query"]
    grids = []
    for shape in ("prometheus_style", "nan_filled_style"):
        long = frame_of(cases[shape], service_labels=("job",))
        wide = wide_on_grid(long, q["start"] * 1000, q["end"] * 1000, q["step"] * 1000)
        grids.append(wide)
        assert wide.height == 3
        values = wide["api_up"].to_list()
        assert values[0] == 1.0 and math.isnan(values[1]) and values[2] == 1.0  # never 0
    assert grids[0]["timestamp"].to_list() == grids[1]["timestamp"].to_list()


def test_bl05_partial_response_loads_samples_and_keeps_warnings_and_infos():
    body = orjson.dumps(case("BL-05.json"))
    parsed = parse_body(body)
    assert parsed.warnings == ("partial response: store 10.0.0.7:10901 unreachable",)
    assert parsed.infos[0].startswith("PromQL info: metric might not be a counter")
    assert to_frame([parsed])["value"].to_list() == [10.0, 12.0]


def test_bl06_scalar_is_one_row_and_string_stays_text():
    scalar, string = case("BL-06.json")
    frame = frame_of(scalar, fallback_metric="scalar(x)")
    assert frame.height == 1 and frame["value"][0] == 2.0
    assert frame["timestamp"][0] == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert "labels" not in frame.columns and frame["series"][0] == "{}"
    text = parse_payload(string)
    assert text.result_type == "string" and list(text.values) == ["build-7f3c"]


def test_bl07_a_sample_on_a_chunk_seam_is_kept_once():
    first, second = (parse_payload(chunk) for chunk in case("BL-07.json"))
    frame = to_frame([first, second])
    seconds = (frame["timestamp"].dt.epoch("s")).to_list()
    assert seconds == [1700000000, 1700000030, 1700000060, 1700000090, 1700000120]
    assert frame["value"].to_list().count(106.0) == 1
    rates = np.diff(frame["value"].to_numpy()) / np.diff(seconds)
    assert rates.tolist() == [0.1, 0.1, 0.1, 0.1]  # 3 per 30 s, as in either chunk


def test_error_envelope_carries_the_server_message():
    body = b'{"status":"error","errorType":"bad_data","error":"1:6: parse error"}'
    with pytest.raises(ApiError) as raised:
        parse_body(body)
    assert raised.value.error_type == "bad_data" and raised.value.error == "1:6: parse error"


def test_up_fixture_result_lists_load_exactly():
    # Trap 28: the files are bare data.result lists, ms-precision float seconds, "1"/"0".
    expected = promdata.up_fixture_samples()
    frame = promdata.up_fixture_frame()
    assert frame.schema["value"] == pl.Float64
    got = {}
    for key, ms, value in frame.select(
        "series", pl.col("timestamp").dt.epoch("ms"), "value"
    ).iter_rows():
        got.setdefault(key, {})[ms] = value
    assert got == expected
    assert set(frame["value"].unique().to_list()) <= {0.0, 1.0}
    assert len(expected) >= 9


def test_fast_path_and_json_path_agree_on_awkward_label_values():
    result = [
        {
            "metric": {"__name__": "m", "path": 'a"values":[[1,"2"]]', "x": "back\\slash"},
            "values": [[1700000000.001, "1.5"], [1700000015, "NaN"], [1700000030.999, "+Inf"]],
        },
        {"metric": {"__name__": "m", "path": "]]"}, "values": [[1700000000, "-Inf"]]},
    ]
    envelope = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    compact = orjson.dumps(envelope)
    spaced = json.dumps(envelope, indent=1).encode()  # not Prometheus' shape: the JSON path
    fast, slow = parse_body(compact), parse_body(spaced)
    for parsed in (fast, slow):
        assert parsed.labels[0]["path"] == 'a"values":[[1,"2"]]'
        assert parsed.timestamps_ms.tolist() == [
            1700000000001,
            1700000015000,
            1700000030999,
            1700000000000,
        ]
        assert parsed.lengths.tolist() == [3, 1]
    np.testing.assert_array_equal(fast.values, slow.values)
    assert to_frame([fast]).equals(to_frame([slow]))


def test_series_key_is_prometheus_text_with_sorted_escaped_labels():
    assert (
        series_key({"__name__": "up", "job": "a", "instance": 'x"y'})
        == 'up{instance="x\\"y",job="a"}'
    )
    assert series_key({}) == "{}"


def test_service_comes_from_labels_by_precedence_with_pod_suffix_dropped():
    result = [
        {"metric": {"__name__": "m", "job": "kubelet", "service": "Carts"}, "value": [1, "1"]},
        {"metric": {"__name__": "m", "app": "orders", "job": "x"}, "value": [1, "1"]},
        {
            "metric": {"__name__": "m", "pod": "ts-travel-service-64469b5b48-25zj6"},
            "value": [1, "1"],
        },
        {"metric": {"__name__": "m"}, "value": [1, "1"]},
    ]
    frame = to_frame(
        [parse_result(result, "vector")],
        service_labels=("service", "app", "job", "container", "pod"),
    )
    assert frame["service"].to_list() == ["carts", "orders", "ts-travel-service", ""]


def test_chunks_cover_the_step_grid_once_and_respect_the_point_limit():
    # 0..100 s at 10 s is 11 points; 4 per request -> 0-30, 40-70, 80-100.
    assert plan_chunks(0, 100_000, 10_000, 4) == [(0, 30_000), (40_000, 70_000), (80_000, 100_000)]
    # an end off the grid: the last point is 90 s, the same as one query would give
    assert plan_chunks(0, 99_000, 10_000, 100) == [(0, 90_000)]
    assert plan_chunks(5_000, 5_000, 1_000, 11_000) == [(5_000, 5_000)]
    # exactly 11,000 points fit one request; 11,001 need two
    assert len(plan_chunks(0, 10_999_000, 1_000, 11_000)) == 1
    assert len(plan_chunks(0, 11_000_000, 1_000, 11_000)) == 2


def test_batched_parsing_equals_one_pass(monkeypatch):
    import workbench.sources._prometheus_json as promjson

    result = [
        {
            "metric": {"__name__": "x", "i": str(i)},
            "values": [[1700000000 + 15 * j, f"{j}.5"] for j in range(i)],
        }
        for i in range(12)
    ]  # series 0 has no samples
    body = orjson.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}})
    whole = parse_body(body)
    monkeypatch.setattr(promjson, "BATCH_BYTES", 40)  # a few series per batch
    batched = parse_body(body)
    assert batched.lengths.tolist() == whole.lengths.tolist() == list(range(12))
    np.testing.assert_array_equal(batched.values, whole.values)
    np.testing.assert_array_equal(batched.timestamps_ms, whole.timestamps_ms)
    assert whole.values[:3].tolist() == [0.5, 0.5, 1.5]  # series 1: [0.5]; series 2: [0.5, 1.5]
