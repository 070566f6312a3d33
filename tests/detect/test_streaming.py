"""The streaming anomaly detector: causal, novelty, suppression."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.detect import RobustNoveltyDetector


def test_each_score_depends_only_on_earlier_points():
    rng = np.random.default_rng(7)
    values = rng.normal(100, 5, 2000)
    changed = values.copy()
    changed[1500:] += 1000  # the future changes...
    detector = RobustNoveltyDetector()
    # ...the scores before it do not
    np.testing.assert_array_equal(detector.score(values)[:1500], detector.score(changed)[:1500])


def test_a_new_level_scores_high_once_then_is_suppressed():
    values = np.r_[np.tile([10.0, 11.0], 200), [50.0], np.full(20, 50.0), [10.0, 11.0] * 50]
    scores = RobustNoveltyDetector(suppress=150).score(values)
    # median 10.5, MAD 0.5 -> spread 0.741; z = 39.5 / 0.741 = 53 > z_cap 20 -> 1
    assert scores[400] == 1.0
    # the 20 points at 50 after it score lower or equal, inside the suppression: reported 0
    assert np.all(scores[401:421] == 0.0)
    assert scores.argmax() == 400
    assert np.all((scores >= 0) & (scores <= 1))


def test_a_value_beyond_the_range_seen_is_novel_even_when_its_deviation_is_small():
    values = np.r_[np.tile([-3.0, -1.0, 0.0, 1.0, 3.0], 40), [3.2]]
    scores = RobustNoveltyDetector().score(values)
    # median 0, MAD 1 -> spread 1.4826; z = 3.2 / 1.4826 = 2.16 -> log1p(2.16) / log1p(20)
    # = 0.378 alone; but 3.2 > 3 + 1 % of the range 6: novelty -> 0.999
    assert scores[-1] == 0.999
    assert np.log1p(3.2 / 1.4826) / np.log1p(20.0) == pytest.approx(0.378, abs=1e-3)
