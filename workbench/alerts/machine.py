"""Prometheus' alert state machine, step by step: inactive -> pending -> firing -> resolved.

This follows ``rules/alerting.go`` of Prometheus 2.42 (``AlertingRule.Eval`` and
``sendAlerts``) so that the same rule over the same samples gives the same alerts:

* every sample of an evaluation is one alert, identified by its label set (the sample's
  labels without ``__name__``, then the rule's labels, then ``alertname``);
* a new alert is pending from that evaluation (``active_at``) and fires at the first
  evaluation at least ``for`` later; with ``for`` 0 it fires at once;
* an alert whose sample is gone is resolved at that evaluation (a pending one is simply
  dropped), unless it was firing and ``keep_firing_for`` has not yet run out since the
  sample went away;
* a resolved alert is kept 15 minutes so receivers hear that it resolved;
* an alert is (re)sent when it has resolved since it was last sent, or when ``resend``
  seconds have passed (Prometheus' ``--rules.alert.resend-delay``, 1 minute); what is
  sent starts at ``fired_at`` and ends at ``resolved_at``, or at ``valid_until`` (four
  evaluation intervals or resend delays ahead) while it fires.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from workbench.alerts.rules import Rule
from workbench.alerts.templates import expand

INACTIVE = "inactive"
PENDING = "pending"
FIRING = "firing"
RESOLVED_RETENTION_S = 15 * 60.0
DEFAULT_RESEND_DELAY_S = 60.0
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1

Sample = tuple[Mapping[str, str], float]


class DuplicateLabelSet(ValueError):
    """Two samples of one evaluation map to the same alert labels (Prometheus refuses too)."""


def fingerprint(labels: Mapping[str, str]) -> str:
    """Return the fingerprint Prometheus and Alertmanager give a label set (16 hex digits).

    FNV-1a 64 over the sorted names and values, each followed by the byte 0xff, as
    ``model.LabelSet.Fingerprint`` computes it.
    """
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                value = ((value ^ byte) * _FNV_PRIME) & _MASK
            value = ((value ^ 0xFF) * _FNV_PRIME) & _MASK
    return f"{value:016x}"


@dataclass(slots=True)
class Alert:
    """One alert of a rule: its labels, annotations, state and times (epoch seconds)."""

    labels: dict[str, str]
    annotations: dict[str, str]
    state: str
    active_at: float
    value: float = math.nan
    fired_at: float | None = None
    resolved_at: float | None = None
    last_sent_at: float | None = None
    keep_firing_since: float | None = None
    valid_until: float | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)

    def needs_sending(self, at: float, resend_s: float) -> bool:
        """Return whether Prometheus would send this alert to Alertmanager at ``at``."""
        if self.state == PENDING:
            return False
        if self.resolved_at is not None and (
            self.last_sent_at is None or self.resolved_at > self.last_sent_at
        ):
            return True
        return self.last_sent_at is None or self.last_sent_at + resend_s < at


@dataclass(slots=True)
class Transition:
    """A change worth a notification: an alert started firing or resolved at ``at``."""

    rule: Rule
    alert: Alert
    status: str  # "firing" or "resolved"
    at: float


@dataclass(slots=True)
class RuleState:
    """The active alerts of one rule (by fingerprint), advanced by :meth:`step`."""

    rule: Rule
    active: dict[str, Alert] = field(default_factory=dict)
    external_labels: Mapping[str, str] = field(default_factory=dict)
    external_url: str = ""

    def step(self, at: float, samples: Iterable[Sample]) -> list[Transition]:
        """Advance to evaluation time ``at`` given the rule's samples; return the transitions.

        Raises :class:`DuplicateLabelSet` (state untouched) when two samples give the same
        alert labels.
        """
        fresh: dict[str, Alert] = {}
        for sample_labels, value in samples:
            alert = self._alert(sample_labels, value, at)
            key = alert.fingerprint
            if key in fresh:
                raise DuplicateLabelSet(
                    f"rule {self.rule.name!r}: the result holds two series with the same labels "
                    f"{alert.labels} after the rule's labels were applied"
                )
            fresh[key] = alert
        for key, alert in fresh.items():
            known = self.active.get(key)
            if known is not None and known.state != INACTIVE:
                known.value = alert.value
                known.annotations = alert.annotations
                continue
            self.active[key] = alert

        changes: list[Transition] = []
        for key, alert in list(self.active.items()):
            if key not in fresh:
                keep_firing = False
                if alert.state == FIRING and self.rule.keep_firing_for_s > 0:
                    if alert.keep_firing_since is None:
                        alert.keep_firing_since = at
                    keep_firing = at - alert.keep_firing_since < self.rule.keep_firing_for_s
                if alert.state == PENDING or (
                    alert.resolved_at is not None and at - alert.resolved_at > RESOLVED_RETENTION_S
                ):
                    del self.active[key]
                if alert.state != INACTIVE and not keep_firing:
                    if alert.state == FIRING:
                        changes.append(Transition(self.rule, alert, "resolved", at))
                    alert.state = INACTIVE
                    alert.resolved_at = at
                if not keep_firing:
                    continue
            else:
                alert.keep_firing_since = None
            if alert.state == PENDING and at - alert.active_at >= self.rule.for_s:
                alert.state = FIRING
                alert.fired_at = at
                changes.append(Transition(self.rule, alert, "firing", at))
        return changes

    def to_send(self, at: float, interval_s: float, resend_s: float) -> list[Alert]:
        """Return the alerts Prometheus would send at ``at``, marking them as sent."""
        out = []
        for alert in self.active.values():
            if alert.needs_sending(at, resend_s):
                alert.last_sent_at = at
                alert.valid_until = at + 4 * max(resend_s, interval_s)
                out.append(alert)
        return out

    def _alert(self, sample_labels: Mapping[str, str], value: float, at: float) -> Alert:
        plain = {k: v for k, v in sample_labels.items() if k != "__name__"}

        def fill(text: str) -> str:
            return expand(
                text,
                plain,
                value,
                external_labels=self.external_labels,
                external_url=self.external_url,
            )

        labels = dict(plain)
        for name, text in self.rule.labels.items():
            labels[name] = fill(text)
        labels = {k: v for k, v in labels.items() if v != ""}
        labels["alertname"] = self.rule.name
        annotations = {name: fill(text) for name, text in self.rule.annotations.items()}
        return Alert(
            labels=labels, annotations=annotations, state=PENDING, active_at=at, value=value
        )
