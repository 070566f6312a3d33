"""The Incident app: the timeline with the onset, and the ranked causes with their evidence."""

from __future__ import annotations

import html

import panel as pn
import polars as pl

from workbench.apps.layout import case_controls, page
from workbench.rca.evidence import Evidence, charted_metric
from workbench.rca.model import Cause, iso
from workbench.report.html import truth_line
from workbench.views import charts
from workbench.views.state import IncidentState
from workbench.views.tables import for_table

TITLE = "Incident"
TOP_CAUSES = 5
LOG_TEMPLATE_ROWS = 10


def create_app(
    case: str | None = None, state: IncidentState | None = None, live=None
) -> pn.template.BaseTemplate:
    """Return the Incident app for ``case`` (``<suite>/<case_id>``), or for ``state``."""
    state = state if state is not None else IncidentState(case, live=live)
    controls = case_controls(state)
    main = [
        pn.panel(pn.bind(summary, state.param.investigation, state.param.error, state=state)),
        pn.panel(
            pn.bind(timeline, state.param.investigation, state.time.param.relative, state=state)
        ),
        pn.pane.Markdown("## Most likely root causes"),
        pn.panel(pn.bind(causes, state.param.investigation, state=state)),
    ]
    return page(TITLE, controls, main, state=state)


def summary(investigation, error: str, *, state: IncidentState) -> pn.viewable.Viewable:
    """Return the headline: the case, the onset, the ground truth; or why nothing is shown."""
    if error:
        return pn.pane.Alert(html.escape(error), alert_type="danger", css_classes=["wb-error"])
    if investigation is None:
        return pn.pane.Markdown("Choose a case.")
    how = "detected" if investigation.onset_detected else "given"
    lines = [
        f"### {state.case_name}",
        f"Onset **{iso(investigation.onset)}** ({how}); method {investigation.method}.",
    ]
    if state.case is not None and state.case.truth is not None:
        lines.append(truth_line(state.case.truth))
    return pn.pane.Markdown("\n\n".join(lines), css_classes=["wb-summary"])


def timeline(investigation, relative: str, *, state: IncidentState) -> pn.viewable.Viewable:
    """Return the anomaly timeline of the incident over the chosen time range."""
    if investigation is None:
        return pn.Spacer()
    case = state.case
    figure = charts.timeline_figure(
        investigation,
        logs=case.logs,
        spans=case.spans,
        events=case.events,
        truth=case.truth,
        x_range=state.time.window,
    )
    return pn.pane.Plotly(figure, sizing_mode="stretch_width", css_classes=["wb-timeline"])


def causes(investigation, *, state: IncidentState) -> pn.viewable.Viewable:
    """Return the ranked causes, each a card that opens into its evidence."""
    if investigation is None:
        return pn.Spacer()
    top = investigation.top(TOP_CAUSES)
    cards = [
        pn.Column(
            name=f"#{cause.rank} {cause.service} · {cause.indicator} "
            f"(deviation {cause.evidence['deviation']:+.1f})",
            sizing_mode="stretch_width",
            css_classes=["wb-cause", f"wb-cause-{cause.rank}"],
        )
        for cause in top
    ]
    accordion = pn.Accordion(*cards, toggle=True, sizing_mode="stretch_width")

    def opened(event) -> None:
        for index in event.new:
            if not cards[index].objects:
                cards[index][:] = [evidence_view(top[index], state=state)]
        state.cause = top[event.new[-1]].rank if event.new else 0

    accordion.param.watch(opened, "active")
    return accordion


def evidence_view(cause: Cause, *, state: IncidentState) -> pn.viewable.Viewable:
    """Return the evidence of one cause: its chart, its log templates, its traces."""
    found = state.evidence.for_cause(cause)
    chart = pn.bind(_indicator_chart, state.time.param.relative, found=found, state=state)
    return pn.Column(
        pn.pane.Markdown(_headline(cause)),
        pn.panel(chart),
        pn.pane.Markdown("#### Log templates"),
        _log_templates(found),
        pn.pane.Markdown("#### Traces"),
        _traces(found, state=state),
        sizing_mode="stretch_width",
        css_classes=["wb-evidence", f"wb-evidence-{cause.rank}"],
    )


def _headline(cause: Cause) -> str:
    ev = cause.evidence
    return (
        f"**{cause.indicator}**: baseline {ev['baseline']:.4g}, observed {ev['observed']:.4g}, "
        f"deviation {ev['deviation']:+.1f} robust sd; indicator onset "
        f"{iso(cause.onset) or 'not found'}."
    )


def _indicator_chart(relative: str, *, found: Evidence, state: IncidentState):
    cause = found.cause
    own = cause.evidence.get("metric") is not None
    metric = charted_metric(state.investigation, cause)
    figure = charts.indicator_figure(
        found.series,
        title=cause.indicator if own else f"{cause.service} {metric} (its strongest metric)",
        baseline=cause.evidence.get("baseline") if own else None,
        onset=state.investigation.onset,
        x_range=state.time.window,
    )
    return pn.pane.Plotly(figure, sizing_mode="stretch_width", css_classes=["wb-indicator"])


def _log_templates(found: Evidence) -> pn.viewable.Viewable:
    if not found.has_logs:
        return pn.pane.Markdown("This case has no logs.", css_classes=["wb-no-logs"])
    if found.log_signals.is_empty():
        return pn.pane.Markdown(
            f"No log template of {found.cause.service} changed at the onset.",
            css_classes=["wb-no-logs"],
        )
    table = found.log_signals.head(LOG_TEMPLATE_ROWS).select(
        "kind",
        "template",
        "baseline_count",
        "observed_count",
        pl.col("deviation").round(1),
        pl.col("examples").list.first().alias("example"),
    )
    return pn.pane.DataFrame(
        for_table(table), index=False, sizing_mode="stretch_width", css_classes=["wb-logs"]
    )


def _traces(found: Evidence, *, state: IncidentState) -> pn.viewable.Viewable:
    if not found.has_spans:
        return pn.pane.Markdown("This case has no traces.", css_classes=["wb-no-traces"])
    if not found.trace_ids:
        return pn.pane.Markdown(
            f"No trace passes through {found.cause.service} after the onset.",
            css_classes=["wb-no-traces"],
        )
    if found.trace_signals:
        said = "; ".join(
            f"{s.kind} {s.caller} → {s.callee}: {s.baseline:.4g} → {s.observed:.4g}"
            for s in found.trace_signals
        )
    else:
        said = "no trace signal; the slowest traces through the service after the onset"
    picker = pn.widgets.Select(
        label="Trace", options=list(found.trace_ids), width=320, css_classes=["wb-trace"]
    )
    spans = state.case.spans
    waterfall = pn.bind(
        lambda trace_id: pn.pane.Plotly(
            charts.waterfall_figure(spans, trace_id),
            sizing_mode="stretch_width",
            css_classes=["wb-waterfall"],
        ),
        picker,
    )
    return pn.Column(pn.pane.Markdown(said), picker, pn.panel(waterfall))
