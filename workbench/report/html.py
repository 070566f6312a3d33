"""Self-contained HTML report of an investigation: ranked causes, evidence, charts."""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

import polars as pl

from workbench.case import Truth
from workbench.rca.model import Investigation, iso

DEFAULT_TOP = 5
_CHART_HEIGHT_PER_ROW = 220

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border-bottom: 1px solid #d0d7de; padding: .35rem .8rem; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.meta {{ color: #57606a; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="meta">{meta}</p>
{truth}
<h2>Most likely root causes</h2>
<table id="ranking">
<thead><tr><th>#</th><th>service</th><th>indicator</th>
<th>deviation (robust sd; e-folds for logs, traces)</th><th>baseline</th><th>observed</th>
<th>indicator onset</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<h2>Evidence by modality</h2>
{modalities}
<h2>Top indicators around the onset</h2>
{chart}
</body>
</html>
"""


def render(
    investigation: Investigation, *, top: int = DEFAULT_TOP, truth: Truth | None = None
) -> str:
    """Return the report as one HTML page with its charts and plotly.js inlined.

    ``truth``, when the incident is a dataset case, is stated under the title.
    """
    causes = investigation.top(top)
    title = f"Investigation: {investigation.case or 'metrics'}"
    how = "detected" if investigation.onset_detected else "given"
    meta = (
        f"onset {iso(investigation.onset)} ({how}); baseline "
        f"{iso(investigation.baseline.start)} to {iso(investigation.baseline.end)}; "
        f"incident window to {iso(investigation.window.end)}; method {investigation.method}"
    )
    rows = "\n".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td class=num>{:+.2f}</td>"
        "<td class=num>{:.4g}</td><td class=num>{:.4g}</td><td>{}</td></tr>".format(
            cause.rank,
            html.escape(cause.service),
            html.escape(cause.indicator),
            cause.evidence["deviation"],
            cause.evidence["baseline"],
            cause.evidence["observed"],
            iso(cause.onset) or "",
        )
        for cause in causes
    )
    return _PAGE.format(
        modalities=_modalities(causes),
        title=html.escape(title),
        meta=html.escape(meta),
        truth=f"<p id=truth>{html.escape(truth_line(truth))}</p>" if truth else "",
        rows=rows,
        chart=_chart(investigation, top),
    )


def write(
    investigation: Investigation,
    path: str | Path,
    *,
    top: int = DEFAULT_TOP,
    truth: Truth | None = None,
) -> Path:
    """Write the report to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(investigation, top=top, truth=truth), encoding="utf-8")
    return path


def _modalities(causes) -> str:
    """Return, per cause, what each modality found: the metric, the log statement with
    its lines, the trace edge with its trace ids."""
    parts = []
    for cause in causes:
        found = cause.evidence.get("modalities")
        if not found:
            continue
        items = []
        for modality in sorted(found):
            item = found[modality]
            text = (
                f"<b>{html.escape(modality)}</b>: {html.escape(item['indicator'])} "
                f"(baseline {item['baseline']:.4g}, observed {item['observed']:.4g}, "
                f"deviation {item['deviation']:+.2f})"
            )
            lines = "".join(
                f"<li><code>{html.escape(line)}</code></li>" for line in item.get("lines", [])
            )
            traces = ", ".join(f"<code>{html.escape(t)}</code>" for t in item.get("trace_ids", []))
            if lines:
                text += f"<ul class=lines>{lines}</ul>"
            if traces:
                text += f"<div>traces: {traces}</div>"
            items.append(f"<li>{text}</li>")
        parts.append(
            f"<h3>#{cause.rank} {html.escape(cause.service)}</h3><ul>{''.join(items)}</ul>"
        )
    return "\n".join(parts) if parts else "<p>Metrics only: see the ranking above.</p>"


def _metric_of(cause) -> str | None:
    found = cause.evidence.get("modalities", {}).get("metrics")
    return found["metric"] if found else cause.evidence.get("metric")


def _metric_indicator(cause) -> str:
    found = cause.evidence.get("modalities", {}).get("metrics")
    return found["indicator"] if found else cause.indicator


def _chart(investigation: Investigation, top: int) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    causes = [c for c in investigation.top(top) if _metric_of(c)]
    if not causes:
        return "<p>No indicators to chart.</p>"
    metrics = investigation.metrics
    figure = make_subplots(
        rows=len(causes),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        subplot_titles=[f"#{c.rank} {_metric_indicator(c)}" for c in causes],
    )
    for row, cause in enumerate(causes, 1):
        series = (
            metrics.filter(
                (pl.col("service") == cause.service) & (pl.col("metric") == _metric_of(cause))
            )
            .group_by("timestamp")
            .agg(pl.col("value").mean())
            .sort("timestamp")
        )
        figure.add_trace(
            go.Scatter(
                x=series["timestamp"].to_list(),
                y=series["value"].to_list(),
                mode="lines",
                name=cause.indicator,
            ),
            row=row,
            col=1,
        )
        metric = cause.evidence.get("modalities", {}).get("metrics", cause.evidence)
        figure.add_hline(
            y=metric["baseline"], line_dash="dot", line_color="#57606a", row=row, col=1
        )
    figure.add_vline(x=investigation.onset, line_color="#cf222e", line_width=2)
    figure.add_annotation(
        x=investigation.onset,
        y=1.0,
        yref="paper",
        text="onset",
        showarrow=False,
        font={"color": "#cf222e"},
        xanchor="left",
    )
    # Host events near the onset (unit state, config change), as dashed markers.
    for event in investigation.extras.get("annotations", []):
        moment = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        figure.add_vline(x=moment, line_dash="dash", line_color="#9a6700", line_width=1)
        figure.add_annotation(
            x=moment,
            y=0.0,
            yref="paper",
            text=html.escape(event["summary"]),
            showarrow=False,
            textangle=-90,
            font={"color": "#9a6700", "size": 10},
            xanchor="right",
            yanchor="bottom",
        )
    figure.update_layout(
        height=_CHART_HEIGHT_PER_ROW * len(causes) + 80,
        showlegend=False,
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
    )
    return figure.to_html(full_html=False, include_plotlyjs=True, div_id="indicators")


def truth_line(truth: Truth) -> str:
    """Return the ground truth of a dataset case as one line."""
    start = f" from {iso(truth.fault_start)}" if truth.fault_start else ""
    culprit = f"{truth.root_cause_service} " if truth.root_cause_service else ""
    return f"ground truth: {culprit}({truth.fault_type}){start}"
