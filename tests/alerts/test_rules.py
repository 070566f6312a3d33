"""Rule files: Prometheus' part read as Prometheus reads it, our kinds apart, faults named."""

from __future__ import annotations

import subprocess

import pytest
from servers import tool

from workbench.alerts import load_rules, parse_rules, prometheus_part
from workbench.errors import RuleFileError

A = "groups:\n  - name: g\n    rules:\n      - alert: A\n"  # the start of a one-rule file

VALID = """\
groups:
  - name: api
    interval: 30s
    rules:
      - record: job:errors:rate5m
        expr: sum by (job) (rate(errors_total[5m]))
      - alert: HighErrorRate
        expr: job:errors:rate5m > 0.5
        for: 5m
        keep_firing_for: 1m30s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} errors at {{ $value | humanize }}"
mancerops:
  groups:
    - name: frames
      rules:
        - alert: CartsCpu
          threshold: {metric: cpu, service: carts, above: 0.8}
          for: 2m
        - alert: CartsAnomaly
          anomaly: {metric: cpu, service: carts, above: 6, window: 2m, baseline: 30m}
        - alert: NewLogTemplate
          log: {signal: new_template, service: carts}
        - alert: SlowEdge
          trace: {signal: edge_p95, caller: front-end, callee: carts, above: 250}
"""


def test_prometheus_and_own_rules_load_with_their_settings():
    rules = parse_rules(VALID, "valid.yml")
    assert [g.name for g in rules.groups] == ["api", "frames"]
    assert rules.recording == 1
    high = rules.groups[0].rules[0]
    assert (high.name, high.kind, high.expr) == (
        "HighErrorRate",
        "promql",
        "job:errors:rate5m > 0.5",
    )
    assert (high.for_s, high.keep_firing_for_s, high.line) == (300.0, 90.0, 7)
    assert rules.groups[0].interval_s == 30.0
    assert high.labels == {"severity": "page"}
    assert high.notes == ()
    own = rules.groups[1]
    assert own.interval_s == 60.0  # Prometheus' default evaluation interval
    assert [(r.name, r.kind) for r in own.rules] == [
        ("CartsCpu", "threshold"),
        ("CartsAnomaly", "anomaly"),
        ("NewLogTemplate", "log"),
        ("SlowEdge", "trace"),
    ]
    assert own.rules[0].spec == {"metric": "cpu", "service": "carts", "above": 0.8}
    assert own.rules[0].for_s == 120.0


def test_prometheus_loads_the_exported_part_and_refuses_the_whole_file(tmp_path):
    whole = tmp_path / "whole.yml"
    whole.write_text(VALID)
    refused = _promtool_check(whole)
    assert refused.returncode != 0
    assert "field mancerops not found" in refused.stdout + refused.stderr
    part = tmp_path / "part.yml"
    part.write_text(prometheus_part(VALID))
    accepted = _promtool_check(part)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "2 rules found" in accepted.stdout
    assert len(parse_rules(part.read_text()).rules) == 1


@pytest.mark.parametrize(
    ("text", "line", "rule", "words"),
    [
        (A + "        expr: up\n       for: 1m\n",
         6, None, "not valid YAML"),
        (A + "        expr: up\n        fro: 1m\n",
         6, "A", "unknown field 'fro'"),
        (A + "        record: b\n        expr: up\n",
         4, "A", "both `alert` and `record`"),
        (A + "        for: 1m\n",
         4, "A", "has no `expr`"),
        (A + "        expr: up\n        for: 5 min\n",
         6, "A", "not a valid duration"),
        ("groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n",
         4, "g", "defined twice"),
        (A + "        expr: up\n"
         "        labels: {bad-name: x}\n", 6, "A", "invalid label name 'bad-name'"),
        ("mancerops:\n  groups:\n    - name: g\n      rules:\n        - alert: A\n"
         "          sql: {query: x}\n", 6, "A", "unknown field 'sql'"),
        ("mancerops:\n  groups:\n    - name: g\n      rules:\n        - alert: A\n"
         "          for: 1m\n", 5, "A", "needs exactly one rule kind"),
        ("mancerops:\n  groups:\n    - name: g\n      rules:\n        - alert: A\n"
         "          expr: up > 1\n", 6, "A", "belongs under the top-level `groups:`"),
        ("mancerops:\n  groups:\n    - name: g\n      rules:\n        - alert: A\n"
         "          anomaly: {metric: cpu, above: high}\n", 6, "A", "anomaly.above must be"),
        ("mancerops:\n  groups:\n    - name: g\n      rules:\n        - alert: A\n"
         "          log: {signal: everything}\n", 6, "A", "'everything' is not one of"),
        ("mancerops:\n  groups:\n    - name: g\n      rules:\n        - alert: A\n"
         "          threshold: {metric: cpu}\n", 6, "A", "one of `above` or `below`"),
    ],
)  # fmt: skip
def test_a_malformed_file_is_refused_naming_file_line_rule_and_reason(text, line, rule, words):
    with pytest.raises(RuleFileError) as caught:
        parse_rules(text, "bad.yml")
    error = caught.value
    assert (error.path, error.line, error.rule) == ("bad.yml", line, rule)
    assert str(error).startswith(f"bad.yml:{line}: ")
    assert words in str(error)


@pytest.mark.parametrize(
    "text",
    [
        A + "        expr: up\n        fro: 1m\n",
        A + "        record: b\n        expr: up\n",
        A + "        expr: up\n        for: 5 min\n",
        "groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n",
        "groups:\n  - name: g\n    rules:\n      - record: a-b\n        expr: up\n",
        "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n        for: 1m\n",
    ],
)
def test_what_we_refuse_in_prometheus_part_promtool_refuses_too(tmp_path, text):
    path = tmp_path / "rules.yml"
    path.write_text(text)
    assert _promtool_check(path).returncode != 0
    with pytest.raises(RuleFileError):
        parse_rules(text)


def test_unreadable_file_and_unsupported_templates_are_reported(tmp_path):
    with pytest.raises(RuleFileError, match="cannot read the rule file"):
        load_rules(tmp_path / "missing.yml")
    path = tmp_path / "t.yml"
    path.write_text(
        A + "        expr: up\n        annotations: {s: '{{ range query \"up\" }}x{{ end }}'}\n"
    )
    (rule,) = load_rules(path).rules
    assert len(rule.notes) == 2
    assert "not supported" in rule.notes[0]


def _promtool_check(path):
    return subprocess.run(
        [tool("promtool"), "check", "rules", str(path)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
