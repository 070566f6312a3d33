"""A streaming point-anomaly detector: robust deviation from the recent past, plus novelty.

Each score uses only the points before it (a causal, streaming detector), computed with
rolling windows over the whole series at once rather than one Python call per point.
"""

from __future__ import annotations

import numpy as np
import polars as pl

DEFAULT_WINDOW = 500
DEFAULT_SUPPRESS = 150
DEFAULT_NOVELTY = 0.01
DEFAULT_Z_CAP = 20.0
_MIN_HISTORY = 30
_MAD_TO_SIGMA = 1.4826
_RANGE_FLOOR = 1e-2


class RobustNoveltyDetector:
    """Score each point by how far it strays from the recent past, in robust units.

    A point's deviation is ``|x - median| / spread`` over the previous ``window`` points,
    the spread the largest of the MAD (as a normal sigma), half the 90th percentile of
    absolute deviations over 1.645, and 1 % of the range seen so far. The score is
    ``log1p(z) / log1p(z_cap)`` capped at 1; a value beyond the range seen so far by more
    than ``novelty`` times that range scores 0.999. A point only keeps its score when it
    beats every score of the ``suppress`` points before it (else 0), so a lasting anomaly
    is reported once, not at every point. A higher score means more anomalous.

    Parameters
    ----------
    window:
        Points of recent history a point is compared with.
    suppress:
        Points after a high score during which only a higher score is reported.
    novelty:
        Margin, as a fraction of the range seen so far, beyond which a value is new.
    z_cap:
        Robust deviation that maps to a score of 1.
    """

    def __init__(
        self,
        *,
        window: int = DEFAULT_WINDOW,
        suppress: int = DEFAULT_SUPPRESS,
        novelty: float = DEFAULT_NOVELTY,
        z_cap: float = DEFAULT_Z_CAP,
    ) -> None:
        self.window = window
        self.suppress = suppress
        self.novelty = novelty
        self.z_cap = z_cap

    def score(self, values: np.ndarray) -> np.ndarray:
        """Return the anomaly score in [0, 1] of every point, each from earlier points only."""
        series = pl.Series(np.asarray(values, dtype=float))
        past = {"window_size": self.window, "min_samples": _MIN_HISTORY}
        median = series.rolling_median(**past).shift(1)
        deviation = (series - median).abs()
        mad = deviation.rolling_median(**past).shift(1).to_numpy()
        upper = deviation.rolling_quantile(0.9, **past).shift(1).to_numpy()
        low = series.cum_min().shift(1).to_numpy()
        high = series.cum_max().shift(1).to_numpy()
        seen = np.maximum(high - low, 1e-9)
        spread = np.maximum.reduce([_MAD_TO_SIGMA * mad, upper / 1.645 * 0.5, _RANGE_FLOOR * seen])
        x = series.to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.nan_to_num(np.abs(x - median.to_numpy()) / spread, nan=0.0, posinf=0.0)
            novel = (x > high + self.novelty * seen) | (x < low - self.novelty * seen)
        score = np.minimum(1.0, np.log1p(z) / np.log1p(self.z_cap))
        score = np.where(np.nan_to_num(novel, nan=False), np.maximum(score, 0.999), score)
        before = pl.Series(score).rolling_max(self.suppress, min_samples=1).shift(1)
        return np.where(score > before.fill_null(0.0).to_numpy(), score, 0.0)
