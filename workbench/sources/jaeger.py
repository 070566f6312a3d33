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

Jaeger behaviours handled here (checked against a real Jaeger v2.12.0, see
tests/sources/test_traces_jaeger_server.py): ``/api/traces`` without ``start`` looks back
48 hours and ignores ``lookback``, so a window is always sent; ``limit`` (v1) and
``query.num_traces`` (v3, required: without it Jaeger answers 500) cap traces, not spans;
there is no offset and a backend picks which traces fill a page (the memory store: the
latest stored, whatever their start), so a full page makes the search split its window in
two until every part holds fewer than ``limit`` traces; v3 answers 404 "No traces found"
for an empty search and an unknown trace id, v1 404 "trace not found" for the latter; v3's
HTTP gateway ignores attribute filters, so a search with tags uses v1's ``/api/traces``
(the same query service serves both); v1 times are µs, ``/api/dependencies`` ms, v3
RFC 3339.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
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
from workbench.sources.traces import Problem, SpanLoad, parse_spans
from workbench.sources.traces import problems as pr

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
        """Return one trace by id; a :class:`QueryError` when Jaeger does not hold it."""
        wanted = quote(trace_id.strip().lower(), safe="")
        path = f"/api/v3/traces/{wanted}" if self.api_ == V3 else f"/api/traces/{wanted}"
        loaded = self._spans(path, {})
        if loaded.spans.is_empty():
            raise QueryError(
                f"trace {trace_id!r} is not in Jaeger at {self.url} (it may have expired "
                "from storage, or the id is wrong)",
                source=SOURCE,
                url=self.url,
            )
        return loaded

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
        """Return the spans of traces matching a search, the latest ``max_traces`` at most.

        ``start`` / ``end`` take what :func:`workbench.sources.times.parse_time` takes
        (default: the hour before ``end``); durations what ``parse_duration`` takes.
        ``limit`` is the traces per request: a full page splits the window in two (newest
        half first) until every part holds fewer. A search with ``tags`` uses v1.
        """
        stop = parse_time(end)
        begin = parse_time(start) if start is not None else stop - DEFAULT_LOOKBACK
        if limit < 1 or max_traces < 1:
            raise QueryError(
                f"limit and max_traces must be at least 1, not {limit} and {max_traces}",
                source=SOURCE,
                url=self.url,
            )
        family = V1 if tags else self.api_
        parts: list[pl.DataFrame] = []
        problems: list[Problem] = []
        seen: set[str] = set()
        windows = [(begin, stop)]  # a stack: the newest part of the window is searched first
        while windows and len(seen) < max_traces:
            low, high = windows.pop()
            query = (service, operation, tags, low, high, min_duration, max_duration, limit)
            page = self._spans(*self._search(family, *query))
            found = page.spans["trace_id"].n_unique()
            if found >= limit and high - low >= 2 * _SMALLEST_WINDOW:
                # A full page: more traces may match than Jaeger chose to send. Search both
                # halves instead (no offset in Jaeger; it picks which traces fill a page).
                middle = low + (high - low) / 2
                windows += [(low, middle), (middle, high)]
                continue
            problems += page.problems
            if found >= limit:
                problems.append(
                    Problem(
                        pr.TRUNCATED,
                        f"{limit} or more traces start within {_SMALLEST_WINDOW} at "
                        f"{_rfc3339(low)}; only {limit} of them were read (raise limit)",
                    )
                )
            fresh = page.spans.filter(~pl.col("trace_id").is_in(list(seen)))
            if fresh.is_empty():
                continue
            firsts = (
                fresh.group_by("trace_id").agg(pl.col("start").min()).sort("start", descending=True)
            )
            kept = firsts.head(max_traces - len(seen))["trace_id"].to_list()
            seen.update(kept)
            parts.append(fresh.filter(pl.col("trace_id").is_in(kept)))
        spans = pl.concat(parts) if parts else parse_spans(b"[]", allow_empty=True).spans
        return SpanLoad(self.url, f"jaeger-{family}", spans, tuple(problems))

    def dependencies(self, end: Any = "now", lookback: Any = "24h") -> Any:
        """Return Jaeger's service dependency graph (networkx) for ``lookback`` before ``end``."""
        from workbench import graph

        params = {
            "endTs": (parse_time(end) - _EPOCH) // _MS,
            "lookback": parse_duration(lookback) // _MS,
        }
        return graph.from_dependencies(self._get_json("/api/dependencies", params=params))

    def _search(
        self,
        family: str,
        service: str,
        operation: str | None,
        tags: dict[str, str] | None,
        start: datetime,
        end: datetime,
        min_duration: Any,
        max_duration: Any,
        limit: int,
    ) -> tuple[str, dict[str, Any]]:
        if family == V3:
            params: dict[str, Any] = {
                "query.service_name": service,
                "query.start_time_min": _rfc3339(start),
                "query.start_time_max": _rfc3339(end),
                "query.num_traces": limit,
            }
            if operation:
                params["query.operation_name"] = operation
            if min_duration is not None:
                params["query.duration_min"] = f"{parse_duration(min_duration) // _US}us"
            if max_duration is not None:
                params["query.duration_max"] = f"{parse_duration(max_duration) // _US}us"
            return "/api/v3/traces", params
        # v1: times in µs, always sent (without start Jaeger looks back 48 h).
        params = {
            "service": service,
            "start": (start - _EPOCH) // _US,
            "end": (end - _EPOCH) // _US,
            "limit": limit,
        }
        if operation:
            params["operation"] = operation
        if tags:
            params["tags"] = orjson.dumps(tags).decode()
        if min_duration is not None:
            params["minDuration"] = f"{parse_duration(min_duration) // _US}us"
        if max_duration is not None:
            params["maxDuration"] = f"{parse_duration(max_duration) // _US}us"
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
_NOTHING_FOUND = re.compile(r"no traces found|trace not found", re.IGNORECASE)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_MS = timedelta(milliseconds=1)
# The narrowest window a full page is split down to (v1 times are whole microseconds).
_SMALLEST_WINDOW = timedelta(milliseconds=1)


def _checked(
    response: httpx.Response, path: str, url: str, empty_on_404: bool
) -> httpx.Response | None:
    status = response.status_code
    if status < 400:
        return response
    text = response.text[:300].strip()
    if status == 404 and empty_on_404 and _NOTHING_FOUND.search(text):
        return None  # v3's "No traces found" (search or id), v1's "trace not found" (id)
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
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
