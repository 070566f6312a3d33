"""Alerting: Prometheus rule files plus our own rule kinds, evaluated, delivered, backtested.

``load_rules`` reads rule files; an :class:`Evaluator` runs them (PromQL on the
Prometheus server, our kinds on frames) with Prometheus' state machine, keeps the state
in SQLite and delivers to Alertmanager and webhooks.
"""

from workbench.alerts.delivery import Target, deliver
from workbench.alerts.evaluate import Evaluation, Evaluator
from workbench.alerts.frame_rules import FrameData
from workbench.alerts.machine import Alert, RuleState, fingerprint
from workbench.alerts.rules import (
    Rule,
    RuleGroup,
    RuleSet,
    load_rules,
    parse_rules,
    prometheus_part,
)
from workbench.alerts.store import AlertStore

__all__ = [
    "Alert",
    "AlertStore",
    "Evaluation",
    "Evaluator",
    "FrameData",
    "Rule",
    "RuleGroup",
    "RuleSet",
    "RuleState",
    "Target",
    "deliver",
    "fingerprint",
    "load_rules",
    "parse_rules",
    "prometheus_part",
]
