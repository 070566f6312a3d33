"""Multivariate change-point detection: when did the incident start?"""

from __future__ import annotations

import numpy as np

from workbench.detect.base import OnsetDetector
from workbench.detect.scoring import MAD_TO_SIGMA

DEFAULT_MIN_SEGMENT = 10
DEFAULT_CLIP = 5.0
_IQR_TO_SIGMA = 1.349
_RELATIVE_FLOOR = 1e-3
_ABSOLUTE_FLOOR = 1e-12
SMALLEST_SEGMENT = 3


def segment_guard(rows: int, min_segment: int = DEFAULT_MIN_SEGMENT) -> int:
    """Return the fewest rows to keep on each side of a change in a series of ``rows``.

    ``min_segment`` applies to long series; a short one (minute-step metrics over a
    quarter of an hour) keeps a quarter of its rows, but never fewer than 3.
    """
    return max(SMALLEST_SEGMENT, min(min_segment, rows // 4))


class RobustCusumOnset(OnsetDetector):
    """Find the single change point shared by many series, from clipped robust z-scores.

    Each column is put in robust standard units (median and MAD/IQR of the whole
    series) and clipped to ``±clip``, so units do not matter and an outlier weighs no
    more than a clear shift; it is then centred and scanned with the standardised CUSUM
    statistic of a mean shift, ``|S_k| / sqrt(k (n - k) / n)``. The squares are averaged
    over columns, so a change many indicators agree on outweighs one column's noise, and
    one very strong column still shows. The onset is the row after the best split.
    Constant columns carry no evidence and are ignored. (Ranks instead of clipped
    z-scores are as robust but place a large shift a few samples early: the upper
    quarter of the normal samples already ranks above the average.)

    Parameters
    ----------
    clip:
        Largest magnitude, in robust standard units, one sample may contribute.
    min_segment:
        Fewest rows allowed on either side of the change point in a long series
        (see :func:`segment_guard` for short ones).
    """

    def __init__(
        self, *, clip: float = DEFAULT_CLIP, min_segment: int = DEFAULT_MIN_SEGMENT
    ) -> None:
        self.clip = clip
        self.min_segment = min_segment

    def fit(self, X: np.ndarray) -> RobustCusumOnset:
        X = np.asarray(X, dtype=float)
        n, m = X.shape
        guard = segment_guard(n, self.min_segment)
        if n < 2 * guard:
            raise ValueError(f"need at least {2 * guard} samples to find an onset, got {n}")
        statistic = _cusum_statistic(_clipped_z(X, self.clip))
        statistic[: guard - 1] = 0.0
        statistic[n - guard :] = 0.0
        self.profile_ = np.zeros(n)
        self.profile_[1:] = np.mean(statistic**2, axis=1) if m else 0.0
        self.onset_index_ = int(np.argmax(self.profile_))
        self.column_onsets_ = np.argmax(statistic, axis=0) + 1
        return self


def _clipped_z(X: np.ndarray, clip: float) -> np.ndarray:
    """Return robust z-scores clipped to ``±clip``, centred and scaled to unit variance."""
    center = np.median(X, axis=0)
    q75, q25 = np.percentile(X, [75, 25], axis=0)
    spread = np.maximum.reduce(
        [
            np.median(np.abs(X - center), axis=0) * MAD_TO_SIGMA,
            (q75 - q25) / _IQR_TO_SIGMA,
            _RELATIVE_FLOOR * np.abs(center),
            np.full_like(center, _ABSOLUTE_FLOOR),
        ]
    )
    Z = np.clip((X - center) / spread, -clip, clip)
    Z -= Z.mean(axis=0)
    deviation = Z.std(axis=0)
    varying = deviation > 0
    Z[:, varying] /= deviation[varying]
    Z[:, ~varying] = 0.0
    return Z


def _cusum_statistic(Z: np.ndarray) -> np.ndarray:
    """Return the standardised CUSUM of a mean shift after each of rows 1..n-1."""
    n = Z.shape[0]
    partial = np.cumsum(Z, axis=0)[:-1]
    k = np.arange(1, n, dtype=float)[:, None]
    return np.abs(partial) / np.sqrt(k * (n - k) / n)
