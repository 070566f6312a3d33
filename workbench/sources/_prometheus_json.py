"""Prometheus HTTP API answers (``/api/v1/query``, ``/api/v1/query_range``) into columns.

A matrix answer is mostly ``[ts,"value"]`` pairs. Decoding them with a JSON library makes
four Python objects per sample, which is most of the cost of a pull, so the pairs are
cut out of the body as text and parsed by polars in one vectorised pass; only the small
rest of the answer (labels, warnings) goes through orjson. Any body that does not have
the exact shape Prometheus writes falls back to orjson for the whole answer, with the
sample conversion still vectorised.

Sample values are strings in the API ("1", "NaN", "+Inf", "-Inf") and become float64,
NaN and infinities kept as values. Timestamps are float seconds with millisecond
precision and become exact integer milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import orjson
import polars as pl

from workbench import frames

MATRIX = "matrix"
VECTOR = "vector"
SCALAR = "scalar"
STRING = "string"

_VALUES_KEY = b'"values":['
_PAIR_CHARACTERS = b'[]"'
BATCH_BYTES = 4_000_000  # sample text parsed per vectorised pass


@dataclass(frozen=True, slots=True)
class Parsed:
    """One decoded answer: the label set of each series and all samples as flat columns.

    Samples are grouped by series in ``labels`` order, ``lengths[i]`` of them for series
    ``i``, in time order within a series.
    """

    result_type: str
    labels: tuple[dict[str, str], ...]
    lengths: np.ndarray
    timestamps_ms: np.ndarray
    values: np.ndarray
    warnings: tuple[str, ...] = ()
    infos: tuple[str, ...] = ()


class ApiError(Exception):
    """An answer with ``status: error``; carries the server's ``errorType`` and ``error``."""

    def __init__(self, error_type: str, error: str) -> None:
        super().__init__(f"{error_type}: {error}")
        self.error_type = error_type
        self.error = error


def parse_body(body: bytes) -> Parsed:
    """Return the decoded answer of a query or query_range request.

    Raises :class:`ApiError` for ``status: error`` and ``ValueError`` for a body that is
    not a Prometheus API answer.
    """
    fast = _parse_matrix_fast(body)
    if fast is not None:
        return fast
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"the answer is not JSON ({exc})") from None
    return parse_payload(payload)


def parse_payload(payload: Any) -> Parsed:
    """Return the decoded form of an already-loaded answer envelope (``status``, ``data``)."""
    if not isinstance(payload, dict) or "status" not in payload:
        raise ValueError("the answer is not a Prometheus API envelope (no 'status' field)")
    notes = _notes(payload)
    if payload["status"] != "success":
        raise ApiError(str(payload.get("errorType", "")), str(payload.get("error", "")))
    data = payload.get("data")
    if not isinstance(data, dict) or "resultType" not in data:
        raise ValueError("the answer has no data.resultType")
    return parse_result(data.get("result"), data["resultType"], *notes)


def parse_result(
    result: Any,
    result_type: str = MATRIX,
    warnings: Sequence[str] = (),
    infos: Sequence[str] = (),
) -> Parsed:
    """Return the decoded form of a bare ``data.result`` of type ``result_type``."""
    warnings, infos = tuple(warnings), tuple(infos)
    if result_type in (SCALAR, STRING):
        ts, value = result
        values = (
            np.array([value], dtype=object) if result_type == STRING else _float_values([value])
        )
        return Parsed(result_type, ({},), np.array([1]), _millis([ts]), values, warnings, infos)
    if result_type == VECTOR:
        labels = tuple(series.get("metric", {}) for series in result)
        pairs = [series["value"] for series in result]
        lengths = np.ones(len(pairs), dtype=np.int64)
    elif result_type == MATRIX:
        labels = tuple(series.get("metric", {}) for series in result)
        pairs = list(chain.from_iterable(series.get("values", ()) for series in result))
        lengths = np.array([len(series.get("values", ())) for series in result], dtype=np.int64)
    else:
        raise ValueError(f"unknown resultType {result_type!r}")
    flat = list(chain.from_iterable(pairs))
    return Parsed(
        result_type,
        labels,
        lengths,
        _millis(flat[0::2]),
        _float_values(flat[1::2]),
        warnings,
        infos,
    )


def _parse_matrix_fast(body: bytes) -> Parsed | None:
    """Return the decoded matrix answer, or None when the body is not in Prometheus' shape."""
    spans = []
    skeleton = []
    position = 0
    find = body.find
    # Label names cannot hold quotes and quotes inside label values are escaped, so an
    # unescaped `"values":[` is always the key of a series' sample list, and `]]` its end
    # (sample values are numbers, never brackets).
    while (hit := find(_VALUES_KEY, position)) >= 0:
        start = hit + len(_VALUES_KEY)
        if body[start : start + 1] == b"]":
            end = start
        else:
            end = find(b"]]", start)
            if end < 0:
                return None
            end += 1
        skeleton.append(body[position:start])
        spans.append((start, end))
        position = end
    if not spans:
        return None
    skeleton.append(body[position:])
    try:
        payload = orjson.loads(b"".join(skeleton))
    except orjson.JSONDecodeError:
        return None
    data = payload.get("data") if isinstance(payload, dict) else None
    if (
        payload.get("status") != "success"
        or not isinstance(data, dict)
        or data.get("resultType") != MATRIX
        or not isinstance(data.get("result"), list)
        or len(data["result"]) != len(spans)
        or any(series.get("values") != [] for series in data["result"])
    ):
        return None
    lengths = np.zeros(len(spans), dtype=np.int64)
    timestamps, values = [], []
    try:
        for batch in _batches(spans):
            pairs = _numbers(body, batch)
            if pairs is None:
                return None
            counts, flat = pairs
            lengths[batch[0][0] : batch[-1][0] + 1] = counts
            timestamps.append(np.rint(flat[0::2] * 1000.0).astype(np.int64))
            values.append(np.ascontiguousarray(flat[1::2]))
    except (pl.exceptions.PolarsError, UnicodeDecodeError):
        return None
    return Parsed(
        MATRIX,
        tuple(series.get("metric", {}) for series in data["result"]),
        lengths,
        np.concatenate(timestamps) if timestamps else np.empty(0, dtype=np.int64),
        np.concatenate(values) if values else np.empty(0, dtype=np.float64),
        *_notes(payload),
    )


def _batches(spans: list[tuple[int, int]]) -> Iterable[list[tuple[int, int]]]:
    """Yield runs of consecutive series (as span indices) of about BATCH_BYTES of pairs.

    Parsing in batches bounds the intermediate string columns to a few MB whatever the
    size of the answer; the loop runs once per batch, not per sample.
    """
    batch: list[int] = []
    size = 0
    for index, (start, end) in enumerate(spans):
        batch.append(index)
        size += end - start
        if size >= BATCH_BYTES:
            yield [(i, *spans[i]) for i in batch]
            batch, size = [], 0
    if batch:
        yield [(i, *spans[i]) for i in batch]


def _numbers(
    body: bytes, batch: list[tuple[int, int, int]]
) -> tuple[np.ndarray, np.ndarray] | None:
    """Return (pairs per series, flat ts/value floats) of a batch, or None if malformed."""
    texts = [
        body[start:end].translate(None, _PAIR_CHARACTERS).decode("ascii")
        for _, start, end in batch
        if end > start
    ]
    numbers = pl.Series("pairs", texts, dtype=pl.String).str.split(",")
    del texts
    counts = numbers.list.len().to_numpy()
    if (counts % 2).any():
        return None
    flat = numbers.explode().cast(pl.Float64, strict=True).to_numpy()
    per_series = np.zeros(len(batch), dtype=np.int64)
    per_series[[end > start for _, start, end in batch]] = counts // 2
    return per_series, flat


def _notes(payload: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(payload.get("warnings") or ()), tuple(payload.get("infos") or ())


def _millis(seconds: Sequence[Any]) -> np.ndarray:
    return np.rint(np.asarray(seconds, dtype=np.float64) * 1000.0).astype(np.int64)


def _float_values(texts: Sequence[Any]) -> np.ndarray:
    if not texts:
        return np.empty(0, dtype=np.float64)
    try:
        return pl.Series(texts, dtype=pl.String).cast(pl.Float64, strict=True).to_numpy()
    except (TypeError, pl.exceptions.PolarsError):
        # Some backends send bare JSON numbers; numpy takes those (and strings) as is.
        return np.asarray(texts, dtype=np.float64)


# -- frames ------------------------------------------------------------------------------


def series_key(labels: dict[str, str]) -> str:
    """Return the canonical text of a label set, as Prometheus prints it: ``up{job="api"}``."""
    name = labels.get("__name__", "")
    pairs = ",".join(
        f'{key}="{_escape(labels[key])}"' for key in sorted(labels) if key != "__name__"
    )
    return f"{name}{{{pairs}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def service_label(labels: dict[str, str], precedence: Iterable[str]) -> str:
    """Return the first non-empty label of ``precedence`` (raw, not yet normalised)."""
    for name in precedence:
        value = labels.get(name)
        if value:
            return value
    return ""


def to_frame(
    parts: Sequence[Parsed],
    *,
    metric: str | None = None,
    fallback_metric: str = "",
    service_labels: Sequence[str] = (),
) -> pl.DataFrame:
    """Return the samples of ``parts`` as one canonical metrics frame.

    Series are matched across parts by their label set; a sample that two parts both
    hold (a chunk seam) is kept once. ``metric`` names the indicator; without it the
    series' ``__name__`` is used, then ``fallback_metric``. ``service`` comes from the
    first label of ``service_labels`` a series has, pod suffixes dropped.
    """
    index: dict[str, int] = {}
    label_sets: list[dict[str, str]] = []
    ids_per_part = []
    for part in parts:
        ids = np.empty(len(part.labels), dtype=np.int64)
        for position, labels in enumerate(part.labels):
            key = series_key(labels)
            number = index.setdefault(key, len(index))
            if number == len(label_sets):
                label_sets.append(labels)
            ids[position] = number
        ids_per_part.append(np.repeat(ids, part.lengths))
    if not label_sets:
        return frames.empty(frames.METRICS).with_columns(pl.lit("").alias("series"))
    samples = pl.DataFrame(
        {
            "sid": np.concatenate(ids_per_part),
            "t": np.concatenate([part.timestamps_ms for part in parts]),
            "value": np.concatenate([part.values for part in parts]).astype(np.float64),
        }
    )
    if len(parts) > 1:
        samples = samples.sort("sid", "t", maintain_order=True)
        repeat = (pl.col("sid") == pl.col("sid").shift(1)) & (pl.col("t") == pl.col("t").shift(1))
        samples = samples.filter(~repeat.fill_null(False))
    per_series = _series_table(label_sets, list(index), metric, fallback_metric, service_labels)
    gathered = per_series[samples["sid"].to_numpy()]
    out = pl.concat(
        [
            samples.select(_timestamp(pl.col("t")).alias("timestamp")),
            gathered.select("service", "metric"),
            samples.select("value"),
            gathered.drop("service", "metric"),
        ],
        how="horizontal",
    )
    return frames.validate(out, frames.METRICS)


def string_frame(part: Parsed) -> pl.DataFrame:
    """Return a ``string`` answer as a frame of ``timestamp`` and ``value`` (kept as text)."""
    return pl.DataFrame(
        {
            "timestamp": _timestamp_series(pl.Series(part.timestamps_ms)),
            "value": pl.Series([str(v) for v in part.values], dtype=pl.String),
        }
    )


def _series_table(
    label_sets: list[dict[str, str]],
    keys: list[str],
    metric: str | None,
    fallback_metric: str,
    service_labels: Sequence[str],
) -> pl.DataFrame:
    table = pl.DataFrame(
        {
            "service": [service_label(labels, service_labels) for labels in label_sets],
            "metric": [
                metric or labels.get("__name__") or fallback_metric for labels in label_sets
            ],
            "series": keys,
        },
        schema={"service": pl.String, "metric": pl.String, "series": pl.String},
    ).with_columns(frames.service_expr("service"))
    rest = [{k: v for k, v in labels.items() if k != "__name__"} for labels in label_sets]
    names = sorted({name for labels in rest for name in labels})
    if names:
        columns = pl.DataFrame(
            {name: [labels.get(name) for labels in rest] for name in names},
            schema=dict.fromkeys(names, pl.String),
        )
        table = table.with_columns(columns.select(pl.struct(names).alias("labels")).to_series())
    return table


def _timestamp(expr: pl.Expr) -> pl.Expr:
    return (expr * 1_000_000).cast(pl.Datetime("ns")).dt.replace_time_zone("UTC")


def _timestamp_series(series: pl.Series) -> pl.Series:
    return pl.select(_timestamp(pl.lit(series))).to_series().alias("timestamp")
