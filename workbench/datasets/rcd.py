"""RCD Sock Shop suite: 50 injected CPU and memory faults, metrics only, 1 s step.

Case ``<service>-<fault>/<n>`` is ``normal.csv`` followed by ``anomalous.csv`` as one
series. ``anomalous.csv`` keeps its own timestamps; the normal rows are shifted so the
last one falls 1 s before the first anomalous row. The normal window was recorded hours
or days earlier (and in ``orders-mem/5`` minutes *after* the fault), so only the
re-timed series is contiguous; the baseline is always ``normal.csv``.

Columns ``<container>_<metric>`` are split on the first ``_``: ``carts-db_cpu`` becomes
service ``carts-db``, metric ``cpu``; ``carts_lat_50`` becomes ``carts``, ``lat_50``.
The original column name is kept in ``series``.
"""

from __future__ import annotations

import csv
import math
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from workbench import frames
from workbench.case import Case, Truth
from workbench.errors import DatasetError, UnknownCase

SUITE = "rcd-sockshop"
DATA_DIR = "sock-shop-data"
TIME_COLUMN = "time"
NORMAL_FILE = "normal.csv"
ANOMALOUS_FILE = "anomalous.csv"
STEP_S = 1

_CASE_ID = re.compile(r"^(?P<service>[a-z][a-z0-9-]*)-(?P<fault>cpu|mem)/(?P<n>\d+)$")


def case_ids(root: Path) -> list[str]:
    """Return the ids of the cases under ``root`` (``<service>-<fault>/<n>``), unsorted."""
    base = root / DATA_DIR
    if not base.is_dir():
        return []
    ids = []
    for folder in base.glob("*/*"):
        case_id = f"{folder.parent.name}/{folder.name}"
        # A folder with either file is a case: a missing or unreadable one is then named
        # when the case loads, instead of the case silently vanishing from the suite.
        has_data = (folder / ANOMALOUS_FILE).exists() or (folder / NORMAL_FILE).exists()
        if _CASE_ID.match(case_id) and has_data:
            ids.append(case_id)
    return ids


def load_case(root: Path, case_id: str) -> Case:
    """Return case ``case_id`` read from the suite folder ``root``."""
    match = _CASE_ID.match(case_id)
    folder = root / DATA_DIR / case_id
    if match is None or not folder.is_dir():
        raise UnknownCase(f"no case {SUITE}/{case_id} under {root / DATA_DIR}")
    normal = read_indicator_csv(folder / NORMAL_FILE)
    anomalous = read_indicator_csv(folder / ANOMALOUS_FILE)
    if normal.columns != anomalous.columns:
        only_normal = sorted(set(normal.columns) - set(anomalous.columns))
        only_anomalous = sorted(set(anomalous.columns) - set(normal.columns))
        raise DatasetError(
            f"{folder / NORMAL_FILE} and {ANOMALOUS_FILE} beside it have different headers "
            f"(only in normal: {only_normal or 'none'}; only in anomalous: "
            f"{only_anomalous or 'none'}; or a different order); both must list the same series"
        )
    first_anomalous = anomalous[TIME_COLUMN][0]
    shift = first_anomalous - STEP_S - normal[TIME_COLUMN][-1]
    wide = pl.concat([normal.with_columns(pl.col(TIME_COLUMN) + shift), anomalous], how="diagonal")
    metrics = frames.validate(_long(wide), frames.METRICS)
    truth = Truth(
        root_cause_service=match["service"],
        fault_type=match["fault"],
        fault_start=_utc(first_anomalous),
        fault_end=_utc(anomalous[TIME_COLUMN][-1]),
    )
    return Case(suite=SUITE, case_id=case_id, truth=truth, metrics=metrics)


def read_indicator_csv(file: Path) -> pl.DataFrame:
    """Return an RCD CSV as a wide frame: integer ``time`` then one float column per series.

    Raises :class:`DatasetError` naming the file and line of a malformed row.
    """
    header = _header(file)
    if TIME_COLUMN not in header:
        raise DatasetError(
            f"{file}:1: no {TIME_COLUMN!r} column in the header "
            f"(columns: {', '.join(header[:5])}...)"
        )
    schema = {name: pl.Float64 for name in header} | {TIME_COLUMN: pl.Int64}
    try:
        frame = pl.read_csv(file, schema=schema)
    except pl.exceptions.PolarsError as exc:
        raise _malformed(file, header, str(exc)) from exc
    if frame.null_count().sum_horizontal().item():
        raise _malformed(file, header, "empty cell")
    if frame.is_empty():
        raise DatasetError(f"{file}: no data rows")
    _check_values(file, frame)
    return frame


def _header(file: Path) -> list[str]:
    """Return the header of ``file``: strict UTF-8, no repeated names."""
    try:
        with file.open("rb") as stream:
            first = stream.readline()
    except OSError as exc:
        raise DatasetError(f"cannot read {file}: {exc.strerror or exc}") from exc
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{file}:1: the header is not UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    header = next(csv.reader([text]), [])
    seen: set[str] = set()
    repeated = [name for name in header if name in seen or seen.add(name)]
    if repeated:
        raise DatasetError(f"{file}:1: column(s) named twice: {', '.join(repeated)}")
    if not header:
        raise DatasetError(f"{file}: empty file, no header")
    return header


def _check_values(file: Path, frame: pl.DataFrame) -> None:
    """Refuse NaN/inf cells and a time that does not advance by exactly one step per row."""
    values = [c for c in frame.columns if c != TIME_COLUMN]
    bad = frame.select(
        pl.any_horizontal([~pl.col(c).is_finite() for c in values]).arg_true().first()
    ).item()
    if bad is not None:
        row = frame.row(bad, named=True)
        column = next(c for c in values if not math.isfinite(row[c]))
        raise DatasetError(
            f"{file}:{bad + 2}: column {column!r}: {row[column]} is not a finite number"
        )
    steps = frame[TIME_COLUMN].diff().slice(1)
    wrong = (steps != STEP_S).arg_true()
    if wrong.len():
        at = int(wrong[0]) + 1
        raise DatasetError(
            f"{file}:{at + 2}: time {frame[TIME_COLUMN][at]} follows {frame[TIME_COLUMN][at - 1]}; "
            f"rows must advance by exactly {STEP_S} s (sorted, no gaps or repeats)"
        )


def _malformed(file: Path, header: list[str], fallback: str) -> DatasetError:
    # Only reached once polars has rejected the file: a row-by-row pass is the one way
    # to name the offending line, and it never runs on a good file.
    with file.open(newline="", encoding="utf-8") as stream:
        for line_no, row in enumerate(csv.reader(stream), start=1):
            if line_no == 1:
                continue
            if len(row) != len(header):
                return DatasetError(
                    f"{file}:{line_no}: expected {len(header)} fields, found {len(row)}"
                )
            for name, cell in zip(header, row, strict=True):
                problem = _cell_problem(name, cell)
                if problem:
                    return DatasetError(f"{file}:{line_no}: column {name!r}: {problem}")
    return DatasetError(f"{file}: malformed CSV: {fallback}")


def _cell_problem(name: str, cell: str) -> str | None:
    if cell.strip() == "":
        return "empty cell"
    try:
        value = float(cell)
    except ValueError:
        return f"not a number: {cell!r}"
    if name == TIME_COLUMN and (not math.isfinite(value) or value != int(value)):
        return f"time is not an integer epoch second: {cell!r}"
    return None


def _long(wide: pl.DataFrame) -> pl.DataFrame:
    long = wide.with_columns(
        pl.from_epoch(TIME_COLUMN, time_unit="s")
        .dt.cast_time_unit("ns")
        .dt.replace_time_zone("UTC")
        .alias("timestamp")
    ).unpivot(index="timestamp", on=[c for c in wide.columns if c != TIME_COLUMN])
    parts = pl.col("variable").str.splitn("_", 2)
    return long.select(
        "timestamp",
        parts.struct.field("field_0").alias("service"),
        parts.struct.field("field_1").alias("metric"),
        "value",
        pl.col("variable").alias("series"),
    )


def _utc(epoch_s: int) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)
