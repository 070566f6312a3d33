"""Protocols shared by detectors: what they learn and what a high score means."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class OnsetDetector(ABC):
    """Find the one moment a set of series changed the most.

    ``fit(X)`` takes a ``(time, indicator)`` array; afterwards ``onset_index_`` is the first
    row of the changed regime, ``profile_`` the evidence for a change before each row (a
    higher value means stronger evidence) and ``column_onsets_`` each indicator's own
    change row.
    """

    onset_index_: int
    profile_: np.ndarray
    column_onsets_: np.ndarray

    @abstractmethod
    def fit(self, X: np.ndarray) -> OnsetDetector:
        """Learn the change point of ``X`` and return ``self``."""


class DeviationScorer(ABC):
    """Score how far observations stray from a baseline, per indicator.

    ``fit(baseline)`` learns the normal centre and spread of each column;
    ``score(observed)`` returns, per column, a deviation in robust standard units:
    0 is normal, larger magnitudes are more abnormal, the sign gives the direction.
    """

    center_: np.ndarray
    scale_: np.ndarray

    @abstractmethod
    def fit(self, baseline: np.ndarray) -> DeviationScorer:
        """Learn the baseline of each column and return ``self``."""

    @abstractmethod
    def score(self, observed: np.ndarray) -> np.ndarray:
        """Return the signed deviation of each column of ``observed``."""
