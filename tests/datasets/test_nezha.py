import logging
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from workbench import datasets, frames
from workbench.datasets import nezha

# From the fault lists and the raw minute files, read by hand.
CASE = "nezha/2023-01-29/09_34"
INJECT = datetime(2023, 1, 29, 9, 34, 19, tzinfo=UTC)
# 09_34_log.csv: a Go-zero-time row of ts-travel-service whose Docker `time` is this.
SENTINEL_ROW_TIME = datetime(2023, 1, 29, 9, 33, 14, 720362, tzinfo=UTC)
SENTINEL_ROW_TEXT = "17:33:14.720 ERROR o.a.c.c.C.[.[.[.[dispatcherServlet]#175"


@pytest.fixture(scope="module")
def case():
    return datasets.load(CASE)


def test_suite_has_45_faults_over_two_days():
    ids = datasets.cases("nezha")
    assert len(ids) == 45
    assert sum(i.startswith("2023-01-29/") for i in ids) == 28
    assert sum(i.startswith("2023-01-30/") for i in ids) == 17
    assert ids[0] == "2023-01-29/08_43"
    assert ids[-1] == "2023-01-30/14_08"


def test_truth_uses_inject_time_on_the_utc_clock():
    # inject_timestamp of this fault points 8 h earlier (trap 8); inject_time is right.
    truth = datasets.load("nezha/2023-01-29/08_43").truth
    assert truth.fault_start == datetime(2023, 1, 29, 8, 43, 4, tzinfo=UTC)
    assert truth.root_cause_service == "ts-contacts-service"
    assert truth.fault_type == "return"


def test_case_truth_and_frames(case):
    assert case.truth.root_cause_service == "ts-food-service"
    assert case.truth.fault_type == "return"
    assert case.truth.fault_start == INJECT
    for frame, kind in (
        (case.metrics, frames.METRICS),
        (case.logs, frames.LOGS),
        (case.spans, frames.SPANS),
    ):
        assert frames.validate(frame, kind).equals(frame)


def test_rows_are_chosen_by_timestamp_around_the_fault(case):
    # The previous fault is at 09:30:09, so the window starts 3 min after it.
    start, end = nezha.window(datasets.path("nezha"), "2023-01-29/09_34")
    assert start == datetime(2023, 1, 29, 9, 33, 9, tzinfo=UTC)
    assert end == INJECT + timedelta(minutes=5)
    for column, frame in (("timestamp", case.logs), ("start", case.spans)):
        times = frame[column]
        assert times.min() >= start and times.max() < end
        # File 09_34 lies wholly before the injection; later files give the fault.
        assert (times < INJECT).any() and (times > INJECT).any()


def test_go_zero_time_rows_take_the_docker_time(case):
    assert case.logs["timestamp"].min().year == 2023
    row = case.logs.filter(pl.col("timestamp") == SENTINEL_ROW_TIME)
    assert row.height == 1
    assert row["message"][0].startswith(SENTINEL_ROW_TEXT)
    assert row["level"][0] == "error"
    assert row["service"][0] == "ts-travel-service"


def test_log_message_is_the_application_text(case):
    message = case.logs["message"]
    assert not message.str.starts_with('{"log"').any()
    assert not message.str.ends_with("\n").any()
    assert set(case.logs["level"]) <= {"info", "warn", "error", "debug", "trace", "fatal", ""}


def test_spans_have_empty_root_parent_and_ms_durations(case):
    spans = case.spans
    assert not (spans["parent_span_id"] == "root").any()
    assert (spans["parent_span_id"] == "").sum() > 0
    # 09_34_trace.csv row 1: gateway root span, Duration 19333 µs.
    root = spans.filter(pl.col("span_id") == "e20ec575f32ded5b")
    assert root["parent_span_id"].to_list() == [""]
    assert root["duration_ms"].to_list() == [pytest.approx(19.333)]
    assert root["service"].to_list() == ["ts-gateway-service"]
    assert root["start"].to_list() == [datetime(2023, 1, 29, 9, 33, 34, 721000, tzinfo=UTC)]


def test_repeated_minute_file_is_deduplicated():
    spans = datasets.load("nezha/2023-01-29/15_42").spans
    assert spans.select("trace_id", "span_id").is_duplicated().sum() == 0


def test_broken_log_json_is_kept_as_raw_text_and_warned(caplog):
    with caplog.at_level(logging.WARNING, logger="workbench.datasets.nezha"):
        logs = datasets.load("nezha/2023-01-29/10_04").logs
    raw = logs.filter(pl.col("message").str.starts_with('{"log"'))
    assert raw.height >= 1
    assert "broken Log JSON" in caplog.text


def test_metrics_cover_the_baseline_at_a_minute_step():
    # First fault of 2023-01-30 (11:51:46): nothing before it, so the full 10 min.
    metrics = datasets.load("nezha/2023-01-30/11_51").metrics
    cpu = metrics.filter(
        (pl.col("service") == "ts-contacts-service") & (pl.col("metric") == "CpuUsageRate(%)")
    )
    assert 14 <= cpu.height <= 16  # 15 min at 60 s
    assert cpu["timestamp"].min() < datetime(2023, 1, 30, 11, 42, 47, tzinfo=UTC)
    assert "frontend" in set(metrics["service"])
    client = metrics.filter(pl.col("metric").str.starts_with("PodClientLatency"))
    assert not (client["value"] == 3600.0).any()
