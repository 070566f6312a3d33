"""Raw span columns of any format into the canonical spans frame, columnar throughout.

Tags, events and references are decoded only for the spans that have any (the raw
columns are null elsewhere), and the common cases take short cuts: ids that are all
plain hex skip the base64 path, and a Jaeger span whose only reference is a CHILD_OF in
its own trace gets its parent without exploding the reference list.
"""

from __future__ import annotations

import polars as pl

from workbench.sources.traces import _columns as col
from workbench.sources.traces import problems as pr
from workbench.sources.traces.problems import Problem

EXAMPLES = 3
# Working columns kept until the whole file is assembled, then dropped.
HOST = "_host"
ROW = "_row"
_NO_REFERENCES = pl.lit([], dtype=pl.List(col.REFERENCE))
_NO_EVENTS = pl.lit([], dtype=pl.List(col.EVENT))
_SINGLE_CHILD_OF = (
    r'^\[\s*\{\s*"refType"\s*:\s*"CHILD_OF"\s*,\s*"traceID"\s*:\s*"(?<trace>[0-9A-Fa-f]+)"'
    r'\s*,\s*"spanID"\s*:\s*"(?<span>[0-9A-Fa-f]+)"\s*\}\s*\]$'
)


def finish(raw: pl.DataFrame, style: str) -> tuple[pl.DataFrame, list[Problem]]:
    """Return the spans of ``raw`` (one style) with problems found in them.

    The frame has the DESIGN.md spans columns, ``events`` and the working ``_host``.
    """
    found: list[Problem] = []
    frame = raw.with_row_index(ROW).with_columns(
        col.normalise_ids(raw["trace_id"], 32).alias("trace_id"),
        col.normalise_ids(raw["span_id"], 16).alias("span_id"),
    )
    blank = col.is_blank_id(pl.col("trace_id")) | col.is_blank_id(pl.col("span_id"))
    invalid = frame.filter(blank)
    if invalid.height:
        empty = invalid.filter((pl.col("trace_id") == "") | (pl.col("span_id") == "")).height
        found.append(
            Problem(
                pr.INVALID_ID,
                f"{invalid.height} span(s) with invalid ids left out ({empty} empty, "
                f"{invalid.height - empty} all zeros): they belong to no trace",
                invalid.height,
                tuple(invalid["operation"].fill_null("").head(EXAMPLES)),
            )
        )
        frame = frame.filter(~blank)
    frame = frame.join(_tag_columns(frame, style), on=ROW, how="left")
    if style == "otlp":
        frame, reference_problems = _otlp_columns(frame)
    else:
        frame, reference_problems = _jaeger_columns(frame)
    found += reference_problems
    found += _times(frame)
    events, bad_event_counts = _events(frame, style)
    frame = frame.drop("events").with_columns(
        col.epoch_ns(pl.col("start_ns").fill_null(0)).alias("start"),
        (pl.col("duration_ns").fill_null(0).clip(lower_bound=0) / 1e6).alias("duration_ms"),
        pl.col("_http").str.strip_chars().cast(pl.Int32, strict=False).alias("http_status"),
    )
    if events is None:
        frame = frame.with_columns(_NO_EVENTS.alias("events"))
    else:
        frame = frame.join(events, on=ROW, how="left").with_columns(
            pl.col("events").fill_null(_NO_EVENTS)
        )
    found += _bad_counts(frame, bad_event_counts)
    non_hex = frame.filter(~pl.col("trace_id").str.contains(r"^[0-9a-f]{32}$"))
    if non_hex.height:
        found.append(
            Problem(
                pr.NON_HEX_ID,
                f"{non_hex.height} span(s) with ids that are neither hex nor base64, kept as given",
                non_hex.height,
                tuple(non_hex["trace_id"].unique(maintain_order=True).head(EXAMPLES)),
            )
        )
    return (
        frame.select(
            "trace_id",
            "span_id",
            pl.col("parent_span_id").fill_null(""),
            pl.col("service").fill_null(""),
            pl.col("operation").fill_null(""),
            "start",
            "duration_ms",
            "status",
            "kind",
            "http_status",
            "references",
            "attributes",
            "events",
            pl.col("host").fill_null("").alias(HOST),
        ),
        found,
    )


def _tag_columns(frame: pl.DataFrame, style: str) -> pl.DataFrame:
    """Return ROW, _members (JSON members, no braces), _http, _kind, _error, _otel_status."""
    tagged = frame.filter(pl.col("tags").is_not_null()).select(ROW, "tags")
    names = ["_members", "_http", "_kind", "_error", "_otel_status"]
    if tagged.is_empty():
        return pl.DataFrame(schema={ROW: pl.UInt32, **dict.fromkeys(names, pl.String)})
    tags = col.tag_rows(tagged[ROW], tagged["tags"], style)
    members = col.members_by_row(tags, drop=col.COLUMN_TAGS)
    picked = col.pick_by_row(
        tags,
        {
            "_http": col.HTTP_STATUS_TAGS,
            "_kind": ("span.kind",),
            "_error": ("error",),
            "_otel_status": ("otel.status_code",),
        },
    )
    return (
        tagged.select(pl.col(ROW).alias("row"))
        .join(members, on="row", how="left")
        .join(picked, on="row", how="left")
        .select(
            pl.col("row").alias(ROW),
            pl.col("members").fill_null("").alias("_members"),
            "_http",
            pl.col("_kind").str.to_lowercase(),
            pl.col("_error").str.to_lowercase(),
            pl.col("_otel_status").str.to_lowercase(),
        )
    )


def _otlp_columns(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    # The scope's members come ready per scope; the status message is rare, so it is
    # JSON-encoded only where present.
    message = frame.filter(
        pl.col("status_message").is_not_null() & (pl.col("status_message") != "")
    )
    if message.height:
        frame = frame.join(
            message.select(
                ROW,
                (
                    col.json_text(pl.lit("otel.status_description"))
                    + ":"
                    + col.json_text(pl.col("status_message"))
                ).alias("_message"),
            ),
            on=ROW,
            how="left",
        )
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("_message"))
    extra = pl.concat_str(
        [
            pl.col("scope"),
            pl.col("_message"),
            pl.when(pl.col("_members") != "").then(pl.col("_members")),
        ],
        separator=",",
        ignore_nulls=True,
    )
    parent = col.normalise_ids(frame["parent_span_id"], 16)
    frame = frame.with_columns(
        pl.when(col.is_blank_id(parent)).then(pl.lit("")).otherwise(parent).alias("parent_span_id"),
        col.kind_name(pl.col("kind_raw"), frame.schema["kind_raw"]).alias("kind"),
        col.status_name(pl.col("status_raw"), frame.schema["status_raw"]).alias("status"),
        ("{" + extra.fill_null("") + "}").alias("attributes"),
    )
    links = _explode(frame.select(ROW, "links"), "links", col.OTLP_LINKS)
    if links is None:
        return frame.with_columns(_NO_REFERENCES.alias("references")), []
    links = links.select(
        ROW,
        col.normalise_ids(links.select(pl.coalesce("traceId", "trace_id")).to_series(), 32).alias(
            "ref_trace"
        ),
        col.normalise_ids(links.select(pl.coalesce("spanId", "span_id")).to_series(), 16).alias(
            "ref_span"
        ),
        col.tag_text(col.normalise_tags(pl.col("attributes"), "otlp"), col.REF_TYPE_ATTRIBUTE)
        .str.to_lowercase()
        .fill_null("link")
        .alias("type"),
    )
    found = []
    blank = col.is_blank_id(pl.col("ref_trace")) | col.is_blank_id(pl.col("ref_span"))
    ignored = links.filter(blank).height
    if ignored:
        found.append(
            Problem(
                pr.UNKNOWN_REFERENCE,
                f"{ignored} link(s) with an empty or all-zero id ignored",
                ignored,
            )
        )
        links = links.filter(~blank)
    return frame.join(_regroup(links), on=ROW, how="left").pipe(_fill_references), found


def _jaeger_columns(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    frame = frame.with_columns(
        pl.col("_kind").fill_null("").alias("kind"),
        pl.when(pl.col("_error") == "true")
        .then(pl.lit("error"))
        .when(pl.col("_otel_status").is_in(["ok", "error"]))
        .then(pl.col("_otel_status"))
        .otherwise(pl.lit("unset"))
        .alias("status"),
        ("{" + pl.col("_members").fill_null("") + "}").alias("attributes"),
    )
    with_refs = frame.filter(pl.col("links").is_not_null()).select(ROW, "trace_id", "links")
    if with_refs.is_empty():
        return frame.with_columns(
            pl.lit("").alias("parent_span_id"), _NO_REFERENCES.alias("references")
        ), []
    # Short cut: a single CHILD_OF in the span's own trace is just the parent. Jaeger
    # writes it in one key order, so a pattern finds it without decoding the JSON.
    matched = with_refs.with_columns(
        pl.col("links").str.extract_groups(_SINGLE_CHILD_OF).alias("_m")
    ).with_columns(
        pl.col("_m").struct.field("trace").alias("_trace"),
        pl.col("_m").struct.field("span").alias("_span"),
    )
    matched = matched.with_columns(
        col.normalise_ids(matched["_trace"].fill_null(""), 32).alias("_trace")
    ).with_columns(
        (pl.col("_span").is_not_null() & (pl.col("_trace") == pl.col("trace_id"))).alias("_simple")
    )
    direct = matched.filter("_simple").select(
        ROW, col.normalise_ids(matched.filter("_simple")["_span"], 16).alias("parent_span_id")
    )
    rest = matched.filter(~pl.col("_simple")).select(ROW, "trace_id", "links")
    decoded = rest.with_columns(col.decode(rest["links"], col.JAEGER_REFERENCES))
    refs, found = _jaeger_references(decoded)
    parents = pl.concat([direct, refs[0]]) if refs is not None else direct
    frame = frame.join(parents, on=ROW, how="left")
    if refs is not None:
        frame = frame.join(_regroup(refs[1]), on=ROW, how="left")
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.List(col.REFERENCE)).alias("references"))
    return _fill_references(frame), found


def _jaeger_references(
    decoded: pl.DataFrame,
) -> tuple[tuple[pl.DataFrame, pl.DataFrame] | None, list[Problem]]:
    """Return ((ROW, parent_span_id), remaining references) of spans with several refs."""
    if decoded.is_empty():
        return None, []
    refs = decoded.select(ROW, "trace_id", "links").explode("links").drop_nulls("links")
    refs = refs.unnest("links")
    refs = refs.with_columns(
        col.normalise_ids(refs["traceID"], 32).alias("ref_trace"),
        col.normalise_ids(refs["spanID"], 16).alias("ref_span"),
        pl.col("refType").fill_null("").str.to_lowercase().alias("type"),
        pl.int_range(pl.len()).over(ROW).alias("position"),
    )
    found = []
    unknown = refs.filter(~pl.col("type").is_in(["child_of", "follows_from"]))
    if unknown.height:
        found.append(
            Problem(
                pr.UNKNOWN_REFERENCE,
                f"{unknown.height} reference(s) of unknown type kept as given: "
                + ", ".join(sorted(set(unknown["type"].to_list()))),
                unknown.height,
            )
        )
    # The parent is the first CHILD_OF in the same trace, else the first FOLLOWS_FROM
    # there (as Jaeger's OTLP translation does); every other reference is kept.
    same_trace = pl.col("ref_trace") == pl.col("trace_id")
    refs = refs.with_columns(
        pl.when(same_trace & (pl.col("type") == "child_of"))
        .then(pl.col("position"))
        .when(same_trace & (pl.col("type") == "follows_from"))
        .then(pl.col("position") + 1_000_000)
        .alias("rank")
    )
    parents = (
        refs.filter(pl.col("rank").is_not_null())
        .sort(ROW, "rank")
        .group_by(ROW, maintain_order=True)
        .first()
        .select(ROW, pl.col("ref_span").alias("parent_span_id"), "position")
    )
    rest = refs.join(parents.select(ROW, "position"), on=[ROW, "position"], how="anti")
    return (parents.drop("position"), rest), found


def _explode(frame: pl.DataFrame, column: str, dtype: pl.DataType) -> pl.DataFrame | None:
    present = frame.filter(pl.col(column).is_not_null())
    if present.is_empty():
        return None
    decoded = present.select(ROW, col.decode(present[column], dtype).alias(column))
    exploded = decoded.explode(column).drop_nulls(column)
    return exploded.unnest(column) if exploded.height else None


def _regroup(refs: pl.DataFrame) -> pl.DataFrame:
    return refs.group_by(ROW).agg(
        pl.struct(
            pl.col("ref_trace").alias("trace_id"),
            pl.col("ref_span").alias("span_id"),
            pl.col("type"),
        ).alias("references")
    )


def _fill_references(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("references").fill_null(_NO_REFERENCES))


def _times(frame: pl.DataFrame) -> list[Problem]:
    found = []
    negative = frame.filter(pl.col("duration_ns") < 0)
    if negative.height:
        found.append(
            Problem(
                pr.NEGATIVE_DURATION,
                f"{negative.height} span(s) end before they start; duration set to 0",
                negative.height,
                tuple(negative["span_id"].head(EXAMPLES)),
            )
        )
    missing = frame.filter(pl.col("start_ns").fill_null(0) <= 0)
    if missing.height:
        found.append(
            Problem(
                pr.MISSING_START,
                f"{missing.height} span(s) without a start time, placed at 1970-01-01",
                missing.height,
                tuple(missing["span_id"].head(EXAMPLES)),
            )
        )
    return found


def _events(frame: pl.DataFrame, style: str) -> tuple[pl.DataFrame | None, int]:
    bad_counts = 0
    dtype = col.OTLP_EVENTS if style == "otlp" else col.JAEGER_LOGS
    events = _explode(frame.select(ROW, "events"), "events", dtype)
    if events is None:
        return None, 0
    if style == "otlp":
        dropped = pl.coalesce(pl.col("droppedAttributesCount"), pl.col("dropped_attributes_count"))
        bad_counts = events.filter(dropped < 0).height
        time = pl.coalesce(pl.col("timeUnixNano"), pl.col("time_unix_nano")).cast(
            pl.Int64, strict=False
        )
        tags = col.normalise_tags(pl.col("attributes"), "otlp")
        events = events.select(
            ROW,
            col.epoch_ns(time.fill_null(0)).alias("time"),
            pl.col("name").fill_null(""),
            col.tags_map(tags).alias("attributes"),
        )
    else:
        time = pl.col("timestamp").cast(pl.Int64, strict=False) * 1000
        tags = col.normalise_tags(pl.col("fields"), "jaeger")
        events = events.select(
            ROW,
            col.epoch_ns(time.fill_null(0)).alias("time"),
            col.tag_text(tags, "event").fill_null("").alias("name"),
            col.tags_map(tags, drop=("event",)).alias("attributes"),
        )
    grouped = events.group_by(ROW).agg(pl.struct("time", "name", "attributes").alias("events"))
    return grouped, bad_counts


def _bad_counts(frame: pl.DataFrame, events: int) -> list[Problem]:
    spans = frame.filter(pl.col("dropped") < 0).height if "dropped" in frame.columns else 0
    if not spans and not events:
        return []
    return [
        Problem(
            pr.BAD_COUNT,
            f"{spans} span(s) and {events} event(s) with a negative droppedAttributesCount "
            "(a uint32 field): the count is ignored and the data kept",
            spans + events,
        )
    ]
