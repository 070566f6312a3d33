"""The Explore app: a metrics explorer, a log explorer and a trace view on one time range."""

from __future__ import annotations

import panel as pn
import polars as pl

from workbench.apps.layout import case_controls, page
from workbench.logs import explore as log_explore
from workbench.traces.summaries import trace_summaries
from workbench.views import charts
from workbench.views.state import ALL, ExploreState
from workbench.views.tables import for_table

TITLE = "Explore"
LINES_SHOWN = 100
TEMPLATES_SHOWN = 20
TRACES_SHOWN = 20


def create_app(
    case: str | None = None, state: ExploreState | None = None, live=None
) -> pn.template.BaseTemplate:
    """Return the Explore app for ``case`` (``<suite>/<case_id>``), or for ``state``."""
    state = state if state is not None else ExploreState(case, live=live)
    relative = state.time.param.relative
    metrics = pn.Column(
        pn.Row(
            pn.widgets.Select.from_param(
                state.param.metric_service, css_classes=["wb-metric-service"]
            ),
            pn.widgets.Select.from_param(state.param.metric, css_classes=["wb-metric"]),
        ),
        pn.panel(
            pn.bind(
                metric_chart, state.param.metric, state.param.metric_service, relative, state=state
            )
        ),
        name="Metrics",
        sizing_mode="stretch_width",
    )
    logs = pn.Column(
        pn.Row(
            pn.widgets.TextInput.from_param(
                state.param.log_text,
                placeholder="text in the message",
                css_classes=["wb-log-search"],
            ),
            pn.widgets.Select.from_param(state.param.log_service, css_classes=["wb-log-service"]),
        ),
        pn.panel(
            pn.bind(
                log_view,
                state.param.log_text,
                state.param.log_service,
                relative,
                state.param.case,
                state=state,
            )
        ),
        name="Logs",
        sizing_mode="stretch_width",
    )
    traces = pn.Column(
        pn.Row(
            pn.widgets.Select.from_param(
                state.param.trace_service, css_classes=["wb-trace-service"]
            ),
            pn.widgets.Select.from_param(state.param.trace_id, css_classes=["wb-trace-id"]),
        ),
        pn.panel(pn.bind(trace_view, state.param.trace_id, state=state)),
        name="Traces",
        sizing_mode="stretch_width",
    )
    tabs = pn.Tabs(metrics, logs, traces, dynamic=True, sizing_mode="stretch_width")
    return page(TITLE, case_controls(state), [tabs], state=state)


def metric_chart(
    metric, service: str | None, relative: str, *, state: ExploreState
) -> pn.viewable.Viewable:
    """Return the chart of ``service``'s metric over the time range."""
    if state.case is None or metric is None:
        return pn.pane.Markdown("No metric to show.", css_classes=["wb-no-metric"])
    series = (
        state.case.metrics.filter((pl.col("service") == service) & (pl.col("metric") == metric))
        .group_by("timestamp")
        .agg(pl.col("value").mean())
        .sort("timestamp")
    )
    onset = state.investigation.onset if state.investigation is not None else None
    figure = charts.indicator_figure(
        series, title=f"{service} {metric}", onset=onset, x_range=state.time.window
    )
    return pn.pane.Plotly(figure, sizing_mode="stretch_width", css_classes=["wb-metric-chart"])


def log_view(
    text: str, service: str, relative: str, case, *, state: ExploreState
) -> pn.viewable.Viewable:
    """Return the hit histogram, the template table and the latest lines of a log search."""
    if case is None or case.logs.is_empty():
        return pn.pane.Markdown("This case has no logs.", css_classes=["wb-no-logs"])
    hits = log_explore.search(
        case.logs,
        text,
        services=None if service == ALL else [service],
        window=state.time.window,
    )
    counts = log_explore.histogram(hits)
    templates = log_explore.template_table(hits).head(TEMPLATES_SHOWN)
    columns = [c for c in ("timestamp", "service", "level", "message") if c in hits.columns]
    latest = hits.sort("timestamp", descending=True).head(LINES_SHOWN).select(columns)
    return pn.Column(
        pn.pane.Markdown(f"**{hits.height}** lines match.", css_classes=["wb-log-hits"]),
        pn.pane.Plotly(
            charts.log_histogram_figure(counts, x_range=state.time.window),
            sizing_mode="stretch_width",
            css_classes=["wb-log-histogram"],
        ),
        pn.pane.Markdown("#### Templates"),
        pn.pane.DataFrame(
            for_table(templates.select("template", "lines", "first", "last")),
            index=False,
            sizing_mode="stretch_width",
            css_classes=["wb-log-templates"],
        ),
        pn.pane.Markdown(f"#### Latest {LINES_SHOWN} lines"),
        pn.pane.DataFrame(
            for_table(latest),
            index=False,
            sizing_mode="stretch_width",
            css_classes=["wb-log-lines"],
        ),
        sizing_mode="stretch_width",
    )


def trace_view(trace_id, *, state: ExploreState) -> pn.viewable.Viewable:
    """Return the longest traces of the range and the waterfall of the chosen one."""
    if state.case is None or state.case.spans.is_empty():
        return pn.pane.Markdown("This case has no traces.", css_classes=["wb-no-traces"])
    listed = trace_summaries(
        state.case.spans,
        service=None if state.trace_service == ALL else state.trace_service,
        window=state.time.window,
    ).head(TRACES_SHOWN)
    parts = [
        pn.pane.DataFrame(
            for_table(listed.with_columns(pl.col("duration_ms").round(1))),
            index=False,
            sizing_mode="stretch_width",
            css_classes=["wb-trace-list"],
        )
    ]
    if trace_id is not None:
        parts.insert(
            0,
            pn.pane.Plotly(
                charts.waterfall_figure(state.case.spans, trace_id),
                sizing_mode="stretch_width",
                css_classes=["wb-waterfall"],
            ),
        )
    return pn.Column(*parts, sizing_mode="stretch_width")
