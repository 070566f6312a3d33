"""Jaeger v1 JSON (the query API and the UI's "Download JSON") into span columns.

Accepted: the ``/api/traces`` envelope ``{data, total, limit, offset, errors}``, a bare
trace object ``{traceID, spans, processes}`` (the element of ``data``; jaeger-ui#381),
an array of trace objects, and a span list whose spans embed their ``process`` (the
jaeger-anonymizer's output). ``startTime`` and ``duration`` are microseconds.
"""

from __future__ import annotations

import msgspec
import orjson

from workbench.sources.traces._batch import Batch
from workbench.sources.traces._documents import has

# An absent raw field: empty, so falsy.
_EMPTY = msgspec.Raw(b"")

_NAMES = {
    "trace_id": "traceID",
    "span_id": "spanID",
    "operation_name": "operationName",
    "start_time": "startTime",
    "process_id": "processID",
    "service_name": "serviceName",
}


def _struct(name: str, fields: list[tuple]) -> type:
    return msgspec.defstruct(
        name,
        [(f, t, _EMPTY if t is msgspec.Raw else None) for f, t in fields],
        rename=_NAMES,
        gc=False,
    )


Process = _struct("Process", [("service_name", str | None), ("tags", msgspec.Raw)])
Span = _struct(
    "Span",
    [
        ("trace_id", str | None),
        ("span_id", str | None),
        ("operation_name", str | None),
        ("references", msgspec.Raw),
        ("start_time", int | None),
        ("duration", int | None),
        ("tags", msgspec.Raw),
        ("logs", msgspec.Raw),
        ("process_id", str | None),
        ("process", Process | None),
    ],
)
Trace = _struct(
    "Trace",
    [
        ("trace_id", str | None),
        ("spans", list[Span] | None),
        ("processes", dict[str, Process] | None),
        ("warnings", list[str] | None),
    ],
)
ApiError = _struct(
    "ApiError", [("code", int | None), ("msg", str | None), ("trace_id", str | None)]
)
Envelope = _struct("Envelope", [("data", list[Trace] | None), ("errors", list[ApiError] | None)])

# strict=False: some exporters write startTime and duration as strings.
_ENVELOPE = msgspec.json.Decoder(Envelope, strict=False)
_TRACE = msgspec.json.Decoder(Trace, strict=False)
_TRACES = msgspec.json.Decoder(list[Trace], strict=False)
_SPANS = msgspec.json.Decoder(list[Span], strict=False)

HOST_TAGS = ("ip", "hostname", "host.name", "host.ip")


def add_envelope(text: bytes | memoryview, out: Batch) -> None:
    """Add the traces of an ``/api/traces`` envelope; its ``errors`` become notes."""
    envelope = _ENVELOPE.decode(text)
    for error in envelope.errors or []:
        out.notes.append(
            f"the Jaeger API reported an error for trace {error.trace_id or '?'}: "
            f"{error.msg} (code {error.code})"
        )
    for trace in envelope.data or []:
        add_trace(trace, out)


def add_trace_object(text: bytes | memoryview, out: Batch) -> None:
    """Add one bare trace object ``{traceID, spans, processes}``."""
    add_trace(_TRACE.decode(text), out)


def add_array(text: bytes | memoryview, first: object, out: Batch) -> None:
    """Add an array of trace objects, or of spans that embed their process."""
    if has(first, "trace_id") and has(first, "spans"):
        for trace in _TRACES.decode(text):
            add_trace(trace, out)
    else:
        spans = _SPANS.decode(text)
        identities = [_identity(s.process) for s in spans]
        out.add_spans(spans, service=[i[0] for i in identities], host=[i[1] for i in identities])


def add_trace(trace: msgspec.Struct, out: Batch) -> None:
    """Add the spans of a decoded trace, each with the service and host of its process."""
    spans = trace.spans or []
    for warning in trace.warnings or []:
        out.notes.append(f"Jaeger warning on trace {trace.trace_id}: {warning}")
    processes = {key: _identity(p) for key, p in (trace.processes or {}).items()}
    unknown = ("", "")
    # One dict look-up per span: the process table is per trace, so this is the join.
    identities = [
        _identity(s.process) if s.process is not None else processes.get(s.process_id, unknown)
        for s in spans
    ]
    out.add_spans(spans, service=[i[0] for i in identities], host=[i[1] for i in identities])


def _identity(process: msgspec.Struct | None) -> tuple[str, str]:
    if process is None:
        return "", ""
    host = ""
    for tag in orjson.loads(bytes(process.tags)) if process.tags else []:
        if tag.get("key") in HOST_TAGS and tag.get("value") not in (None, ""):
            host = str(tag["value"])
            break
    return process.service_name or "", host
