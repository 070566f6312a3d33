"""PrometheusSource against a real Prometheus 2.42 holding backfilled history."""

import httpx
import numpy as np
import polars as pl
import promdata
from polars.testing import assert_frame_equal
from promdata import SPECIAL_VALUES, SYNTH_SPAN_S, SYNTH_T0

from workbench import datasets
from workbench.sources import PrometheusSource

# Prometheus 2.x default lookback: a step at t sees samples in [t - 5m, t] (closed on
# both ends; 3.0 made it open on the left).
LOOKBACK_MS = 5 * 60 * 1000


class Counter:
    """httpx request hook that records each request's method."""

    def __init__(self):
        self.methods = []

    def __call__(self, request):
        self.methods.append(request.method)

    @property
    def hooks(self):
        return {"request": [self]}


def canonical(frame):
    return frame.select("timestamp", "service", "metric", "value").sort(
        "service", "metric", "timestamp"
    )


def test_rcd_case_round_trips_every_value_exactly(prometheus):
    case = datasets.load(promdata.RCD_CASE)
    start, end = case.metrics["timestamp"].min(), case.metrics["timestamp"].max()
    with PrometheusSource(prometheus.url) as source:
        pulled = source.query_range(promdata.RCD_QUERY, start, end, "1s")
    assert pulled.height == case.metrics.height == 21812  # 38 series, normal + anomalous rows
    assert_frame_equal(canonical(pulled), canonical(case.metrics), check_exact=True)


def test_production_up_series_come_back_sample_for_sample(prometheus):
    expected = promdata.up_fixture_samples()
    last_ms = max(max(samples) for samples in expected.values())
    with PrometheusSource(prometheus.url) as source:
        raw = source.query("up[4d]", at=last_ms / 1000)  # a range selector gives raw samples
    got = {}
    for key, ms, value in raw.select(
        "series", pl.col("timestamp").dt.epoch("ms"), "value"
    ).iter_rows():
        got.setdefault(key, {})[ms] = value
    assert got == expected


def test_stepped_up_query_takes_the_last_sample_within_the_lookback(prometheus):
    expected = promdata.up_fixture_samples()
    first_ms = min(min(samples) for samples in expected.values())
    start_ms, end_ms, step_ms = first_ms + 3_600_000, first_ms + 9 * 3_600_000, 60_000
    with PrometheusSource(prometheus.url) as source:
        frame = source.query_range("up", start_ms / 1000, end_ms / 1000, "60s")
    grid = np.arange(start_ms, end_ms + 1, step_ms)
    for key, samples in expected.items():
        ts = np.array(sorted(samples))
        values = np.array([samples[t] for t in ts])
        before = np.searchsorted(ts, grid, side="right") - 1
        valid = (before >= 0) & (grid - ts[np.maximum(before, 0)] <= LOOKBACK_MS)
        series = frame.filter(pl.col("series") == key)
        assert series["timestamp"].dt.epoch("ms").to_list() == grid[valid].tolist(), key
        assert series["value"].to_list() == values[before[valid]].tolist(), key


def test_range_split_matches_single_query(prometheus):
    # 6,001 steps: one request by default, seven with 1,000 points per request.
    start, end = SYNTH_T0 + 30, SYNTH_T0 + 30 + 6000
    split_requests, single_requests = Counter(), Counter()
    split = PrometheusSource(prometheus.url, max_points=1000, event_hooks=split_requests.hooks)
    single = PrometheusSource(prometheus.url, event_hooks=single_requests.hooks)
    for promql in ("wb_synth", "rate(wb_synth[1m])", "wb_special"):
        whole = single.query_range(promql, start, end, "1s")
        assert not whole.is_empty()
        assert_frame_equal(split.query_range(promql, start, end, "1s"), whole, check_exact=True)
    assert len(split_requests.methods) == 3 * 7 and len(single_requests.methods) == 3


def test_a_range_past_the_point_limit_is_split_on_the_step_grid(prometheus):
    # 16 h at 1 s is 57,601 steps: the server refuses it in one request...
    params = {"query": "wb_synth", "start": SYNTH_T0, "end": SYNTH_T0 + SYNTH_SPAN_S, "step": 1}
    refused = httpx.get(f"{prometheus.url}/api/v1/query_range", params=params, trust_env=False)
    assert refused.status_code == 400
    assert "exceeded maximum resolution of 11,000 points" in refused.json()["error"]
    # ...and the source asks for it in six aligned chunks, every step once.
    requests = Counter()
    with PrometheusSource(prometheus.url, event_hooks=requests.hooks) as source:
        frame = source.query_range("wb_synth", SYNTH_T0, SYNTH_T0 + SYNTH_SPAN_S, "1s")
    assert len(requests.methods) == 6  # ceil(57,601 / 11,000)
    grid = np.arange(SYNTH_T0, SYNTH_T0 + SYNTH_SPAN_S + 1)
    for shard in promdata.SYNTH_OFFSETS:
        series = frame.filter(pl.col("labels").struct.field("shard") == shard)
        assert series["timestamp"].dt.epoch("s").to_list() == grid.tolist()
        assert series["value"].to_list() == promdata.synth_value(shard, grid).tolist()


def test_a_long_query_is_sent_as_a_post_form(prometheus):
    long_promql = "wb_synth" + " + 0" * 800  # about 3,200 characters
    requests = Counter()
    with PrometheusSource(prometheus.url, event_hooks=requests.hooks) as source:
        start, end = SYNTH_T0, SYNTH_T0 + 600
        posted = source.query_range(long_promql, start, end, "15s", metric="wb_synth")
        short = source.query_range("wb_synth", start, end, "15s")
    assert requests.methods == ["POST", "GET"]
    assert_frame_equal(
        posted.select("timestamp", "value"), short.select("timestamp", "value"), check_exact=True
    )


def test_nan_and_infinities_survive_the_server(prometheus):
    with PrometheusSource(prometheus.url) as source:
        raw = source.query("wb_special[10m]", at=SYNTH_T0 + 240)
    np.testing.assert_array_equal(raw["value"].to_numpy(), np.array(SPECIAL_VALUES))
    assert raw["timestamp"].dt.epoch("s").to_list() == [SYNTH_T0 + 60 * k for k in range(5)]


def test_wide_view_puts_steps_without_data_on_the_grid_as_nan(prometheus):
    with PrometheusSource(prometheus.url) as source:
        wide = source.query_range_wide("wb_special", SYNTH_T0, SYNTH_T0 + 900, "60s")
    assert wide.columns == ["timestamp", "wb_special"]
    values = wide["wb_special"].to_numpy()
    assert len(values) == 16
    # samples at 0..240 s; the 5-minute lookback carries 2.0 up to 540 s included
    np.testing.assert_array_equal(values, np.array([*SPECIAL_VALUES] + [2.0] * 5 + [np.nan] * 6))


def test_step_is_chosen_from_the_resolution_when_not_given(prometheus):
    with PrometheusSource(prometheus.url) as source:
        frame = source.query_range("wb_synth", SYNTH_T0, SYNTH_T0 + SYNTH_SPAN_S)
    # 57,600 s / 1,000 points = 57.6 s, rounded up to the next round step: 60 s
    steps = frame.filter(pl.col("labels").struct.field("shard") == "a")["timestamp"].diff()
    assert steps.dt.total_seconds().drop_nulls().unique().to_list() == [60]


def test_labels_series_and_build_information(prometheus):
    with PrometheusSource(prometheus.url) as source:
        assert {"shard", "service", "instance", "job"} <= set(source.labels())
        assert {"cpu", "up", "wb_synth", "wb_special"} <= set(source.label_values("__name__"))
        found = source.series("wb_synth", SYNTH_T0, SYNTH_T0 + 60)
        assert found["series"].to_list() == ['wb_synth{shard="a"}', 'wb_synth{shard="b"}']
        assert found["shard"].to_list() == ["a", "b"]
        assert source.buildinfo()["version"].startswith("2.42")
        assert source.metadata().columns == ["metric", "type", "help", "unit"]
