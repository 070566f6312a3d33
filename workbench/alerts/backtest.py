"""Replay rules over history: every firing, detection delays, missed faults, false alarms.

Rules are evaluated at ``start + k * interval`` (each group's interval, or ``step``) with
the same state machine as a live run. PromQL rules are evaluated by the Prometheus
server with one ``query_range`` per rule (the same evaluation as an instant query at
each step); our kinds on the frames.

Scoring against known faults ``[fault_start, fault_end]``:

* a fault is **detected** by the first firing that starts within
  ``[fault_start, fault_end + grace]``, or that is already firing at ``fault_start``;
  its **delay** is ``max(0, firing start - fault_start)``;
* a fault no firing detects is **missed**;
* a firing that starts outside every fault's ``[fault_start, fault_end + grace]`` is a
  **false alarm** (one already firing when a fault starts counts as both).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from workbench.alerts import frame_rules
from workbench.alerts.delivery import iso
from workbench.alerts.evaluate import promql_samples
from workbench.alerts.machine import FIRING, RuleState, Sample
from workbench.alerts.rules import ANOMALY, PROMQL, THRESHOLD, Rule, RuleSet
from workbench.errors import SourceError, UsageError

DEFAULT_GRACE_S = 300.0
MAX_EVALUATIONS = 200_000


@dataclass(frozen=True, slots=True)
class Fault:
    """A known fault: when it started and ended (epoch s; end None when unknown)."""

    start: float
    end: float | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class Firing:
    """One firing of one alert: from ``start`` (fired) to ``end`` (resolved, None if open)."""

    labels: dict[str, str]
    active_at: float
    start: float
    end: float | None

    def to_dict(self) -> dict:
        return {
            "labels": self.labels,
            "active_at": iso(self.active_at),
            "start": iso(self.start),
            "end": None if self.end is None else iso(self.end),
        }


@dataclass(slots=True)
class RuleBacktest:
    """A rule's firings over the history and how they line up with the faults."""

    rule: Rule
    evaluations: int = 0
    firings: list[Firing] = field(default_factory=list)
    detections: list[dict] = field(default_factory=list)
    missed: list[dict] = field(default_factory=list)
    false_alarms: list[Firing] = field(default_factory=list)
    error: str | None = None
    series: pl.DataFrame | None = None

    def to_dict(self) -> dict:
        return {
            "group": self.rule.group,
            "alert": self.rule.name,
            "kind": self.rule.kind,
            "evaluations": self.evaluations,
            "error": self.error,
            "firings": [f.to_dict() for f in self.firings],
            "detections": self.detections,
            "missed": self.missed,
            "false_alarms": [f.to_dict() for f in self.false_alarms],
        }


@dataclass(slots=True)
class Backtest:
    """Every rule's backtest over ``[start, end]`` against ``faults``."""

    start: float
    end: float
    faults: list[Fault]
    rules: list[RuleBacktest]
    case: str = ""

    def to_dict(self) -> dict:
        return {
            "case": self.case,
            "start": iso(self.start),
            "end": iso(self.end),
            "faults": [
                {
                    "start": iso(f.start),
                    "end": None if f.end is None else iso(f.end),
                    "label": f.label,
                }
                for f in self.faults
            ],
            "rules": [r.to_dict() for r in self.rules],
        }


def backtest(
    rules: RuleSet,
    start: float,
    end: float,
    *,
    prometheus: Any = None,
    data: frame_rules.FrameData | None = None,
    faults: Sequence[Fault] = (),
    step: float | None = None,
    grace: float = DEFAULT_GRACE_S,
    case: str = "",
) -> Backtest:
    """Replay ``rules`` from ``start`` to ``end`` (epoch s) and score them against ``faults``."""
    if end <= start:
        raise UsageError(f"the backtest window is empty: end {iso(end)} is not after {iso(start)}")
    results = []
    for group in rules.groups:
        interval = step or group.interval_s
        count = math.floor((end - start) / interval) + 1
        if count > MAX_EVALUATIONS:
            raise UsageError(
                f"group {group.name!r}: {count:,} evaluations at {interval:g} s; "
                f"give a larger --step or a shorter window (at most {MAX_EVALUATIONS:,})"
            )
        times = [start + k * interval for k in range(count)]
        for rule in group.rules:
            results.append(
                _replay(
                    rule,
                    times,
                    interval,
                    prometheus=prometheus,
                    data=data,
                    faults=faults,
                    grace=grace,
                )
            )
    return Backtest(start, end, list(faults), results, case)


def backtest_case(rules: RuleSet, case: Any, **options: Any) -> Backtest:
    """Backtest our rule kinds on a dataset case's frames against its known fault."""
    data = frame_rules.FrameData(
        metrics=case.metrics if case.metrics.height else None,
        logs=case.logs if case.logs.height else None,
        spans=case.spans if case.spans.height else None,
    )
    moments = [
        frame[column].min()
        for frame, column in (
            (case.metrics, "timestamp"),
            (case.logs, "timestamp"),
            (case.spans, "start"),
        )
        if frame.height
    ]
    ends = [
        frame[column].max()
        for frame, column in (
            (case.metrics, "timestamp"),
            (case.logs, "timestamp"),
            (case.spans, "start"),
        )
        if frame.height
    ]
    if not moments:
        raise UsageError(f"case {case.case_id} holds no metrics, logs or spans to backtest on")
    truth = case.truth
    fault = Fault(
        truth.fault_start.timestamp(),
        None if truth.fault_end is None else truth.fault_end.timestamp(),
        f"{truth.root_cause_service} {truth.fault_type}",
    )
    return backtest(
        rules,
        min(moments).timestamp(),
        max(ends).timestamp(),
        data=data,
        faults=[fault],
        case=f"{case.suite}/{case.case_id}",
        **options,
    )


def _replay(
    rule: Rule,
    times: list[float],
    interval: float,
    *,
    prometheus: Any,
    data: frame_rules.FrameData | None,
    faults: Sequence[Fault],
    grace: float,
) -> RuleBacktest:
    result = RuleBacktest(rule)
    try:
        vectors, result.series = _vectors(rule, times, interval, prometheus, data)
    except (SourceError, UsageError) as error:
        result.error = str(error)
        return result
    state = RuleState(rule)
    open_firings: dict[str, tuple[dict, float, float]] = {}
    for at, samples in zip(times, vectors, strict=True):
        try:
            state.step(at, samples)
        except ValueError as error:
            result.error = f"at {iso(at)}: {error}"
            return result
        result.evaluations += 1
        for key, alert in state.active.items():
            if alert.state == FIRING and key not in open_firings:
                open_firings[key] = (dict(alert.labels), alert.active_at, alert.fired_at)
        for key in list(open_firings):
            alert = state.active.get(key)
            if alert is None or alert.state != FIRING or alert.fired_at != open_firings[key][2]:
                labels, active_at, fired = open_firings.pop(key)
                ended = alert.resolved_at if alert is not None and alert.resolved_at else at
                result.firings.append(Firing(labels, active_at, fired, ended))
    for labels, active_at, fired in open_firings.values():
        result.firings.append(Firing(labels, active_at, fired, None))
    result.firings.sort(key=lambda f: (f.start, sorted(f.labels.items())))
    _score(result, faults, grace)
    return result


def _vectors(
    rule: Rule, times: list[float], interval: float, prometheus: Any, data: Any
) -> tuple[list[list[Sample]], pl.DataFrame | None]:
    """Return the rule's vector at each time, and the series it looked at (for charts)."""
    if rule.kind != PROMQL:
        if data is None:
            raise UsageError(f"rule {rule.name!r} ({rule.kind}) needs frames (a dataset case)")
        series = None
        if rule.kind in (THRESHOLD, ANOMALY):
            series = frame_rules.selected(rule.spec, data.needs(rule.kind))
        return [frame_rules.vector(rule, data, at) for at in times], series
    if prometheus is None:
        raise UsageError(f"PromQL rule {rule.name!r} needs --prometheus to be backtested")
    frame = prometheus.query_range(rule.expr, times[0], times[-1], interval)
    by_time: dict[float, list[Sample]] = {}
    if frame.height:
        stamps = (frame["timestamp"].dt.epoch("ms") / 1000).to_list()
        for stamp, sample in zip(stamps, promql_samples(frame), strict=True):
            by_time.setdefault(round(stamp, 3), []).append(sample)
    return [by_time.get(round(at, 3), []) for at in times], frame


def _score(result: RuleBacktest, faults: Sequence[Fault], grace: float) -> None:
    windows = [(f.start, (f.end if f.end is not None else math.inf) + grace) for f in faults]
    for fault in faults:
        hi = (fault.end if fault.end is not None else math.inf) + grace
        hits = [
            f
            for f in result.firings
            if fault.start <= f.start <= hi
            or (f.start < fault.start and (f.end is None or f.end > fault.start))
        ]
        entry = {"fault_start": iso(fault.start), "label": fault.label}
        if hits:
            first = min(hits, key=lambda f: f.start)
            result.detections.append(
                {
                    **entry,
                    "firing_start": iso(first.start),
                    "delay_s": max(0.0, first.start - fault.start),
                }
            )
        else:
            result.missed.append(entry)
    result.false_alarms = [
        f for f in result.firings if not any(lo <= f.start <= hi for lo, hi in windows)
    ]


def moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)
