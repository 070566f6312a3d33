from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from workbench.errors import UsageError
from workbench.rca import investigate

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
ROWS = 120
CHANGE = 80


def _metrics(shifts):
    """Long frame of 1 s samples; ``shifts`` maps (service, metric) to the step added at CHANGE."""
    rng = np.random.default_rng(7)
    parts = []
    times = [T0 + timedelta(seconds=i) for i in range(ROWS)]
    for (service, metric), step in shifts.items():
        values = 50.0 + rng.normal(0.0, 1.0, ROWS)
        values[CHANGE:] += step
        parts.append(
            pl.DataFrame(
                {"timestamp": times, "service": service, "metric": metric, "value": values}
            )
        )
    return pl.concat(parts)


def test_the_service_whose_indicator_shifted_ranks_first_with_evidence():
    metrics = _metrics(
        {("api", "cpu"): 0.0, ("api", "mem"): 0.0, ("db", "cpu"): 40.0, ("web", "latency"): 0.0}
    )
    result = investigate(metrics)
    assert result.onset == T0 + timedelta(seconds=CHANGE)
    top = result.ranking[0]
    assert (top.rank, top.service, top.indicator) == (1, "db", "db_cpu")
    assert top.evidence["kind"] == "metric"
    assert top.evidence["observed"] == pytest.approx(90.0, abs=1.0)
    assert top.evidence["baseline"] == pytest.approx(50.0, abs=1.0)
    assert top.evidence["deviation"] > 10
    assert top.evidence["window"]["start"] == "2024-03-01T12:01:20Z"
    assert top.onset == T0 + timedelta(seconds=CHANGE)
    assert sorted(c.service for c in result.ranking) == ["api", "db", "web"]


def test_given_onset_is_used_as_is():
    metrics = _metrics({("a", "cpu"): 30.0, ("b", "cpu"): 0.0})
    result = investigate(metrics, onset="2024-03-01T12:01:30Z")
    assert not result.onset_detected
    assert result.onset == T0 + timedelta(seconds=90)
    assert result.ranking[0].service == "a"


def test_pandas_input_gives_the_same_ranking():
    metrics = _metrics({("a", "cpu"): 0.0, ("b", "cpu"): -25.0})
    polars_result = investigate(metrics)
    pandas_result = investigate(metrics.to_pandas())
    assert [c.service for c in pandas_result.ranking] == [c.service for c in polars_result.ranking]
    assert pandas_result.ranking[0].evidence["deviation"] < -10


def test_ties_break_by_service_name():
    times = [T0 + timedelta(seconds=i) for i in range(40)]
    values = [1.0] * 20 + [5.0] * 20
    metrics = pl.concat(
        pl.DataFrame({"timestamp": times, "service": s, "metric": "cpu", "value": values})
        for s in ["zeta", "alpha", "mid"]
    )
    assert [c.service for c in investigate(metrics).ranking] == ["alpha", "mid", "zeta"]


def test_onset_too_close_to_the_edge_is_refused_with_reason():
    metrics = _metrics({("a", "cpu"): 5.0})
    with pytest.raises(UsageError, match="leaves 2 samples before it"):
        investigate(metrics, onset=T0 + timedelta(seconds=2))


def test_bad_onset_text_says_how_to_write_it():
    with pytest.raises(UsageError, match="not an ISO-8601 time"):
        investigate(_metrics({("a", "cpu"): 5.0}), onset="yesterday")


def test_nan_and_gaps_do_not_break_the_ranking():
    metrics = _metrics({("a", "cpu"): 0.0, ("b", "cpu"): 20.0})
    metrics = metrics.with_columns(
        pl.when(pl.int_range(pl.len()) % 17 == 0)
        .then(float("nan"))
        .otherwise(pl.col("value"))
        .alias("value")
    ).filter(pl.int_range(pl.len()) % 23 != 0)
    result = investigate(metrics)
    assert result.ranking[0].service == "b"
    assert all(np.isfinite(c.score) for c in result.ranking)


def test_ranking_as_a_table_for_notebooks():
    result = investigate(_metrics({("a", "cpu"): 0.0, ("b", "cpu"): 30.0}))
    table = result.to_frame()
    assert table.columns[:3] == ["rank", "service", "indicator"]
    assert table.row(0, named=True)["service"] == "b"
    assert table["rank"].to_list() == [1, 2]
    assert "onset 2024-03-01T12:01:20Z (detected)" in result._repr_html_()


def test_all_constant_metrics_say_nothing_changed():
    times = [T0 + timedelta(seconds=i) for i in range(60)]
    metrics = pl.DataFrame({"timestamp": times, "service": "api", "metric": "up", "value": 1.0})
    with pytest.raises(UsageError, match="no indicator changed"):
        investigate(metrics)


def test_all_nan_metrics_say_there_is_nothing_to_rank():
    times = [T0 + timedelta(seconds=i) for i in range(60)]
    metrics = pl.DataFrame(
        {"timestamp": times, "service": "api", "metric": "up", "value": float("nan")}
    )
    with pytest.raises(UsageError, match="no indicator with a finite value"):
        investigate(metrics)


def test_a_gap_is_not_filled_into_evidence(caplog):
    # b's cpu stops reporting at the onset: its observed value must not be the carried
    # baseline, and the silence is logged.
    metrics = _metrics({("a", "cpu"): 30.0, ("b", "cpu"): 0.0})
    silent = (pl.col("service") == "b") & (pl.col("timestamp") >= T0 + timedelta(seconds=CHANGE))
    metrics = metrics.filter(~silent)
    result = investigate(metrics, onset=T0 + timedelta(seconds=CHANGE))
    row = result.signals.filter(pl.col("service") == "b").row(0, named=True)
    assert row["missing_after"] == 1.0
    assert row["deviation"] == 0.0
    assert row["observed"] != row["observed"]  # NaN: nothing was measured
    assert "no sample on one side of the onset" in caplog.text


@pytest.mark.parametrize(
    "onset",
    [
        1709294490,  # 2024-03-01T12:01:30Z as epoch seconds
        "1709294490",
        np.datetime64("2024-03-01T12:01:30"),
        "2024-03-01T13:01:30+01:00",
    ],
)
def test_onset_may_be_given_as_epoch_numpy_or_zoned_text(onset):
    metrics = _metrics({("a", "cpu"): 30.0, ("b", "cpu"): 0.0})
    assert investigate(metrics, onset=onset).onset == T0 + timedelta(seconds=90)
