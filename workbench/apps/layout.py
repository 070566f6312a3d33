"""The one stock template every app uses, and the shared time-range picker."""

from __future__ import annotations

from urllib.parse import urlencode

import panel as pn

from workbench.views.state import REFRESH_PERIODS, IncidentState, TimeRange

SITE = "MancerOps"
HEADER_COLOUR = "#24292f"
SIDEBAR_WIDTH = 300
# The apps, in the order of the header's links.
NAVIGATION = ("overview", "incident", "explore")


def page(title: str, controls: list, main: list, *, state=None) -> pn.template.BaseTemplate:
    """Return the app as the stock Bootstrap template: controls in the sidebar, views in main."""
    template = pn.template.BootstrapTemplate(
        site=SITE,
        title=title,
        sidebar=[_navigation(state), *controls],
        main=main,
        header_background=HEADER_COLOUR,
        sidebar_width=SIDEBAR_WIDTH,
    )
    if state is not None and state.live is not None:
        _auto_refresh(state)
    elif state is not None and pn.state.location is not None:
        # The chosen case is in the address, so a view can be shared and reloaded.
        pn.state.location.sync(state, {"suite": "suite", "case_id": "case"})
        pn.state.location.sync(state.time, {"relative": "range"})
    return template


def time_picker(time: TimeRange) -> pn.viewable.Viewable:
    """Return the time-range picker: relative ranges that end at the data's last sample."""
    return pn.widgets.Select.from_param(time.param.relative, css_classes=["wb-time"])


def case_controls(state: IncidentState) -> list[pn.viewable.Viewable]:
    """Return the sidebar's case and time-range pickers (and refresh, for a live source)."""
    controls = [
        pn.widgets.Select.from_param(state.param.suite, css_classes=["wb-suite"]),
        pn.widgets.Select.from_param(state.param.case_id, css_classes=["wb-case"]),
        time_picker(state.time),
    ]
    if state.live is not None:
        button = pn.widgets.Button(label="Refresh", css_classes=["wb-refresh"])
        button.on_click(lambda _: state.refresh())
        every = pn.widgets.Select.from_param(state.param.refresh_every, css_classes=["wb-every"])
        controls += [button, every]
    return controls


def _auto_refresh(state: IncidentState) -> None:
    """Pull the live source again every ``state.refresh_every``, for this browser session."""
    running: list = []

    def follow(*_) -> None:
        for callback in running:
            callback.stop()
        running.clear()
        seconds = REFRESH_PERIODS[state.refresh_every]
        if seconds is not None:
            running.append(pn.state.add_periodic_callback(state.refresh, period=seconds * 1000))

    state.param.watch(follow, "refresh_every")


def _navigation(state: IncidentState | None) -> pn.viewable.Viewable:
    """Return links to every app that keep the case and the time range."""
    if state is None or state.live is not None:
        links = " · ".join(f"[{name.title()}](./{name})" for name in NAVIGATION)
        return pn.pane.Markdown(links, css_classes=["wb-nav"])

    def links(suite: str, case_id: str, relative: str) -> pn.pane.Markdown:
        query = urlencode({"suite": suite, "case": case_id or "", "range": relative})
        text = " · ".join(f"[{name.title()}](./{name}?{query})" for name in NAVIGATION)
        return pn.pane.Markdown(text, css_classes=["wb-nav"])

    return pn.panel(
        pn.bind(links, state.param.suite, state.param.case_id, state.time.param.relative)
    )
