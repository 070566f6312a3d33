"""Prometheus' alert state machine on hand-worked timelines (one evaluation a minute)."""

from __future__ import annotations

import pytest

from workbench.alerts.machine import (
    FIRING,
    INACTIVE,
    PENDING,
    DuplicateLabelSet,
    RuleState,
    fingerprint,
)
from workbench.alerts.rules import Rule

API = {"job": "api"}


def rule(**settings) -> Rule:
    base = {"name": "High", "group": "g", "kind": "promql", "expr": "x > 1"}
    return Rule(**{**base, **settings})


def run(state: RuleState, present: dict[int, float], minutes: int = 0) -> tuple[list, list]:
    """Step minute by minute; return the state of the api alert and the transitions."""
    states, changes = [], []
    for minute in range(max(minutes, max(present) + 2)):
        at = minute * 60.0
        samples = [(API, present[minute])] if minute in present else []
        changes += [(minute, c.status) for c in state.step(at, samples)]
        alert = next(iter(state.active.values()), None)
        states.append(alert.state if alert else None)
    return states, changes


def test_pending_exactly_for_long_then_firing_then_resolved():
    state = RuleState(rule(for_s=120.0))
    states, changes = run(state, {1: 5, 2: 5, 3: 5})
    # active at 1, 120 s later (minute 3) fires; gone at 4 -> resolved, kept for receivers
    assert states == [None, PENDING, PENDING, FIRING, INACTIVE]
    assert changes == [(3, "firing"), (4, "resolved")]
    (alert,) = state.active.values()
    assert (alert.active_at, alert.fired_at, alert.resolved_at) == (60.0, 180.0, 240.0)


def test_a_pending_alert_that_goes_away_is_dropped_without_notice():
    state = RuleState(rule(for_s=180.0))
    states, changes = run(state, {1: 5, 2: 5, 3: 5})
    assert states == [None, PENDING, PENDING, PENDING, None]
    assert changes == []


def test_for_zero_fires_at_the_first_evaluation():
    state = RuleState(rule())
    states, changes = run(state, {0: 5})
    assert states == [FIRING, INACTIVE]
    assert changes == [(0, "firing"), (1, "resolved")]


def test_keep_firing_for_holds_a_firing_alert_after_its_sample_is_gone():
    state = RuleState(rule(keep_firing_for_s=120.0))
    # gone from minute 1: still firing at 1 and 2 (0 s, 60 s < 120 s), resolved at 3
    states, changes = run(state, {0: 5}, minutes=5)
    assert states == [FIRING, FIRING, FIRING, INACTIVE, INACTIVE]
    assert changes == [(0, "firing"), (3, "resolved")]


def test_keep_firing_for_restarts_when_the_sample_comes_back():
    state = RuleState(rule(keep_firing_for_s=120.0))
    states, changes = run(state, {0: 5, 2: 5, 6: 5})
    # gone at 1 (since 60), back at 2 (reset), gone at 3 (since 180): firing at 3, 4,
    # resolved at 5 (300 - 180 = 120 s, not < 120); back at 6 -> a new alert fires
    assert states == [FIRING, FIRING, FIRING, FIRING, FIRING, INACTIVE, FIRING, FIRING]
    assert changes == [(0, "firing"), (5, "resolved"), (6, "firing")]


def test_flapping_alert_fires_only_after_for_of_uninterrupted_presence():
    state = RuleState(rule(for_s=120.0))
    # present 1-2, gone 3, present 4-7: the first run never lasts 120 s; the second
    # is active from 4 and fires at 6
    states, changes = run(state, {1: 5, 2: 5, 4: 5, 5: 5, 6: 5, 7: 5})
    assert states == [None, PENDING, PENDING, None, PENDING, PENDING, FIRING, FIRING, INACTIVE]
    assert changes == [(6, "firing"), (8, "resolved")]


def test_a_resolved_alert_is_forgotten_after_fifteen_minutes():
    state = RuleState(rule())
    state.step(0.0, [(API, 5)])
    state.step(60.0, [])  # resolved at 60
    state.step(960.0, [])  # 900 s later: still kept (Prometheus: more than 15 m)
    assert len(state.active) == 1
    state.step(1020.0, [])
    assert state.active == {}


def test_each_label_set_is_its_own_alert_and_labels_and_annotations_are_templated():
    r = rule(
        labels={"severity": "page", "team": "{{ $labels.job }}-team"},
        annotations={"summary": "{{ $labels.job }} at {{ $value }}"},
    )
    state = RuleState(r)
    state.step(0.0, [({"__name__": "x", "job": "api"}, 7.5), ({"job": "db"}, 1e6)])
    alerts = sorted(state.active.values(), key=lambda a: a.labels["job"])
    assert [a.labels for a in alerts] == [
        {"job": "api", "severity": "page", "team": "api-team", "alertname": "High"},
        {"job": "db", "severity": "page", "team": "db-team", "alertname": "High"},
    ]
    assert [a.annotations["summary"] for a in alerts] == ["api at 7.5", "db at 1e+06"]
    state.step(60.0, [({"job": "api"}, 9.0)])
    api = next(a for a in state.active.values() if a.labels["job"] == "api")
    assert api.annotations["summary"] == "api at 9"  # value refreshed while firing
    assert api.fired_at == 0.0


def test_two_series_with_one_label_set_after_rule_labels_are_refused():
    state = RuleState(rule(labels={"job": "all"}))
    with pytest.raises(DuplicateLabelSet, match="same labels"):
        state.step(0.0, [({"job": "api"}, 1.0), ({"job": "db"}, 2.0)])
    assert state.active == {}


def test_resend_follows_prometheus_resend_delay_and_resolution():
    state = RuleState(rule())
    sent = []
    for minute, present in enumerate([True, True, True, False, False, False]):
        at = minute * 60.0
        state.step(at, [(API, 5)] if present else [])
        sent += [(minute, a.state) for a in state.to_send(at, interval_s=60.0, resend_s=60.0)]
    # sent when it fires (0); again once 60 s have *passed* since (2); when it resolves
    # (3); then resent as resolved once the delay has passed again (5)
    assert sent == [(0, FIRING), (2, FIRING), (3, INACTIVE), (5, INACTIVE)]
    (alert,) = state.active.values()
    assert alert.valid_until == 300.0 + 240.0


def test_fingerprint_is_fnv1a_over_sorted_labels():
    # Worked with the FNV-1a 64 definition: offset 14695981039346656037, prime 1099511628211,
    # bytes of "a", 0xff, "b", 0xff.
    value = 14695981039346656037
    for byte in b"a\xffb\xff":
        value = ((value ^ byte) * 1099511628211) % 2**64
    assert fingerprint({"a": "b"}) == f"{value:016x}"
    assert fingerprint({}) == "cbf29ce484222325"  # the FNV-1a 64 offset basis
