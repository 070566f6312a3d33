"""Our rule kinds on frames: threshold, anomaly, log and trace rules, values by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from workbench.alerts import parse_rules
from workbench.alerts.frame_rules import FrameData, vector
from workbench.errors import UsageError

T = datetime(2024, 1, 1, tzinfo=UTC)


def own(kind_yaml: str):
    (rule,) = parse_rules(
        f"mancerops:\n  groups:\n    - name: g\n      rules:\n        - alert: A\n"
        f"          {kind_yaml}\n"
    ).rules
    return rule


def metrics(values: dict[tuple[str, str], list[float]], shard: str = "x") -> pl.DataFrame:
    rows = [
        {"timestamp": T + timedelta(seconds=10 * i), "service": service, "metric": metric,
         "value": float(v), "labels": {"shard": shard}}
        for (service, metric), series in values.items()
        for i, v in enumerate(series)
    ]  # fmt: skip
    return pl.DataFrame(rows)


def at(seconds: float) -> float:
    return T.timestamp() + seconds


def test_threshold_takes_the_latest_sample_within_the_lookback():
    data = FrameData(metrics=metrics({("carts", "cpu"): [1, 1, 95, 97, 2], ("user", "cpu"): [99]}))
    rule = own("threshold: {metric: cpu, above: 90, lookback: 30s}")
    # at 30 s the latest samples are carts 97 (t=30) and user 99 (t=0: 30 s old, and
    # Prometheus 2 includes the start of its lookback)
    assert vector(rule, data, at(30)) == [
        ({"shard": "x", "service": "carts", "metric": "cpu"}, 97.0),
        ({"shard": "x", "service": "user", "metric": "cpu"}, 99.0),
    ]
    # at 40 s carts is back to 2 and user's sample is 40 s old: outside the lookback
    assert vector(rule, data, at(40)) == []
    only_user = own("threshold: {metric: cpu, service: user, below: 100}")
    assert [labels["service"] for labels, _ in vector(only_user, data, at(30))] == ["user"]


def test_anomaly_scores_the_window_against_the_baseline_in_robust_units():
    # baseline 10, 12, 10, 12, 10, 12: median 11; spread the larger of MAD 1 * 1.4826 and
    # IQR 2 / 1.349 = 1.48258, so 1.4826; then 20, 20
    series = [10, 12, 10, 12, 10, 12, 20, 20]
    data = FrameData(metrics=metrics({("carts", "cpu"): series}))
    rule = own("anomaly: {metric: cpu, above: 6, window: 20s, baseline: 60s}")
    ((labels, score),) = vector(rule, data, at(70))
    assert labels["service"] == "carts"
    assert score == pytest.approx((20 - 11) / 1.4826)  # 6.0704 robust sd
    assert vector(own("anomaly: {metric: cpu, above: 6.1, window: 20s, baseline: 60s}"),
                  data, at(70)) == []  # fmt: skip


def test_log_error_spike_and_new_template():
    base = [
        {
            "timestamp": T + timedelta(seconds=60 * i),
            "service": "carts",
            "message": "payment failed for order",
            "level": "error",
        }
        for i in (1, 5)
    ]
    base += [
        {
            "timestamp": T + timedelta(seconds=30 * i),
            "service": "carts",
            "message": "request served",
            "level": "info",
        }
        for i in range(20)
    ]
    burst = [
        {
            "timestamp": T + timedelta(seconds=600 + 2 * i),
            "service": "carts",
            "message": "payment failed for order",
            "level": "error",
        }
        for i in range(20)
    ]
    burst.append({"timestamp": T + timedelta(seconds=620), "service": "carts",
                  "message": "disk quota exceeded", "level": "warn"})  # fmt: skip
    data = FrameData(logs=pl.DataFrame(base + burst))
    spike = own("log: {signal: error_spike, above: 10, window: 1m, baseline: 10m}")
    ((labels, value),) = vector(spike, data, at(660))
    # baseline 2 errors in 10 m -> 0.2 expected in 1 m; observed 20: (20 - 0.2) / sqrt(1.2)
    assert value == pytest.approx((20 - 0.2) / 1.2**0.5)
    assert labels["service"] == "carts"
    new = own("log: {signal: new_template, window: 1m, baseline: 10m}")
    ((labels, value),) = vector(new, data, at(660))
    assert (labels["template"], value) == ("disk quota exceeded", 1.0)
    # before the logs cover the 10 m baseline (they start at T), nothing is new yet
    assert vector(new, data, at(600)) == []
    assert vector(spike, data, at(659)) == []


def test_trace_edge_p95_and_error_ratio():
    spans = [
        {
            "trace_id": "t1",
            "span_id": "root",
            "parent_span_id": "",
            "service": "front-end",
            "operation": "GET /cart",
            "start": T,
            "duration_ms": 200.0,
            "status": "ok",
        }
    ]
    for i in range(10):
        spans.append(
            {
                "trace_id": "t1",
                "span_id": f"c{i}",
                "parent_span_id": "root",
                "service": "carts",
                "operation": "get",
                "start": T + timedelta(seconds=i),
                "duration_ms": 10.0 * (i + 1),
                "status": "error" if i < 3 else "ok",
            }
        )
    data = FrameData(spans=pl.DataFrame(spans))  # fmt: skip
    p95 = own("trace: {signal: edge_p95, caller: front-end, callee: carts, above: 90, window: 1m}")
    # durations 10..100: linear p95 at rank 0.95 * 9 = 8.55 -> 90 + 0.55 * 10
    ((labels, value),) = vector(p95, data, at(30))
    assert (labels, value) == ({"caller": "front-end", "callee": "carts"}, pytest.approx(95.5))
    errors = own("trace: {signal: error_ratio, above: 0.25, window: 1m}")
    assert vector(errors, data, at(30)) == [({"caller": "front-end", "callee": "carts"}, 0.3)]


def test_a_rule_without_its_frame_is_a_clear_error():
    rule = own("trace: {signal: error_ratio, above: 0.25}")
    with pytest.raises(UsageError, match="a trace rule needs a spans frame"):
        vector(rule, FrameData(), at(0))
