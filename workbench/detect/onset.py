"""Multivariate change-point detection: when did the incident start?"""

from __future__ import annotations

import numpy as np

from workbench.detect.base import OnsetDetector

DEFAULT_MIN_SEGMENT = 10
SMALLEST_SEGMENT = 3


def segment_guard(rows: int, min_segment: int = DEFAULT_MIN_SEGMENT) -> int:
    """Return the fewest rows to keep on each side of a change in a series of ``rows``.

    ``min_segment`` applies to long series; a short one (minute-step metrics over a
    quarter of an hour) keeps a quarter of its rows, but never fewer than 3.
    """
    return max(SMALLEST_SEGMENT, min(min_segment, rows // 4))


class RankCusumOnset(OnsetDetector):
    """Find the single change point shared by many series, from their ranks.

    Each column is replaced by its ranks (so scale, skew and outliers do not matter),
    centred, and scanned with the standardised CUSUM statistic of a mean shift,
    ``|S_k| / sqrt(k (n - k) / n)``; the squares are averaged over columns, so a change
    that many indicators agree on outweighs one column's noise, and one very strong
    column still shows. The onset is the row after the split with the highest average.
    Constant columns carry no evidence and are ignored.

    Parameters
    ----------
    min_segment:
        Fewest rows allowed on either side of the change point in a long series
        (see :func:`segment_guard` for short ones).
    """

    def __init__(self, *, min_segment: int = DEFAULT_MIN_SEGMENT) -> None:
        self.min_segment = min_segment

    def fit(self, X: np.ndarray) -> RankCusumOnset:
        X = np.asarray(X, dtype=float)
        n, m = X.shape
        guard = segment_guard(n, self.min_segment)
        if n < 2 * guard:
            raise ValueError(f"need at least {2 * guard} samples to find an onset, got {n}")
        statistic = _cusum_statistic(_ranks(X))
        statistic[: guard - 1] = 0.0
        statistic[n - guard :] = 0.0
        self.profile_ = np.zeros(n)
        self.profile_[1:] = np.mean(statistic**2, axis=1) if m else 0.0
        self.onset_index_ = int(np.argmax(self.profile_))
        self.column_onsets_ = np.argmax(statistic, axis=0) + 1
        return self


def _ranks(X: np.ndarray) -> np.ndarray:
    """Return column-wise average ranks, centred and scaled to unit variance (0 if constant)."""
    from scipy.stats import rankdata

    ranks = rankdata(X, axis=0)
    ranks -= ranks.mean(axis=0)
    spread = ranks.std(axis=0)
    varying = spread > 0
    ranks[:, varying] /= spread[varying]
    ranks[:, ~varying] = 0.0
    return ranks


def _cusum_statistic(Z: np.ndarray) -> np.ndarray:
    """Return the standardised CUSUM of a mean shift after each of rows 1..n-1."""
    n = Z.shape[0]
    partial = np.cumsum(Z, axis=0)[:-1]
    k = np.arange(1, n, dtype=float)[:, None]
    return np.abs(partial) / np.sqrt(k * (n - k) / n)
