"""Jaeger's query APIs (v3 and v1) into the spans frame.

>>> from workbench.sources import JaegerSource
>>> jaeger = JaegerSource("http://127.0.0.1:16686")
>>> jaeger.api_                                   # "v3" or "v1", found on first use
>>> jaeger.services()
>>> loaded = jaeger.find_traces("frontend", start="now-1h", end="now", max_traces=500)
>>> loaded.spans, loaded.problems

v3 (``/api/v3/...``, OTLP JSON inside grpc-gateway ``{"result": ...}`` wrappers) is
preferred; v1 (``/api/...``, what Jaeger UI uses) is the fallback. Both answers go
through the trace-file readers, so a trace reads the same from either API or a file.

Jaeger behaviours handled here: ``/api/traces`` without ``start`` looks back 48 hours
(so a window is always sent); ``limit`` caps traces, not spans, and there is no offset, so
paging moves the window's end to the earliest trace start seen; v3 answers 404 "No traces
found" for an empty search; v1 times are µs, ``/api/dependencies`` ms, v3 RFC 3339.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import polars as pl

from workbench.errors import (
    AuthError,
    FileFormatError,
    QueryError,
    SourceError,
    SourceTimeout,
    SourceUnavailable,
)
from workbench.sources import _http
from workbench.sources.times import parse_duration, parse_time
from workbench.sources.traces import SpanLoad, parse_spans

SOURCE = "jaeger"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF_S = 0.5
DEFAULT_LIMIT = 100
DEFAULT_MAX_TRACES = 1_000
DEFAULT_LOOKBACK = timedelta(hours=1)
V1, V3 = "v1", "v3"


class JaegerSource:
    """A Jaeger query service: services, operations, trace search, traces and dependencies."""

    def __init__(
        self,
        url: str,
        *,
        api: str = "auto",
        timeout: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF_S,
        headers: dict[str, str] | None = None,
        verify: bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if api not in ("auto", V1, V3):
            raise QueryError(f"api must be auto, v1 or v3, not {api!r}", source=SOURCE, url=url)
        base, username, password = _http.split_credentials(url)
        self.url = _http.redact(base)
        self.retries = retries
        self.backoff = backoff
        self._api = None if api == "auto" else api
        auth = httpx.BasicAuth(username, password or "") if username else None
        self._client = httpx.Client(
            base_url=str(base).rstrip("/"),
            timeout=timeout,
            headers=headers,
            auth=auth,
            verify=verify,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"JaegerSource({self.url!r}, api={self._api or 'auto'!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> JaegerSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def api_(self) -> str:
        """Return the API family in use, ``v3`` or ``v1``, asking the server once."""
        if self._api is None:
            try:
                self._get_json("/api/v3/services")
                self._api = V3
            except SourceError as v3_error:
                try:
                    self._get_json("/api/services")
                except SourceError:
                    raise v3_error from None
                self._api = V1
        return self._api

    def services(self) -> list[str]:
        """Return the service names Jaeger knows, sorted."""
        if self.api_ == V3:
            return sorted(self._get_json("/api/v3/services").get("services") or [])
        return sorted(self._get_json("/api/services").get("data") or [])

    def operations(self, service: str) -> pl.DataFrame:
        """Return the operations of ``service``: name and span kind ("" when v1 cannot say)."""
        if self.api_ == V3:
            answer = self._get_json("/api/v3/operations", params={"service": service})
            rows = answer.get("operations") or []
            names = [r.get("name", "") for r in rows]
            kinds = [r.get("spanKind", "") for r in rows]
        else:
            answer = self._get_json(f"/api/services/{quote(service, safe='')}/operations")
            names = list(answer.get("data") or [])
            kinds = [""] * len(names)
        return pl.DataFrame({"name": names, "span_kind": kinds}, schema=_OPERATIONS).sort("name")

    def trace(self, trace_id: str) -> SpanLoad:
        """Return one trace by id."""
        path = f"/api/v3/traces/{trace_id}" if self.api_ == V3 else f"/api/traces/{trace_id}"
        return self._spans(path, {})

    def find_traces(
        self,
        service: str,
        *,
        operation: str | None = None,
        tags: dict[str, str] | None = None,
        start: Any = None,
        end: Any = "now",
        min_duration: Any = None,
        max_duration: Any = None,
        limit: int = DEFAULT_LIMIT,
        max_traces: int = DEFAULT_MAX_TRACES,
    ) -> SpanLoad:
        """Return the spans of traces matching a search, paging until ``max_traces``.

        ``start`` / ``end`` take what :func:`workbench.sources.times.parse_time` takes
        (default: the hour before ``end``); durations what ``parse_duration`` takes.
        """
        stop = parse_time(end)
        begin = parse_time(start) if start is not None else stop - DEFAULT_LOOKBACK
        parts: list[pl.DataFrame] = []
        problems = []
        seen: set[str] = set()
        while len(seen) < max_traces and begin < stop:
            page = self._spans(
                *self._search(
                    service, operation, tags, begin, stop, min_duration, max_duration, limit
                )
            )
            problems += page.problems
            fresh = page.spans.filter(~pl.col("trace_id").is_in(list(seen)))
            if fresh.is_empty():
                break
            firsts = (
                fresh.group_by("trace_id").agg(pl.col("start").min()).sort("start", descending=True)
            )
            room = max_traces - len(seen)
            kept = firsts.head(room)["trace_id"].to_list()
            seen.update(kept)
            parts.append(fresh.filter(pl.col("trace_id").is_in(kept)))
            if page.spans["trace_id"].n_unique() < limit:
                break
            # No offset in Jaeger: the next page ends where the earliest trace began.
            earliest = firsts["start"].min()
            if earliest is None or earliest >= stop:
                break
            stop = earliest
        spans = pl.concat(parts) if parts else parse_spans(b"[]", allow_empty=True).spans
        return SpanLoad(self.url, f"jaeger-{self.api_}", spans, tuple(problems))

    def dependencies(self, end: Any = "now", lookback: Any = "24h") -> Any:
        """Return Jaeger's service dependency graph (networkx) for ``lookback`` before ``end``."""
        from workbench import graph

        params = {
            "endTs": int(parse_time(end).timestamp() * 1000),
            "lookback": int(parse_duration(lookback).total_seconds() * 1000),
        }
        return graph.from_dependencies(self._get_json("/api/dependencies", params=params))

    def _search(
        self,
        service: str,
        operation: str | None,
        tags: dict[str, str] | None,
        start: datetime,
        end: datetime,
        min_duration: Any,
        max_duration: Any,
        limit: int,
    ) -> tuple[str, dict[str, Any]]:
        if self.api_ == V3:
            params: dict[str, Any] = {
                "query.service_name": service,
                "query.start_time_min": _rfc3339(start),
                "query.start_time_max": _rfc3339(end),
                "query.search_depth": limit,
            }
            if operation:
                params["query.operation_name"] = operation
            if min_duration is not None:
                params["query.duration_min"] = f"{parse_duration(min_duration).total_seconds()}s"
            if max_duration is not None:
                params["query.duration_max"] = f"{parse_duration(max_duration).total_seconds()}s"
            for key, value in (tags or {}).items():
                params[f"query.attributes[{key}]"] = value
            return "/api/v3/traces", params
        # v1: times in µs, always sent (without start Jaeger looks back 48 h).
        params = {
            "service": service,
            "start": int(start.timestamp() * 1_000_000),
            "end": int(end.timestamp() * 1_000_000),
            "limit": limit,
        }
        if operation:
            params["operation"] = operation
        if tags:
            params["tags"] = orjson.dumps(tags).decode()
        if min_duration is not None:
            params["minDuration"] = f"{int(parse_duration(min_duration).total_seconds() * 1e6)}us"
        if max_duration is not None:
            params["maxDuration"] = f"{int(parse_duration(max_duration).total_seconds() * 1e6)}us"
        return "/api/traces", params

    def _spans(self, path: str, params: dict[str, Any]) -> SpanLoad:
        response = self._request(path, params, empty_on_404=True)
        where = f"{self.url}{path}"
        if response is None:
            return parse_spans(b"[]", source=where, allow_empty=True)
        _require_json(response, where)
        try:
            return parse_spans(response.content, source=where, allow_empty=True)
        except FileFormatError as exc:
            raise SourceUnavailable(
                f"Jaeger at {self.url} answered {path} with data that cannot be read: {exc}",
                source=SOURCE,
                url=self.url,
            ) from None

    def _get_json(self, path: str, params: dict[str, Any] | None = None) -> dict:
        response = self._request(path, params or {})
        where = f"{self.url}{path}"
        _require_json(response, where)
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise SourceUnavailable(
                f"Jaeger at {self.url} answered {path} with broken JSON ({exc}); "
                "the answer was cut short or a proxy changed it",
                source=SOURCE,
                url=self.url,
            ) from None
        if isinstance(answer, dict) and answer.get("errors"):
            raise QueryError(
                f"Jaeger rejected {path}: {answer['errors']}", source=SOURCE, url=self.url
            )
        return answer if isinstance(answer, dict) else {"data": answer}

    def _request(
        self, path: str, params: dict[str, Any], empty_on_404: bool = False
    ) -> httpx.Response | None:
        for attempt in range(self.retries + 1):
            try:
                response = self._client.get(path, params=params)
            except httpx.TimeoutException as exc:
                if attempt < self.retries:
                    time.sleep(_http.backoff_pause(attempt, self.backoff))
                    continue
                raise SourceTimeout(
                    f"Jaeger at {self.url} did not answer {path} in time ({exc}); "
                    "raise the timeout or narrow the search",
                    source=SOURCE,
                    url=self.url,
                ) from None
            except httpx.TransportError as exc:
                if attempt < self.retries:
                    time.sleep(_http.backoff_pause(attempt, self.backoff))
                    continue
                raise SourceUnavailable(
                    f"cannot reach Jaeger at {self.url}: {_http.transport_reason(exc)}; "
                    "is the query service running and the URL right?",
                    source=SOURCE,
                    url=self.url,
                ) from None
            if response.status_code in _http.RETRY_STATUSES and attempt < self.retries:
                time.sleep(_http.backoff_pause(attempt, self.backoff, _http.retry_after(response)))
                continue
            return _checked(response, path, self.url, empty_on_404)
        raise AssertionError("unreachable")  # pragma: no cover


_OPERATIONS = {"name": pl.String, "span_kind": pl.String}


def _checked(
    response: httpx.Response, path: str, url: str, empty_on_404: bool
) -> httpx.Response | None:
    status = response.status_code
    if status < 400:
        return response
    text = response.text[:300].strip()
    if status == 404 and empty_on_404 and "no traces found" in text.lower():
        return None  # v3's answer to a search or trace id that matches nothing
    if status in (401, 403):
        raise AuthError(
            f"Jaeger at {url} refused {path} ({status}); check the credentials or headers",
            source=SOURCE,
            url=url,
        )
    if status in (400, 404, 422):
        raise QueryError(
            f"Jaeger at {url} rejected {path} ({status}): {text}", source=SOURCE, url=url
        )
    raise SourceUnavailable(
        f"Jaeger at {url} failed on {path} ({status}): {text}", source=SOURCE, url=url
    )


def _require_json(response: httpx.Response, where: str) -> None:
    kind = response.headers.get("content-type", "")
    head = response.content[:64].lstrip()[:1]
    if "html" in kind or head == b"<":
        raise SourceUnavailable(
            f"{where} answered HTML, not JSON: a proxy or login page is in front of Jaeger, "
            "or the URL is not the query service (port 16686)",
            source=SOURCE,
            url=where,
        )


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
