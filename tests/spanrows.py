"""Small hand-built spans frames for tests: one row per span, in these columns."""

import polars as pl

SPAN_COLUMNS = [
    "trace_id",
    "span_id",
    "parent_span_id",
    "service",
    "operation",
    "start",
    "duration_ms",
    "status",
]


def span_frame(rows: list[tuple]) -> pl.DataFrame:
    """Return the spans frame of ``rows`` (tuples in the order of ``SPAN_COLUMNS``)."""
    return pl.DataFrame(rows, schema=SPAN_COLUMNS, orient="row")
