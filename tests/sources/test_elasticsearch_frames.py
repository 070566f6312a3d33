"""Search hits into logs frames: mapping, flattening, normalisation; argument checks."""

from datetime import UTC, datetime

import polars as pl
import pytest

from workbench.errors import UsageError
from workbench.sources import ElasticsearchSource, LogMapping
from workbench.sources.elasticsearch import ECS, hits_to_logs

T0 = 1_674_984_796_822_123_456  # 2023-01-29T09:33:16.822123456Z


def hit(source, ts=T0, index="logs-1"):
    return {"_index": index, "_id": "x", "_source": source, "sort": [ts, 7]}


def test_nested_objects_and_dotted_keys_fill_the_same_columns():
    frame = hits_to_logs(
        [
            hit({"service": {"name": "cart"}, "message": "a", "trace": {"id": "AB12"}}),
            hit({"service.name": "cart", "message": "b", "trace.id": "ab12"}),
            hit({"service": {"name.x": "no"}, "message": "c"}),
        ]
    )
    assert frame["service"].to_list() == ["cart", "cart", ""]
    assert frame["trace_id"].to_list() == ["ab12", "ab12", ""]  # lower-case hex
    assert frame["source"].to_list() == ["logs-1"] * 3


def test_the_timestamp_is_the_sort_value_in_nanoseconds():
    frame = hits_to_logs([hit({"message": "a"})])
    assert frame.schema["timestamp"] == pl.Datetime("ns", "UTC")
    assert frame["timestamp"].cast(pl.Int64).to_list() == [T0]
    millis = hits_to_logs([hit({"message": "a"}, ts=1_674_984_796_822)], nanos=False)
    assert millis["timestamp"][0] == datetime(2023, 1, 29, 9, 33, 16, 822000, tzinfo=UTC)


def test_levels_are_lower_case_with_syslog_names_folded():
    levels = ["INFO", "Warning", "ERR", "critical", "debug", " notice ", None]
    frame = hits_to_logs([hit({"message": "m", "log": {"level": v}}) for v in levels])
    assert frame["level"].to_list() == ["info", "warn", "error", "fatal", "debug", "info", ""]


def test_pod_names_become_service_names():
    mapping = LogMapping(service="kubernetes.pod.name")
    frame = hits_to_logs(
        [hit({"kubernetes": {"pod": {"name": "ts-travel-service-64469b5b48-25zj6"}}})], mapping
    )
    assert frame["service"].to_list() == ["ts-travel-service"]


def test_fallback_fields_are_tried_in_order():
    frame = hits_to_logs(
        [
            hit({"service": {"name": "api"}, "kubernetes": {"pod": {"name": "web-7d4b9c-x2x2x"}}}),
            hit({"kubernetes": {"pod": {"name": "web-7d4b9c8f5d-x2x2x"}}}),
        ]
    )
    assert frame["service"].to_list() == ["api", "web"]


def test_arrays_and_objects_become_text():
    frame = hits_to_logs(
        [
            hit(
                {
                    "message": ["first", "second"],
                    "tags": [{"k": "a"}, {"k": "b"}],
                    "http": {"status": 503, "ok": False},
                    "spans": [{"id": 1}, {"id": 2}],
                }
            )
        ],
        extras=["tags.k", "http.status", "http.ok", "spans.id", "http"],
    )
    row = frame.row(0, named=True)
    assert row["message"] == "first\nsecond"
    assert row["tags.k"] == "a\nb"  # arrays of objects merge per key, as Elasticsearch does
    assert (row["http.status"], row["http.ok"], row["spans.id"]) == ("503", "false", "1\n2")
    assert row["http"] == '{"status":503,"ok":false}'  # an object asked for whole: JSON


def test_an_empty_page_has_the_logs_schema():
    frame = hits_to_logs([], ECS, ["labels.case"])
    assert frame.is_empty()
    assert frame.columns[:3] == ["timestamp", "service", "message"]
    assert frame.columns[-1] == "labels.case"


def test_a_mapping_can_leave_optional_columns_out():
    mapping = LogMapping(level=(), host=(), pod=(), container=(), trace_id=(), span_id=())
    frame = hits_to_logs([hit({"message": "m", "service": {"name": "a"}})], mapping)
    assert frame.columns == ["timestamp", "service", "message", "source"]


def test_mapping_from_a_toml_table():
    mapping = LogMapping.from_dict({"timestamp": "ts", "service": ["app", "svc"], "message": "msg"})
    assert mapping.timestamp == "ts"
    assert mapping.service == ("app", "svc") and mapping.message == ("msg",)
    assert mapping.level == ("log.level",)  # the rest stays ECS
    assert mapping.source_fields()[:3] == ["app", "svc", "msg"]
    with pytest.raises(UsageError, match="unknown logs column"):
        LogMapping.from_dict({"severity": "lvl"})
    with pytest.raises(UsageError, match="without wildcards"):
        LogMapping(message="msg*")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"page_size": 10_001}, "page_size is 1 to 10,000"),
        ({"page_size": 0}, "page_size"),
        ({"pagination": "from"}, "pagination is"),
        ({"flavor": "solr"}, "flavor is"),
        ({"username": "u", "password": "p", "bearer_token": "t"}, "one kind of credentials"),
        ({"api_key": "k", "bearer_token": "t"}, "one kind of credentials"),
        ({"keep_alive": "soon"}, "not a duration"),
    ],
)
def test_bad_settings_are_usage_errors(options, match):
    with pytest.raises(UsageError, match=match):
        ElasticsearchSource("http://127.0.0.1:9200", **options)


def test_a_url_that_is_not_http_is_a_usage_error_without_its_password():
    with pytest.raises(UsageError) as raised:
        ElasticsearchSource("ftp://user:pa55word@host:21")
    assert "pa55word" not in str(raised.value)


@pytest.mark.parametrize(
    ("fields", "match"),
    [(["http.*"], "wildcards"), (["message"], "logs-frame column")],
)
def test_extra_fields_are_named_exactly_and_not_frame_columns(fields, match):
    with ElasticsearchSource("http://127.0.0.1:9200") as source:
        pages = source.iter_logs("logs", fields=fields)
        with pytest.raises(UsageError, match=match):
            next(pages)


def test_a_window_that_ends_before_it_starts_is_a_usage_error():
    # checked before the server is asked anything: this URL has no server
    with pytest.raises(UsageError, match="ends"), ElasticsearchSource("http://127.0.0.1:9") as s:
        s.iter_hits("logs", "2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z")


def test_any_mix_of_nesting_and_dots_reaches_a_field():
    spellings = [
        {"kubernetes": {"pod": {"name": "a"}}},
        {"kubernetes.pod.name": "b"},
        {"kubernetes": {"pod.name": "c"}},
        {"kubernetes.pod": {"name": "d"}},
        {"kubernetes": [{"pod": {"name": "e"}}, {"pod": [{"name": "f"}]}]},
    ]
    frame = hits_to_logs([hit({"message": "m", **s}) for s in spellings])
    assert frame["pod"].to_list() == ["a", "b", "c", "d", "e\nf"]
