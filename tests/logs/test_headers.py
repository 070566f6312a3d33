import json

import polars as pl
import pytest

from workbench.datasets import loghub
from workbench.errors import UsageError
from workbench.logs import LOGHUB_FORMATS, TRAIN_TICKET_FORMAT, LogFormat, TemplateMiner


def test_bl11_headers_and_parameters(mirror):
    # BL-11 (logparser#84): building the header regex must not use a `\s` replacement.
    case = json.loads((mirror.parent / "cases" / "BL-11.json").read_text())
    header = LogFormat(case["log_format"])
    assert header.parse(case["line"]) == case["expected_headers"]
    content = case["expected_headers"]["Content"]
    assert TemplateMiner.parameters(content, case["template"]) == case["expected_parameters"]


def test_a_line_that_does_not_fit_keeps_its_text_as_content():
    header = LogFormat("<Date> <Time> <Level> <Component>: <Content>")
    assert header.parse("no header here") is None
    frame = pl.DataFrame({"line": ["2024-03-01 12:00:07,123 INFO a.B: hello", "garbage"]})
    assert frame.select(header.content_expr("line").alias("c"))["c"].to_list() == [
        "hello",
        "garbage",
    ]


def test_a_format_without_fields_is_refused():
    with pytest.raises(UsageError, match="names no field"):
        LogFormat("plain text").pattern  # noqa: B018


@pytest.mark.parametrize("system", sorted(LOGHUB_FORMATS))
def test_loghub_formats_reproduce_the_structured_content(mirror, system):
    raw = (mirror / "loghub" / system / f"{system}_2k.log").read_text(encoding="utf-8")
    lines = pl.Series("line", raw.splitlines())
    content = lines.to_frame().select(
        LogFormat(LOGHUB_FORMATS[system]).content_expr("line").alias("c")
    )
    truth = loghub.templates(system)  # only for the line count; Content below
    structured = pl.read_csv(
        mirror / "loghub" / system / f"{system}_2k.log_structured.csv", infer_schema=False
    )["Content"]
    assert truth.height == lines.len() == 2000
    # loghub's own parser strips the content; ours keeps what the header leaves.
    assert content["c"].str.strip_chars().equals(structured.str.strip_chars())


def test_train_ticket_header_splits_trace_and_span():
    line = (
        "17:35:38.386 INFO  o.s.OrderServiceImpl#365 TraceID: 0493e2752438fbbe19f9cc7efe9aaaa9 "
        "SpanID: 882624ccb9c39604 [getOrderById][Get Order By ID Success]"
    )
    fields = LogFormat(TRAIN_TICKET_FORMAT).parse(line)
    assert fields["Level"] == "INFO"
    assert fields["Logger"] == "o.s.OrderServiceImpl#365"
    assert fields["SpanID"] == "882624ccb9c39604"
    assert fields["Content"] == "[getOrderById][Get Order By ID Success]"
