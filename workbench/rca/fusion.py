"""Rank services from metrics, logs and traces together: the multimodal ranking.

Each modality gives every service a score, in comparable units for the two that count
requests (logs and traces: e-folds, natural-log ratios of observed to expected):

* **logs**: the largest ``|fold|`` of the service's log statements per request of the
  operation that wrote them (:func:`workbench.logs.statements.statement_shifts`);
* **traces**: the larger of two medians over the calls *into* the service
  (:func:`workbench.traces.hops.hop_shifts`): the hop gap fold (time the callers waited
  beyond what the service measured: network, queues) and the fold of the service's own
  latency once what its own callees explain is taken off (its *exclusive* slowdown:
  a caller slowed only because its callee is slow keeps nothing of it);
* **metrics**: :class:`~workbench.rca.ranking.MetricRanker`'s robust deviation of the
  service's worst indicator.

The fused score is ``max(logs, traces) + metric_weight * metrics / max(metrics)``: the
request-level evidence ranks, and metrics (sampled per pod once a minute on Nezha, where
alone they rank at chance level) order the services it leaves tied. When the data holds
no logs and no spans (or those modalities are not chosen), the ranking is the metric
ranking itself, scores included, so a metrics-only case ranks exactly as with
``MetricRanker``.

Windows: the onset is the given one or the one the metric ranker detects. The baseline
of logs and spans is the case's reference (a fault-free stretch recorded apart, when the
dataset has one) plus the rows before the onset; the observed window is the rows from
the onset on.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any

import polars as pl

from workbench import frames
from workbench.case import Case
from workbench.errors import UsageError
from workbench.logs.statements import (
    DEFAULT_MIN_LINES,
    DEFAULT_Z,
    PROBLEM_LEVELS,
    statement_shifts,
)
from workbench.rca.model import Cause, Investigation, Window, iso
from workbench.rca.ranking import MetricRanker
from workbench.traces.hops import DEFAULT_FLOOR_MS, hop_shifts

log = logging.getLogger(__name__)

METHOD_NAME = "mancerops-fusion"
METHOD_VERSION = "0.1"
MODALITIES = ("metrics", "logs", "traces")
DEFAULT_METRIC_WEIGHT = 0.01
DEFAULT_EVIDENCE_ROWS = 3
# Share of a statement shift taken off when a callee of its operation shifts as much.
DEFAULT_CALLEE_EXPLAINS = 1.0
# Weight of an ordinary (not warn/error) statement that runs more often per request.
DEFAULT_ORDINARY_RISE_WEIGHT = 1.0


class FusionRanker:
    """Rank services by their log, trace and metric evidence together.

    Parameters
    ----------
    modalities:
        Which of ``metrics``, ``logs``, ``traces`` to use (the ablation switch).
    metric_ranker:
        Finds the onset and scores the metrics.
    min_lines:
        Fewest log lines (expected or observed) for a statement to count.
    floor_ms:
        Milliseconds added to both sides of a latency or gap fold.
    metric_weight:
        Weight of the normalised metric score beside the log and trace evidence.
    log_z:
        Standard errors a statement fold is shrunk by (few lines weigh less).
    callee_explains:
        Share of a statement shift taken off when an operation it calls (any depth, in
        another service) shifts as much: the change is the callee's, seen upstream.
    ordinary_rise_weight:
        Weight of an info/debug statement that runs more often per request than before.
        A fault skips code (a statement falls silent) or makes it fail (a warn/error
        statement starts); an ordinary statement running more often is a branch the
        workload took (0: such rows stay in the signals but do not score). On Nezha 0
        gains a case with the true onset and loses one with the detected onset, so the
        default (1) leaves them as they are.
    """

    def __init__(
        self,
        *,
        modalities: tuple[str, ...] | list[str] = MODALITIES,
        metric_ranker: MetricRanker | None = None,
        min_lines: int = DEFAULT_MIN_LINES,
        floor_ms: float = DEFAULT_FLOOR_MS,
        metric_weight: float = DEFAULT_METRIC_WEIGHT,
        log_z: float = DEFAULT_Z,
        callee_explains: float = DEFAULT_CALLEE_EXPLAINS,
        ordinary_rise_weight: float = DEFAULT_ORDINARY_RISE_WEIGHT,
    ) -> None:
        unknown = sorted(set(modalities) - set(MODALITIES))
        if unknown or not modalities:
            raise UsageError(
                f"unknown modality {', '.join(unknown) or '(none given)'}; "
                f"choose among {', '.join(MODALITIES)}"
            )
        self.modalities = tuple(m for m in MODALITIES if m in modalities)
        self.metric_ranker = metric_ranker if metric_ranker is not None else MetricRanker()
        self.min_lines = min_lines
        self.floor_ms = floor_ms
        self.metric_weight = metric_weight
        self.log_z = log_z
        self.callee_explains = callee_explains
        self.ordinary_rise_weight = ordinary_rise_weight

    @property
    def method(self) -> str:
        chosen = "" if self.modalities == MODALITIES else f" [{','.join(self.modalities)}]"
        return f"{METHOD_NAME} {METHOD_VERSION}{chosen}"

    def rank(self, case: Case, onset: datetime | None = None) -> Investigation:
        """Return the investigation of ``case``: onset, fused causes and per-modality signals."""
        use_logs = "logs" in self.modalities and not case.logs.is_empty()
        use_traces = "traces" in self.modalities and not case.spans.is_empty()
        metric_inv = self._metric_investigation(case, onset)
        if not (use_logs or use_traces):
            if metric_inv is None:
                raise UsageError(
                    f"{case.name} has no data for the chosen modalities "
                    f"({', '.join(self.modalities)}); nothing to rank"
                )
            return metric_inv
        if onset is None:
            if metric_inv is None:
                why = (
                    "has no metrics"
                    if case.metrics.is_empty()
                    else "has metrics the onset cannot be found in (see the warning above)"
                )
                raise UsageError(
                    f"{case.name} {why}, so the onset cannot be detected from them; "
                    "give one (--onset, or --given-onset in an evaluation)"
                )
            onset = metric_inv.onset
        reference = case.reference
        logs_base = logs_seen = None
        spans_base, spans_seen = _split(case.spans, "start", onset, reference, "spans")
        if use_logs:
            logs_base, logs_seen = _split(case.logs, "timestamp", onset, reference, "logs")
        scores: dict[str, dict[str, float]] = {}
        evidence: dict[str, dict[str, dict[str, Any]]] = {}
        signal_rows: list[dict[str, Any]] = []
        if use_logs:
            shifts = statement_shifts(
                logs_base,
                logs_seen,
                spans_base,
                spans_seen,
                min_lines=self.min_lines,
                z=self.log_z,
            )
            shifts = _explained_by_callees(shifts, spans_base, spans_seen, self.callee_explains)
            shifts = _weigh_ordinary_rises(shifts, self.ordinary_rise_weight)
            _log_evidence(shifts, scores, evidence, signal_rows)
        if use_traces:
            hops = hop_shifts(spans_base, spans_seen, floor_ms=self.floor_ms)
            _trace_evidence(hops, self.floor_ms, scores, evidence, signal_rows)
        if metric_inv is not None:
            _metric_evidence(metric_inv, scores, evidence, signal_rows)
        window_start = onset
        window_end = max(
            [f[c].max() for f, c in ((case.logs, "timestamp"), (case.spans, "start")) if f.height]
            + ([metric_inv.window.end] if metric_inv is not None else [])
        )
        baseline = metric_inv.baseline if metric_inv is not None else Window(onset, onset)
        window = Window(window_start, window_end)
        ranking = self._causes(scores, evidence, window, baseline)
        signals = pl.DataFrame(
            signal_rows,
            schema={
                "service": pl.String,
                "modality": pl.String,
                "indicator": pl.String,
                "deviation": pl.Float64,
                "baseline": pl.Float64,
                "observed": pl.Float64,
                "score": pl.Float64,
            },
        ).sort(["score", "service", "indicator"], descending=[True, False, False])
        return Investigation(
            onset=onset,
            onset_detected=metric_inv is not None and metric_inv.onset_detected,
            ranking=ranking,
            signals=signals,
            metrics=case.metrics,
            baseline=baseline,
            window=window,
            case=case.name,
            method=self.method,
            extras={"modalities": list(self.modalities), "reference": reference is not None},
        )

    def _metric_investigation(self, case: Case, onset: datetime | None) -> Investigation | None:
        if case.metrics.is_empty():
            return None
        if "metrics" not in self.modalities and onset is not None:
            return None
        try:
            found = self.metric_ranker.rank(case.metrics, onset, case=case.name)
        except UsageError as error:
            if case.logs.is_empty() and case.spans.is_empty():
                raise
            log.warning("%s: metrics not ranked (%s); using logs and traces", case.name, error)
            return None
        if "metrics" not in self.modalities:
            # Used only for its onset: no metric evidence enters the ranking.
            return Investigation(
                onset=found.onset,
                onset_detected=found.onset_detected,
                ranking=(),
                signals=found.signals.clear(),
                metrics=found.metrics,
                baseline=found.baseline,
                window=found.window,
                case=found.case,
                method=found.method,
            )
        return found

    def _causes(
        self,
        scores: dict[str, dict[str, float]],
        evidence: dict[str, dict[str, dict[str, Any]]],
        window: Window,
        baseline: Window,
    ) -> tuple[Cause, ...]:
        top_metric = max((s.get("metrics", 0.0) for s in scores.values()), default=0.0)
        fused = {}
        for service, by_modality in scores.items():
            request_level = max(by_modality.get("logs", 0.0), by_modality.get("traces", 0.0))
            metric = by_modality.get("metrics", 0.0)
            share = metric / top_metric if top_metric > 0 else 0.0
            fused[service] = request_level + self.metric_weight * share
        order = sorted(fused, key=lambda s: (-fused[s], s))
        causes = []
        for rank, service in enumerate(order, 1):
            found = evidence.get(service, {})
            by_modality = scores[service]
            strongest = max(
                found,
                key=lambda m: (
                    by_modality.get(m, 0.0) if m != "metrics" else -1.0,
                    m == "traces",
                ),
            )
            main = found[strongest]
            causes.append(
                Cause(
                    rank=rank,
                    service=service,
                    indicator=main["indicator"],
                    score=float(fused[service]),
                    evidence={
                        "kind": main["kind"],
                        "metric": main.get("metric"),
                        "baseline": main["baseline"],
                        "observed": main["observed"],
                        "deviation": main["deviation"],
                        "window": window.to_dict(),
                        "baseline_window": baseline.to_dict(),
                        "scores": {m: by_modality[m] for m in sorted(by_modality)},
                        "modalities": {m: found[m] for m in sorted(found)},
                    },
                    onset=None,
                )
            )
        return tuple(causes)


MAX_DEPTH = 30


def operation_callees(spans: pl.DataFrame, callees: pl.DataFrame | None = None) -> pl.DataFrame:
    """Return the unique (service, operation) -> (callee, callee_operation) pairs.

    A pair means a span of ``callee`` ran, in the same trace, below a span of
    ``operation`` of ``service`` (at any depth), with ``callee`` another service.
    ``callees`` (columns service, operation) restricts the callee side to those.
    """
    frame = spans.select("trace_id", "span_id", "parent_span_id", "service", "operation")
    nodes = frame.select(
        "trace_id",
        pl.col("span_id").alias("_anc"),
        pl.col("parent_span_id").alias("_next"),
        pl.col("service").alias("_s"),
        pl.col("operation").alias("_o"),
    ).unique(["trace_id", "_anc"])
    start = frame if callees is None else frame.join(callees, on=["service", "operation"])
    frontier = start.select(
        "trace_id",
        pl.col("service").alias("callee"),
        pl.col("operation").alias("callee_operation"),
        pl.col("parent_span_id").alias("_anc"),
    ).unique()
    found = []
    for _ in range(MAX_DEPTH):
        step = frontier.filter(pl.col("_anc") != "").join(nodes, on=["trace_id", "_anc"])
        if step.is_empty():
            break
        found.append(
            step.filter(pl.col("_s") != pl.col("callee")).select(
                pl.col("_s").alias("service"),
                pl.col("_o").alias("operation"),
                "callee",
                "callee_operation",
            )
        )
        frontier = step.select(
            "trace_id", "callee", "callee_operation", pl.col("_next").alias("_anc")
        ).unique()
    if not found:
        return pl.DataFrame(
            schema={n: pl.String for n in ("service", "operation", "callee", "callee_operation")}
        )
    return pl.concat(found).unique()


def _explained_by_callees(shifts, spans_base, spans_seen, weight):
    """Take ``weight`` x the largest shift of a callee operation off each shift.

    ``|fold| - weight * min(|fold|, largest |fold| of an operation it calls)``: an
    operation whose callee fell silent or started to fail changes its own statements
    too, and is not the origin (Nezha's deepest changed event in a trace).
    """
    if weight <= 0 or shifts.is_empty():
        return shifts
    spans = pl.concat([spans_base, spans_seen], how="diagonal_relaxed")
    callee_size = (
        shifts.group_by("service", "operation")
        .agg(pl.col("fold").abs().max().alias("_callee_size"))
        .filter(pl.col("_callee_size") > 0)
    )
    pairs = operation_callees(spans, callee_size.select("service", "operation"))
    explained = (
        pairs.join(
            callee_size.rename({"service": "callee", "operation": "callee_operation"}),
            on=["callee", "callee_operation"],
        )
        .group_by("service", "operation")
        .agg(pl.col("_callee_size").max().alias("_explained"))
    )
    return (
        shifts.join(explained, on=["service", "operation"], how="left")
        .with_columns(pl.col("_explained").fill_null(0.0))
        .with_columns(
            (
                pl.col("fold").sign()
                * (
                    pl.col("fold").abs()
                    - weight * pl.min_horizontal(pl.col("fold").abs(), pl.col("_explained"))
                )
            ).alias("fold")
        )
        .drop("_explained")
    )


def _weigh_ordinary_rises(shifts: pl.DataFrame, weight: float) -> pl.DataFrame:
    """Scale the fold of ordinary statements that ran more often by ``weight``."""
    if weight == 1.0 or shifts.is_empty():
        return shifts
    rise = (pl.col("fold") > 0) & ~pl.col("level").is_in(PROBLEM_LEVELS)
    return shifts.with_columns(
        pl.when(rise).then(pl.col("fold") * weight).otherwise(pl.col("fold")).alias("fold")
    )


def _split(
    frame: pl.DataFrame, column: str, onset: datetime, reference: Case | None, kind: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    before = frame.filter(pl.col(column) < onset)
    after = frame.filter(pl.col(column) >= onset)
    if reference is not None:
        extra = getattr(reference, kind)
        if extra.height:
            before = pl.concat(
                [frames.validate(extra, getattr(frames, kind.upper())), before],
                how="diagonal_relaxed",
            )
    return before, after


def _log_evidence(shifts, scores, evidence, rows) -> None:
    for row in shifts.iter_rows(named=True):  # one row per changed statement: tens
        size = abs(row["fold"])
        if not math.isfinite(size):
            continue
        indicator = f"log:statement {row['statement']}" + (
            f" in {row['operation']}" if row["operation"] else ""
        )
        rows.append(
            {
                "service": row["service"],
                "modality": "logs",
                "indicator": indicator,
                "deviation": row["fold"],
                "baseline": row["expected"],
                "observed": float(row["observed_count"]),
                "score": size,
            }
        )
        service = row["service"]
        if size <= scores.setdefault(service, {}).get("logs", -1.0):
            continue
        scores[service]["logs"] = size
        evidence.setdefault(service, {})["logs"] = {
            "kind": "log",
            "indicator": indicator,
            "statement": row["statement"],
            "operation": row["operation"],
            "level": row["level"],
            "baseline": float(row["expected"]),
            "observed": float(row["observed_count"]),
            "deviation": float(row["fold"]),
            "baseline_count": row["baseline_count"],
            "baseline_requests": row["baseline_requests"],
            "observed_requests": row["observed_requests"],
            "lines": list(row["examples"]),
            "trace_ids": list(row["trace_ids"]),
        }


def _trace_evidence(hops: pl.DataFrame, floor_ms: float, scores, evidence, rows) -> None:
    if hops.is_empty():
        return
    floor = pl.lit(float(floor_ms))
    # What each service's own callees explain of its slowdown: the largest rise of a
    # callee's own latency. A rise of the hop is not taken off: the caller itself may
    # cause it (a starved CPU answers late and reads answers late).
    waited = (
        hops.with_columns(
            (pl.col("observed_latency_ms") - pl.col("baseline_latency_ms")).alias("rise")
        )
        .group_by("caller")
        .agg(
            pl.col("rise").max().clip(lower_bound=0.0).alias("explained_ms"),
            pl.col("callee").sort_by("rise").last().alias("slowest_callee"),
        )
        .rename({"caller": "callee"})
    )
    # A hop that grows on every call a caller makes points at the caller (it sends and
    # reads late), not at each callee: take off the median gap fold of the caller's
    # calls to its other callees.
    others = (
        hops.select("caller", "callee")
        .join(
            hops.select("caller", pl.col("callee").alias("other"), pl.col("gap_fold").alias("g")),
            on="caller",
        )
        .filter(pl.col("other") != pl.col("callee"))
        .group_by("caller", "callee")
        .agg(pl.col("g").median().clip(lower_bound=0.0).alias("caller_side"))
    )
    edges = (
        hops.join(waited, on="callee", how="left")
        .join(others, on=["caller", "callee"], how="left")
        .with_columns(
            pl.col("explained_ms").fill_null(0.0),
            pl.col("caller_side").fill_null(0.0),
        )
        .with_columns(
            (
                pl.col("baseline_latency_ms")
                + (
                    pl.col("observed_latency_ms")
                    - pl.col("baseline_latency_ms")
                    - pl.col("explained_ms")
                ).clip(lower_bound=0.0)
            ).alias("own_ms"),
            (pl.col("gap_fold") - pl.col("caller_side")).alias("callee_gap_fold"),
        )
        .with_columns(
            (
                (pl.col("own_ms").clip(lower_bound=0.0) + floor)
                / (pl.col("baseline_latency_ms").clip(lower_bound=0.0) + floor)
            )
            .log()
            .alias("own_fold")
        )
    )
    table = edges.group_by("callee").agg(
        pl.col("callee_gap_fold").median().alias("gap_fold"),
        pl.col("gap_fold").median().alias("raw_gap_fold"),
        pl.col("own_fold").median().alias("latency_fold"),
        pl.col("baseline_gap_ms").median().alias("baseline_gap_ms"),
        pl.col("observed_gap_ms").median().alias("observed_gap_ms"),
        pl.col("baseline_latency_ms").median().alias("baseline_ms"),
        pl.col("observed_latency_ms").median().alias("observed_ms"),
        pl.col("own_ms").median().alias("own_ms"),
        pl.col("explained_ms").first().alias("explained_ms"),
        pl.col("slowest_callee").first().alias("slowest_callee"),
        pl.col("caller").sort().alias("callers"),
        pl.col("trace_ids")
        .list.explode(keep_nulls=False, empty_as_null=False)
        .unique(maintain_order=True)
        .head(5)
        .alias("trace_ids"),
    )
    for row in table.iter_rows(named=True):  # one row per service: tens
        service = row["callee"]
        base, seen, own = row["baseline_ms"], row["observed_ms"], row["own_ms"]
        latency_fold = float(row["latency_fold"])
        gap_fold = float(row["gap_fold"])
        callers = ",".join(row["callers"])
        if gap_fold >= latency_fold:
            kind, fold = "hop gap", gap_fold
            indicator = f"trace:edge {callers}->{service} gap"
            baseline, observed = row["baseline_gap_ms"], row["observed_gap_ms"]
        else:
            kind, fold = "exclusive latency", latency_fold
            indicator = f"trace:edge {callers}->{service} latency"
            baseline, observed = base, own
        rows.append(
            {
                "service": service,
                "modality": "traces",
                "indicator": indicator,
                "deviation": fold,
                "baseline": baseline,
                "observed": observed,
                "score": max(fold, 0.0),
            }
        )
        scores.setdefault(service, {})["traces"] = max(fold, 0.0)
        evidence.setdefault(service, {})["traces"] = {
            "kind": "trace",
            "signal": kind,
            "indicator": indicator,
            "callers": list(row["callers"]),
            "baseline": float(baseline),
            "observed": float(observed),
            "deviation": float(fold),
            "gap_fold": gap_fold,
            "gap_fold_before_caller_side": float(row["raw_gap_fold"]),
            "latency_fold": latency_fold,
            "latency_ms": {"baseline": float(base), "observed": float(seen)},
            "explained_by_callee_ms": float(row["explained_ms"]),
            "slowest_callee": row["slowest_callee"],
            "trace_ids": list(row["trace_ids"]),
        }


def _metric_evidence(found: Investigation, scores, evidence, rows) -> None:
    for cause in found.ranking:
        scores.setdefault(cause.service, {})["metrics"] = float(cause.score)
        evidence.setdefault(cause.service, {})["metrics"] = {
            "kind": "metric",
            "indicator": cause.indicator,
            "metric": cause.evidence["metric"],
            "baseline": cause.evidence["baseline"],
            "observed": cause.evidence["observed"],
            "deviation": cause.evidence["deviation"],
            "onset": iso(cause.onset),
            "indicators": cause.evidence.get("indicators", []),
        }
        rows.append(
            {
                "service": cause.service,
                "modality": "metrics",
                "indicator": cause.indicator,
                "deviation": cause.evidence["deviation"],
                "baseline": cause.evidence["baseline"],
                "observed": cause.evidence["observed"],
                "score": float(cause.score),
            }
        )
