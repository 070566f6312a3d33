"""Alerts read back from Prometheus and Alertmanager as events; our evaluation of the same
rule file against what the Prometheus rule evaluator itself holds."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import pytest
from alertdata import SERVER_RULES
from servers import free_port

from workbench.alerts import Evaluator, Target, parse_rules
from workbench.alerts.evidence import (
    alertmanager_events,
    prometheus_alert_events,
    prometheus_rule_events,
)
from workbench.errors import SourceUnavailable
from workbench.sources import PrometheusSource


def server_groups(url: str) -> list[dict]:
    return httpx.get(f"{url}/api/v1/rules", trust_env=False).json()["data"]["groups"]


def test_prometheus_alerts_and_failing_rules_become_alert_events(ruled_prometheus):
    source = PrometheusSource(ruled_prometheus.url)
    events = prometheus_alert_events(source).sort("summary")
    assert events["summary"].to_list() == ["LiveFiring firing: api at 10", "LivePending pending"]
    assert events["kind"].to_list() == ["alert", "alert"]
    assert events["service"].to_list() == ["api", "api"]  # from the job label
    assert events["host"].to_list() == ["a", "a"]
    server = {a["labels"]["alertname"]: a for a in source.alerts()}
    for row in events.iter_rows(named=True):
        name = row["summary"].split()[0]
        started = datetime.fromisoformat(server[name]["activeAt"][:26].rstrip("Z") + "+00:00")
        assert abs((row["timestamp"] - started).total_seconds()) < 1e-6
        assert json.loads(row["details"])["labels"] == server[name]["labels"]

    with_rules = prometheus_rule_events(source)
    broken = with_rules.filter(with_rules["summary"].str.starts_with("LiveBroken"))
    (rule,) = [r for g in server_groups(ruled_prometheus.url) for r in g["rules"]
               if r["name"] == "LiveBroken"]  # fmt: skip
    assert rule["health"] == "err"
    assert broken["summary"].to_list() == [
        f"LiveBroken error: rule evaluation fails: {rule['lastError']}"
    ]
    assert with_rules.height == 3


def test_our_evaluation_of_the_rule_file_matches_the_server_evaluator(ruled_prometheus):
    (group,) = server_groups(ruled_prometheus.url)
    at = datetime.fromisoformat(group["lastEvaluation"][:26].rstrip("Z") + "+00:00").timestamp()
    source = PrometheusSource(ruled_prometheus.url)
    evaluation = Evaluator(parse_rules(SERVER_RULES), prometheus=source).evaluate(at)
    ours = {o.rule.name: o for o in evaluation.outcomes}
    for rule in group["rules"]:
        outcome = ours[rule["name"]]
        if rule["health"] == "err":
            assert outcome.error is not None
            assert rule["lastError"].split(": ")[-1] in outcome.error
            continue
        theirs = sorted(
            (a["state"], a["labels"], a["annotations"], float(a["value"])) for a in rule["alerts"]
        )
        mine = sorted((a.state, a.labels, a.annotations, a.value) for a in outcome.alerts)
        assert mine == theirs, rule["name"]
    assert {o.rule.name for o in evaluation.errors} == {"LiveBroken"}


def test_alertmanager_alerts_become_events(live_prometheus, alertmanager, tmp_path):
    now = float(int(time.time()))
    rules = parse_rules(
        "groups:\n  - name: e\n    rules:\n      - alert: EvidenceAM\n        expr: wb_live > 5\n"
        "        annotations: {summary: '{{ $labels.job }} is high'}\n"
    )
    evaluator = Evaluator(rules, prometheus=PrometheusSource(live_prometheus.url),
                          targets=[Target("alertmanager", alertmanager.url)])  # fmt: skip
    assert evaluator.evaluate(now - 10).delivery.ok
    events = alertmanager_events(alertmanager.url)
    mine = events.filter(events["summary"].str.starts_with("EvidenceAM"))
    assert mine["summary"].to_list() == ["EvidenceAM active: api is high"]
    assert mine["timestamp"].to_list() == [datetime.fromtimestamp(now - 10, tz=UTC)]
    details = json.loads(mine["details"][0])
    assert details["labels"] == {"alertname": "EvidenceAM", "job": "api", "instance": "a"}


def test_an_unreachable_alertmanager_is_a_clear_error():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SourceUnavailable, match=f"cannot reach Alertmanager at {url}"):
        alertmanager_events(url)
