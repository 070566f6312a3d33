"""Backtests: firings, detection delays, missed faults and false alarms, checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from alertdata import T0

from workbench import datasets
from workbench.alerts import parse_rules
from workbench.alerts.backtest import Fault, backtest, backtest_case
from workbench.sources import PrometheusSource

LOAD = """\
groups:
  - name: load
    interval: 1m
    rules:
      - alert: LoadHigh
        expr: wb_load > 5
        for: 2m
      - alert: Broken
        expr: wb_load + on() wb_load
"""

CARTS = """\
mancerops:
  groups:
    - name: carts
      interval: 15s
      rules:
        - alert: CartsCpuHigh
          threshold: {metric: cpu, service: carts, above: 50}
          for: 30s
        - alert: CartsCpuAnomaly
          anomaly: {metric: cpu, service: carts, above: 6, window: 30s, baseline: 2m}
        - alert: CatalogueCpuHigh
          threshold: {metric: cpu, service: catalogue, above: 50}
"""


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_prometheus_backtest_reports_firings_delays_and_false_alarms(history_prometheus):
    result = backtest(
        parse_rules(LOAD),
        T0,
        T0 + 30 * 60,
        prometheus=PrometheusSource(history_prometheus.url),
        faults=[Fault(T0 + 3 * 60, T0 + 5 * 60, "api overload"), Fault(T0 + 25 * 60)],
        grace=0,
    )
    high, broken = result.rules
    assert high.evaluations == 31
    # the same firings promtool agrees with (test_promtool_agreement): api fires at 4 and
    # 14 (resolved at 6 and 18), db at 6 (resolved at 10)
    assert [(f.labels["job"], f.start - T0, f.end - T0) for f in high.firings] == [
        ("api", 240, 360), ("db", 360, 600), ("api", 840, 1080),
    ]  # fmt: skip
    assert high.detections == [
        {"fault_start": iso(T0 + 180), "label": "api overload", "firing_start": iso(T0 + 240),
         "delay_s": 60.0}
    ]  # fmt: skip
    assert high.missed == [{"fault_start": iso(T0 + 1500), "label": ""}]
    assert [(f.labels["job"], f.start - T0) for f in high.false_alarms] == [
        ("db", 360),
        ("api", 840),
    ]
    assert broken.error is not None and "many-to-many matching not allowed" in broken.error


def test_rcd_case_backtest_delays_match_the_fault_start_by_hand():
    case = datasets.load("rcd-sockshop/carts-cpu/1")
    result = backtest_case(parse_rules(CARTS), case, grace=60)
    high, anomaly, catalogue = result.rules
    fault_start = datetime(2022, 5, 17, 18, 37, 55, tzinfo=UTC).timestamp()
    # The case runs from 18:33:03 (normal.csv shifted before the fault) to 18:42:36;
    # carts cpu is ~1.2 until 18:37:54 and ~100 from 18:37:55 (the first anomalous row).
    # Evaluations every 15 s from 18:33:03: 18:37:48 still sees 1.2, 18:38:03 sees 100
    # -> pending; `for: 30s` -> fires at 18:38:33, 38 s after the fault start.
    assert high.detections[0]["delay_s"] == 38.0
    assert [(f.start - fault_start, f.end) for f in high.firings] == [(38.0, None)]
    assert high.false_alarms == [] and high.missed == []
    # The anomaly rule (no `for`, direction up) needs the window's median to have moved
    # up (RobustDeviation's sign): at 18:38:03 only 9 of the 30 s window's 30 samples are
    # at ~100, at 18:38:18 24 are, so it fires then, 23 s after the fault start, and
    # resolves once the 2 m baseline holds the new level.
    assert anomaly.detections[0]["delay_s"] == 23.0
    # It also pages twice before the fault, e.g. when carts cpu steps from 1.28 to 1.94 at
    # 18:34:11, against a baseline of ~1.27 whose spread is the 1 % floor (0.013): ~50
    # robust sd. The first evaluation whose window holds the step is 18:34:18.
    first, second = anomaly.false_alarms
    assert first.start == datetime(2022, 5, 17, 18, 34, 18, tzinfo=UTC).timestamp()
    assert second.start < fault_start
    # catalogue never goes near 50 % cpu: the fault is missed, nothing fires
    assert catalogue.firings == [] and len(catalogue.missed) == 1
    assert result.to_dict()["case"] == "rcd-sockshop/carts-cpu/1"
