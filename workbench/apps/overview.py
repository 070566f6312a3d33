"""The Overview app: the service map coloured by health, with each service's numbers."""

from __future__ import annotations

import panel as pn
import polars as pl

from workbench.apps.incident import summary
from workbench.apps.layout import case_controls, page
from workbench.servicemap import service_map
from workbench.views import charts
from workbench.views.state import IncidentState
from workbench.views.tables import for_table

TITLE = "Overview"


def create_app(
    case: str | None = None, state: IncidentState | None = None, live=None
) -> pn.template.BaseTemplate:
    """Return the Overview app for ``case`` (``<suite>/<case_id>``), or for ``state``."""
    state = state if state is not None else IncidentState(case, live=live)
    main = [
        pn.panel(pn.bind(summary, state.param.investigation, state.param.error, state=state)),
        pn.panel(
            pn.bind(services, state.param.investigation, state.time.param.relative, state=state)
        ),
    ]
    return page(TITLE, case_controls(state), main, state=state)


def services(investigation, relative: str, *, state: IncidentState) -> pn.viewable.Viewable:
    """Return the service map of the time range and the table of its services."""
    if state.case is None:
        return pn.Spacer()
    found = service_map(
        state.case.metrics, state.case.spans, investigation=investigation, window=state.time.window
    )
    table = found.nodes.sort(pl.col("rank").fill_null(10**9), "service").select(
        "rank",
        "service",
        "health",
        pl.col("request_rate").round(3),
        pl.col("error_ratio").round(4),
        pl.col("latency_ms").round(1),
    )
    return pn.Column(
        pn.pane.Plotly(
            charts.service_map_figure(found), sizing_mode="stretch_width", css_classes=["wb-map"]
        ),
        pn.pane.DataFrame(
            for_table(table), index=False, sizing_mode="stretch_width", css_classes=["wb-services"]
        ),
        sizing_mode="stretch_width",
    )
