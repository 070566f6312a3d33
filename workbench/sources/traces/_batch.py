"""Collect decoded spans of one style across a file's documents, then make raw columns once.

The decoder gives one small struct per span (msgspec, untracked by the garbage collector):
that much per-span Python is what parsing a JSON tree inevitably costs. Columns are then
made with one list comprehension per field over all spans of the file, and everything
after that (ids, tags, events, references) is columnar in polars.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from workbench.sources.traces._columns import raw_strings


@dataclass(slots=True)
class Batch:
    """Spans of one style (``otlp`` or ``jaeger``) gathered from the documents of a file."""

    style: str
    spans: list = field(default_factory=list)
    # Per group of spans that share them (an OTLP scope, a Jaeger trace): values and sizes.
    counts: list[int] = field(default_factory=list)
    group_values: dict[str, list] = field(default_factory=dict)
    # Per span, when they differ inside a group (Jaeger processes).
    span_values: dict[str, list] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add_group(self, spans: list, **values: object) -> None:
        """Add spans that share ``values`` (service, host, scope)."""
        self.spans.extend(spans)
        self.counts.append(len(spans))
        for key, value in values.items():
            self.group_values.setdefault(key, []).append(value)

    def add_spans(self, spans: list, **values: list) -> None:
        """Add spans with one value per span for each of ``values``."""
        self.spans.extend(spans)
        for key, value in values.items():
            self.span_values.setdefault(key, []).extend(value)

    def __len__(self) -> int:
        return len(self.spans)

    def to_frame(self) -> pl.DataFrame:
        """Return the raw columns: ids and times as given, tags/events/links as JSON text."""
        spans = self.spans
        if self.style == "otlp":
            raw = {
                "trace_id": [s.trace_id for s in spans],
                "span_id": [s.span_id for s in spans],
                "parent_span_id": [s.parent_span_id for s in spans],
                "operation": [s.name for s in spans],
                "start_ns": [s.start_time_unix_nano for s in spans],
                "end_ns": [s.end_time_unix_nano for s in spans],
                "kind_raw": _text([s.kind for s in spans]),
                "status_raw": _text([s.status.code if s.status else None for s in spans]),
                "status_message": [s.status.message if s.status else None for s in spans],
                "dropped": [s.dropped_attributes_count for s in spans],
            }
            frame = pl.DataFrame(
                raw,
                schema_overrides={"start_ns": pl.Int64, "end_ns": pl.Int64, "dropped": pl.Int64},
            )
            frame = frame.with_columns(
                (pl.col("end_ns") - pl.col("start_ns")).alias("duration_ns")
            ).drop("end_ns")
            texts = {
                "tags": [s.attributes for s in spans],
                "events": [s.events for s in spans],
                "links": [s.links for s in spans],
            }
        else:
            raw = {
                "trace_id": [s.trace_id for s in spans],
                "span_id": [s.span_id for s in spans],
                "operation": [s.operation_name for s in spans],
                "start_ns": [s.start_time for s in spans],
                "duration_ns": [s.duration for s in spans],
            }
            frame = pl.DataFrame(
                raw, schema_overrides={"start_ns": pl.Int64, "duration_ns": pl.Int64}
            ).with_columns(pl.col("start_ns") * 1000, pl.col("duration_ns") * 1000)
            texts = {
                "tags": [s.tags for s in spans],
                "events": [s.logs for s in spans],
                "links": [s.references for s in spans],
            }
        frame = frame.with_columns(
            [raw_strings(values).alias(name) for name, values in texts.items()]
        )
        if self.counts:
            index = np.repeat(np.arange(len(self.counts)), self.counts)
            frame = frame.with_columns(
                pl.Series(name, values, dtype=pl.String).gather(index).alias(name)
                for name, values in self.group_values.items()
            )
        if self.span_values:
            frame = frame.with_columns(
                pl.Series(name, values, dtype=pl.String)
                for name, values in self.span_values.items()
            )
        return frame


def _text(values: list) -> pl.Series:
    # Enums come as ints almost always (kept as Int64); names or digit strings as text.
    try:
        return pl.Series(values, dtype=pl.Int64)
    except (TypeError, pl.exceptions.PolarsError):
        return pl.Series([None if v is None else str(v) for v in values], dtype=pl.String)
