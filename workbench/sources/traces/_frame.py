"""Raw span columns of any format into the canonical spans frame, columnar throughout."""

from __future__ import annotations

import polars as pl

from workbench.sources.traces import _columns as col
from workbench.sources.traces import problems as pr
from workbench.sources.traces.problems import Problem

EXAMPLES = 3
# Working columns kept until the whole file is assembled, then dropped.
HOST = "_host"
ROW = "_row"


def finish(raw: pl.DataFrame, style: str) -> tuple[pl.DataFrame, list[Problem]]:
    """Return the spans of ``raw`` (one style) with problems found in them.

    The frame has the DESIGN.md spans columns, ``events`` and the working ``_host``.
    """
    found: list[Problem] = []
    frame = raw.with_row_index(ROW).with_columns(
        col.hex_id(pl.col("trace_id"), 32).alias("trace_id"),
        col.hex_id(pl.col("span_id"), 16).alias("span_id"),
    )
    invalid = frame.filter(col.is_blank_id(pl.col("trace_id")) | col.is_blank_id(pl.col("span_id")))
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
        frame = frame.filter(
            ~(col.is_blank_id(pl.col("trace_id")) | col.is_blank_id(pl.col("span_id")))
        )
    tags = col.normalise_tags(pl.col("_tags"), style)
    frame = frame.with_columns(
        col.decode(
            frame["tags"], col.OTLP_ATTRIBUTES if style == "otlp" else col.JAEGER_TAGS
        ).alias("_tags")
    ).with_columns(tags.alias("_tags"))
    if style == "otlp":
        frame, parent_problems = _otlp_columns(frame)
    else:
        frame, parent_problems = _jaeger_columns(frame)
    found += parent_problems
    found += _times(frame)
    frame = frame.with_columns(
        col.epoch_ns(pl.col("start_ns").fill_null(0)).alias("start"),
        (pl.col("duration_ns").fill_null(0).clip(lower_bound=0) / 1e6).alias("duration_ms"),
        col.tag_text(pl.col("_tags"), *col.HTTP_STATUS_TAGS)
        .str.strip_chars()
        .cast(pl.Int32, strict=False)
        .alias("http_status"),
    )
    events, bad_event_counts = _events(frame, style)
    frame = (
        frame.drop("events")
        .join(events, on=ROW, how="left")
        .with_columns(pl.col("events").fill_null(pl.lit([], dtype=pl.List(col.EVENT))))
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


def _otlp_columns(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    tags = pl.col("_tags")
    extra = pl.concat_str(
        [
            pl.when(pl.col(c).is_not_null() & (pl.col(c) != "")).then(
                col.json_text(pl.lit(key)) + ":" + col.json_text(pl.col(c))
            )
            for c, key in (
                ("scope_name", "otel.scope.name"),
                ("scope_version", "otel.scope.version"),
                ("status_message", "otel.status_description"),
            )
        ],
        separator=",",
        ignore_nulls=True,
    )
    frame = frame.with_columns(
        col.hex_id(pl.col("parent_span_id"), 16).alias("parent_span_id"),
        col.kind_name(pl.col("kind_raw")).alias("kind"),
        col.status_name(pl.col("status_raw")).alias("status"),
        col.tags_map(tags, drop=col.COLUMN_TAGS, extra=extra).alias("attributes"),
    ).with_columns(
        pl.when(col.is_blank_id(pl.col("parent_span_id")))
        .then(pl.lit(""))
        .otherwise(pl.col("parent_span_id"))
        .alias("parent_span_id")
    )
    links = _explode(frame.select(ROW, "links"), "links", col.OTLP_LINKS)
    links = links.select(
        ROW,
        col.hex_id(pl.coalesce(pl.col("traceId"), pl.col("trace_id")), 32).alias("ref_trace"),
        col.hex_id(pl.coalesce(pl.col("spanId"), pl.col("span_id")), 16).alias("ref_span"),
        col.tag_text(col.normalise_tags(pl.col("attributes"), "otlp"), col.REF_TYPE_ATTRIBUTE)
        .str.to_lowercase()
        .fill_null("link")
        .alias("type"),
    )
    found = []
    blank = links.filter(col.is_blank_id(pl.col("ref_trace")) | col.is_blank_id(pl.col("ref_span")))
    if blank.height:
        found.append(
            Problem(
                pr.UNKNOWN_REFERENCE,
                f"{blank.height} link(s) with an empty or all-zero id ignored",
                blank.height,
            )
        )
        links = links.filter(
            ~(col.is_blank_id(pl.col("ref_trace")) | col.is_blank_id(pl.col("ref_span")))
        )
    return frame.join(_regroup(links), on=ROW, how="left").pipe(_fill_references), found


def _jaeger_columns(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    tags = pl.col("_tags")
    error = col.tag_text(tags, "error").str.to_lowercase() == "true"
    otel_status = col.tag_text(tags, "otel.status_code").str.to_lowercase()
    frame = frame.with_columns(
        col.tag_text(tags, "span.kind").str.to_lowercase().fill_null("").alias("kind"),
        pl.when(error.fill_null(False))
        .then(pl.lit("error"))
        .when(otel_status.is_in(["ok", "error"]))
        .then(otel_status)
        .otherwise(pl.lit("unset"))
        .alias("status"),
        col.tags_map(tags, drop=col.COLUMN_TAGS).alias("attributes"),
    )
    refs = _explode(frame.select(ROW, "links", "trace_id"), "links", col.JAEGER_REFERENCES)
    refs = refs.with_columns(
        col.hex_id(pl.col("traceID"), 32).alias("ref_trace"),
        col.hex_id(pl.col("spanID"), 16).alias("ref_span"),
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
    frame = frame.join(parents.drop("position"), on=ROW, how="left").join(
        _regroup(rest), on=ROW, how="left"
    )
    return _fill_references(frame), found


def _explode(frame: pl.DataFrame, column: str, dtype: pl.DataType) -> pl.DataFrame:
    keep = [c for c in frame.columns if c in (ROW, "trace_id")]
    decoded = frame.select(*keep, col.decode(frame[column], dtype).alias(column))
    return decoded.explode(column).drop_nulls(column).unnest(column)


def _regroup(refs: pl.DataFrame) -> pl.DataFrame:
    return refs.group_by(ROW).agg(
        pl.struct(
            pl.col("ref_trace").alias("trace_id"),
            pl.col("ref_span").alias("span_id"),
            pl.col("type"),
        ).alias("references")
    )


def _fill_references(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col("references").fill_null(pl.lit([], dtype=pl.List(col.REFERENCE)))
    )


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


def _events(frame: pl.DataFrame, style: str) -> tuple[pl.DataFrame, int]:
    bad_counts = 0
    if style == "otlp":
        events = _explode(frame.select(ROW, "events"), "events", col.OTLP_EVENTS)
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
        events = _explode(frame.select(ROW, "events"), "events", col.JAEGER_LOGS)
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
