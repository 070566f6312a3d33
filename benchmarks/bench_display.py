"""Benchmark a chart of a long series: downsampled for display against all points.

For each series length, one run of each way (time to build the figure and its JSON, the
JSON's bytes: what the browser receives over the websocket):

* ``all points``: what a user would otherwise do, a plotly figure of every sample;
* ``workbench``: :func:`workbench.views.indicator_figure`, MinMax-LTTB to 2,000 points
  (tsdownsample);
* ``every nth``: plain striding to the same count (what loses spikes), for comparison.

    python benchmarks/bench_display.py --out reports/bench_display.json
"""

from __future__ import annotations

import argparse
import platform
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import plotly.graph_objects as go
import polars as pl

from workbench.views import DEFAULT_DISPLAY_POINTS, indicator_figure

LENGTHS = (100_000, 1_000_000, 5_000_000)
SPIKE = 50.0


def _series(rows: int) -> pl.DataFrame:
    rng = np.random.default_rng(rows)
    values = np.sin(np.arange(rows) / 5000.0) + rng.normal(0, 0.1, rows)
    values[rows // 3 + 1] = SPIKE  # one spike that a display must keep
    start = datetime(2024, 3, 1, tzinfo=UTC)
    times = pl.datetime_range(
        start, start + timedelta(seconds=rows - 1), "1s", eager=True
    ).dt.cast_time_unit("ns")
    return pl.DataFrame({"timestamp": times, "value": values})


def _measure(build) -> dict:
    started = time.perf_counter()
    figure = build()
    payload = figure.to_json()
    seconds = time.perf_counter() - started
    y = figure.data[0].y
    return {
        "seconds": round(seconds, 4),
        "json_bytes": len(payload),
        "points": len(y),
        "spike_kept": bool(max(y) == SPIKE),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = []
    for rows in LENGTHS:
        series = _series(rows)
        step = max(rows // DEFAULT_DISPLAY_POINTS, 1)
        strided = series.gather_every(step)
        results.append(
            {
                "rows": rows,
                "all points": _measure(
                    lambda s=series: go.Figure(
                        go.Scattergl(x=s["timestamp"].to_numpy(), y=s["value"].to_numpy())
                    )
                ),
                "workbench": _measure(lambda s=series: indicator_figure(s, title="series")),
                "every nth": _measure(
                    lambda s=strided: go.Figure(
                        go.Scattergl(x=s["timestamp"].to_list(), y=s["value"].to_list())
                    )
                ),
            }
        )
    report = {
        "benchmark": "display of a long series",
        "machine": platform.platform(),
        "python": platform.python_version(),
        "display_points": DEFAULT_DISPLAY_POINTS,
        "results": results,
    }
    text = orjson.dumps(report, option=orjson.OPT_INDENT_2)
    print(text.decode())
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(text + b"\n")


if __name__ == "__main__":
    main()
