"""What the test Prometheus holds: every series written before start, and how to rebuild it.

Expected values in the tests come from these definitions (closed forms, the RCD CSVs
and the fixture files read with the standard library), never from the loader's output.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import polars as pl

from workbench import datasets
from workbench.sources import write_openmetrics

RCD_CASE = "rcd-sockshop/carts-cpu/1"
RCD_QUERY = '{__name__=~"cpu|mem|lod|lat_.+"}'

# Synthetic history: two gauges sampled every 15 s for 16 h, value i * 1.5 (+1000 for b).
SYNTH_T0 = 1_600_000_000
SYNTH_SPAN_S = 57_600
SYNTH_SCRAPE_S = 15
SYNTH_OFFSETS = {"a": 0.0, "b": 1000.0}

# Basic auth of the TLS server; the tests check that the password never shows.
USER = "admin"
PASSWORD = "correct-horse-9d2f"

# Special values, one per minute from SYNTH_T0.
SPECIAL_VALUES = [1.0, math.nan, math.inf, -math.inf, 2.0]


def mirror() -> Path:
    return Path(os.environ["MANCEROPS_DATASETS"])


def up_fixture_files() -> list[Path]:
    root = mirror() / "fixtures" / "prometheus-api-client" / "metrics"
    return sorted(root.rglob("*.json"))


def up_fixture_samples() -> dict[str, dict[int, float]]:
    """Return {series text: {ms: value}} of the fixture files, read with the stdlib json."""
    found: dict[str, dict[int, float]] = {}
    for file in up_fixture_files():
        for series in json.loads(file.read_text()):
            labels = series["metric"]
            key = (
                "up{"
                + ",".join(f'{k}="{labels[k]}"' for k in sorted(labels) if k != "__name__")
                + "}"
            )
            samples = found.setdefault(key, {})
            for ts, value in series["values"]:
                samples.setdefault(round(ts * 1000), float(value))
    return found


def synth_value(shard: str, t_s: np.ndarray) -> np.ndarray:
    """Return what a raw-selector query of wb_synth{shard} gives at step times ``t_s``."""
    index = (t_s - SYNTH_T0) // SYNTH_SCRAPE_S
    return index * 1.5 + SYNTH_OFFSETS[shard]


def synth_frame() -> pl.DataFrame:
    n = SYNTH_SPAN_S // SYNTH_SCRAPE_S + 1
    parts = []
    for shard, offset in SYNTH_OFFSETS.items():
        i = np.arange(n)
        parts.append(
            pl.DataFrame(
                {
                    "timestamp": (SYNTH_T0 + i * SYNTH_SCRAPE_S) * 1_000_000_000,
                    "service": "",
                    "metric": "wb_synth",
                    "value": i * 1.5 + offset,
                    "shard": shard,
                }
            )
        )
    special = pl.DataFrame(
        {
            "timestamp": [(SYNTH_T0 + 60 * k) * 1_000_000_000 for k in range(len(SPECIAL_VALUES))],
            "service": "",
            "metric": "wb_special",
            "value": SPECIAL_VALUES,
            "shard": "x",
        }
    )
    return (
        pl.concat([*parts, special])
        .with_columns(
            pl.col("timestamp").cast(pl.Datetime("ns")).dt.replace_time_zone("UTC"),
            pl.struct("shard").alias("labels"),
        )
        .drop("shard")
    )


def up_fixture_frame() -> pl.DataFrame:
    from workbench.sources._prometheus_json import parse_result, to_frame

    parts = [parse_result(json.loads(file.read_text())) for file in up_fixture_files()]
    return to_frame(parts, service_labels=())


def write_history(folder: Path) -> Path:
    """Write every series the test Prometheus holds as OpenMetrics files; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    write_openmetrics(datasets.load(RCD_CASE).metrics, folder / "rcd.om")
    write_openmetrics(up_fixture_frame(), folder / "up.om", service_label=None)
    write_openmetrics(synth_frame(), folder / "synth.om", service_label=None)
    return folder
