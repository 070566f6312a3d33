"""Root-cause analysis: rank services from signals into an :class:`Investigation`."""

from workbench.rca.fusion import FusionRanker
from workbench.rca.investigate import investigate
from workbench.rca.model import Cause, Investigation, Window
from workbench.rca.ranking import MetricRanker

__all__ = ["Cause", "FusionRanker", "Investigation", "MetricRanker", "Window", "investigate"]
