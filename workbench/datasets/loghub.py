"""loghub-2k suite: 2,000-line log samples of 16 systems with log-parsing ground truth.

Case ``<System>`` (``HDFS``, ``Linux``...). Logs: message = ``Content`` exactly as the
structured file holds it (HealthApp's leading spaces are kept), service = the system
name in lower case, level from the ``Level`` column mapped to ``trace``..``fatal`` (""
when the system has none, or for values that are no level, such as Linux's host name),
``source`` = the raw log file name, and an extra ``line_id`` column (1..2000).

Timestamps: systems whose lines carry a full date are parsed (read as UTC, as the
samples name no zone). Android, Linux, Mac, OpenSSH and Proxifier lines have no year, so
their timestamps are synthetic: 1970-01-01T00:00:00Z + (LineId - 1) seconds, which keeps
line order and nothing else. Rows a format cannot parse fall back the same way.

Truth: ``Truth("", "log-parsing", None)``; the labels are :func:`templates`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from workbench import frames
from workbench.case import Case, Truth
from workbench.datasets._locate import path
from workbench.errors import DatasetError, UnknownCase

SUITE = "loghub-2k"
FAULT_TYPE = "log-parsing"
STRUCTURED_SUFFIX = "_2k.log_structured.csv"
LOG_SUFFIX = "_2k.log"

# How each system's time fields parse: (columns joined by a space, strptime format),
# or a single epoch-seconds column. Systems absent here have no year in their lines.
_TIME_FORMATS: dict[str, tuple[tuple[str, ...], str]] = {
    "Apache": (("Time",), "%a %b %d %H:%M:%S %Y"),
    "HDFS": (("Date", "Time"), "%y%m%d %H%M%S"),
    "Hadoop": (("Date", "Time"), "%Y-%m-%d %H:%M:%S,%3f"),
    "OpenStack": (("Date", "Time"), "%Y-%m-%d %H:%M:%S%.f"),
    "Spark": (("Date", "Time"), "%y/%m/%d %H:%M:%S"),
    "Windows": (("Date", "Time"), "%Y-%m-%d %H:%M:%S"),
    "Zookeeper": (("Date", "Time"), "%Y-%m-%d %H:%M:%S,%3f"),
}
_EPOCH_COLUMNS = {"BGL": "Timestamp", "HPC": "Time", "Thunderbird": "Timestamp"}

_LEVELS = {
    "v": "trace",
    "verbose": "trace",
    "trace": "trace",
    "d": "debug",
    "debug": "debug",
    "i": "info",
    "info": "info",
    "notice": "info",
    "w": "warn",
    "warn": "warn",
    "warning": "warn",
    "e": "error",
    "err": "error",
    "error": "error",
    "severe": "error",
    "f": "fatal",
    "fatal": "fatal",
    "crit": "fatal",
    "critical": "fatal",
    "alert": "fatal",
    "emerg": "fatal",
    "failure": "error",
}


def case_ids(root: Path) -> list[str]:
    """Return the system names that have a structured 2k file under ``root``, unsorted."""
    return [f.parent.name for f in root.glob(f"*/*{STRUCTURED_SUFFIX}")]


def load_case(root: Path, case_id: str) -> Case:
    """Return the logs of system ``case_id`` read from the suite folder ``root``."""
    raw = _structured(root, case_id)
    logs = raw.select(
        _timestamp(case_id, raw.columns).alias("timestamp"),
        pl.lit(case_id.lower()).alias("service"),
        pl.col("Content").fill_null("").alias("message"),
        _level(raw.columns).alias("level"),
        pl.lit(f"{case_id}{LOG_SUFFIX}").alias("source"),
        pl.col("LineId").alias("line_id"),
    )
    return Case(
        suite=SUITE,
        case_id=case_id,
        truth=Truth("", FAULT_TYPE, None),
        logs=frames.validate(logs, frames.LOGS),
    )


def templates(system: str, root: Path | None = None) -> pl.DataFrame:
    """Return the parsing ground truth of ``system``: ``LineId``, ``EventId``, ``EventTemplate``."""
    if root is None:
        root = path(SUITE)
    return _structured(root, system).select("LineId", "EventId", "EventTemplate")


def _structured(root: Path, system: str) -> pl.DataFrame:
    file = root / system / f"{system}{STRUCTURED_SUFFIX}"
    if not file.is_file():
        known = ", ".join(sorted(case_ids(root)))
        raise UnknownCase(f"no loghub-2k system {system!r} under {root}; known: {known}")
    try:
        frame = pl.read_csv(file, infer_schema=False).with_columns(pl.col("LineId").cast(pl.Int64))
    except pl.exceptions.PolarsError as exc:
        raise DatasetError(f"malformed loghub file {file}: {exc}") from exc
    missing = {"LineId", "Content", "EventId", "EventTemplate"} - set(frame.columns)
    if missing:
        raise DatasetError(f"{file}:1: missing column(s) {', '.join(sorted(missing))}")
    return frame


def _synthetic() -> pl.Expr:
    return (
        pl.lit(0, dtype=pl.Int64).cast(pl.Datetime("ns", "UTC"))
        + pl.duration(seconds=pl.col("LineId") - 1)
    ).dt.cast_time_unit("ns")


def _timestamp(system: str, columns: list[str]) -> pl.Expr:
    if system == "HealthApp":
        # `20171223-22:16:0:119`: no field after the date is zero-padded.
        parts = pl.col("Time").str.extract_groups(
            r"^(\d{4})(\d{2})(\d{2})-(\d{1,2}):(\d{1,2}):(\d{1,2}):(\d{1,3})$"
        )
        fields = [parts.struct.field(str(i)).cast(pl.Int32) for i in range(1, 8)]
        parsed = pl.datetime(*fields[:6], time_unit="ns", time_zone="UTC") + pl.duration(
            milliseconds=fields[6]
        )
    elif system in _EPOCH_COLUMNS:
        seconds = pl.col(_EPOCH_COLUMNS[system]).cast(pl.Int64, strict=False)
        parsed = pl.from_epoch(seconds, time_unit="s").dt.replace_time_zone("UTC")
    elif system in _TIME_FORMATS:
        names, fmt = _TIME_FORMATS[system]
        text = pl.concat_str([pl.col(n) for n in names], separator=" ")
        parsed = text.str.to_datetime(fmt, time_unit="ns", time_zone="UTC", strict=False)
    else:
        return _synthetic()
    return parsed.dt.cast_time_unit("ns").fill_null(_synthetic())


def _level(columns: list[str]) -> pl.Expr:
    if "Level" not in columns:
        return pl.lit("")
    return (
        pl.col("Level")
        .str.strip_chars()
        .str.to_lowercase()
        .replace_strict(_LEVELS, default="", return_dtype=pl.String)
    )
