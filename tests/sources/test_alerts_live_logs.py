"""Log rules evaluated live on Elasticsearch/OpenSearch give what they give on the frames."""

from __future__ import annotations

import esdata

from workbench.alerts import Evaluator, FrameData, parse_rules
from workbench.sources import ElasticsearchSource

RULES = """\
mancerops:
  groups:
    - name: logs
      rules:
        - alert: NewTemplate
          log: {signal: new_template, window: 1m, baseline: 1m}
        - alert: ErrorSpike
          log: {signal: error_spike, above: 0, window: 1m, baseline: 1m}
"""


def test_a_live_pull_and_the_case_frame_give_the_same_alerts(search):
    logs = esdata.case_logs()
    start = logs["timestamp"].min().timestamp()
    rules = parse_rules(RULES)
    with ElasticsearchSource(search.url) as source:
        live = Evaluator(rules, logs_source=source, logs_index=esdata.ECS_PATTERN)
        for offset in (125.0, 150.0, 175.0):
            at = start + offset
            for rule in rules.rules:
                pulled = live.samples(rule, at)
                expected = Evaluator(rules, data=FrameData(logs=logs)).samples(rule, at)
                assert sorted(map(repr, pulled)) == sorted(map(repr, expected)), (rule.name, at)
    fired = [
        rule.name
        for rule in rules.rules
        for at in (start + 125.0, start + 150.0)
        if Evaluator(rules, data=FrameData(logs=logs)).samples(rule, at)
    ]
    assert fired, "the test window holds no log alert to compare"
