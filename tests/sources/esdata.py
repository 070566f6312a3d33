"""Real Nezha Train Ticket logs, indexed into the test search servers.

* ``nezha-000001`` and ``nezha-000002`` (ECS layout, split in time as rollover indices
  are): the logs frame of one dataset case as ECS documents. Every third document spells
  its fields as dotted keys (``"service.name": ...``), the rest as nested objects, since
  shippers write both; levels are upper case as Java loggers write them. The expected
  answer of a pull is the case's own logs frame.
* ``nezha-raw-2023.01.29`` (Nezha's own layout): the rows of a raw minute CSV as they
  are (``Timestamp``, ``PodName``, ``Log``...), read with a custom mapping. Its expected
  answer is read from the CSV here, independently of the dataset loader.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import polars as pl

from workbench import datasets

CASE = "nezha/2023-01-29/09_34"  # 2,387 lines, 29 with Go's zero time (trap 10)
ECS_INDICES = ("nezha-000001", "nezha-000002")
ECS_PATTERN = "nezha-0*"
RAW_INDEX = "nezha-raw-2023.01.29"
RAW_FILES = ("09_34_log.csv.gz",)  # 314 rows, 18 with Go's zero time
COMPARED = ("timestamp", "service", "message", "level", "trace_id", "span_id")
ECS_PROPERTIES = {
    "@timestamp": {"type": "date_nanos"},
    "message": {"type": "text"},
    "service": {"properties": {"name": {"type": "keyword"}}},
    "log": {"properties": {"level": {"type": "keyword"}}},
    "host": {"properties": {"name": {"type": "keyword"}}},
    "kubernetes": {"properties": {"pod": {"properties": {"name": {"type": "keyword"}}}}},
    "container": {"properties": {"name": {"type": "keyword"}}},
    "trace": {"properties": {"id": {"type": "keyword"}}},
    "span": {"properties": {"id": {"type": "keyword"}}},
    "labels": {"properties": {"case": {"type": "keyword"}}},
}
CONFLICT_PROPERTIES = {"@timestamp": {"type": "date"}, "message": {"type": "text"}}
RAW_PROPERTIES = {
    "Timestamp": {"type": "date_nanos"},
    "TimeUnixNano": {"type": "keyword"},
    "Node": {"type": "keyword"},
    "PodName": {"type": "keyword"},
    "Container": {"type": "keyword"},
    "TraceID": {"type": "keyword"},
    "SpanID": {"type": "keyword"},
    "Log": {"type": "text"},
}


def mirror() -> Path:
    return Path(os.environ["MANCEROPS_DATASETS"])


@functools.cache
def case_logs() -> pl.DataFrame:
    """Return the logs frame of the test case, as the dataset loader reads it."""
    return datasets.load(CASE).logs


def halves() -> dict[str, pl.DataFrame]:
    """Return the case's lines of each ECS index: the earlier half, then the later one."""
    logs = case_logs()
    cut = logs["timestamp"].sort()[logs.height // 2]
    return {
        ECS_INDICES[0]: logs.filter(pl.col("timestamp") < cut),
        ECS_INDICES[1]: logs.filter(pl.col("timestamp") >= cut),
    }


def ecs_documents(logs: pl.DataFrame, case_id: str) -> list[dict]:
    """Return one ECS document per log line."""
    rows = logs.with_columns(
        pl.col("timestamp").dt.to_string("%Y-%m-%dT%H:%M:%S%.9fZ").alias("stamp"),
        pl.col("level").str.to_uppercase(),
    ).to_dicts()
    documents = []
    for number, row in enumerate(rows):
        fields = {
            "service.name": row["service"],
            "log.level": row["level"],
            "host.name": row["host"],
            "kubernetes.pod.name": row["pod"],
            "container.name": row["container"],
            "trace.id": row["trace_id"],
            "span.id": row["span_id"],
            "labels.case": case_id,
        }
        document = {"@timestamp": row["stamp"], "message": row["message"]}
        if number % 3 == 0:
            document.update(fields)
        else:
            for path, value in fields.items():
                *parents, leaf = path.split(".")
                node = document
                for parent in parents:
                    node = node.setdefault(parent, {})
                node[leaf] = value
        documents.append(document)
    return documents


def raw_rows() -> pl.DataFrame:
    """Return the raw minute CSV rows of RAW_FILES, every column as text."""
    folder = mirror() / "nezha" / "rca_data" / "2023-01-29" / "log"
    return pl.concat(
        pl.read_csv(folder / name, infer_schema=False, truncate_ragged_lines=True)
        for name in RAW_FILES
    )


def raw_expected(rows: pl.DataFrame) -> pl.DataFrame:
    """Return what a pull of the raw index must give, read from the CSV rows themselves."""
    # The Go zero-time rows (trap 10) have a Timestamp without zone and only ms digits:
    # the server reads it as UTC, as it reads every ISO date without an offset.
    stamp = pl.col("Timestamp").str.strip_suffix("Z")
    return rows.select(
        stamp.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="ns", time_zone="UTC").alias(
            "timestamp"
        ),
        pl.col("PodName").str.replace(r"-[a-z0-9]+-[a-z0-9]+$", "").alias("service"),
        pl.col("Log").alias("message"),
        pl.col("Node").alias("host"),
        pl.col("TraceID").alias("trace_id"),
        pl.col("SpanID").alias("span_id"),
    )


@functools.cache
def documents() -> dict[str, list[dict]]:
    """Return the documents of each test index (made once)."""
    made = {index: ecs_documents(lines, CASE) for index, lines in halves().items()}
    made[RAW_INDEX] = raw_rows().to_dicts()
    return made


def load(server) -> None:
    """Index the test logs into ``server``."""
    for index in ECS_INDICES:
        server.create_index(index, ECS_PROPERTIES)
    server.create_index(RAW_INDEX, RAW_PROPERTIES)
    # Two indices where one field has two types: a term query on it fails on the shard
    # of the numeric one only (a real partial result).
    for index, kind in (("conflict-a", "long"), ("conflict-b", "keyword")):
        server.create_index(index, {**CONFLICT_PROPERTIES, "code": {"type": kind}})
    server.bulk(
        {
            **documents(),
            "conflict-a": [{"@timestamp": "2024-01-01T00:00:00Z", "code": 1, "message": "a"}],
            "conflict-b": [{"@timestamp": "2024-01-01T00:00:01Z", "code": "abc", "message": "b"}],
        }
    )


def sortable(frame: pl.DataFrame, columns=COMPARED) -> pl.DataFrame:
    """Return ``columns`` of ``frame`` in one total order, for exact comparison."""
    return frame.select(columns).sort(list(columns))
