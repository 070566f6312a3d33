"""Self-contained HTML report of backtests: each rule's series with its firings drawn over it."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from workbench.alerts.backtest import Backtest
from workbench.alerts.delivery import iso
from workbench.errors import UsageError

_ROW_HEIGHT = 240
_MAX_LINES = 12  # series per chart; more would hide the firings
_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border-bottom: 1px solid #d0d7de; padding: .35rem .8rem; text-align: left; }}
.meta {{ color: #57606a; }}
</style></head><body>
<h1>{title}</h1>
{sections}
</body></html>
"""


def write_report(results: Sequence[Backtest], path: str | Path, *, prometheus: Any = None) -> Path:
    """Write the report of ``results`` to ``path`` (one section per case) and return it."""
    path = Path(path)
    if path.is_dir() or not path.name:
        raise UsageError(
            f"--report {str(path)!r} is a folder; give a file name, e.g. backtest.html"
        )
    sections = [_section(result, index == 0) for index, result in enumerate(results)]
    page = _PAGE.format(title="Alert rule backtest", sections="\n".join(sections))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write the report to {path}: {error.strerror or error}") from None
    return path


def _section(result: Backtest, first: bool) -> str:
    rows = "\n".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            html.escape(r.rule.name),
            len(r.firings),
            html.escape(", ".join(f"{d['delay_s']:g} s" for d in r.detections) or "-"),
            len(r.missed),
            len(r.false_alarms),
            html.escape(r.error or ""),
        )
        for r in result.rules
    )
    faults = ", ".join(iso(f.start) for f in result.faults) or "none given"
    return (
        f"<h2>{html.escape(result.case or 'Prometheus history')}</h2>"
        f"<p class=meta>{iso(result.start)} to {iso(result.end)}; faults: {faults}</p>"
        "<table><thead><tr><th>rule</th><th>firings</th><th>detection delay</th>"
        "<th>missed</th><th>false alarms</th><th>error</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{_chart(result, first)}"
    )


def _chart(result: Backtest, include_plotlyjs: bool) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rules = [r for r in result.rules if r.error is None]
    if not rules:
        return "<p>No rule could be replayed.</p>"
    figure = make_subplots(
        rows=len(rules),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.05,
        subplot_titles=[r.rule.name for r in rules],
    )
    for row, rule in enumerate(rules, 1):
        for name, series in _lines(rule.series):
            figure.add_trace(
                go.Scatter(
                    x=series["timestamp"].to_list(),
                    y=series["value"].to_list(),
                    mode="lines",
                    name=name,
                ),
                row=row,
                col=1,
            )
        for firing in rule.firings:
            end = firing.end if firing.end is not None else result.end
            figure.add_vrect(
                x0=_moment(firing.start),
                x1=_moment(end),
                fillcolor="#cf222e",
                opacity=0.18,
                line_width=0,
                row=row,
                col=1,
            )
        for fault in result.faults:
            figure.add_vline(
                x=_moment(fault.start), line_color="#0969da", line_dash="dash", row=row, col=1
            )
    figure.update_layout(
        height=_ROW_HEIGHT * len(rules) + 80,
        showlegend=False,
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
    )
    return figure.to_html(full_html=False, include_plotlyjs=include_plotlyjs)


def _lines(series: pl.DataFrame | None):
    if series is None or series.is_empty():
        return []
    key = "series" if "series" in series.columns else "service"
    groups = series.sort("timestamp").partition_by(key, as_dict=True, maintain_order=True)
    return [(str(name[0]), frame) for name, frame in list(groups.items())[:_MAX_LINES]]


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)
