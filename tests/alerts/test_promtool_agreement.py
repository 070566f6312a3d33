"""Our evaluation (PromQL on a real Prometheus, our state machine) against Prometheus' own
rule evaluator (``promtool test rules``) on the same series and the same rule file."""

from __future__ import annotations

import yaml
from alertdata import SERIES, STEP_S, T0, promtool_test, promtool_values

from workbench.alerts import Evaluator, parse_rules
from workbench.alerts.machine import FIRING
from workbench.sources import PrometheusSource

RULES = """\
groups:
  - name: load
    interval: 1m
    rules:
      - alert: LoadHigh
        expr: wb_load > 5
        for: 2m
        labels: {severity: page}
        annotations:
          summary: "{{ $labels.job }} on {{ $labels.instance }} at {{ $value }}"
      - alert: LoadHighSticky
        expr: wb_load > 5
        keep_firing_for: 3m
        labels: {team: "{{ $labels.job }}-team"}
      - alert: ErrorsShown
        expr: wb_errors > 0
        annotations:
          h: "{{ $value | humanize }}"
          f: '{{ printf "%.2f" $value }}'
          pct: "{{ $value | humanizePercentage }}"
          missing: "[{{ $labels.nope }}]"
"""
MINUTES = len(next(iter(SERIES.values())))


def firing_by_minute(url: str) -> dict[int, dict[str, list]]:
    evaluator = Evaluator(parse_rules(RULES), prometheus=PrometheusSource(url))
    found = {}
    for minute in range(MINUTES):
        evaluation = evaluator.evaluate(T0 + minute * STEP_S)
        assert evaluation.errors == []
        found[minute] = {
            outcome.rule.name: sorted(
                [
                    ({k: v for k, v in a.labels.items() if k != "alertname"}, dict(a.annotations))
                    for a in outcome.alerts
                    if a.state == FIRING
                ],
                key=repr,
            )
            for outcome in evaluation.outcomes
        }
    return found


def test_firing_alerts_match_promtool_at_every_evaluation(history_prometheus, tmp_path):
    ours = firing_by_minute(history_prometheus.url)
    # Hand-worked from SERIES: api > 5 at minutes 2-5, 8, 12-17; db at 1-2, 4-9, 15, 17, 19.
    # LoadHigh (for 2m): api fires at 4, 5 and 14-17; db at 6-9.
    load_high = {m: [labels["job"] for labels, _ in ours[m]["LoadHigh"]] for m in ours}
    assert [m for m in load_high if "api" in load_high[m]] == [4, 5, 14, 15, 16, 17]
    assert [m for m in load_high if "db" in load_high[m]] == [6, 7, 8, 9]
    # Sticky (keep 3m): api from 2, held through the 6-7 gap, 9-11 gap, until 17 + 3m - 1.
    sticky = [m for m in ours if any(x["job"] == "api" for x, _ in ours[m]["LoadHighSticky"])]
    assert sticky == list(range(2, 21))
    first = ours[4]["ErrorsShown"][0][1]
    assert first == {"h": "1.234k", "f": "1234.50", "pct": "1.234e+05%", "missing": "[]"}

    tests = [
        {
            "eval_time": f"{minute}m",
            "alertname": name,
            "exp_alerts": [
                {"exp_labels": labels, "exp_annotations": annotations}
                for labels, annotations in alerts
            ],
        }
        for minute, by_rule in ours.items()
        for name, alerts in by_rule.items()
    ]
    spec = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": key, "values": promtool_values(values)}
                    for key, values in SERIES.items()
                ],
                "alert_rule_test": tests,
            }
        ],
    }
    run = promtool_test(tmp_path, RULES, yaml.safe_dump(spec, sort_keys=False))
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "SUCCESS" in run.stdout


def test_each_group_is_evaluated_at_its_own_interval(history_prometheus, tmp_path):
    from workbench.alerts import AlertStore

    two = RULES + (
        "  - name: slow\n    interval: 2m\n    rules:\n"
        "      - alert: SlowLoad\n        expr: wb_load > 5\n"
    )
    source = PrometheusSource(history_prometheus.url)
    state = tmp_path / "state.db"
    evaluator = Evaluator(parse_rules(two), prometheus=source, store=AlertStore(state))

    def evaluated(minute: int, store_evaluator=None) -> list[str]:
        run = (store_evaluator or evaluator).evaluate(T0 + minute * STEP_S, due_only=True)
        return sorted({o.rule.group for o in run.outcomes})

    assert evaluated(0) == ["load", "slow"]
    assert evaluated(1) == ["load"]  # the 2 m group is not due yet
    assert evaluated(2) == ["load", "slow"]
    evaluator.store.close()
    # a restart keeps the rhythm: the slow group ran at minute 2, so not at 3
    again = Evaluator(parse_rules(two), prometheus=source, store=AlertStore(state))
    assert evaluated(3, again) == ["load"]
    assert evaluated(4, again) == ["load", "slow"]
