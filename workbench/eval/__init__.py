"""Evaluation suites and scores."""

from workbench.eval.rca import evaluate_rca
from workbench.eval.scores import accuracy, average_accuracy, rank_of

__all__ = ["accuracy", "average_accuracy", "evaluate_rca", "rank_of"]
