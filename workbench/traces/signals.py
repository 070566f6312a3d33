"""Trace signals for root-cause analysis: what changed in the calls between services.

Two estimators, fitted on a baseline window of spans and applied to an observed one:

* :class:`OperationBaseline` keeps per (service, operation) latency quantiles, median,
  MAD and error rate, and scores new spans against them.
* :class:`TraceSignals` keeps the same per caller -> callee edge and reports, for the
  observed spans, each **edge latency shift**, **error-rate jump** and **new edge**, with
  the trace ids that show it (the slowest, the failed, or those holding the new edge).

A high ``deviation`` means a large change: for latency, robust standard units
``(observed median - baseline median) / (1.4826 * baseline MAD)``; for errors, the rise of
the error rate in units of its binomial standard error; for a new edge, its call count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from workbench import frames, graph

# (start, end) of the observed window, UTC.
Window = tuple[datetime, datetime]

LATENCY_SHIFT = "edge latency shift"
ERROR_JUMP = "error-rate jump"
NEW_EDGE = "new edge"

DEFAULT_MIN_CALLS = 5
DEFAULT_LATENCY_DEVIATION = 3.0
DEFAULT_MIN_LATENCY_RATIO = 1.2
DEFAULT_ERROR_RATE_JUMP = 0.05
DEFAULT_ERROR_DEVIATION = 3.0
DEFAULT_MAX_TRACES = 5
# MAD -> standard deviation under normality; a floor keeps constant baselines finite.
MAD_SCALE = 1.4826
MIN_SCALE_MS = 0.1


@dataclass(frozen=True, slots=True)
class TraceSignal:
    """One change in the calls between two services, and the traces that show it."""

    kind: str
    caller: str
    callee: str
    baseline: float
    observed: float
    deviation: float
    calls: int
    window: Window | None
    trace_ids: tuple[str, ...]

    @property
    def service(self) -> str:
        """Return the service the signal points at: the callee."""
        return self.callee

    @property
    def indicator(self) -> str:
        """Return the indicator name used in rankings, e.g. ``trace:edge a->b p95``."""
        suffix = {LATENCY_SHIFT: "p95", ERROR_JUMP: "errors", NEW_EDGE: "new"}[self.kind]
        return f"trace:edge {self.caller}->{self.callee} {suffix}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "service": self.service,
            "indicator": self.indicator,
            "caller": self.caller,
            "callee": self.callee,
            "baseline": self.baseline,
            "observed": self.observed,
            "deviation": self.deviation,
            "calls": self.calls,
            "window": (
                {"start": _iso(self.window[0]), "end": _iso(self.window[1])}
                if self.window
                else None
            ),
            "trace_ids": list(self.trace_ids),
        }


def _robust(keys: list[str]) -> list[pl.Expr]:
    duration = pl.col("duration_ms")
    return [
        pl.len().alias("calls"),
        pl.col("error").sum().cast(pl.Int64).alias("errors"),
        pl.col("error").mean().alias("error_rate"),
        duration.median().alias("median_ms"),
        (duration - duration.median()).abs().median().alias("mad_ms"),
        duration.quantile(0.5, interpolation="linear").alias("p50_ms"),
        duration.quantile(0.95, interpolation="linear").alias("p95_ms"),
        duration.quantile(0.99, interpolation="linear").alias("p99_ms"),
    ]


def _latency_deviation(prefix: str = "") -> pl.Expr:
    scale = pl.max_horizontal(pl.col(f"{prefix}mad_ms") * MAD_SCALE, pl.lit(MIN_SCALE_MS))
    return (pl.col("median_ms") - pl.col(f"{prefix}median_ms")) / scale


def _error_deviation(prefix: str = "") -> pl.Expr:
    rate = pl.col(f"{prefix}error_rate")
    # The binomial standard error of the baseline rate at the observed call count; a
    # half-call floor keeps a zero baseline from giving an infinite deviation.
    floor = 0.5 / pl.col("calls")
    spread = (
        pl.max_horizontal(rate, floor) * (1 - rate.clip(upper_bound=0.999)) / pl.col("calls")
    ).sqrt()
    return (pl.col("error_rate") - rate) / spread


class OperationBaseline:
    """Per (service, operation) latency and error baseline of a window of spans.

    ``fit(spans)`` learns ``baseline_`` (service, operation, calls, errors, error_rate,
    median_ms, mad_ms, p50_ms, p95_ms, p99_ms); ``score(spans)`` returns the observed
    numbers beside the baseline with ``latency_deviation`` and ``error_deviation`` (high
    means slower, or failing more, than usual).
    """

    def __init__(self, *, min_calls: int = DEFAULT_MIN_CALLS) -> None:
        self.min_calls = min_calls

    def fit(self, spans: Any) -> OperationBaseline:
        self.baseline_ = _by_operation(spans)
        return self

    def score(self, spans: Any) -> pl.DataFrame:
        observed = _by_operation(spans)
        base = self.baseline_.rename({c: f"base_{c}" for c in self.baseline_.columns[2:]})
        return (
            observed.join(base, on=["service", "operation"], how="left")
            .with_columns(
                _latency_deviation("base_").alias("latency_deviation"),
                _error_deviation("base_").alias("error_deviation"),
                pl.col("base_calls").is_null().alias("new"),
            )
            .sort("latency_deviation", descending=True, nulls_last=True)
        )


def _by_operation(spans: Any) -> pl.DataFrame:
    frame = frames.validate(spans, frames.SPANS)
    status = pl.col("status") if "status" in frame.columns else pl.lit("unset")
    keys = ["service", "operation"]
    return (
        frame.with_columns((status == "error").alias("error"))
        .group_by(keys)
        .agg(_robust(keys))
        .sort(keys)
    )


class TraceSignals:
    """Edge signals between a baseline and an observed window of spans.

    ``fit(spans)`` learns ``baseline_`` per caller -> callee edge; ``detect(spans)``
    returns the signals of the observed spans, strongest first.
    """

    def __init__(
        self,
        *,
        min_calls: int = DEFAULT_MIN_CALLS,
        latency_deviation: float = DEFAULT_LATENCY_DEVIATION,
        min_latency_ratio: float = DEFAULT_MIN_LATENCY_RATIO,
        error_rate_jump: float = DEFAULT_ERROR_RATE_JUMP,
        error_deviation: float = DEFAULT_ERROR_DEVIATION,
        max_traces: int = DEFAULT_MAX_TRACES,
    ) -> None:
        self.min_calls = min_calls
        self.latency_deviation = latency_deviation
        self.min_latency_ratio = min_latency_ratio
        self.error_rate_jump = error_rate_jump
        self.error_deviation = error_deviation
        self.max_traces = max_traces

    def fit(self, spans: Any) -> TraceSignals:
        keys = ["caller", "callee"]
        self.baseline_ = graph.calls(spans).group_by(keys).agg(_robust(keys)).sort(keys)
        return self

    def detect(self, spans: Any, window: Window | None = None) -> list[TraceSignal]:
        keys = ["caller", "callee"]
        found = graph.calls(spans)
        if window is None and found.height:
            window = (found["start"].min(), found["start"].max())
        observed = found.group_by(keys).agg(_robust(keys))
        base = self.baseline_.rename({c: f"base_{c}" for c in self.baseline_.columns[2:]})
        table = observed.join(base, on=keys, how="left").with_columns(
            _latency_deviation("base_").alias("latency_dev"),
            _error_deviation("base_").alias("error_dev"),
        )
        signals: list[TraceSignal] = []
        # One row per edge (tens), each with a look-up of its traces: no per-span loop.
        for row in table.iter_rows(named=True):
            edge = found.filter(
                (pl.col("caller") == row["caller"]) & (pl.col("callee") == row["callee"])
            )
            if row["base_calls"] is None:
                signals.append(
                    self._signal(
                        NEW_EDGE, row, 0.0, float(row["calls"]), row["calls"], window, edge
                    )
                )
                continue
            if row["calls"] < self.min_calls or row["base_calls"] < self.min_calls:
                continue
            slower = row["median_ms"] >= self.min_latency_ratio * row["base_median_ms"]
            if row["latency_dev"] >= self.latency_deviation and slower:
                slowest = edge.sort("duration_ms", descending=True)
                signals.append(
                    self._signal(
                        LATENCY_SHIFT,
                        row,
                        row["base_p95_ms"],
                        row["p95_ms"],
                        row["latency_dev"],
                        window,
                        slowest,
                    )
                )
            jump = row["error_rate"] - row["base_error_rate"]
            if jump >= self.error_rate_jump and row["error_dev"] >= self.error_deviation:
                failed = edge.filter(pl.col("error")).sort("start")
                signals.append(
                    self._signal(
                        ERROR_JUMP,
                        row,
                        row["base_error_rate"],
                        row["error_rate"],
                        row["error_dev"],
                        window,
                        failed,
                    )
                )
        return sorted(signals, key=lambda s: (-s.deviation, s.kind, s.caller, s.callee))

    def _signal(
        self,
        kind: str,
        row: dict,
        baseline: float,
        observed: float,
        deviation: float,
        window: Window | None,
        evidence: pl.DataFrame,
    ) -> TraceSignal:
        trace_ids = evidence["trace_id"].unique(maintain_order=True).head(self.max_traces)
        return TraceSignal(
            kind=kind,
            caller=row["caller"],
            callee=row["callee"],
            baseline=float(baseline),
            observed=float(observed),
            deviation=float(deviation),
            calls=int(row["calls"]),
            window=window,
            trace_ids=tuple(trace_ids),
        )


def trace_signals(spans: Any, onset: datetime, **settings: Any) -> list[TraceSignal]:
    """Return the signals of spans from ``onset`` on against the spans before it."""
    frame = frames.validate(spans, frames.SPANS)
    before = frame.filter(pl.col("start") < onset)
    after = frame.filter(pl.col("start") >= onset)
    window = (onset, after["start"].max()) if after.height else None
    return TraceSignals(**settings).fit(before).detect(after, window)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
