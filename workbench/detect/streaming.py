"""A streaming point-anomaly detector: robust deviation from the recent past, plus novelty.

Each score uses only the points before it (a causal, streaming detector), computed with
rolling windows over the whole series at once rather than one Python call per point.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from workbench.detect.scoring import MAD_TO_SIGMA

DEFAULT_WINDOW = 500
DEFAULT_SUPPRESS = 50
DEFAULT_NOVELTY = 0.01
DEFAULT_Z_CAP = 20.0
DEFAULT_HIGH = 0.7
DEFAULT_CALM = 1000.0
DEFAULT_CONTEXT_BINS = 8
DEFAULT_CONTEXT_ORDER = 3
_MIN_HISTORY = 30
_RANGE_FLOOR = 1e-2
_DEVIATION_TOP = 0.98  # deviation scores live in [0, 0.98], novelty in [0.98, 1]


class RobustNoveltyDetector:
    """Score each point by how far it strays from the recent past, in robust units.

    A point's deviation is ``|x - median| / spread`` over the previous ``window`` points,
    the spread the largest of the MAD (as a normal sigma), half the 90th percentile of
    absolute deviations over 1.645, and 1 % of the range seen so far; it scores
    ``0.98 · log1p(z) / log1p(z_cap)``, capped at 0.98. A value beyond the range seen so
    far by more than ``novelty`` times that range is new and scores between 0.98 and 1.

    Surprise after calm: a high score (``>= high``) or a new value right after another is
    worth less than one after a long quiet stretch. With ``g`` the points since the last
    high-or-new point, a high deviation keeps ``high + (s - high) · (1 - e^{-g / calm})``,
    and a new value scores ``0.98 + 0.02 · (1 - e^{-g' / calm})``, ``g'`` the points since
    the last new value. So NAB's one-threshold sweep can take the first sign of an anomaly
    and leave its echoes.

    Context novelty (after CAD OSE's contexts): each value falls in one of ``context_bins``
    equal bins of the range seen so far (itself included); the bins of the last
    ``context_order`` points (this one included) form its context; the steps between
    points (``x[t] - x[t-1]``) form contexts the same way. A context of either never seen
    before scores ``high + (0.98 - high) · (1 - e^{-g'' / calm})``, ``g''`` the points since
    the last new context, when that beats the score above: a change of shape within the
    range (a flat day, a missing jump) is new once the series has settled.

    Last, a point keeps its score only when it beats every score of
    the ``suppress`` points before it (else 0). A higher score means more anomalous.

    Parameters
    ----------
    window:
        Points of recent history a point is compared with.
    suppress:
        Points after a high score during which only a higher score is reported.
    novelty:
        Margin, as a fraction of the range seen so far, beyond which a value is new.
    z_cap:
        Robust deviation that maps to the top deviation score (0.98).
    high:
        Deviation score from which the surprise-after-calm discount applies.
    calm:
        Points of calm (no high or new point) after which a surprise counts in full (1 - 1/e).
    context_bins:
        Bins of the range seen so far that a value's context is made of.
    context_order:
        Points (this one and those just before) that make a context.
    """

    def __init__(
        self,
        *,
        window: int = DEFAULT_WINDOW,
        suppress: int = DEFAULT_SUPPRESS,
        novelty: float = DEFAULT_NOVELTY,
        z_cap: float = DEFAULT_Z_CAP,
        high: float = DEFAULT_HIGH,
        calm: float = DEFAULT_CALM,
        context_bins: int = DEFAULT_CONTEXT_BINS,
        context_order: int = DEFAULT_CONTEXT_ORDER,
    ) -> None:
        self.window = window
        self.suppress = suppress
        self.novelty = novelty
        self.z_cap = z_cap
        self.high = high
        self.calm = calm
        self.context_bins = context_bins
        self.context_order = context_order

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
        spread = np.maximum.reduce([MAD_TO_SIGMA * mad, upper / 1.645 * 0.5, _RANGE_FLOOR * seen])
        x = series.to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.nan_to_num(np.abs(x - median.to_numpy()) / spread, nan=0.0, posinf=0.0)
            novel = (x > high + self.novelty * seen) | (x < low - self.novelty * seen)
        score = _DEVIATION_TOP * np.minimum(1.0, np.log1p(z) / np.log1p(self.z_cap))
        loud = score >= self.high
        fresh = 1.0 - np.exp(-_points_since(loud | novel) / self.calm)
        score = np.where(loud, self.high + (score - self.high) * fresh, score)
        fresh_new = 1.0 - np.exp(-_points_since(novel) / self.calm)
        score = np.where(novel, _DEVIATION_TOP + (1.0 - _DEVIATION_TOP) * fresh_new, score)
        steps = np.r_[0.0, np.diff(x)]
        new_context = self._new_contexts(x) | self._new_contexts(steps)
        fresh_context = 1.0 - np.exp(-_points_since(new_context) / self.calm)
        context = self.high + (_DEVIATION_TOP - self.high) * fresh_context
        score = np.where(new_context, np.maximum(score, context), score)
        before = pl.Series(score).rolling_max(self.suppress, min_samples=1).shift(1)
        return np.where(score > before.fill_null(0.0).to_numpy(), score, 0.0)

    def _new_contexts(self, x: np.ndarray) -> np.ndarray:
        """Return whether each point's context (bins of its last points) is seen first there."""
        low = pl.Series(x).cum_min().to_numpy()
        high = pl.Series(x).cum_max().to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            position = np.nan_to_num((x - low) / np.maximum(high - low, 1e-9), nan=0.0)
        bins = np.clip(np.floor(self.context_bins * position), 0, self.context_bins - 1)
        bins = bins.astype(np.int64)
        code = np.zeros(len(x), dtype=np.int64)
        for lag in range(self.context_order):
            code = code * self.context_bins + np.r_[np.zeros(lag, np.int64), bins[: len(x) - lag]]
        new = np.zeros(len(x), dtype=bool)
        new[np.unique(code, return_index=True)[1]] = True
        new[: self.context_order] = False  # not a full context yet
        return new


def _points_since(flags: np.ndarray) -> np.ndarray:
    """Return, for each point, how many points back the last flagged one before it is.

    A point with no flagged point before it counts from the start (its index + 1).
    """
    index = np.arange(len(flags))
    last = np.maximum.accumulate(np.where(flags, index, -1))
    previous = np.r_[-1, last[:-1]]
    return np.where(previous < 0, index + 1, index - previous).astype(float)
