"""Detectors: when an incident began and how abnormal each indicator is."""

from workbench.detect.base import DeviationScorer, OnsetDetector
from workbench.detect.onset import RobustCusumOnset
from workbench.detect.scoring import RobustDeviation
from workbench.detect.streaming import RobustNoveltyDetector

__all__ = [
    "DeviationScorer",
    "OnsetDetector",
    "RobustCusumOnset",
    "RobustDeviation",
    "RobustNoveltyDetector",
]
