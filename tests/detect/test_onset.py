import numpy as np
import pytest

from workbench.detect import RobustCusumOnset
from workbench.detect.onset import segment_guard


def _noise(rows, cols, seed=0):
    return np.random.default_rng(seed).normal(0.0, 1.0, size=(rows, cols))


def test_step_shared_by_two_columns_is_the_onset():
    X = _noise(120, 4)
    X[70:, 0] += 8.0
    X[70:, 1] -= 5.0
    assert RobustCusumOnset().fit(X).onset_index_ == 70


def test_one_huge_spike_does_not_move_the_onset():
    X = _noise(120, 4, seed=1)
    X[70:, 0] += 8.0
    X[70:, 1] += 8.0
    X[25, 2] = 1e9  # one outlier before the change
    assert RobustCusumOnset().fit(X).onset_index_ == 70


def test_constant_and_forward_filled_columns_carry_no_false_evidence():
    X = _noise(100, 2, seed=2)
    X[40:, 0] += 6.0
    constant = np.full((100, 1), 5.0)
    stepped = np.repeat(np.arange(7.0), 15)[:100, None]  # 15-sample plateaus, like RCD's ffill
    detector = RobustCusumOnset().fit(np.hstack([X, constant]))
    assert detector.onset_index_ == 40
    assert np.isfinite(detector.profile_).all()
    assert RobustCusumOnset().fit(np.hstack([X, constant, stepped * 0])).onset_index_ == 40


def test_each_column_reports_its_own_change():
    X = _noise(100, 2, seed=3)
    X[30:, 0] += 10.0
    X[60:, 1] += 10.0
    onsets = RobustCusumOnset().fit(X).column_onsets_
    # A rank split can slip by a few samples when the values after it interleave.
    assert abs(onsets[0] - 30) <= 3
    assert abs(onsets[1] - 60) <= 3


def test_onset_is_never_closer_to_an_edge_than_min_segment():
    X = _noise(60, 1, seed=4)
    X[3:, 0] += 50.0  # the change is at row 3, inside the guard
    assert RobustCusumOnset(min_segment=10).fit(X).onset_index_ >= 10


def test_too_short_a_series_is_refused():
    with pytest.raises(ValueError, match="at least 6 samples"):
        RobustCusumOnset(min_segment=10).fit(np.zeros((5, 2)))


@pytest.mark.parametrize(("rows", "guard"), [(600, 10), (40, 10), (16, 4), (12, 3), (5, 3)])
def test_segment_guard_shrinks_for_short_series(rows, guard):
    assert segment_guard(rows, 10) == guard


def test_minute_step_quarter_hour_finds_its_onset():
    X = _noise(16, 3, seed=5)
    X[10:, 1] += 9.0
    assert RobustCusumOnset().fit(X).onset_index_ == 10
