"""OTLP JSON trace documents (``TracesData``) into span columns.

Accepted: lowerCamelCase and the proto field names (``resourceSpans`` / ``resource_spans``),
Tempo's ``batches`` and the pre-1.0 ``instrumentationLibrarySpans``, int64 values as
strings or numbers, enums as numbers or names. Ids are normalised later
(:func:`workbench.sources.traces._columns.hex_id`), so base64 ids pass through here.
"""

from __future__ import annotations

import msgspec
import orjson

from workbench.sources.traces._batch import Batch

# An absent raw field: empty, so falsy.
_EMPTY = msgspec.Raw(b"")


def _structs(rename: str | None) -> type:
    """Return the TracesData struct with every message spelled the ``rename`` way."""

    def struct(name: str, fields: list[tuple]) -> type:
        return msgspec.defstruct(
            name,
            [(f, t, _EMPTY if t is msgspec.Raw else None) for f, t in fields],
            rename=rename,
            gc=False,
        )

    status = struct("Status", [("code", int | str | None), ("message", str | None)])
    scope = struct("Scope", [("name", str | None), ("version", str | None)])
    span = struct(
        "Span",
        [
            ("trace_id", str | None),
            ("span_id", str | None),
            ("parent_span_id", str | None),
            ("name", str | None),
            ("kind", int | str | None),
            ("start_time_unix_nano", int | None),
            ("end_time_unix_nano", int | None),
            ("attributes", msgspec.Raw),
            ("events", msgspec.Raw),
            ("links", msgspec.Raw),
            ("status", status | None),
            ("dropped_attributes_count", int | None),
        ],
    )
    scope_spans = struct(
        "ScopeSpans",
        [
            ("scope", scope | None),
            ("instrumentation_library", scope | None),
            ("spans", list[span] | None),
        ],
    )
    resource = struct("Resource", [("attributes", msgspec.Raw)])
    resource_spans = struct(
        "ResourceSpans",
        [
            ("resource", resource | None),
            ("scope_spans", list[scope_spans] | None),
            ("instrumentation_library_spans", list[scope_spans] | None),
        ],
    )
    return struct(
        "TracesData",
        [("resource_spans", list[resource_spans] | None), ("batches", list[resource_spans] | None)],
    )


# strict=False: int64 fields arrive as strings ("1700000000000000000") and are read as ints.
_CAMEL = msgspec.json.Decoder(_structs("camel"), strict=False)
_SNAKE = msgspec.json.Decoder(_structs(None), strict=False)
_SNAKE_MARKERS = (b'"resource_spans"', b'"scope_spans"', b'"trace_id"', b'"span_id"')

HOST_KEYS = ("host.name", "host.ip", "ip", "hostname", "k8s.pod.name")


def decode(text: bytes | memoryview) -> msgspec.Struct:
    """Decode one ``TracesData`` document, whichever way its field names are spelled."""
    head = bytes(memoryview(text)[:4096])
    snake = any(marker in head for marker in _SNAKE_MARKERS)
    return (_SNAKE if snake else _CAMEL).decode(text)


def add(data: msgspec.Struct, out: Batch) -> None:
    """Add the spans of a decoded ``TracesData`` to ``out``."""
    # One pass per resource and scope, not per span: each scope's span list is appended
    # whole and its per-scope values (service, host, scope) repeated by count.
    for resource_spans in (data.resource_spans or []) + (data.batches or []):
        service, host = resource_identity(resource_spans.resource)
        scopes = resource_spans.scope_spans or resource_spans.instrumentation_library_spans or []
        for scope_spans in scopes:
            spans = scope_spans.spans or []
            if not spans:
                continue
            scope = scope_spans.scope or scope_spans.instrumentation_library
            out.add_group(
                spans,
                service=service,
                host=host,
                scope=scope_members(scope),
            )


def resource_identity(resource: msgspec.Struct | None) -> tuple[str, str]:
    """Return (service.name, host key) of an OTLP resource."""
    if resource is None or not resource.attributes:
        return "", ""
    attributes = {}
    for item in orjson.loads(bytes(resource.attributes)) or []:
        value = item.get("value") or {}
        for field in ("stringValue", "string_value", "intValue", "int_value"):
            if field in value:
                attributes[item.get("key")] = str(value[field])
                break
    host = next((attributes[k] for k in HOST_KEYS if attributes.get(k)), "")
    return attributes.get("service.name", ""), host


def scope_members(scope: msgspec.Struct | None) -> str | None:
    """Return the scope as the JSON members Jaeger adds to tags (per scope, not per span)."""
    if scope is None:
        return None
    members = {"otel.scope.name": scope.name, "otel.scope.version": scope.version}
    text = orjson.dumps({k: v for k, v in members.items() if v}).decode()
    return text[1:-1] or None
