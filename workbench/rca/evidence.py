"""The evidence behind each ranked cause: its indicator's series, log templates and traces.

The ranking comes from metrics; the evidence joins the other modalities of the same
incident to it. Log signals compare the case's lines before the onset with those after
it (:func:`workbench.logs.log_signals`); trace signals compare its spans the same way
(:func:`workbench.traces.trace_signals`). Both are computed once per investigation and
then filtered per cause.

>>> found = IncidentEvidence.collect(investigation, logs=case.logs, spans=case.spans)
>>> found.for_cause(investigation.ranking[0]).log_signals
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import polars as pl

from workbench import frames
from workbench.logs.signals import SIGNAL_SCHEMA, log_signals
from workbench.rca.model import Cause, Investigation
from workbench.traces.signals import TraceSignal, trace_signals

# The last sample of the incident window belongs in it: log windows are [start, end).
_ONE_SECOND = timedelta(seconds=1)
# Traces shown per cause.
DEFAULT_TRACES = 5


@dataclass(frozen=True, slots=True)
class Evidence:
    """What shows that one cause is abnormal, in every modality the case holds."""

    cause: Cause
    series: pl.DataFrame
    log_signals: pl.DataFrame
    trace_signals: tuple[TraceSignal, ...]
    trace_ids: tuple[str, ...]
    has_logs: bool
    has_spans: bool


@dataclass(frozen=True, slots=True)
class IncidentEvidence:
    """Log and trace signals of one investigation, ready to be split per cause."""

    investigation: Investigation
    logs: pl.DataFrame
    spans: pl.DataFrame
    log_signals: pl.DataFrame
    trace_signals: tuple[TraceSignal, ...] = field(default=())

    @classmethod
    def collect(
        cls, investigation: Investigation, *, logs: object = None, spans: object = None
    ) -> IncidentEvidence:
        """Return the log and trace signals of ``investigation``'s incident.

        The baseline runs from the start of the investigation's baseline window to the
        onset, the incident from the onset to the end of its window.
        """
        logs = frames.validate(_or_empty(logs, frames.LOGS), frames.LOGS)
        spans = frames.validate(_or_empty(spans, frames.SPANS), frames.SPANS)
        onset = investigation.onset
        end = investigation.window.end + _ONE_SECOND
        start = min(investigation.baseline.start, _first(logs, "timestamp", onset))
        found_logs = (
            log_signals(logs, baseline=(start, onset), incident=(onset, end))
            if not logs.is_empty() and start < onset
            else pl.DataFrame(schema=SIGNAL_SCHEMA)
        )
        found_traces = tuple(trace_signals(spans, onset)) if not spans.is_empty() else ()
        return cls(investigation, logs, spans, found_logs, found_traces)

    def for_cause(self, cause: Cause) -> Evidence:
        """Return the evidence of ``cause``: its series and its service's log and trace signals.

        Its traces are those behind its trace signals; without any, the slowest traces
        through the service after the onset (failed ones first).
        """
        signals = tuple(s for s in self.trace_signals if s.service == cause.service)
        return Evidence(
            cause=cause,
            series=indicator_series(self.investigation, cause),
            log_signals=self.log_signals.filter(pl.col("service") == cause.service),
            trace_signals=signals,
            trace_ids=self._trace_ids(cause.service, signals),
            has_logs=not self.logs.is_empty(),
            has_spans=not self.spans.is_empty(),
        )

    def _trace_ids(self, service: str, signals: tuple[TraceSignal, ...]) -> tuple[str, ...]:
        behind = dict.fromkeys(t for signal in signals for t in signal.trace_ids)
        if behind or self.spans.is_empty():
            return tuple(behind)[:DEFAULT_TRACES]
        status = pl.col("status") if "status" in self.spans.columns else pl.lit("unset")
        slowest = (
            self.spans.filter(
                (pl.col("service") == service) & (pl.col("start") >= self.investigation.onset)
            )
            .group_by("trace_id")
            .agg((status == "error").any().alias("failed"), pl.col("duration_ms").max())
            .sort(["failed", "duration_ms", "trace_id"], descending=[True, True, False])
            .head(DEFAULT_TRACES)
        )
        return tuple(slowest["trace_id"])


def indicator_series(investigation: Investigation, cause: Cause) -> pl.DataFrame:
    """Return the samples of ``cause``'s metric: timestamp, value (mean per timestamp).

    A cause ranked from logs or traces has no metric of its own; its service's strongest
    metric indicator is charted instead (empty when the service has no metrics).
    """
    metric = cause.evidence.get("metric") or _strongest_metric(investigation, cause.service)
    return (
        investigation.metrics.filter(
            (pl.col("service") == cause.service) & (pl.col("metric") == metric)
        )
        .group_by("timestamp")
        .agg(pl.col("value").mean())
        .sort("timestamp")
    )


def charted_metric(investigation: Investigation, cause: Cause) -> str | None:
    """Return the metric :func:`indicator_series` charts for ``cause``."""
    return cause.evidence.get("metric") or _strongest_metric(investigation, cause.service)


def _strongest_metric(investigation: Investigation, service: str) -> str | None:
    signals = investigation.signals.filter(pl.col("service") == service)
    if "modality" in signals.columns:
        signals = signals.filter(pl.col("modality") == "metrics")
    if signals.is_empty():
        return None
    strongest = signals.sort("score", descending=True, nulls_last=True).row(0, named=True)
    if "metric" in strongest:
        return strongest["metric"]
    prefix = f"{service}_"  # metric indicators are named <service>_<metric>
    name = strongest["indicator"]
    return name[len(prefix) :] if name.startswith(prefix) else None


def _first(frame: pl.DataFrame, column: str, default):
    return frame[column].min() if not frame.is_empty() else default


def _or_empty(frame: object, kind: str) -> object:
    return frames.empty(kind) if frame is None else frame
