"""Our own rule kinds, evaluated on frames at one evaluation time.

Each returns the rule's *vector* at ``at``: one (labels, value) per series, service or
edge whose condition holds, as a PromQL alerting expression would. The state machine
does the rest (``for``, ``keep_firing_for``, one alert per label set).

* ``threshold``: the latest sample of each matching series within ``[at - lookback, at]``
  (5 m, Prometheus 2's lookback, both ends included) is above or below a value.
* ``anomaly``: :class:`~workbench.detect.RobustDeviation` fitted on the ``baseline``
  window before the last ``window``, scoring that window (robust standard units).
* ``log``: :func:`~workbench.logs.signals.log_signals` of the last ``window`` against the
  ``baseline`` before it, once the logs cover the whole baseline; ``new_template`` fires
  on any new template, ``template_rate`` and ``error_spike`` on a Poisson deviation above
  ``above``.
* ``trace``: caller -> callee calls of the last ``window`` (``workbench.graph.calls``);
  ``edge_p95`` is their p95 latency in ms, ``error_ratio`` their share of errors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from workbench import frames
from workbench.alerts.machine import Sample
from workbench.alerts.rules import ANOMALY, LOG, THRESHOLD, TRACE, Rule, parse_duration
from workbench.detect import RobustDeviation
from workbench.errors import UsageError

DEFAULT_LOOKBACK = "5m"
DEFAULT_WINDOW = "1m"
DEFAULT_BASELINE = "30m"
DEFAULT_MIN_CALLS = 1
LIVE_STEP_S = 15.0  # step of the metrics pulled for our kinds in a live run
_LOG_KINDS = {
    "new_template": "new template",
    "template_rate": "rate shift",
    "error_spike": "error spike",
}


class FrameData:
    """The frames our rule kinds read (metrics, logs, spans), validated once."""

    def __init__(
        self,
        metrics: Any = None,
        logs: Any = None,
        spans: Any = None,
        *,
        logs_from: datetime | None = None,
    ) -> None:
        self.metrics = (
            None if metrics is None else _with_labels(frames.validate(metrics, "metrics"))
        )
        self.logs = None if logs is None else frames.validate(logs, "logs")
        self.spans = None if spans is None else frames.validate(spans, "spans")
        # Where the logs are known to start: a pull's start, else the first line.
        self.logs_from = logs_from
        if logs_from is None and self.logs is not None and self.logs.height:
            self.logs_from = self.logs["timestamp"].min()

    def needs(self, kind: str) -> pl.DataFrame:
        frame = {THRESHOLD: self.metrics, ANOMALY: self.metrics, LOG: self.logs, TRACE: self.spans}[
            kind
        ]
        if frame is None:
            what = {THRESHOLD: "metrics", ANOMALY: "metrics", LOG: "logs", TRACE: "spans"}[kind]
            raise UsageError(f"a {kind} rule needs a {what} frame; none was given")
        return frame


def pull_metrics(source: Any, rule: Rule, at: float, step: float = LIVE_STEP_S) -> FrameData:
    """Return the metrics a threshold or anomaly rule needs at ``at``, pulled from Prometheus.

    The rule's ``metric`` is read as a Prometheus metric name (``service`` from the
    source's service labels), over the span the rule looks at, every ``step`` seconds.
    """
    spec = rule.spec
    if rule.kind == THRESHOLD:
        span = parse_duration(spec.get("lookback", DEFAULT_LOOKBACK))
    else:
        span = parse_duration(spec.get("window", DEFAULT_WINDOW)) + parse_duration(
            spec.get("baseline", DEFAULT_BASELINE)
        )
    name = str(spec["metric"]).replace("\\", "\\\\").replace('"', '\\"')
    pulled = source.query_range(f'{{__name__="{name}"}}', at - span, at, step)
    return FrameData(metrics=pulled)


def pull_logs(source: Any, index: str, rule: Rule, at: float) -> FrameData:
    """Return the logs a log rule needs at ``at``, pulled from Elasticsearch or OpenSearch."""
    span = parse_duration(rule.spec.get("window", DEFAULT_WINDOW)) + parse_duration(
        rule.spec.get("baseline", DEFAULT_BASELINE)
    )
    start = _moment(at - span)
    return FrameData(logs=source.logs(index, start, _moment(at)), logs_from=start)


def vector(rule: Rule, data: FrameData, at: float) -> list[Sample]:
    """Return the samples of ``rule`` at epoch second ``at``."""
    frame = data.needs(rule.kind)
    if rule.kind == THRESHOLD:
        return _threshold(rule.spec, frame, at)
    if rule.kind == ANOMALY:
        return _anomaly(rule.spec, frame, at)
    if rule.kind == LOG:
        return _log(rule.spec, frame, at, data.logs_from)
    return _trace(rule.spec, frame, at)


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _with_labels(metrics: pl.DataFrame) -> pl.DataFrame:
    """Add ``label_json``: each row's label set (service, metric, labels) as JSON text."""
    if "labels" in metrics.columns and metrics.schema["labels"] == pl.String:
        extra = pl.col("labels").fill_null("{}")
    elif "labels" in metrics.columns:
        extra = pl.col("labels").struct.json_encode()
    else:
        extra = pl.lit("{}")
    return metrics.with_columns(extra.alias("label_json"))


def selected(spec: Mapping[str, Any], metrics: pl.DataFrame) -> pl.DataFrame:
    """Return the rows of ``metrics`` a threshold or anomaly rule looks at."""
    chosen = metrics.filter(pl.col("metric") == spec["metric"])
    if "service" in spec:
        chosen = chosen.filter(pl.col("service") == spec["service"])
    return chosen


def _labels(service: str, metric: str, label_json: str, wanted: Mapping[str, str]) -> dict | None:
    labels = {k: str(v) for k, v in json.loads(label_json or "{}").items() if v is not None}
    labels = {**labels, "service": service, "metric": metric}
    if any(labels.get(k) != str(v) for k, v in wanted.items()):
        return None
    return {k: v for k, v in labels.items() if v != ""}


def _threshold(spec: Mapping[str, Any], metrics: pl.DataFrame, at: float) -> list[Sample]:
    lookback = parse_duration(spec.get("lookback", DEFAULT_LOOKBACK))
    start, end = _moment(at - lookback), _moment(at)
    latest = (
        selected(spec, metrics)
        .filter((pl.col("timestamp") >= start) & (pl.col("timestamp") <= end))
        .sort("timestamp")
        .group_by("service", "metric", "label_json", maintain_order=True)
        .agg(pl.col("value").last())
    )
    value = pl.col("value")
    holds = value > spec["above"] if "above" in spec else value < spec["below"]
    out = []
    for service, metric, label_json, number in latest.filter(holds).iter_rows():
        labels = _labels(service, metric, label_json, spec.get("labels", {}))
        if labels is not None:
            out.append((labels, float(number)))
    return out


def _anomaly(spec: Mapping[str, Any], metrics: pl.DataFrame, at: float) -> list[Sample]:
    window = parse_duration(spec.get("window", DEFAULT_WINDOW))
    baseline = parse_duration(spec.get("baseline", DEFAULT_BASELINE))
    cut, end, start = _moment(at - window), _moment(at), _moment(at - window - baseline)
    chosen = selected(spec, metrics).filter(
        (pl.col("timestamp") > start) & (pl.col("timestamp") <= end)
    )
    direction = spec.get("direction", "up")
    out = []
    # One fit per series: a handful of series per rule, each fit is columnar numpy.
    for (service, metric, label_json), series in chosen.group_by(
        "service", "metric", "label_json", maintain_order=True
    ):
        labels = _labels(service, metric, label_json, spec.get("labels", {}))
        if labels is None:
            continue
        before = series.filter(pl.col("timestamp") <= cut)["value"].to_numpy()
        recent = series.filter(pl.col("timestamp") > cut)["value"].to_numpy()
        before, recent = before[np.isfinite(before)], recent[np.isfinite(recent)]
        if len(before) < 3 or len(recent) < 1:
            continue
        score = float(RobustDeviation().fit(before[:, None]).score(recent[:, None])[0])
        hit = {
            "up": score > spec["above"],
            "down": -score > spec["above"],
            "both": abs(score) > spec["above"],
        }[direction]
        if hit:
            out.append((labels, score))
    return out


def _log(
    spec: Mapping[str, Any], logs: pl.DataFrame, at: float, logs_from: datetime | None
) -> list[Sample]:
    from workbench.logs.signals import log_signals

    window = parse_duration(spec.get("window", DEFAULT_WINDOW))
    baseline = parse_duration(spec.get("baseline", DEFAULT_BASELINE))
    end, cut = _moment(at), _moment(at - window)
    if logs_from is None or logs_from > _moment(at - window - baseline):
        # Until the logs cover the whole baseline, every template would look new.
        return []
    chosen = logs if "service" not in spec else logs.filter(pl.col("service") == spec["service"])
    chosen = chosen.filter(
        (pl.col("timestamp") >= _moment(at - window - baseline)) & (pl.col("timestamp") < end)
    )
    if chosen.is_empty():
        return []
    found = log_signals(
        chosen,
        baseline=(_moment(at - window - baseline), cut),
        incident=(cut, end),
        min_deviation=float(spec.get("above", 0.0)),
    ).filter(pl.col("kind") == _LOG_KINDS[spec["signal"]])
    if spec["signal"] == "new_template":
        value = pl.col("observed_count").cast(pl.Float64)
        found = found.filter(value > spec.get("above", 0))
    else:
        value = pl.col("deviation")
        found = found.filter(value > spec["above"])
    out = []
    for service, template, number in found.select("service", "template", value).iter_rows():
        labels = {"service": service, "template": template}
        out.append(({k: v for k, v in labels.items() if v}, float(number)))
    return out


def _trace(spec: Mapping[str, Any], spans: pl.DataFrame, at: float) -> list[Sample]:
    from workbench.graph import calls

    window = parse_duration(spec.get("window", DEFAULT_WINDOW))
    chosen = calls(
        spans.filter((pl.col("start") > _moment(at - window)) & (pl.col("start") <= _moment(at)))
    )
    for end in ("caller", "callee"):
        if end in spec:
            chosen = chosen.filter(pl.col(end) == spec[end])
    if spec["signal"] == "edge_p95":
        measure = pl.col("duration_ms").quantile(0.95, interpolation="linear")
    else:
        measure = pl.col("error").cast(pl.Float64).mean()
    edges = (
        chosen.group_by("caller", "callee")
        .agg(measure.alias("value"), pl.len().alias("calls"))
        .filter(pl.col("calls") >= spec.get("min_calls", DEFAULT_MIN_CALLS))
        .filter(pl.col("value") > spec["above"])
        .sort("caller", "callee")
    )
    return [
        ({"caller": caller, "callee": callee}, float(value))
        for caller, callee, value in edges.select("caller", "callee", "value").iter_rows()
    ]
