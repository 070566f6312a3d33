"""The streaming anomaly detector: causal, novelty, surprise after calm, suppression."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.detect import RobustNoveltyDetector
from workbench.detect.streaming import _points_since


def test_each_score_depends_only_on_earlier_points():
    rng = np.random.default_rng(7)
    values = rng.normal(100, 5, 2000)
    changed = values.copy()
    changed[1500:] += 1000  # the future changes...
    detector = RobustNoveltyDetector()
    # ...the scores before it do not
    np.testing.assert_array_equal(detector.score(values)[:1500], detector.score(changed)[:1500])


def test_points_since_counts_back_to_the_last_flag_before_each_point():
    flags = np.array([False, True, False, False, True, False])
    # point 0 and 1 have no flag before them: counted from the start (index + 1)
    assert _points_since(flags).tolist() == [1, 2, 1, 2, 3, 1]


def test_a_new_level_scores_high_once_then_is_suppressed():
    values = np.r_[np.tile([10.0, 11.0], 200), [50.0], np.full(20, 50.0), [10.0, 11.0] * 50]
    scores = RobustNoveltyDetector(suppress=50).score(values)
    # 11 at point 1 is the last new value before point 400 (range [10, 11] ever since);
    # 50 is new again, 399 points later: 0.98 + 0.02 * (1 - e^{-399/1000}) = 0.98658
    assert scores[400] == pytest.approx(0.98 + 0.02 * (1 - math.exp(-0.399)))
    assert scores[400] == pytest.approx(0.98658, abs=1e-5)
    # the 20 points at 50 after it are neither new nor calm: reported 0
    assert np.all(scores[401:421] == 0.0)
    assert scores.argmax() == 400
    assert np.all((scores >= 0) & (scores <= 1))


def test_a_second_surprise_soon_after_the_first_is_worth_less():
    values = np.r_[np.tile([10.0, 11.0], 200), [50.0], [10.0, 11.0] * 29, [10.0], [60.0]]
    assert len(values) == 461 and values[460] == 60.0
    scores = RobustNoveltyDetector(suppress=50).score(values)
    # 60 > 50 + 1 % of the range 40: new, but only 60 points after the last new value
    assert scores[460] == pytest.approx(0.98 + 0.02 * (1 - math.exp(-0.060)))
    assert scores[460] == pytest.approx(0.98116, abs=1e-5)
    assert scores[460] < scores[400]
    # the pattern in between is ordinary: median 10.5, MAD 0.5 -> z 0.67 -> 0.165, not kept
    assert np.all(scores[401:460] == 0.0)


def test_a_value_beyond_the_range_seen_is_novel_even_when_its_deviation_is_small():
    values = np.r_[np.tile([-3.0, -1.0, 0.0, 1.0, 3.0], 40), [3.2]]
    scores = RobustNoveltyDetector().score(values)
    # median 0, MAD 1 -> spread 1.4826; z = 3.2 / 1.4826 = 2.16 -> 0.98 * log1p(2.16) /
    # log1p(20) = 0.370 alone; but 3.2 > 3 + 1 % of the range 6: new, 196 points after
    # the last new value (3 at point 4): 0.98 + 0.02 * (1 - e^{-0.196}) = 0.98356
    assert scores[-1] == pytest.approx(0.98 + 0.02 * (1 - math.exp(-0.196)))
    assert 0.98 * np.log1p(3.2 / 1.4826) / np.log1p(20.0) == pytest.approx(0.370, abs=1e-3)


def test_a_change_of_shape_within_the_range_is_a_new_context():
    values = np.r_[np.tile([0.0, 10.0], 200), [10.0]]  # ...0, 10, 0, 10, then 10 again
    scores = RobustNoveltyDetector().score(values)
    # bins of the range [0, 10]: 0 -> bin 0, 10 -> bin 7. Value contexts so far (this,
    # previous, the one before): (0, 7, 0) (first at point 2, not yet a full context) and
    # (7, 0, 7) from point 3. Steps 0, 10, -10, 10, ... (range [-10, 10] from point 2):
    # bins 0, 7, 0, 7, ...: the same two contexts, first at points 2 and 3. At point 400
    # the value context (7, 7, 0) is new (and the step 0 -> bin 4 too), 397 points after
    # the last new one: 0.7 + 0.28 * (1 - e^{-0.397}) = 0.79175
    assert scores[400] == pytest.approx(0.7 + 0.28 * (1 - math.exp(-0.397)))
    assert scores[400] == pytest.approx(0.79175, abs=1e-5)
    # 10 is neither new (the top of the range) nor far from the median (5; MAD 7.5 as the
    # past deviations alternate 5 and 10): 0.98 * log1p(5 / 11.12) / log1p(20) = 0.12,
    # no more than the points before it -> 0 with a single bin (no context ever new)
    assert RobustNoveltyDetector(context_bins=1).score(values)[400] == 0.0
    # the pattern itself: reported at points 60-61 (the first deviations once the MAD has
    # 30 of them), never again
    assert np.flatnonzero(scores[2:400]).tolist() == [58, 59]
