"""Plotly figures of an incident: the timeline, an indicator, a trace waterfall.

Functions of frames and investigations, with no Panel in them, so a notebook can show
the same figures the served apps do. Long series are downsampled for display
(:func:`~workbench.views.downsample.for_display`); the analysis never is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from workbench import frames
from workbench.case import Truth
from workbench.rca.model import Investigation
from workbench.views.downsample import for_display

ONSET_COLOUR = "#cf222e"
TRUTH_COLOUR = "#8250df"
BASELINE_COLOUR = "#57606a"
LEVEL_COLOURS = {
    "fatal": "#82071e",
    "error": "#cf222e",
    "warn": "#bf8700",
    "info": "#0969da",
    "debug": "#8c959f",
    "": "#afb8c1",
}
# Indicators drawn on the timeline: the strongest ones, at their own onset.
TIMELINE_INDICATORS = 15
DEFAULT_BIN = "15s"
_MARGIN = {"l": 60, "r": 20, "t": 40, "b": 40}

XRange = tuple[datetime, datetime] | None


def timeline_figure(
    investigation: Investigation,
    *,
    logs: pl.DataFrame | None = None,
    spans: pl.DataFrame | None = None,
    events: pl.DataFrame | None = None,
    truth: Truth | None = None,
    x_range: XRange = None,
    bin_every: str = DEFAULT_BIN,
) -> Any:
    """Return the incident timeline: anomalies across metrics, logs and traces, one time axis.

    Row 1 marks the strongest indicators at their own change point (size by deviation);
    row 2, when there are logs, counts lines per bin and level; row 3, when there are
    spans, shows the p95 span duration and the failed spans per bin. The detected (or
    given) onset, the ground truth's fault start and the case's events are annotations.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    has_logs = logs is not None and not logs.is_empty()
    has_spans = spans is not None and not spans.is_empty()
    titles = ["anomalies (indicator onsets)"]
    titles += ["log lines per level"] if has_logs else []
    titles += ["spans: p95 duration (ms) and failures"] if has_spans else []
    figure = make_subplots(
        rows=len(titles),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=titles,
        specs=[[{"secondary_y": title.startswith("spans")}] for title in titles],
    )
    signals = investigation.signals
    if "onset" not in signals.columns:  # a fused ranking: signals are scored at the onset
        signals = signals.with_columns(pl.lit(investigation.onset).alias("onset"))
    strongest = (
        signals.filter(pl.col("onset").is_not_null() & (pl.col("score") > 0))
        .sort("score", descending=True)
        .head(TIMELINE_INDICATORS)
        .sort("score")
    )
    figure.add_trace(
        go.Scatter(
            x=strongest["onset"].to_list(),
            y=strongest["indicator"].to_list(),
            mode="markers",
            marker={
                "size": (strongest["score"].log1p() * 3 + 6).clip(upper_bound=30).to_list(),
                "color": ONSET_COLOUR,
                "opacity": 0.7,
            },
            customdata=strongest["deviation"].to_list(),
            hovertemplate="%{y}<br>%{x}<br>deviation %{customdata:.1f}<extra></extra>",
            name="indicator onsets",
        ),
        row=1,
        col=1,
    )
    row = 1
    if has_logs:
        row += 1
        for level, counts in _log_counts(logs, bin_every):
            figure.add_trace(
                go.Bar(
                    x=counts["bin"].to_list(),
                    y=counts["lines"].to_list(),
                    name=f"logs: {level or 'unknown'}",
                    marker_color=LEVEL_COLOURS.get(level, LEVEL_COLOURS[""]),
                ),
                row=row,
                col=1,
            )
        figure.update_layout(barmode="stack")
    if has_spans:
        row += 1
        per_bin = _span_stats(spans, bin_every)
        figure.add_trace(
            go.Scatter(
                x=per_bin["bin"].to_list(),
                y=per_bin["p95_ms"].to_list(),
                mode="lines",
                name="span p95 (ms)",
            ),
            row=row,
            col=1,
        )
        figure.add_trace(
            go.Bar(
                x=per_bin["bin"].to_list(),
                y=per_bin["failed"].to_list(),
                name="failed spans",
                marker_color=ONSET_COLOUR,
                opacity=0.5,
            ),
            row=row,
            col=1,
            secondary_y=True,
        )
    _annotate(figure, investigation, truth=truth, events=events)
    figure.update_layout(
        height=260 + 180 * (len(titles) - 1),
        margin=_MARGIN,
        legend={"orientation": "h", "y": -0.12},
    )
    _apply_range(figure, x_range)
    return figure


def indicator_figure(
    series: pl.DataFrame,
    *,
    title: str,
    baseline: float | None = None,
    onset: datetime | None = None,
    x_range: XRange = None,
) -> Any:
    """Return the line chart of one indicator (timestamp, value), downsampled for display."""
    import plotly.graph_objects as go

    shown = for_display(series)
    figure = go.Figure(
        go.Scattergl(
            x=shown["timestamp"].to_list(),
            y=shown["value"].to_list(),
            mode="lines",
            name=title,
        )
    )
    if baseline is not None:
        figure.add_hline(
            y=baseline,
            line_dash="dot",
            line_color=BASELINE_COLOUR,
            annotation_text="baseline",
            annotation_position="bottom right",
        )
    if onset is not None:
        _vline(figure, onset, "onset", ONSET_COLOUR)
    figure.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=280,
        margin=_MARGIN,
        showlegend=False,
    )
    _apply_range(figure, x_range)
    return figure


def waterfall_figure(spans: pl.DataFrame, trace_id: str) -> Any:
    """Return the span waterfall of one trace: a bar per span from its start, in tree order."""
    import plotly.graph_objects as go

    trace = _tree_order(spans.filter(pl.col("trace_id") == trace_id))
    if trace.is_empty():
        raise KeyError(f"no spans of trace {trace_id!r}")
    begin = trace["start"].min()
    status = trace["status"] if "status" in trace.columns else pl.Series([""] * trace.height)
    offsets = ((trace["start"] - begin).dt.total_microseconds() / 1000).to_list()
    labels = [
        f"{'  ' * depth}{service}: {operation}"
        for depth, service, operation in zip(
            trace["depth"], trace["service"], trace["operation"], strict=True
        )
    ]
    figure = go.Figure(
        go.Bar(
            y=list(range(trace.height)),
            x=trace["duration_ms"].to_list(),
            base=offsets,
            orientation="h",
            marker_color=[ONSET_COLOUR if s == "error" else "#0969da" for s in status],
            customdata=labels,
            hovertemplate="%{customdata}<br>%{x:.1f} ms from +%{base:.1f} ms<extra></extra>",
        )
    )
    figure.update_yaxes(
        tickvals=list(range(trace.height)), ticktext=labels, autorange="reversed", automargin=True
    )
    figure.update_layout(
        title={"text": f"trace {trace_id}", "font": {"size": 13}},
        xaxis_title="ms from the trace's start",
        height=min(120 + 22 * trace.height, 900),
        margin={**_MARGIN, "l": 10},
        showlegend=False,
    )
    return figure


def _tree_order(trace: pl.DataFrame) -> pl.DataFrame:
    """Return the spans of one trace depth-first from the roots, children by start, with depth."""
    trace = frames.validate(trace, frames.SPANS).unique("span_id", keep="first").sort("start")
    ids = set(trace["span_id"])
    children: dict[str, list[int]] = {}
    roots: list[int] = []
    # One trace holds tens to thousands of spans: a walk over its tree is the algorithm.
    for index, (span_id, parent) in enumerate(
        zip(trace["span_id"], trace["parent_span_id"], strict=True)
    ):
        if parent in ids and parent != span_id:
            children.setdefault(parent, []).append(index)
        else:
            roots.append(index)
    order: list[int] = []
    depths: list[int] = []
    stack = [(index, 0) for index in reversed(roots)]
    while stack:
        index, depth = stack.pop()
        order.append(index)
        depths.append(depth)
        kids = children.get(trace["span_id"][index], [])
        stack.extend((kid, depth + 1) for kid in reversed(kids))
    return trace[order].with_columns(pl.Series("depth", depths, dtype=pl.Int64))


def _log_counts(logs: pl.DataFrame, every: str):
    level = pl.col("level") if "level" in logs.columns else pl.lit("")
    counts = (
        logs.select(pl.col("timestamp").dt.truncate(every).alias("bin"), level.alias("level"))
        .group_by("level", "bin")
        .len("lines")
        .sort("level", "bin")
    )
    return [(level, part) for (level,), part in counts.group_by("level", maintain_order=True)]


def _span_stats(spans: pl.DataFrame, every: str) -> pl.DataFrame:
    if "status" not in spans.columns:
        spans = spans.with_columns(pl.lit("").alias("status"))
    return (
        spans.group_by(pl.col("start").dt.truncate(every).alias("bin"))
        .agg(
            pl.col("duration_ms").quantile(0.95, interpolation="linear").alias("p95_ms"),
            (pl.col("status") == "error").sum().alias("failed"),
        )
        .sort("bin")
    )


def _annotate(
    figure: Any,
    investigation: Investigation,
    *,
    truth: Truth | None,
    events: pl.DataFrame | None,
) -> None:
    how = "onset (detected)" if investigation.onset_detected else "onset (given)"
    _vline(figure, investigation.onset, how, ONSET_COLOUR)
    if truth is not None and truth.fault_start is not None:
        label = f"fault: {truth.root_cause_service}"
        # The fault label ends at its line, the onset label starts at its: often seconds apart.
        _vline(figure, truth.fault_start, label, TRUTH_COLOUR, side="right")
    if events is not None and not events.is_empty():
        for moment, summary in events.select("timestamp", "summary").head(20).iter_rows():
            _vline(figure, moment, summary[:40], BASELINE_COLOUR)


def _vline(figure: Any, moment: datetime, text: str, colour: str, side: str = "left") -> None:
    # add_vline's own annotation cannot place text on a date axis (plotly issue 3065):
    # draw the line and the label separately.
    figure.add_vline(x=moment, line_color=colour, line_width=2, line_dash="dash")
    figure.add_annotation(
        x=moment,
        y=1.0,
        yref="paper",
        text=text,
        showarrow=False,
        font={"color": colour, "size": 11},
        xanchor=side,
        yanchor="bottom",
    )


def _apply_range(figure: Any, x_range: XRange) -> None:
    if x_range is not None:
        figure.update_xaxes(range=[x_range[0], x_range[1]])


HEALTH_COLOURS = {
    "ok": "#1a7f37",
    "degraded": "#bf8700",
    "failing": "#cf222e",
    "idle": "#8c959f",
}
# Services marked as suspects on the map: the first ranked causes.
MAP_SUSPECTS = 3


def service_map_figure(found: Any) -> Any:
    """Return the service map: nodes coloured by health, suspects ringed, calls as arrows.

    ``found`` is a :class:`workbench.servicemap.ServiceMap`. Callers sit left of callees
    when the calls form no cycle (layers by topological generation); otherwise, and for a
    map from metrics (no edges), the services sit on a circle in name order.
    """
    import networkx as nx
    import plotly.graph_objects as go

    nodes, edges = found.nodes, found.edges
    network = nx.DiGraph()
    network.add_nodes_from(nodes["service"].to_list())
    network.add_edges_from(zip(edges["caller"], edges["callee"], strict=True))
    position = _map_layout(network)
    figure = go.Figure()
    for caller, callee in zip(edges["caller"], edges["callee"], strict=True):
        (x0, y0), (x1, y1) = position[caller], position[callee]
        figure.add_annotation(
            x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y",
            showarrow=True, arrowhead=2, arrowsize=1, arrowwidth=1,
            arrowcolor="#8c959f", standoff=10, startstandoff=10, text="",
        )  # fmt: skip
    suspect = nodes["rank"].fill_null(0).is_between(1, MAP_SUSPECTS)
    figure.add_trace(
        go.Scatter(
            x=[position[s][0] for s in nodes["service"]],
            y=[position[s][1] for s in nodes["service"]],
            mode="markers+text",
            text=[
                f"#{rank} {service}" if is_suspect else service
                for service, rank, is_suspect in zip(
                    nodes["service"], nodes["rank"], suspect, strict=True
                )
            ],
            textposition="top center",
            marker={
                "size": 22,
                "color": [HEALTH_COLOURS.get(h, HEALTH_COLOURS["idle"]) for h in nodes["health"]],
                "line": {
                    "width": [4 if s else 1 for s in suspect],
                    "color": ["#24292f" if s else "#ffffff" for s in suspect],
                },
            },
            customdata=nodes.select(
                "health", "request_rate", "error_ratio", "latency_ms", "rank"
            ).rows(),
            hovertemplate=(
                "<b>%{text}</b><br>health %{customdata[0]}<br>rate %{customdata[1]:.3g}/s"
                "<br>errors %{customdata[2]:.1%}<br>latency %{customdata[3]:.4g} ms"
                "<br>rank %{customdata[4]}<extra></extra>"
            ),
            name="services",
        )
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.update_layout(
        title={"text": f"service map (from {found.source})", "font": {"size": 14}},
        height=560,
        margin=_MARGIN,
        showlegend=False,
        plot_bgcolor="#ffffff",
    )
    return figure


def _map_layout(network: Any) -> dict[str, tuple[float, float]]:
    import networkx as nx

    if network.number_of_edges() and nx.is_directed_acyclic_graph(network):
        for layer, names in enumerate(nx.topological_generations(network)):
            for name in names:
                network.nodes[name]["layer"] = layer
        placed = nx.multipartite_layout(network, subset_key="layer")
    else:
        placed = nx.circular_layout(sorted(network.nodes))
    return {name: (float(x), float(y)) for name, (x, y) in placed.items()}


def log_histogram_figure(counts: pl.DataFrame, *, x_range: XRange = None) -> Any:
    """Return the hit histogram of a log search: stacked bars per bin and level."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for (level,), part in counts.sort("level", "bin").group_by("level", maintain_order=True):
        figure.add_trace(
            go.Bar(
                x=part["bin"].to_list(),
                y=part["lines"].to_list(),
                name=level or "unknown",
                marker_color=LEVEL_COLOURS.get(level, LEVEL_COLOURS[""]),
            )
        )
    figure.update_layout(
        barmode="stack", height=240, margin=_MARGIN, legend={"orientation": "h", "y": -0.2}
    )
    _apply_range(figure, x_range)
    return figure
