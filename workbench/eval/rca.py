"""Evaluate the root-cause ranking on a dataset suite (the JSON of DESIGN.md)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from workbench import datasets
from workbench.case import Case
from workbench.errors import DatasetError, UsageError, WorkbenchError
from workbench.eval.scores import accuracy, average_accuracy, distinct_services, rank_of
from workbench.rca import FusionRanker, MetricRanker, investigate

Progress = Callable[[int, int, str], None]
# The fault type reported for a case whose files could not be read.
UNREADABLE = "unreadable"


def evaluate_rca(
    suite: str,
    *,
    given_onset: bool = False,
    delay_s: float = 0.0,
    ranker: FusionRanker | MetricRanker | None = None,
    modalities: tuple[str, ...] | list[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the ranking on every case of ``suite`` and score it against the ground truth.

    Without ``given_onset`` the ranker finds the onset itself. With it, the true fault
    start plus ``delay_s`` seconds is handed to the ranker, as in published tables.
    ``modalities`` (any of metrics, logs, traces) restricts the default
    :class:`~workbench.rca.FusionRanker`, for an ablation.
    """
    if ranker is None:
        ranker = FusionRanker() if modalities is None else FusionRanker(modalities=modalities)
    elif modalities is not None:
        raise UsageError("give either a ranker or modalities, not both")
    names = datasets.cases(suite)
    per_case = []
    for index, case_id in enumerate(names):
        started = time.perf_counter()
        try:
            case = datasets.load(f"{suite}/{case_id}")
        except DatasetError as error:  # a damaged case is a miss; the others still count
            per_case.append(_unreadable(case_id, error))
        else:
            loaded = time.perf_counter() - started
            row = _one(case, ranker, given_onset=given_onset, delay_s=delay_s)
            row["load_seconds"] = loaded
            per_case.append(row)
        if progress is not None:
            progress(index + 1, len(names), case_id)
    return _summary(suite, ranker.method, given_onset, delay_s, per_case)


def _unreadable(case_id: str, error: DatasetError) -> dict:
    return {
        "case": case_id,
        "truth": None,
        "fault": UNREADABLE,
        "rank_of_truth": None,
        "top5": [],
        "onset_error_s": None,
        "seconds": 0.0,
        "load_seconds": 0.0,
        "error": str(error),
    }


def _one(
    case: Case, ranker: FusionRanker | MetricRanker, *, given_onset: bool, delay_s: float
) -> dict:
    truth = case.truth
    if truth is None or not truth.root_cause_service:
        raise UsageError(
            f"{case.name} has no root-cause ground truth, so a ranking cannot be scored on it; "
            "evaluate a suite with injected faults, e.g. rcd-sockshop"
        )
    onset = None
    if given_onset:
        onset = truth.fault_start + timedelta(seconds=delay_s)
    started = time.perf_counter()
    try:
        result = investigate(case, onset=onset, ranker=ranker)
    except WorkbenchError as error:  # a case the ranker cannot answer counts as a miss
        return {
            "case": case.case_id,
            "truth": truth.root_cause_service,
            "fault": truth.fault_type,
            "rank_of_truth": None,
            "top5": [],
            "onset_error_s": None,
            "seconds": time.perf_counter() - started,
            "error": str(error),
        }
    seconds = time.perf_counter() - started
    ranked = [cause.service for cause in result.ranking]
    onset_error = None
    if truth.fault_start is not None:
        onset_error = (result.onset - truth.fault_start).total_seconds()
    return {
        "case": case.case_id,
        "truth": truth.root_cause_service,
        "fault": truth.fault_type,
        "rank_of_truth": rank_of(truth.root_cause_service, ranked),
        "top5": distinct_services(ranked)[:5],
        "onset_error_s": onset_error,
        "seconds": seconds,
    }


def _summary(
    suite: str, method: str, given_onset: bool, delay_s: float, per_case: list[dict]
) -> dict[str, Any]:
    ranks = [row["rank_of_truth"] for row in per_case]
    by_fault: dict[str, dict[str, Any]] = {}
    for fault in sorted({row["fault"] for row in per_case}):
        fault_ranks = [row["rank_of_truth"] for row in per_case if row["fault"] == fault]
        by_fault[fault] = {
            "cases": len(fault_ranks),
            "ac@1": accuracy(fault_ranks, 1),
            "ac@3": accuracy(fault_ranks, 3),
            "avg@5": average_accuracy(fault_ranks),
        }
    seconds = [row["seconds"] for row in per_case] or [0.0]
    end_to_end = [row["seconds"] + row.get("load_seconds", 0.0) for row in per_case] or [0.0]
    return {
        "suite": suite,
        "method": method,
        "cases": len(per_case),
        "given_onset": given_onset,
        "delay_s": delay_s,
        "overall": {
            "ac@1": accuracy(ranks, 1),
            "ac@3": accuracy(ranks, 3),
            "ac@5": accuracy(ranks, 5),
            "avg@5": average_accuracy(ranks),
        },
        "by_fault": by_fault,
        "errors": sum(1 for row in per_case if "error" in row),
        "seconds_per_case": {
            "median": statistics.median(seconds),
            "mean": statistics.fmean(seconds),
            "max": max(seconds),
        },
        "end_to_end_seconds_per_case": {
            "median": statistics.median(end_to_end),
            "mean": statistics.fmean(end_to_end),
            "max": max(end_to_end),
        },
        "per_case": per_case,
    }
