"""The service dependency graph from spans (or Jaeger's ``/api/dependencies``), and trace paths.

A call is a span whose parent span belongs to another service: the parent's service is
the caller, the span's service the callee. Its latency is the callee span's duration (the
time the callee spent, as the callee measured it) and it is an error when the callee
span's status is ``error``. Spans whose parent is missing (orphans) make no call.

>>> from workbench import graph
>>> g = graph.service_graph(spans)              # networkx.DiGraph
>>> g.edges["ts-travel-service", "ts-route-service"]["p95_ms"]
>>> graph.edges(spans, window="1m")             # the same numbers per window, as a frame
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import orjson
import polars as pl

from workbench import frames
from workbench.errors import FileFormatError

QUANTILES = (0.5, 0.95, 0.99)
# Node health from the error rate of the calls a service answers.
DEGRADED_ERROR_RATE = 0.05
FAILING_ERROR_RATE = 0.5
HEALTH_OK, HEALTH_DEGRADED, HEALTH_FAILING, HEALTH_IDLE = "ok", "degraded", "failing", "idle"

_STATS = ("calls", "errors", "error_rate", "p50_ms", "p95_ms", "p99_ms", "mean_ms")


def calls(spans: Any) -> pl.DataFrame:
    """Return one row per cross-service call.

    Columns: caller, callee, trace_id, span_id (the callee span), parent_span_id, start,
    duration_ms, error (bool), operation (the callee's).
    """
    frame = frames.validate(spans, frames.SPANS)
    status = pl.col("status") if "status" in frame.columns else pl.lit("unset")
    parents = frame.select(
        "trace_id",
        pl.col("span_id").alias("parent_span_id"),
        pl.col("service").alias("caller"),
    ).unique(subset=["trace_id", "parent_span_id"], keep="first", maintain_order=True)
    return (
        frame.filter(pl.col("parent_span_id") != "")
        .with_columns((status == "error").alias("error"))
        .join(parents, on=["trace_id", "parent_span_id"], how="inner")
        .filter(pl.col("caller") != pl.col("service"))
        .select(
            "caller",
            pl.col("service").alias("callee"),
            "trace_id",
            "span_id",
            "parent_span_id",
            "start",
            "duration_ms",
            "error",
            "operation",
        )
    )


def _stats(by: list[str]) -> list[pl.Expr]:
    quantiles = [
        pl.col("duration_ms").quantile(q, interpolation="linear").alias(f"p{round(q * 100)}_ms")
        for q in QUANTILES
    ]
    return [
        pl.len().alias("calls"),
        pl.col("error").sum().cast(pl.Int64).alias("errors"),
        pl.col("error").mean().alias("error_rate"),
        *quantiles,
        pl.col("duration_ms").mean().alias("mean_ms"),
    ]


def edges(spans: Any, window: str | None = None) -> pl.DataFrame:
    """Return caller -> callee edges with calls, errors, error_rate, p50/p95/p99 and mean (ms).

    With ``window`` (a polars duration such as ``"1m"``), one row per edge and window,
    the window's start in ``window_start``.
    """
    found = calls(spans)
    keys = ["caller", "callee"]
    if window is not None:
        found = found.with_columns(pl.col("start").dt.truncate(window).alias("window_start"))
        keys.append("window_start")
    return found.group_by(keys).agg(_stats(keys)).sort(keys)


def nodes(spans: Any, window: str | None = None) -> pl.DataFrame:
    """Return per service: the calls it answered (entry spans), their errors and latency, health.

    An entry span is a root span or one whose parent is in another service. Services that
    only appear as callers still get a row (with ``calls`` 0 and health ``idle``).
    """
    frame = frames.validate(spans, frames.SPANS)
    status = pl.col("status") if "status" in frame.columns else pl.lit("unset")
    parents = frame.select(
        "trace_id", pl.col("span_id").alias("parent_span_id"), pl.col("service").alias("_p")
    ).unique(subset=["trace_id", "parent_span_id"], keep="first", maintain_order=True)
    entries = (
        frame.with_columns((status == "error").alias("error"))
        .join(parents, on=["trace_id", "parent_span_id"], how="left")
        .filter(pl.col("_p").is_null() | (pl.col("_p") != pl.col("service")))
    )
    keys = ["service"]
    if window is not None:
        entries = entries.with_columns(pl.col("start").dt.truncate(window).alias("window_start"))
        keys.append("window_start")
    table = entries.group_by(keys).agg(_stats(keys))
    everyone = frame.select("service").unique()
    if window is None:
        table = everyone.join(table, on="service", how="left").with_columns(
            pl.col("calls").fill_null(0), pl.col("errors").fill_null(0)
        )
    return table.with_columns(health_expr().alias("health")).sort(keys)


def health_expr() -> pl.Expr:
    """Return the health label of a row with ``calls`` and ``error_rate``."""
    return (
        pl.when(pl.col("calls").fill_null(0) == 0)
        .then(pl.lit(HEALTH_IDLE))
        .when(pl.col("error_rate") >= FAILING_ERROR_RATE)
        .then(pl.lit(HEALTH_FAILING))
        .when(pl.col("error_rate") >= DEGRADED_ERROR_RATE)
        .then(pl.lit(HEALTH_DEGRADED))
        .otherwise(pl.lit(HEALTH_OK))
    )


def service_graph(spans: Any, window: str | None = None) -> nx.DiGraph:
    """Return the service dependency graph: nodes and edges carry the stats of :func:`nodes`
    and :func:`edges`; with ``window``, each also has ``windows``, a list of per-window rows.
    """
    graph = nx.DiGraph()
    for row in nodes(spans).iter_rows(named=True):
        graph.add_node(row.pop("service"), **row)
    for row in edges(spans).iter_rows(named=True):
        graph.add_edge(row.pop("caller"), row.pop("callee"), **row)
    if window is not None:
        for (caller, callee), rows in edges(spans, window).group_by(
            ["caller", "callee"], maintain_order=True
        ):
            graph.edges[caller, callee]["windows"] = rows.drop("caller", "callee").to_dicts()
        for (service,), rows in nodes(spans, window).group_by("service", maintain_order=True):
            graph.nodes[service]["windows"] = rows.drop("service").to_dicts()
    return graph


def from_dependencies(source: str | Path | bytes | list) -> nx.DiGraph:
    """Return the graph of Jaeger's ``/api/dependencies`` answer: edges with ``calls``.

    Accepts a path, the answer's bytes, or the decoded list; both the bare list of
    ``{parent, child, callCount}`` and the ``{"data": [...]}`` envelope.
    """
    name = str(source) if isinstance(source, str | Path) else "<dependencies>"
    if isinstance(source, str | Path):
        source = Path(source).read_bytes()
    data = orjson.loads(source) if isinstance(source, bytes) else source
    if isinstance(data, dict):
        data = data.get("data")
    if not isinstance(data, list) or not all(
        isinstance(d, dict) and "parent" in d and "child" in d for d in data
    ):
        raise FileFormatError(
            f"{name} is not a Jaeger dependencies answer: expected a list of "
            "{parent, child, callCount}",
            path=name,
        )
    graph = nx.DiGraph()
    for link in data:  # one row per service pair: small, no vectorised form needed
        parent, child = str(link["parent"]), str(link["child"])
        calls_ = int(link.get("callCount") or 0)
        if graph.has_edge(parent, child):
            graph.edges[parent, child]["calls"] += calls_
        else:
            graph.add_edge(parent, child, calls=calls_)
    return graph


def critical_path(spans: Any, trace_id: str) -> pl.DataFrame:
    """Return the critical path of a trace: the segments that made it last as long as it did.

    Walks back from the end of the root: within each span, the child that finished last
    (before the current point) is on the path, then the one that finished last before
    that child began, and so on; the gaps between are the span's own time. Children are
    clipped to their parent, so clock skew never gives negative segments. Columns:
    span_id, service, operation, start, end, self_ms (ordered by start).
    """
    frame = frames.validate(spans, frames.SPANS).filter(pl.col("trace_id") == trace_id)
    if frame.is_empty():
        raise KeyError(f"no spans of trace {trace_id!r}")
    table = frame.select(
        "span_id",
        "parent_span_id",
        "service",
        "operation",
        pl.col("start").dt.epoch("ns").alias("s"),
        (pl.col("start").dt.epoch("ns") + (pl.col("duration_ms") * 1e6).cast(pl.Int64)).alias("e"),
    ).unique(subset="span_id", keep="first", maintain_order=True)
    # One trace is small (tens to thousands of spans): a walk over its tree is the algorithm.
    rows = {r["span_id"]: r for r in table.iter_rows(named=True)}
    children: dict[str, list[str]] = {}
    for span_id, row in rows.items():
        if row["parent_span_id"] in rows and row["parent_span_id"] != span_id:
            children.setdefault(row["parent_span_id"], []).append(span_id)
    roots = [s for s, r in rows.items() if r["parent_span_id"] not in rows]
    root = max(roots, key=lambda s: (rows[s]["e"] - rows[s]["s"], -rows[s]["s"]))
    segments: list[tuple[str, int, int]] = []
    stack = [(root, rows[root]["s"], rows[root]["e"])]
    while stack:
        span_id, low, high = stack.pop()
        cursor = high
        # Children are first clipped to their parent (skew never makes a negative segment);
        # then, as Jaeger UI does, the last one to finish before the cursor is taken, and
        # children that overlap the part already on the path are passed over.
        clipped = [
            (child, max(rows[child]["s"], low), min(rows[child]["e"], high))
            for child in children.get(span_id, [])
        ]
        clipped.sort(key=lambda item: item[2], reverse=True)
        for child, start, end in clipped:
            if end <= start or end > cursor:
                continue
            if end < cursor:
                segments.append((span_id, end, cursor))
            stack.append((child, start, end))
            cursor = start
        if cursor > low:
            segments.append((span_id, low, cursor))
    out = pl.DataFrame(
        {
            "span_id": [s for s, _, _ in segments],
            "start_ns": [a for _, a, _ in segments],
            "end_ns": [b for _, _, b in segments],
        },
        schema={"span_id": pl.String, "start_ns": pl.Int64, "end_ns": pl.Int64},
    )
    return (
        out.join(table.select("span_id", "service", "operation"), on="span_id", how="left")
        .select(
            "span_id",
            "service",
            "operation",
            pl.from_epoch("start_ns", time_unit="ns").dt.replace_time_zone("UTC").alias("start"),
            pl.from_epoch("end_ns", time_unit="ns").dt.replace_time_zone("UTC").alias("end"),
            ((pl.col("end_ns") - pl.col("start_ns")) / 1e6).alias("self_ms"),
        )
        .sort("start")
    )
