"""NAB suite: 58 univariate series in 7 groups, with labelled anomaly windows.

Case ``<group>/<series>`` (file name without ``.csv``). Metrics: one series, service
``""``, metric = the series name, ``series`` = ``<group>/<series>``. Timestamps carry no
zone and are read as UTC. Rows keep the file's order: 8 files repeat or step back in time
(a DST switch, a clock jump), and no row is dropped or sorted away.

Truth: root cause ``""``, fault type ``anomaly``, the first window as fault start and
end (``None`` for the 6 files without windows). Every window of the file is in the
``events`` frame (kind ``annotation``, timestamp = window start, details = JSON with
start and end), so none is lost.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from workbench import frames
from workbench.case import Case, Truth
from workbench.errors import DatasetError, UnknownCase

SUITE = "nab"
DATA_DIR = "data"
WINDOWS_FILE = "labels/combined_windows.json"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
FAULT_TYPE = "anomaly"


def case_ids(root: Path) -> list[str]:
    """Return ``<group>/<series>`` for every data file under ``root``, unsorted."""
    return [f"{f.parent.name}/{f.stem}" for f in (root / DATA_DIR).glob("*/*.csv")]


def windows(root: Path) -> dict[str, list[tuple[datetime, datetime]]]:
    """Return the labelled anomaly windows of every case, keyed by case id, as UTC datetimes."""
    source = root / WINDOWS_FILE
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read the NAB windows {source}: {exc}") from exc
    return {
        name.removesuffix(".csv"): [(_edge(start), _edge(end)) for start, end in spans]
        for name, spans in raw.items()
    }


def load_case(root: Path, case_id: str) -> Case:
    """Return case ``case_id`` (``<group>/<series>``) read from the suite folder ``root``."""
    file = root / DATA_DIR / f"{case_id}.csv"
    if not file.is_file():
        raise UnknownCase(f"no case {SUITE}/{case_id} under {root / DATA_DIR}")
    try:
        raw = pl.read_csv(file, schema={"timestamp": pl.String, "value": pl.Float64})
        metrics = raw.select(
            pl.col("timestamp").str.to_datetime(TIME_FORMAT, time_unit="ns", time_zone="UTC"),
            pl.lit("").alias("service"),
            pl.lit(Path(case_id).name).alias("metric"),
            "value",
            pl.lit(case_id).alias("series"),
        )
    except pl.exceptions.PolarsError as exc:
        raise DatasetError(f"malformed NAB file {file}: {exc}") from exc
    spans = windows(root).get(case_id, [])
    first = spans[0] if spans else (None, None)
    events = pl.DataFrame(
        {
            "timestamp": [start for start, _ in spans],
            "kind": ["annotation"] * len(spans),
            "service": [""] * len(spans),
            "summary": [f"anomaly window {_iso(s)} .. {_iso(e)}" for s, e in spans],
            "details": [json.dumps({"start": _iso(s), "end": _iso(e)}) for s, e in spans],
        },
        schema={
            "timestamp": frames.UTC_NS,
            "kind": pl.String,
            "service": pl.String,
            "summary": pl.String,
            "details": pl.String,
        },
    )
    return Case(
        suite=SUITE,
        case_id=case_id,
        truth=Truth("", FAULT_TYPE, first[0], first[1]),
        metrics=frames.validate(metrics, frames.METRICS),
        events=frames.validate(events, frames.EVENTS),
    )


def _edge(text: str) -> datetime:
    # Window edges carry a fraction (".000000") that data timestamps lack.
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
