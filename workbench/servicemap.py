"""The service map of an incident: services with their rate, errors, latency and health.

From spans when the incident has them (callers -> callees, :mod:`workbench.graph`);
otherwise from the services its metrics name, without edges. Health comes from the
error ratio of the calls a service answers (``ok``, ``degraded``, ``failing``, ``idle``,
as :func:`workbench.graph.health_expr`); with metrics only there is no error ratio, so a
service is ``ok`` or, with no sample in the window, ``idle``. ``rank`` is the service's
place in the investigation's ranking, when one is given, so a map can mark the suspects.

>>> found = service_map(case.metrics, case.spans, investigation=result)
>>> found.nodes      # service, request_rate, error_ratio, latency_ms, health, rank

``latency_ms`` is the p95 of the calls a service answers (traces), or the mean of its
p90/p95 latency series (metrics: ``lat_90`` in RCD, ``PodServerLatencyP95(s)`` in Nezha).
``request_rate`` is calls per second over the window, or the mean of a rate series.
>>> found.edges      # caller, callee, calls, error_ratio, latency_ms
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from workbench import frames, graph
from workbench.rca.model import Investigation

TRACES, METRICS = "traces", "metrics"
# Metric names that give a request rate (req/s), a p95-like latency (s) or a success
# ratio (%), in the datasets and the default Prometheus queries.
RATE_METRICS = ("lod", "PodWorkload(Ops)", "request_rate")
LATENCY_METRICS_S = ("lat_90", "PodServerLatencyP95(s)", "latency_p95")
SUCCESS_PERCENT_METRICS = ("PodSuccessRate(%)",)
ERROR_RATIO_METRICS = ("error_ratio",)

NODE_SCHEMA = {
    "service": pl.String,
    "request_rate": pl.Float64,
    "error_ratio": pl.Float64,
    "latency_ms": pl.Float64,
    "health": pl.String,
    "rank": pl.Int64,
}
EDGE_SCHEMA = {
    "caller": pl.String,
    "callee": pl.String,
    "calls": pl.Int64,
    "error_ratio": pl.Float64,
    "latency_ms": pl.Float64,
}

Window = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class ServiceMap:
    """Nodes and edges of a service map, and whether they came from traces or metrics."""

    nodes: pl.DataFrame
    edges: pl.DataFrame
    source: str


def service_map(
    metrics: Any = None,
    spans: Any = None,
    *,
    investigation: Investigation | None = None,
    window: Window | None = None,
) -> ServiceMap:
    """Return the service map over ``window`` (whole data when None)."""
    spans = frames.validate(spans, frames.SPANS) if spans is not None else None
    if spans is not None and window is not None:
        spans = spans.filter(pl.col("start").is_between(window[0], window[1], closed="both"))
    if spans is not None and not spans.is_empty():
        nodes, edges, source = *_from_spans(spans), TRACES
    else:
        metrics = frames.validate(
            metrics if metrics is not None else frames.empty(frames.METRICS), frames.METRICS
        )
        if window is not None:
            metrics = metrics.filter(
                pl.col("timestamp").is_between(window[0], window[1], closed="both")
            )
        nodes, edges, source = _from_metrics(metrics), pl.DataFrame(schema=EDGE_SCHEMA), METRICS
    ranks = _ranks(investigation)
    nodes = nodes.join(ranks, on="service", how="left").select(
        [pl.col(name).cast(dtype) for name, dtype in NODE_SCHEMA.items()]
    )
    return ServiceMap(nodes.sort("service"), edges.sort("caller", "callee"), source)


def _from_spans(spans: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    seconds = max(
        (spans["start"].max() - spans["start"].min()).total_seconds(), 1.0
    )  # one span still spans a second of rate
    nodes = graph.nodes(spans).select(
        "service",
        (pl.col("calls") / seconds).alias("request_rate"),
        pl.col("error_rate").alias("error_ratio"),
        pl.col("p95_ms").alias("latency_ms"),
        "health",
    )
    edges = graph.edges(spans).select(
        "caller",
        "callee",
        pl.col("calls").cast(pl.Int64),
        pl.col("error_rate").alias("error_ratio"),
        pl.col("p95_ms").alias("latency_ms"),
    )
    return nodes, edges


def _from_metrics(metrics: pl.DataFrame) -> pl.DataFrame:
    value = pl.col("value").filter(pl.col("value").is_finite())

    def mean_of(names: tuple[str, ...]) -> pl.Expr:
        return value.filter(pl.col("metric").is_in(names)).mean()

    finite = pl.col("value").is_finite()
    return (
        metrics.group_by("service")
        .agg(
            mean_of(RATE_METRICS).alias("request_rate"),
            pl.coalesce(
                mean_of(ERROR_RATIO_METRICS), 1 - mean_of(SUCCESS_PERCENT_METRICS) / 100
            ).alias("error_ratio"),
            (mean_of(LATENCY_METRICS_S) * 1000).alias("latency_ms"),
            finite.any().alias("_seen"),
        )
        .with_columns(
            pl.when(pl.col("_seen"))
            .then(pl.lit(graph.HEALTH_OK))
            .otherwise(pl.lit(graph.HEALTH_IDLE))
            .alias("health")
        )
        .drop("_seen")
    )


def _ranks(investigation: Investigation | None) -> pl.DataFrame:
    causes = investigation.ranking if investigation is not None else ()
    return pl.DataFrame(
        {"service": [c.service for c in causes], "rank": [c.rank for c in causes]},
        schema={"service": pl.String, "rank": pl.Int64},
    ).unique("service", keep="first", maintain_order=True)
