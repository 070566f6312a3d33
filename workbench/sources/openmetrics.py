"""Metrics frames as OpenMetrics text, ready for ``promtool tsdb create-blocks-from openmetrics``.

This is how a dataset case (or any frame) gets into a real Prometheus: write the file,
backfill it into a TSDB directory, start Prometheus on that directory. The format rules
promtool enforces are met here: one ``# TYPE`` line then all samples of a family
together, samples of a series in time order, timestamps in *seconds* (milliseconds are
accepted silently and land millennia in the future), and ``# EOF`` last.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from workbench import frames

_INVALID_NAME = r"[^a-zA-Z0-9_:]"


def write_openmetrics(
    metrics: Any,
    path: str | Path,
    *,
    prefix: str = "",
    service_label: str | None = "service",
) -> int:
    """Write ``metrics`` to ``path`` as OpenMetrics gauges; return the samples written.

    Each ``metric`` becomes a family ``<prefix><metric>`` (characters Prometheus does not
    allow become ``_``); ``service`` becomes the label ``service_label`` (left out when
    empty, or always when ``service_label`` is None) and the fields of a ``labels`` struct
    column become labels too. A repeated
    sample (same series and millisecond) is written once. NaN and infinities are kept.
    """
    frame = frames.validate(metrics, frames.METRICS)
    label_parts = []
    if service_label is not None:
        label_parts.append(
            pl.when(pl.col("service") != "").then(
                pl.format('{}="{}"', pl.lit(service_label), _escaped(pl.col("service")))
            )
        )
    if "labels" in frame.columns and isinstance(frame.schema["labels"], pl.Struct):
        for field in frame.schema["labels"].fields:
            value = pl.col("labels").struct.field(field.name).cast(pl.String)
            label_parts.append(
                pl.when(value.is_not_null() & (value != "")).then(
                    pl.format('{}="{}"', pl.lit(field.name), _escaped(value))
                )
            )
    ms = pl.col("timestamp").dt.epoch("ms")
    value = pl.col("value")
    lines = (
        frame.select(
            (pl.lit(prefix) + pl.col("metric").str.replace_all(_INVALID_NAME, "_")).alias("name"),
            pl.concat_str(label_parts or [pl.lit("")], separator=",", ignore_nulls=True).alias(
                "labels"
            ),
            ms.alias("ms"),
            pl.when(value.is_nan())
            .then(pl.lit("NaN"))
            .when(value == float("inf"))
            .then(pl.lit("+Inf"))
            .when(value == float("-inf"))
            .then(pl.lit("-Inf"))
            .otherwise(value.cast(pl.String))
            .alias("value"),
        )
        .with_columns(
            pl.when(pl.col("name").str.contains("^[0-9]"))
            .then("_" + pl.col("name"))
            .otherwise(pl.col("name"))
            .alias("name")
        )
        .unique(subset=["name", "labels", "ms"], keep="first", maintain_order=True)
        .sort("name", "labels", "ms", maintain_order=True)
    )
    seconds = pl.format(
        "{}.{}",
        pl.col("ms").floordiv(1000),
        pl.col("ms").mod(1000).cast(pl.String).str.zfill(3),
    )
    sample = pl.concat_str(
        [
            pl.col("name"),
            pl.lit("{"),
            pl.col("labels"),
            pl.lit("} "),
            pl.col("value"),
            pl.lit(" "),
            seconds,
        ]
    )
    header = pl.concat_str([pl.lit("# TYPE "), pl.col("name"), pl.lit(" gauge\n")])
    first_of_family = pl.col("name") != pl.col("name").shift(1)
    text = lines.select(
        pl.when(first_of_family.fill_null(True))
        .then(header + sample)
        .otherwise(sample)
        .alias("line")
    )
    path = Path(path)
    with path.open("wb") as out:
        # quote_style="never": label values are already escaped the OpenMetrics way.
        text.write_csv(out, include_header=False, quote_style="never")
        out.write(b"# EOF\n")
    return lines.height


def _escaped(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.replace_all("\\", "\\\\", literal=True)
        .str.replace_all('"', '\\"', literal=True)
        .str.replace_all("\n", "\\n", literal=True)
    )
