"""Split a trace file into JSON documents and tell what each one holds.

A file is one JSON document, JSON Lines (one document a line, as Jaeger UI uploads and
the OTLP file exporter write), or documents written one after another (grpc-gateway
streams, the OpenTelemetry Python console exporter). Each document is probed once: the
probe reads only the top-level keys and keeps the value of each as a raw slice of the
file, so the typed decoder that follows parses every byte once more and no further.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass

import msgspec

from workbench.errors import FileFormatError

# What a document holds, by the keys that tell it apart.
OTLP = "otlp"
JAEGER = "jaeger"
JAEGER_V3 = "jaeger-v3"
CONSOLE = "otel-console"

_PROBE_KEYS = {
    "resourceSpans": "resourceSpans",
    "resource_spans": "resource_spans",
    "batches": "batches",
    "result": "result",
    "error": "error",
    "data": "data",
    "errors": "errors",
    "trace_id": "traceID",
    "spans": "spans",
    "span_id": "spanID",
    "context": "context",
    "resource_logs": "resourceLogs",
    "resource_logs_snake": "resource_logs",
    "resource_metrics": "resourceMetrics",
    "resource_metrics_snake": "resource_metrics",
    "services": "services",
    "operations": "operations",
    "summaries": "summaries",
    "parent": "parent",
    "child": "child",
}
Probe = msgspec.defstruct(
    "Probe",
    [(name, msgspec.Raw, msgspec.Raw(b"")) for name in _PROBE_KEYS],
    rename=_PROBE_KEYS,
    gc=False,
)
_probe_object = msgspec.json.Decoder(Probe)
_probe_array = msgspec.json.Decoder(list[msgspec.Raw])
_TRAILING = re.compile(r"trailing characters \(byte (\d+)\)")
_AT_BYTE = re.compile(r"\(byte (\d+)\)")


@dataclass(frozen=True, slots=True)
class Document:
    """One JSON document of a file: its text, the line it starts on and its probe."""

    text: bytes | memoryview
    line: int
    found: object


def read_bytes(data: bytes) -> bytes:
    """Return ``data``, decompressed when it is gzip."""
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    return data


def split(data: bytes, source: str) -> tuple[list[Document], list[str]]:
    """Return the JSON documents of ``data`` and a note for each part that could not be read.

    A single document that does not parse raises :class:`FileFormatError` with the line
    and column. In JSON Lines a bad line is skipped and noted, so the rest still loads;
    in concatenated documents reading stops at the first bad one, noted likewise.
    """
    try:
        return [Document(data, 1, _probe(data))], []
    except msgspec.DecodeError as exc:
        trailing = _TRAILING.search(str(exc))
        if trailing is None:
            raise _malformed(data, exc, source, 0) from None
        first_end = int(trailing.group(1))
    newline = data.find(b"\n")
    if newline >= 0 and data[first_end:newline].strip() == b"" and _is_jsonl(data):
        return _lines(data)
    return _concatenated(data, source)


def kind_of(document: Document, source: str) -> str:
    """Return what a document holds (a format name, or ``array``), or raise for other data."""
    if isinstance(document.found, list):
        return "array"
    return classify(document.found, source)


def _probe(text: bytes | memoryview) -> object:
    start = bytes(memoryview(text)[:1024]).lstrip()[:1]
    if start == b"[":
        return _probe_array.decode(text)
    return _probe_object.decode(text)


def has(found: msgspec.Struct, key: str) -> bool:
    """Return whether a probed object has ``key`` with a value other than null."""
    value = getattr(found, key)
    return len(value) > 0 and bytes(memoryview(value)[:4]) != b"null"


def classify(found: msgspec.Struct, source: str) -> str:
    """Return the format a probed JSON object is in, or raise naming what it holds instead."""
    if has(found, "resourceSpans") or has(found, "resource_spans"):
        return OTLP
    if has(found, "batches"):
        return OTLP
    if has(found, "result") or has(found, "error"):
        return JAEGER_V3
    if has(found, "data") or (has(found, "trace_id") and has(found, "spans")):
        return JAEGER
    if has(found, "span_id"):
        return "jaeger-span"
    if has(found, "context"):
        return CONSOLE
    for key, what in (
        ("resource_logs", "OTLP logs"),
        ("resource_logs_snake", "OTLP logs"),
        ("resource_metrics", "OTLP metrics"),
        ("resource_metrics_snake", "OTLP metrics"),
        ("services", "a Jaeger service list (GetServices)"),
        ("operations", "a Jaeger operation list (GetOperations)"),
        ("summaries", "Jaeger trace summaries (FindTraceSummaries)"),
    ):
        if has(found, key):
            raise FileFormatError(
                f"{source} holds {what}, not spans; give a trace file (OTLP JSON, Jaeger JSON)",
                path=source,
            )
    if has(found, "parent") and has(found, "child"):
        raise FileFormatError(
            f"{source} holds Jaeger dependency links, not spans; "
            "read it with workbench.graph.from_dependencies",
            path=source,
        )
    raise FileFormatError(
        f"unsupported trace format in {source}: a JSON object with none of the keys of "
        "OTLP (resourceSpans), Jaeger v1 (data, traceID + spans) or Jaeger v3 (result)",
        path=source,
    )


def _is_jsonl(data: bytes) -> bool:
    # JSON Lines when the first line holds a whole document by itself.
    first = data[: data.find(b"\n")]
    try:
        _probe(first)
    except msgspec.DecodeError:
        return False
    return True


def _lines(data: bytes) -> tuple[list[Document], list[str]]:
    # One decode per line: the lines are whole batches, so this loop is per batch, not per span.
    documents, notes = [], []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            found = _probe(line)
        except msgspec.DecodeError as exc:
            notes.append(f"line {number} skipped: {_reason(exc)}")
            continue
        documents.append(Document(line, number, found))
    return documents, notes


def _concatenated(data: bytes, source: str) -> tuple[list[Document], list[str]]:
    documents, notes = [], []
    position = 0
    size = len(data)
    view = memoryview(data)
    while position < size:
        while position < size and data[position] in b" \t\r\n,":
            position += 1
        if position >= size:
            break
        rest = view[position:]
        line = data.count(b"\n", 0, position) + 1
        try:
            found = _probe(rest)
            end = len(rest)
        except msgspec.DecodeError as exc:
            trailing = _TRAILING.search(str(exc))
            if trailing is None:
                if not documents:
                    raise _malformed(data, exc, source, 0, offset=position) from None
                notes.append(f"reading stopped at line {line}: {_reason(exc)}")
                break
            end = int(trailing.group(1))
            found = _probe(rest[:end])
        documents.append(Document(rest[:end], line, found))
        position += end
    return documents, notes


def _reason(exc: msgspec.DecodeError) -> str:
    text = str(exc)
    if "truncated" in text:
        return "the JSON ends in the middle of a value (truncated)"
    return text


def _malformed(
    data: bytes, exc: msgspec.DecodeError, source: str, first_line: int, offset: int = 0
) -> FileFormatError:
    text = str(exc)
    at = _AT_BYTE.search(text)
    position = offset + (int(at.group(1)) if at else len(data) - offset)
    line = first_line + data.count(b"\n", 0, position) + 1
    column = position - (data.rfind(b"\n", 0, position) + 1) + 1
    if "truncated" in text:
        what = "the JSON ends in the middle of a value: the file is truncated"
    else:
        what = f"malformed JSON ({text.removeprefix('JSON is malformed: ')})"
    return FileFormatError(
        f"cannot read {source}: {what} at line {line}, column {column}; "
        "download or export it again",
        path=source,
        line=line,
    )
