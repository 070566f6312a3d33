"""Robust deviation of observations from a baseline, in robust standard units."""

from __future__ import annotations

import numpy as np

from workbench.detect.base import DeviationScorer

DEFAULT_QUANTILE = 0.9
DEFAULT_RELATIVE_FLOOR = 0.01
MIN_SUSTAINED = 2
_ABSOLUTE_FLOOR = 1e-9
_IQR_TO_SIGMA = 1.349
MAD_TO_SIGMA = 1.4826


class RobustDeviation(DeviationScorer):
    """Score columns by a high quantile of their robust z-scores against a baseline.

    The centre is the baseline median. The spread is the largest of the IQR and the MAD
    (both as a normal sigma) and a floor of ``relative_floor`` times the median's
    magnitude, so a series that was flat before the incident does not divide by zero
    and a byte-sized wobble of a gigabyte series does not look like an incident.
    The score of a column is its ``quantile``-th largest absolute z-score after the
    baseline (and never more than its second largest), with the sign of the shift: a
    spike in less than ``1 - quantile`` of the window is not enough, a shift that lasts is.

    Parameters
    ----------
    quantile:
        Quantile of absolute z-scores taken as the column's deviation (1.0 is the max).
    relative_floor:
        Smallest spread, as a fraction of the baseline median's magnitude.
    """

    def __init__(
        self,
        *,
        quantile: float = DEFAULT_QUANTILE,
        relative_floor: float = DEFAULT_RELATIVE_FLOOR,
    ) -> None:
        self.quantile = quantile
        self.relative_floor = relative_floor

    def fit(self, baseline: np.ndarray) -> RobustDeviation:
        baseline = np.asarray(baseline, dtype=float)
        center = np.nanmedian(baseline, axis=0)
        q75, q25 = np.nanpercentile(baseline, [75, 25], axis=0)
        mad = np.nanmedian(np.abs(baseline - center), axis=0)
        self.center_ = center
        self.scale_ = np.maximum.reduce(
            [
                (q75 - q25) / _IQR_TO_SIGMA,
                mad * MAD_TO_SIGMA,
                self.relative_floor * np.abs(center),
                np.full_like(center, _ABSOLUTE_FLOOR),
            ]
        )
        return self

    def z(self, observed: np.ndarray) -> np.ndarray:
        """Return the robust z-score of every observation."""
        return (np.asarray(observed, dtype=float) - self.center_) / self.scale_

    def score(self, observed: np.ndarray) -> np.ndarray:
        observed = np.asarray(observed, dtype=float)
        shift = _sustained(np.abs(observed - self.center_), self.quantile)
        # A baseline flat at exactly zero has no spread and no level to take a floor
        # from: measure against the new level instead, so leaving zero scores like a
        # change of 1 / relative_floor (100 by default), not like a division by zero.
        from_zero = (self.scale_ <= _ABSOLUTE_FLOOR) & (self.center_ == 0)
        scale = np.where(
            from_zero, np.maximum(self.relative_floor * shift, self.scale_), self.scale_
        )
        magnitude = shift / scale
        direction = np.sign(np.nanmedian(observed - self.center_, axis=0))
        direction[direction == 0] = 1.0
        return magnitude * direction


def _sustained(magnitude: np.ndarray, quantile: float) -> np.ndarray:
    """Return per column the k-th largest value, k the larger of 2 and (1 - quantile) * n.

    A single sample is never enough to call a column abnormal, however short the window.
    """
    n = magnitude.shape[0]
    k = min(n, max(MIN_SUSTAINED, int(np.ceil((1.0 - quantile) * n))))
    magnitude = np.where(np.isnan(magnitude), -np.inf, magnitude)
    return np.partition(magnitude, n - k, axis=0)[n - k]
