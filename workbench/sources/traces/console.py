"""The OpenTelemetry Python SDK's ``ConsoleSpanExporter`` output into OTLP-style spans.

Each span is a pretty-printed object: ``0x`` ids under ``context``, ISO-8601 times,
``SpanKind.*`` names and attributes as a plain JSON object (jaeger#6517). The exporter
is for debugging, so files are small and each span is converted on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import orjson

from workbench.sources.traces._batch import Batch

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def add_span(text: bytes | memoryview, out: Batch) -> None:
    """Add one console-exporter span document."""
    span = orjson.loads(bytes(text))
    context = span.get("context") or {}
    resource = (span.get("resource") or {}).get("attributes") or {}
    status = span.get("status") or {}
    decoded = SimpleNamespace(
        trace_id=context.get("trace_id"),
        span_id=context.get("span_id"),
        parent_span_id=span.get("parent_id"),
        name=span.get("name"),
        kind=str(span.get("kind") or ""),
        start_time_unix_nano=_ns(span.get("start_time")),
        end_time_unix_nano=_ns(span.get("end_time")),
        attributes=_key_values(span.get("attributes")),
        events=orjson.dumps(
            [
                {
                    "timeUnixNano": _ns(e.get("timestamp")),
                    "name": e.get("name"),
                    "attributes": orjson.loads(_key_values(e.get("attributes"))),
                }
                for e in span.get("events") or []
            ]
        ),
        links=orjson.dumps(
            [
                {
                    "traceId": (link.get("context") or {}).get("trace_id"),
                    "spanId": (link.get("context") or {}).get("span_id"),
                    "attributes": orjson.loads(_key_values(link.get("attributes"))),
                }
                for link in span.get("links") or []
            ]
        ),
        status=SimpleNamespace(code=status.get("status_code"), message=status.get("description")),
        dropped_attributes_count=None,
    )
    host = next((str(resource[k]) for k in ("host.name", "host.ip") if resource.get(k)), "")
    out.add_group(
        [decoded],
        service=str(resource.get("service.name", "")),
        host=host,
        scope=None,
    )


def _ns(text: str | None) -> int | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _key_values(attributes: dict | None) -> bytes:
    items = []
    for key, value in (attributes or {}).items():
        if isinstance(value, bool):
            typed = {"boolValue": value}
        elif isinstance(value, int):
            typed = {"intValue": str(value)}
        elif isinstance(value, float):
            typed = {"doubleValue": value}
        elif isinstance(value, list | tuple):
            typed = {"arrayValue": {"values": [{"stringValue": str(v)} for v in value]}}
        else:
            typed = {"stringValue": str(value)}
        items.append({"key": key, "value": typed})
    return orjson.dumps(items)
