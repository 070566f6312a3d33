import numpy as np
import pytest

from workbench.detect import RobustDeviation


def test_deviation_in_robust_standard_units_worked_by_hand():
    # median 3; IQR 4 - 2 = 2 -> 2 / 1.349 = 1.4826; MAD 1 -> 1.4826: the spread is 1.4826.
    baseline = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
    scorer = RobustDeviation().fit(baseline)
    assert scorer.center_[0] == 3.0
    assert scorer.scale_[0] == pytest.approx(1.4826, abs=1e-4)
    observed = np.full((10, 1), 3.0 + 4 * 1.4826)
    assert scorer.score(observed)[0] == pytest.approx(4.0, abs=1e-3)


def test_flat_baseline_uses_the_relative_floor():
    scorer = RobustDeviation(relative_floor=0.01).fit(np.full((30, 1), 100.0))
    assert scorer.scale_[0] == 1.0
    assert scorer.score(np.full((5, 1), 103.0))[0] == pytest.approx(3.0)


def test_all_zero_baseline_does_not_divide_by_zero():
    scorer = RobustDeviation().fit(np.zeros((30, 1)))
    assert np.isfinite(scorer.score(np.ones((5, 1)))).all()
    assert scorer.score(np.zeros((5, 1)))[0] == 0.0


def test_a_single_spike_is_not_a_shift():
    baseline = np.tile([9.0, 10.0, 11.0], 10)[:, None]
    observed = np.full((20, 1), 10.0)
    observed[7, 0] = 1000.0
    assert RobustDeviation(quantile=0.9).fit(baseline).score(observed)[0] == 0.0


def test_a_drop_scores_negative():
    baseline = np.tile([9.0, 10.0, 11.0], 10)[:, None]
    score = RobustDeviation().fit(baseline).score(np.full((10, 1), 4.0))[0]
    assert score < -3


def test_one_sample_is_never_enough_in_a_short_window():
    # five minute-step samples: the 0.9 quantile alone would be the spike itself
    baseline = np.zeros((10, 1))
    observed = np.array([[0.0], [0.0], [7.0], [0.0], [0.0]])
    assert RobustDeviation().fit(baseline).score(observed)[0] == 0.0
    observed[3, 0] = 7.0  # two samples are a shift: leaving zero scores 1 / relative floor
    assert RobustDeviation().fit(baseline).score(observed)[0] == pytest.approx(100.0)


def test_leaving_an_all_zero_baseline_scores_one_over_the_relative_floor():
    # flat at 0, then 5 for good: the spread floor is 1 % of the new level, so 5 / 0.05
    scorer = RobustDeviation(relative_floor=0.01).fit(np.zeros((20, 1)))
    assert scorer.score(np.full((10, 1), 5.0))[0] == pytest.approx(100.0)
    assert scorer.score(np.full((10, 1), -5.0))[0] == pytest.approx(-100.0)
