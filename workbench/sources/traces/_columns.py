"""Columnar pieces shared by the trace readers: ids, tags, events and references.

Every function here takes and returns polars columns; nothing loops over spans. The
readers hand over the raw JSON text of each span's tag list, event list and link list
(sliced out of the file by the decoder, never re-encoded), and these functions decode
them with polars' native JSON decoder.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from workbench.frames import UTC_NS

# Tags that become columns of the spans frame and so leave the attributes map.
COLUMN_TAGS = ("span.kind", "error", "otel.status_code")
HTTP_STATUS_TAGS = ("http.status_code", "http.response.status_code")
# The link attribute that Jaeger's OTLP translation uses to keep OpenTracing reference types.
REF_TYPE_ATTRIBUTE = "opentracing.ref_type"

KINDS = {
    0: "",
    1: "internal",
    2: "server",
    3: "client",
    4: "producer",
    5: "consumer",
}
STATUSES = {0: "unset", 1: "ok", 2: "error"}

# OTLP AnyValue: both JSON spellings (proto3 JSON allows camelCase and the original names).
_SCALAR_FIELDS = ("stringValue", "intValue", "doubleValue", "boolValue", "bytesValue")


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


_SCALAR = pl.Struct(
    {name: pl.String for field in _SCALAR_FIELDS for name in (field, _snake(field))}
)
_ANY_VALUE = pl.Struct(
    {
        **dict(_SCALAR.to_schema()),
        **{name: pl.Struct({"values": pl.List(_SCALAR)}) for name in ("arrayValue", "array_value")},
        **{
            name: pl.Struct({"values": pl.List(pl.Struct({"key": pl.String, "value": _SCALAR}))})
            for name in ("kvlistValue", "kvlist_value")
        },
    }
)
OTLP_ATTRIBUTES = pl.List(pl.Struct({"key": pl.String, "value": _ANY_VALUE}))
JAEGER_TAGS = pl.List(pl.Struct({"key": pl.String, "type": pl.String, "value": pl.String}))
OTLP_EVENTS = pl.List(
    pl.Struct(
        {
            "timeUnixNano": pl.String,
            "time_unix_nano": pl.String,
            "name": pl.String,
            "attributes": OTLP_ATTRIBUTES,
            "droppedAttributesCount": pl.Int64,
            "dropped_attributes_count": pl.Int64,
        }
    )
)
JAEGER_LOGS = pl.List(pl.Struct({"timestamp": pl.String, "fields": JAEGER_TAGS}))
OTLP_LINKS = pl.List(
    pl.Struct(
        {
            "traceId": pl.String,
            "trace_id": pl.String,
            "spanId": pl.String,
            "span_id": pl.String,
            "attributes": OTLP_ATTRIBUTES,
        }
    )
)
JAEGER_REFERENCES = pl.List(
    pl.Struct({"refType": pl.String, "traceID": pl.String, "spanID": pl.String})
)
REFERENCE = pl.Struct({"trace_id": pl.String, "span_id": pl.String, "type": pl.String})
EVENT = pl.Struct({"time": UTC_NS, "name": pl.String, "attributes": pl.String})


def raw_strings(raws: list) -> pl.Series:
    """Return raw JSON slices (``msgspec.Raw`` or bytes, empty when absent) as a string column.

    Empty slices and empty lists (``[]``) give null, so later steps decode only the
    spans that have something. The rest are concatenated once and handed to Arrow with
    their offsets: no Python string is made for any of them.
    """
    lengths = np.fromiter(map(len, raws), dtype=np.int64, count=len(raws))
    present = np.flatnonzero(lengths > 2)
    if present.size == 0:
        return pl.Series(values=[None] * len(raws), dtype=pl.String)
    chosen = lengths[present]
    offsets = np.zeros(present.size + 1, dtype=np.int64)
    np.cumsum(chosen, out=offsets[1:])
    data = b"".join([raws[i] for i in present.tolist()])
    array = pa.LargeStringArray.from_buffers(
        present.size, pa.py_buffer(offsets), pa.py_buffer(data)
    )
    values = pl.Series(array).cast(pl.String)
    if present.size == len(raws):
        return values
    full = pl.Series(values=[None] * len(raws), dtype=pl.String)
    return full.scatter(present, values)


def json_text(expr: pl.Expr) -> pl.Expr:
    """Return string values as JSON string literals (quoted and escaped)."""
    return pl.struct(expr.alias("v")).struct.json_encode().str.slice(5).str.strip_suffix("}")


def _number_or_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    number = expr.str.strip_chars().cast(dtype, strict=False)
    finite = number.is_not_null() if dtype == pl.Int64 else number.is_finite()
    return pl.when(finite).then(number.cast(pl.String)).otherwise(json_text(expr))


def _either(value: pl.Expr, name: str) -> pl.Expr:
    return pl.coalesce(value.struct.field(name), value.struct.field(_snake(name)))


def _otlp_scalar(value: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Return (JSON text, plain text) of an OTLP scalar AnyValue struct."""
    string = _either(value, "stringValue")
    integer = _either(value, "intValue")
    double = _either(value, "doubleValue")
    boolean = _either(value, "boolValue").str.to_lowercase()
    raw_bytes = _either(value, "bytesValue")
    as_json = (
        pl.when(string.is_not_null())
        .then(json_text(string))
        .when(integer.is_not_null())
        .then(_number_or_text(integer, pl.Int64))
        .when(double.is_not_null())
        .then(_number_or_text(double, pl.Float64))
        .when(boolean.is_in(["true", "false"]))
        .then(boolean)
        .when(raw_bytes.is_not_null())
        .then(json_text(raw_bytes))
        .otherwise(pl.lit("null"))
    )
    as_text = pl.coalesce(string, integer, double, boolean, raw_bytes)
    return as_json, as_text


def _otlp_value(value: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    scalar_json, scalar_text = _otlp_scalar(value)
    array = _either(value, "arrayValue").struct.field("values")
    kvlist = _either(value, "kvlistValue").struct.field("values")
    array_json = "[" + array.list.eval(_otlp_scalar(pl.element())[0]).list.join(",") + "]"
    kvlist_json = (
        "{"
        + kvlist.list.eval(
            json_text(pl.element().struct.field("key"))
            + ":"
            + _otlp_scalar(pl.element().struct.field("value"))[0]
        ).list.join(",")
        + "}"
    )
    as_json = (
        pl.when(array.is_not_null())
        .then(array_json)
        .when(kvlist.is_not_null())
        .then(kvlist_json)
        .otherwise(scalar_json)
    )
    as_text = pl.when(array.is_not_null() | kvlist.is_not_null()).then(as_json)
    return as_json, as_text.otherwise(scalar_text)


def _jaeger_value(tag: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    kind = tag.struct.field("type").str.to_lowercase()
    value = tag.struct.field("value")
    as_json = (
        pl.when(value.is_null())
        .then(pl.lit("null"))
        .when(kind == "bool")
        .then(
            pl.when(value.str.to_lowercase().is_in(["true", "false"]))
            .then(value.str.to_lowercase())
            .otherwise(json_text(value))
        )
        .when(kind == "int64")
        .then(_number_or_text(value, pl.Int64))
        .when(kind == "float64")
        .then(_number_or_text(value, pl.Float64))
        .otherwise(json_text(value))
    )
    return as_json, value


def normalise_tags(decoded: pl.Expr, style: str) -> pl.Expr:
    """Return a tag list as ``list[struct{key, json, text}]`` whichever format it came in."""
    element = pl.element()
    as_json, as_text = (
        _otlp_value(element.struct.field("value")) if style == "otlp" else _jaeger_value(element)
    )
    return decoded.list.eval(
        pl.struct(
            element.struct.field("key").fill_null("").alias("key"),
            as_json.alias("json"),
            as_text.alias("text"),
        )
    )


def tags_members(tags: pl.Expr, drop: tuple[str, ...] = ()) -> pl.Expr:
    """Return normalised tags as JSON object members (``"k":v,...``, no braces), less ``drop``."""
    element = pl.element()
    kept = element.filter(~element.struct.field("key").is_in(list(drop))) if drop else element
    return tags.list.eval(
        json_text(kept.struct.field("key")) + ":" + kept.struct.field("json")
    ).list.join(",")


def tags_map(tags: pl.Expr, drop: tuple[str, ...] = ()) -> pl.Expr:
    """Return normalised tags as a JSON object string, leaving out the keys in ``drop``."""
    return "{" + tags_members(tags, drop).fill_null("") + "}"


def tag_rows(rows: pl.Series, raw: pl.Series, style: str) -> pl.DataFrame:
    """Return one row per tag: ``row`` (from ``rows``), key, json (typed JSON text), text.

    Tags are decoded, exploded and converted as flat columns (each conversion computed
    once per tag, not per branch of a list expression).
    """
    dtype = OTLP_ATTRIBUTES if style == "otlp" else JAEGER_TAGS
    long = pl.DataFrame({"row": rows, "tag": decode(raw, dtype)}).explode("tag").drop_nulls("tag")
    tag = pl.col("tag")
    as_json, as_text = (
        _otlp_value(tag.struct.field("value")) if style == "otlp" else _jaeger_value(tag)
    )
    return long.select(
        "row",
        tag.struct.field("key").fill_null("").alias("key"),
        as_json.alias("json"),
        as_text.alias("text"),
    )


def members_by_row(tags: pl.DataFrame, drop: tuple[str, ...] = ()) -> pl.DataFrame:
    """Return ``row, members``: each row's tags as JSON object members, less ``drop``."""
    kept = tags.filter(~pl.col("key").is_in(list(drop))) if drop else tags
    keys = kept["key"].unique()
    # Keys repeat across spans: each distinct key is JSON-encoded once.
    quoted = dict(zip(keys, pl.select(json_text(pl.lit(keys))).to_series(), strict=True))
    return kept.group_by("row", maintain_order=True).agg(
        (pl.col("key").replace_strict(quoted, return_dtype=pl.String) + ":" + pl.col("json"))
        .str.join(",")
        .alias("members")
    )


def pick_by_row(tags: pl.DataFrame, wanted: dict[str, tuple[str, ...]]) -> pl.DataFrame:
    """Return ``row`` and, per name in ``wanted``, the text of the row's first tag of those keys."""
    names = {key: name for name, keys in wanted.items() for key in keys}
    chosen = (
        tags.filter(pl.col("key").is_in(list(names)))
        .with_columns(pl.col("key").replace_strict(names).alias("_name"))
        .unique(subset=["row", "_name"], keep="first", maintain_order=True)
    )
    out = chosen.pivot(on="_name", index="row", values="text")
    missing = [n for n in wanted if n not in out.columns]
    return out.with_columns(pl.lit(None, dtype=pl.String).alias(n) for n in missing)


def tag_text(tags: pl.Expr, *keys: str) -> pl.Expr:
    """Return the plain text of the first tag named one of ``keys``, or null."""
    element = pl.element()
    return tags.list.eval(
        element.filter(element.struct.field("key").is_in(list(keys))).struct.field("text")
    ).list.first()


def decode(raw: pl.Series, dtype: pl.DataType) -> pl.Series:
    """Decode a column of JSON texts into ``dtype``; null texts and ``null`` give empty lists."""
    cleaned = raw.fill_null("[]").replace("null", "[]")
    return cleaned.str.json_decode(dtype)


def hex_id(expr: pl.Expr, width: int) -> pl.Expr:
    """Return ids as lower-case hex padded to ``width``: hex, ``0x`` hex and base64 accepted.

    Base64 (the proto3 default that some exporters write) is told from hex by its length
    and alphabet: 24 characters for a 16-byte trace id, 12 for an 8-byte span id. Ids that
    are neither are kept as given (Jaeger UI fixtures use ``trace-123``).
    """
    text = expr.fill_null("").str.strip_chars()
    text = text.str.strip_prefix("0x").str.strip_prefix("0X")
    is_hex = text.str.contains(r"^[0-9A-Fa-f]+$")
    base64_length = 4 * ((width // 2 + 2) // 3)
    is_base64 = (
        ~is_hex
        & (text.str.len_chars() == base64_length)
        & text.str.contains(r"^[A-Za-z0-9+/_-]+=*$")
    )
    decoded = (
        text.str.replace_all("-", "+", literal=True)
        .str.replace_all("_", "/", literal=True)
        .str.decode("base64", strict=False)
        .bin.encode("hex")
    )
    return (
        pl.when(is_hex)
        .then(text.str.to_lowercase().str.pad_start(width, "0"))
        .when(is_base64 & decoded.is_not_null())
        .then(decoded)
        .otherwise(text)
    )


def normalise_ids(values: pl.Series, width: int) -> pl.Series:
    """Return :func:`hex_id` of a column, skipping the base64 path when every id is plain hex.

    Empty ids (a root's parent) stay empty on the short path.
    """
    values = values.fill_null("")
    if values.str.contains(r"^[0-9a-f]*$").all():
        if (values.str.len_bytes().is_in([0, width])).all():
            return values
        padded = pl.select(
            pl.when(pl.lit(values) == "")
            .then(pl.lit(""))
            .otherwise(pl.lit(values).str.pad_start(width, "0"))
        )
        return padded.to_series().alias(values.name)
    return pl.select(hex_id(pl.lit(values), width)).to_series().alias(values.name)


def is_blank_id(expr: pl.Expr) -> pl.Expr:
    """Return whether an id is empty or all zeros (the W3C "invalid" id)."""
    return expr.str.strip_chars("0") == ""


def epoch_ns(expr: pl.Expr) -> pl.Expr:
    """Return integer epoch nanoseconds as a UTC datetime column."""
    return expr.cast(pl.Int64).cast(pl.Datetime("ns")).dt.replace_time_zone("UTC")


def kind_name(raw: pl.Expr, dtype: pl.DataType = pl.String) -> pl.Expr:
    """Return ``kind`` from an OTLP enum given as number, digit string or ``SPAN_KIND_*`` name."""
    if dtype.is_integer():
        return raw.replace_strict(KINDS, default="", return_dtype=pl.String).fill_null("")
    text = raw.cast(pl.String).str.strip_chars().str.to_lowercase()
    number = text.cast(pl.Int64, strict=False)
    named = text.str.strip_prefix("span_kind_").str.strip_prefix("spankind.")
    named = pl.when(named == "unspecified").then(pl.lit("")).otherwise(named)
    by_number = number.replace_strict(KINDS, default="", return_dtype=pl.String)
    return pl.when(number.is_not_null()).then(by_number).otherwise(named.fill_null(""))


def status_name(raw: pl.Expr, dtype: pl.DataType = pl.String) -> pl.Expr:
    """Return ``status`` from an OTLP code: number, digit string or ``STATUS_CODE_*`` name."""
    if dtype.is_integer():
        return raw.replace_strict(STATUSES, default="unset", return_dtype=pl.String).fill_null(
            "unset"
        )
    text = raw.cast(pl.String).str.strip_chars().str.to_lowercase()
    number = text.cast(pl.Int64, strict=False)
    named = text.str.strip_prefix("status_code_").str.strip_prefix("statuscode.")
    named = pl.when(named == "unspecified").then(pl.lit("unset")).otherwise(named)
    by_number = number.replace_strict(STATUSES, default="unset", return_dtype=pl.String)
    return (
        pl.when(number.is_not_null())
        .then(by_number)
        .otherwise(named.fill_null("unset").replace("", "unset"))
    )
