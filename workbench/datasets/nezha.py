"""Nezha suite (Train Ticket, FSE'23): 45 injected faults with logs, traces and metrics.

Case ``<date>/<HH_MM>``: the minute of the fault's ``inject_time`` in its date's fault
list. ``inject_time`` is read as UTC on the data clock; ``inject_timestamp`` is ignored,
as it is shifted by 8 h or off by up to 90 s for 13 faults.

Window: rows whose own timestamp lies in ``[inject - 10 min, inject + 5 min)``, where the
start is moved up to ``previous inject + 3 min`` and the end back to the next injection
of the same date, so a case never holds a neighbouring fault. Minute files are chosen
to cover that window and their rows are then filtered by timestamp, since a file
``HH_MM`` holds about ``HH:MM - 51 s .. + 8 s`` on 2023-01-29 and ``- 7 s .. + 52 s`` on
2023-01-30. The log and trace files only exist for the three minutes after each
injection minute, so logs and spans start about a minute before the fault; the whole-day
metric files (60 s step) give the full 10 min baseline.

Frames:
* metrics: every ``<pod>_metric.csv`` plus ``front_service.csv`` (service ``frontend``);
  metric names are the original column names (``CpuUsageRate(%)``, the names
  ``construct_data/root_cause_ts.json`` uses); time from ``TimeStamp`` (epoch s);
  ``series`` = ``<pod>/<column>``. ``PodClientLatency*`` = 3600 is a sentinel, read as NaN.
* logs: message = the application text of the Docker record's ``log`` field, trailing
  newline dropped; level parsed from it (``INFO`` -> ``info``, ``WARN`` -> ``warn``);
  time from ``TimeUnixNano``, except the rows holding Go's zero time, which take the
  Docker record's ``time``. Rows whose ``Log`` JSON is broken keep the raw text as message
  (with the row's ``Timestamp``) and are counted in a logged warning.
* spans: ``ParentID`` ``root`` -> ``""``, ``Duration`` µs -> ms, start from
  ``StartTimeUnixNano``.
Rows repeated across files (all of ``2023-01-29/15_44`` repeats ``15_43``) are dropped.

Reference: ``case.reference`` holds the date's fault-free logs and spans from
``construct_data/<date>/{log,trace}`` (the normal period Nezha itself compares against:
2023-01-29 08:48-08:51, 2023-01-30 11:38-11:39), as a baseline beside the minute or so
of logs and spans a case holds before its fault. It is recorded apart from the case and
carries no ground truth; on 2023-01-29 it lies 5 minutes after the 08:43 fault (trap 14
of the datasets README).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from workbench import frames
from workbench.case import Case, Truth
from workbench.errors import DatasetError, UnknownCase

log = logging.getLogger(__name__)

SUITE = "nezha"
DATA_DIR = "rca_data"
REFERENCE_DIR = "construct_data"
BASELINE = timedelta(minutes=10)
AFTER = timedelta(minutes=5)
# A previous fault is taken to affect the data this long after its injection.
PREVIOUS_FAULT_GUARD = timedelta(minutes=3)
# Go's zero time.Time written as Unix nanoseconds: the sentinel in TimeUnixNano.
GO_ZERO_TIME_NS = -6795364578871345152
CLIENT_LATENCY_SENTINEL = 3600.0
FRONT_SERVICE_FILE = "front_service"

_CASE_ID = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})/(?P<minute>\d{2}_\d{2})$")
_LEVEL = re.compile(r"^\S+\s+(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL)\b")


@dataclass(frozen=True, slots=True)
class Fault:
    """One entry of a date's fault list."""

    date: str
    inject_time: datetime
    pod: str
    fault_type: str

    @property
    def case_id(self) -> str:
        return f"{self.date}/{self.inject_time:%H_%M}"


def faults(root: Path) -> list[Fault]:
    """Return every fault of every date under ``root``, in time order."""
    found = []
    for source in sorted((root / DATA_DIR).glob("*/*-fault_list.json")):
        try:
            hours = json.loads(source.read_text(encoding="utf-8"))
            for entries in hours.values():
                for entry in entries:
                    found.append(
                        Fault(
                            date=source.parent.name,
                            inject_time=datetime.strptime(
                                entry["inject_time"], "%Y-%m-%d %H:%M:%S"
                            ).replace(tzinfo=UTC),
                            pod=entry["inject_pod"],
                            fault_type=entry["inject_type"],
                        )
                    )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"malformed Nezha fault list {source}: {exc}") from exc
    return sorted(found, key=lambda fault: fault.inject_time)


def case_ids(root: Path) -> list[str]:
    """Return ``<date>/<HH_MM>`` for every fault under ``root``."""
    return [fault.case_id for fault in faults(root)]


def window(root: Path, case_id: str) -> tuple[datetime, datetime]:
    """Return the ``[start, end)`` time window of case ``case_id``."""
    return _window(faults(root), case_id)[1:]


def load_case(root: Path, case_id: str) -> Case:
    """Return case ``case_id`` (``<date>/<HH_MM>``) read from the suite folder ``root``."""
    fault, start, end = _window(faults(root), case_id)
    day = root / DATA_DIR / fault.date
    logs = _logs(_minute_files(day / "log", start, end))
    spans = _spans(_minute_files(day / "trace", start, end))
    metrics = _metrics(day / "metric", start, end)
    truth = Truth(
        root_cause_service=frames.service_of(fault.pod),
        fault_type=fault.fault_type,
        fault_start=fault.inject_time,
    )
    return Case(
        suite=SUITE,
        case_id=case_id,
        truth=truth,
        reference=_reference(str(root), fault.date),
        metrics=frames.validate(_between(metrics, "timestamp", start, end), frames.METRICS),
        logs=frames.validate(_between(logs, "timestamp", start, end), frames.LOGS),
        spans=frames.validate(_between(spans, "start", start, end), frames.SPANS),
    )


@functools.lru_cache(maxsize=2)
def _reference(root: str, date: str) -> Case | None:
    folder = Path(root) / REFERENCE_DIR / date
    logs = _logs(_every_file(folder / "log"))
    spans = _spans(_every_file(folder / "trace"))
    if logs.is_empty() and spans.is_empty():
        return None
    return Case(
        suite=SUITE,
        case_id=f"{REFERENCE_DIR}/{date}",
        truth=None,
        logs=frames.validate(logs, frames.LOGS),
        spans=frames.validate(spans, frames.SPANS),
    )


def _every_file(folder: Path) -> list[Path]:
    chosen = {}
    for file in sorted(folder.glob("*_*.csv*")):
        chosen.setdefault(file.name.split(".")[0], file)  # plain .csv and .csv.gz: read one
    return [chosen[stem] for stem in sorted(chosen)]


def _window(all_faults: list[Fault], case_id: str) -> tuple[Fault, datetime, datetime]:
    ids = [fault.case_id for fault in all_faults]
    if _CASE_ID.match(case_id) is None or case_id not in ids:
        raise UnknownCase(f"no case {SUITE}/{case_id}; the fault lists hold {len(ids)} faults")
    index = ids.index(case_id)
    fault = all_faults[index]
    start = fault.inject_time - BASELINE
    end = fault.inject_time + AFTER
    same_day = [f for f in all_faults if f.date == fault.date]
    position = same_day.index(fault)
    if position > 0:
        start = max(start, same_day[position - 1].inject_time + PREVIOUS_FAULT_GUARD)
    if position + 1 < len(same_day):
        end = min(end, same_day[position + 1].inject_time)
    return fault, start, end


def _minute_files(folder: Path, start: datetime, end: datetime) -> list[Path]:
    # A minute file holds rows up to a minute either side of its name.
    first = start - timedelta(minutes=1)
    last = end + timedelta(minutes=1)
    date = folder.parent.name
    chosen = {}
    for file in folder.glob("*_*.csv*"):
        stem = file.name.split(".")[0]  # HH_MM_log
        hour, minute = stem.split("_")[:2]
        moment = datetime.strptime(f"{date} {hour}:{minute}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        if first <= moment <= last:
            chosen.setdefault(stem, file)  # plain .csv and .csv.gz: read one
    return [chosen[stem] for stem in sorted(chosen)]


def _read(file: Path) -> pl.DataFrame:
    try:
        # A few log rows break the CSV quoting and spill into extra fields; the first
        # eight fields are kept and the row is then caught as broken JSON.
        return pl.read_csv(file, infer_schema=False, truncate_ragged_lines=True)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DatasetError(f"cannot read Nezha file {file}: {exc}") from exc


def _logs(files: list[Path]) -> pl.DataFrame:
    if not files:
        return frames.empty(frames.LOGS)
    raw = pl.concat(
        [_read(f).with_columns(pl.lit(f.name).alias("source")) for f in files], how="diagonal"
    )
    parsed = raw.with_columns(
        pl.col("Log").str.json_path_match("$.log").alias("text"),
        pl.col("Log").str.json_path_match("$.time").alias("docker_time"),
        pl.col("TimeUnixNano").cast(pl.Int64, strict=False).alias("ns"),
    )
    broken = parsed["text"].null_count()
    if broken:
        log.warning("%d Nezha log row(s) with broken Log JSON kept as raw text", broken)
    fallback = (
        pl.col("Timestamp")
        .str.strip_suffix("Z")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="ns", time_zone="UTC", strict=False)
    )
    docker_time = (
        pl.col("docker_time")
        .str.strip_suffix("Z")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="ns", time_zone="UTC", strict=False)
    )
    good_ns = pl.when(pl.col("ns").is_not_null() & (pl.col("ns") != GO_ZERO_TIME_NS)).then(
        pl.col("ns")
    )
    timestamp = pl.coalesce(
        good_ns.cast(pl.Datetime("ns")).dt.replace_time_zone("UTC"), docker_time, fallback
    )
    message = pl.coalesce(pl.col("text").str.strip_suffix("\n"), pl.col("Log"))
    level = (
        message.str.extract(_LEVEL.pattern, 1)
        .str.to_lowercase()
        .replace({"warning": "warn"})
        .fill_null("")
    )
    return parsed.select(
        timestamp.alias("timestamp"),
        frames.service_expr("PodName").alias("service"),
        message.alias("message"),
        level.alias("level"),
        pl.col("Node").alias("host"),
        pl.col("PodName").alias("pod"),
        pl.col("Container").alias("container"),
        pl.col("TraceID").fill_null("").alias("trace_id"),
        pl.col("SpanID").fill_null("").alias("span_id"),
        "source",
    ).unique(subset=[c for c in ("timestamp", "pod", "message", "span_id")], maintain_order=True)


def read_spans(files: list[Path]) -> pl.DataFrame:
    """Return the spans of Nezha trace CSVs (plain or gzip), repeated rows dropped."""
    return _spans(files)


def _spans(files: list[Path]) -> pl.DataFrame:
    if not files:
        return frames.empty(frames.SPANS)
    raw = pl.concat([_read(f) for f in files], how="diagonal")
    try:
        spans = raw.select(
            pl.col("TraceID").alias("trace_id"),
            pl.col("SpanID").alias("span_id"),
            pl.when(pl.col("ParentID") == "root")
            .then(pl.lit(""))
            .otherwise(pl.col("ParentID"))
            .alias("parent_span_id"),
            frames.service_expr("PodName").alias("service"),
            pl.col("OperationName").alias("operation"),
            pl.col("StartTimeUnixNano")
            .cast(pl.Int64)
            .cast(pl.Datetime("ns"))
            .dt.replace_time_zone("UTC")
            .alias("start"),
            (pl.col("Duration").cast(pl.Float64) / 1000.0).alias("duration_ms"),
        )
    except pl.exceptions.PolarsError as exc:
        names = ", ".join(f.name for f in files)
        raise DatasetError(f"malformed Nezha trace file among {names}: {exc}") from exc
    return spans.unique(subset=["trace_id", "span_id"], keep="first", maintain_order=True)


def _metrics(folder: Path, start: datetime, end: datetime) -> pl.DataFrame:
    parts = [
        wide.filter(pl.col("epoch").is_between(start.timestamp(), end.timestamp())).unpivot(
            index=["epoch", "owner"], variable_name="metric"
        )
        for wide in _metric_tables(str(folder))
    ]
    if not parts:
        return frames.empty(frames.METRICS)
    long = pl.concat(parts)
    sentinel = pl.col("metric").str.starts_with("PodClientLatency") & (
        pl.col("value") == CLIENT_LATENCY_SENTINEL
    )
    return long.select(
        pl.from_epoch("epoch", time_unit="s")
        .dt.cast_time_unit("ns")
        .dt.replace_time_zone("UTC")
        .alias("timestamp"),
        frames.service_expr("owner").alias("service"),
        "metric",
        pl.when(sentinel)
        .then(float("nan"))
        .otherwise(pl.col("value"))
        .fill_null(float("nan"))
        .alias("value"),
        (pl.col("owner") + "/" + pl.col("metric")).alias("series"),
    )


@functools.lru_cache(maxsize=2)
def _metric_tables(folder: str) -> tuple[pl.DataFrame, ...]:
    # Whole-day files shared by every case of the date: read once per date, kept wide
    # (about 1 MB a date) and cut to each case's window before going long.
    tables = []
    seen = set()
    for file in sorted(Path(folder).glob("*.csv*")):
        stem = file.name.split(".")[0]
        if stem in seen:  # plain .csv and .csv.gz: read one
            continue
        seen.add(stem)
        raw = _read(file)
        owner = "ServiceName" if stem == FRONT_SERVICE_FILE else "PodName"
        values = [c for c in raw.columns if c not in ("Time", "TimeStamp", owner)]
        try:
            tables.append(
                raw.select(
                    pl.col("TimeStamp").cast(pl.Int64).alias("epoch"),
                    pl.col(owner).alias("owner"),
                    *[pl.col(c).cast(pl.Float64) for c in values],
                )
            )
        except pl.exceptions.PolarsError as exc:
            raise DatasetError(f"malformed Nezha metric file {file}: {exc}") from exc
    return tuple(tables)


def _between(frame: pl.DataFrame, column: str, start: datetime, end: datetime) -> pl.DataFrame:
    return frame.filter((pl.col(column) >= start) & (pl.col(column) < end))
