"""Evaluate rules at a moment, keep their state, queue and deliver notifications.

PromQL rules are evaluated by the Prometheus server (an instant ``query`` at each
evaluation time), our own kinds on frames (:mod:`workbench.alerts.frame_rules`). A rule
whose evaluation fails (a PromQL error, an unreachable server) keeps its state, as in
Prometheus, and the error is reported with the rule's name.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from workbench.alerts import frame_rules
from workbench.alerts.delivery import (
    ALERTMANAGER,
    DeliveryReport,
    Target,
    alertmanager_payload,
    deliver,
    generator_url,
    webhook_payload,
)
from workbench.alerts.machine import (
    DEFAULT_RESEND_DELAY_S,
    Alert,
    DuplicateLabelSet,
    RuleState,
    Sample,
    Transition,
)
from workbench.alerts.rules import ANOMALY, LOG, PROMQL, THRESHOLD, Rule, RuleSet
from workbench.alerts.store import AlertStore
from workbench.errors import SourceError, UsageError


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """One rule at one evaluation: its alerts (state after the step) or the error."""

    rule: Rule
    alerts: tuple[Alert, ...] = ()
    transitions: tuple[Transition, ...] = ()
    error: str | None = None


@dataclass(slots=True)
class Evaluation:
    """Every rule's outcome at ``at`` (epoch s), and the delivery pass that followed."""

    at: float
    outcomes: list[RuleOutcome] = field(default_factory=list)
    delivery: DeliveryReport | None = None

    @property
    def errors(self) -> list[RuleOutcome]:
        return [o for o in self.outcomes if o.error is not None]

    def to_dict(self) -> dict:
        from workbench.alerts.delivery import iso

        return {
            "at": iso(self.at),
            "rules": [
                {
                    "group": o.rule.group,
                    "alert": o.rule.name,
                    "kind": o.rule.kind,
                    "error": o.error,
                    "alerts": [
                        {
                            "state": a.state,
                            "labels": a.labels,
                            "value": _finite(a.value),
                            "active_at": iso(a.active_at),
                        }
                        for a in o.alerts
                    ],
                }
                for o in self.outcomes
            ],
            "undelivered": [] if self.delivery is None else self.delivery.waiting,
        }


METRIC_KINDS = (THRESHOLD, ANOMALY)


class Evaluator:
    """Rules, where their data comes from, their state file and where alerts go.

    Parameters
    ----------
    rules:
        From :func:`~workbench.alerts.load_rules`.
    prometheus:
        A :class:`~workbench.sources.PrometheusSource` for the PromQL rules.
    data:
        :class:`~workbench.alerts.frame_rules.FrameData` for our own kinds.
    store:
        The state file (in memory when omitted).
    targets:
        Alertmanagers and webhooks (:class:`~workbench.alerts.delivery.Target`).
    external_url:
        Base of ``generatorURL`` (default: the Prometheus URL) and ``$externalURL``.
    resend_s:
        Seconds between resends of a firing alert to Alertmanager (Prometheus: 1 m).
    logs_source, logs_index:
        An :class:`~workbench.sources.ElasticsearchSource` and the index (pattern) the log
        rules read when no frames are given; each evaluation pulls its window.
    """

    def __init__(
        self,
        rules: RuleSet,
        *,
        prometheus: Any = None,
        data: frame_rules.FrameData | None = None,
        store: AlertStore | None = None,
        targets: Sequence[Target] = (),
        external_labels: Mapping[str, str] | None = None,
        external_url: str | None = None,
        resend_s: float = DEFAULT_RESEND_DELAY_S,
        logs_source: Any = None,
        logs_index: str | None = None,
    ) -> None:
        self.rules = rules
        self.logs_source = logs_source
        self.logs_index = logs_index
        self.prometheus = prometheus
        self.data = data
        self.store = store or AlertStore()
        self.targets = tuple(targets)
        self.external_url = external_url if external_url is not None else _url(prometheus)
        self.resend_s = resend_s
        self.intervals = {
            rule.key: group.interval_s for group in rules.groups for rule in group.rules
        }
        self.states = {
            rule.key: RuleState(
                rule,
                self.store.load(rule.key),
                external_labels=dict(external_labels or {}),
                external_url=self.external_url,
            )
            for rule in rules.rules
        }
        self._last = {key: self.store.last_evaluation(key) for key in self.states}
        needs_prometheus = [r.name for r in rules.rules if r.kind == PROMQL]
        if needs_prometheus and prometheus is None:
            raise UsageError(
                f"PromQL rule(s) {', '.join(needs_prometheus[:5])} need a Prometheus server: "
                "give --prometheus URL"
            )

    def samples(self, rule: Rule, at: float) -> list[Sample]:
        """Return the rule's vector at ``at``."""
        if rule.kind == PROMQL:
            return promql_samples(self.prometheus.query(rule.expr, at))
        if self.data is None and self.prometheus is not None and rule.kind in METRIC_KINDS:
            return frame_rules.vector(rule, frame_rules.pull_metrics(self.prometheus, rule, at), at)
        if self.data is None and self.logs_source is not None and rule.kind == LOG:
            pulled = frame_rules.pull_logs(self.logs_source, self.logs_index or "*", rule, at)
            return frame_rules.vector(rule, pulled, at)
        if self.data is None:
            raise UsageError(f"rule {rule.name!r} ({rule.kind}) needs frames; none were given")
        return frame_rules.vector(rule, self.data, at)

    def evaluate(
        self, at: float | None = None, *, deliver_now: bool = True, due_only: bool = False
    ) -> Evaluation:
        """Evaluate every rule at ``at`` (default: now), save the state, send what is due.

        With ``due_only``, a rule is skipped until its group's interval has passed since its
        last evaluation (kept in the state file, so a restart keeps the rhythm).
        """
        at = time.time() if at is None else float(at)
        evaluation = Evaluation(at)
        saved: list[tuple[str, float, dict[str, Alert]]] = []
        queued: list[tuple[str, dict, float]] = []
        for key, state in self.states.items():
            rule = state.rule
            if due_only and not self._due(key, at):
                continue
            try:
                found = self.samples(rule, at)
                changes = state.step(at, found)
            except (SourceError, DuplicateLabelSet) as error:
                evaluation.outcomes.append(
                    RuleOutcome(rule, tuple(state.active.values()), error=str(error))
                )
                continue
            queued.extend(self._notifications(state, changes, at))
            saved.append((key, at, state.active))
            self._last[key] = at
            evaluation.outcomes.append(
                RuleOutcome(rule, tuple(state.active.values()), tuple(changes))
            )
        self.store.commit(saved, queued)
        if deliver_now and self.targets:
            evaluation.delivery = deliver(self.store, self.targets, at)
        return evaluation

    def _due(self, key: str, at: float) -> bool:
        last = self._last.get(key)
        interval = self.intervals[key]
        # A tick that comes a little early (the loop's own drift) still counts.
        return last is None or at - last >= interval - min(1.0, 0.1 * interval)

    def _notifications(
        self, state: RuleState, changes: Iterable[Transition], at: float
    ) -> list[tuple[str, dict, float]]:
        rule = state.rule
        generator = generator_url(self.external_url, rule.expr) if rule.kind == PROMQL else ""
        out: list[tuple[str, dict, float]] = []
        managers = [t for t in self.targets if t.kind == ALERTMANAGER]
        if managers:
            due = state.to_send(at, self.intervals[rule.key], self.resend_s)
            if due:
                body = alertmanager_payload(due, generator)
                out.extend((t.key, {"alerts": body}, at) for t in managers)
        hooks = [t for t in self.targets if t.kind != ALERTMANAGER]
        changes = list(changes)
        for status in ("firing", "resolved"):
            batch = [c for c in changes if c.status == status]
            if batch:
                for hook in hooks:
                    body = webhook_payload(
                        batch, status, hook.receiver, self.external_url, generator
                    )
                    out.append((hook.key, body, at))
        return out


def promql_samples(frame: pl.DataFrame) -> list[Sample]:
    """Return (labels, value) per row of an instant query's metrics frame."""
    if frame.is_empty():
        return []
    if "labels" in frame.columns:
        column = frame["labels"]
        texts = column.struct.json_encode() if column.dtype != pl.String else column
        label_sets = [json.loads(text or "{}") for text in texts]
    else:
        label_sets = [{} for _ in range(frame.height)]
    values = frame["value"].to_list()
    return [
        ({k: str(v) for k, v in labels.items() if v is not None}, float(value))
        for labels, value in zip(label_sets, values, strict=True)
    ]


def _url(prometheus: Any) -> str:
    return "" if prometheus is None else str(getattr(prometheus, "url", "") or "")


def _finite(value: float) -> float | str:
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    return value
