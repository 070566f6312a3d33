"""Elasticsearch and OpenSearch as a source: the logs of a time window into logs frames.

>>> from workbench.sources import ElasticsearchSource
>>> with ElasticsearchSource("http://127.0.0.1:9200") as es:
...     logs = es.logs("logs-*", "2023-01-29T09:30:00Z", "2023-01-29T09:45:00Z")

Raw HTTP (httpx): the official Elasticsearch client refuses to talk to OpenSearch. The
flavour and version come from ``GET /`` and choose the dialect:

* Elasticsearch >= 7.12: point in time (``POST /<index>/_pit``, closed with
  ``DELETE /_pit``), ``search_after`` on ``[timestamp, _shard_doc]``;
* OpenSearch >= 2.4: point in time (``POST /<index>/_search/point_in_time``, closed with
  ``DELETE /_search/point_in_time``), ``search_after`` on ``[timestamp, _id]``, since
  OpenSearch 2.x has no ``_shard_doc``;
* anything older: scroll, cleared afterwards.

Either way there is no 10,000-hit wall: hits come page by page, each page becomes a
small frame (:meth:`ElasticsearchSource.iter_logs`), and memory stays flat however many
hits the window holds. Paging stops on the first empty page, never on ``hits.total``,
which is only a lower bound from Elasticsearch 7 on. The ``pit_id`` of each answer is
the one the next request uses, and the one closed at the end; a point in time that
expired mid-pull is an error, never silently reopened (a new one would see other data
and repeat or skip hits). Shard failures on a page are an error too, unless partial
results are allowed, when they become warnings.

Transient failures (429, 502-504, timeouts, dropped connections) are retried with
backoff where a retry cannot repeat or skip a page; every other failure is one
:class:`~workbench.errors.SourceError` saying what failed, where, how much had been
read, and what to do next, with the server's own reason. Credentials are sent, never
shown: not in errors, logs or reprs.
"""

from __future__ import annotations

import base64
import logging
import re
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import polars as pl

from workbench import __version__, frames
from workbench.errors import (
    AuthError,
    QueryError,
    SourceError,
    SourceTimeout,
    SourceUnavailable,
    SourceWarning,
    UsageError,
)
from workbench.sources._http import (
    backoff_pause,
    certificate_reason,
    is_certificate_error,
    redact,
    retry_after,
    split_credentials,
    tls_context,
    transport_reason,
)
from workbench.sources.times import parse_duration, parse_time

logger = logging.getLogger(__name__)

SOURCE = "elasticsearch"
ELASTICSEARCH = "elasticsearch"
OPENSEARCH = "opensearch"
PIT = "pit"
SCROLL = "scroll"
AUTO = "auto"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_PAGE_SIZE = 2_000
MAX_PAGE_SIZE = 10_000  # index.max_result_window unless an index raises it
DEFAULT_KEEP_ALIVE = "2m"  # between two pages: time for the caller to use a page
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF_S = 0.5
CLOSE_TIMEOUT_S = 5.0
ES_PIT_SINCE = (7, 12)  # PIT came in 7.10, its _shard_doc tiebreaker in 7.12
OPENSEARCH_PIT_SINCE = (2, 4)
ES_NUMERIC_TYPE_SINCE = (7, 2)  # sort "numeric_type": "date_nanos"
ES_TOTAL_OBJECT_SINCE = (7, 0)  # hits.total as {value, relation}; track_total_hits
NANOS_FORMAT = "strict_date_optional_time_nanos"
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_USER_AGENT = f"mancerops/{__version__}"
_SECRET_HEADER = re.compile(r"auth|cookie|key|token|secret|pass", re.IGNORECASE)
_LEVELS = {
    "warning": "warn",
    "err": "error",
    "critical": "fatal",
    "crit": "fatal",
    "emerg": "fatal",
    "emergency": "fatal",
    "alert": "fatal",
    "notice": "info",
    "informational": "info",
}


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What ``GET /`` says about the server: flavour, version and cluster name.

    ``version`` is None when the server would not say (``GET /`` forbidden to the user,
    or absent, as in Elasticsearch 8's test distribution); the newest dialect is then
    assumed. ``flavor`` is ``""`` when not even that could be told.
    """

    flavor: str
    version: tuple[int, ...] | None = None
    number: str = ""
    cluster: str = ""

    @property
    def name(self) -> str:
        products = {OPENSEARCH: "OpenSearch", ELASTICSEARCH: "Elasticsearch"}
        product = products.get(self.flavor, "Elasticsearch or OpenSearch")
        return f"{product} {self.number}".strip()

    def at_least(self, since: tuple[int, ...]) -> bool:
        return self.version is None or self.version >= since

    @property
    def has_pit(self) -> bool:
        return self.at_least(OPENSEARCH_PIT_SINCE if self.flavor == OPENSEARCH else ES_PIT_SINCE)

    @property
    def has_nanos_sort(self) -> bool:
        return self.flavor == OPENSEARCH or self.at_least(ES_NUMERIC_TYPE_SINCE)

    @property
    def has_total_object(self) -> bool:
        return self.flavor == OPENSEARCH or self.at_least(ES_TOTAL_OBJECT_SINCE)


def _paths(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True, slots=True)
class LogMapping:
    """Which document fields fill which logs-frame columns; ECS by default.

    Each column takes one field path or several, tried in order (the first present one
    wins); dotted paths reach both nested objects (``{"service": {"name": ...}}``) and
    dotted keys (``{"service.name": ...}``). An empty tuple leaves an optional column
    out (``service`` and ``message`` are then ``""``). ``timestamp`` is one field of type
    ``date`` or ``date_nanos``: it is the sort key, and the frame holds its indexed value
    (ns for ``date_nanos``, ms for ``date``). ``service`` goes through
    :func:`workbench.frames.service_of` (lower case, pod suffix dropped), ``level`` is
    lower-cased with syslog names folded in (``warning`` -> ``warn``, ``err`` -> ``error``).
    """

    timestamp: str = "@timestamp"
    service: tuple[str, ...] = ("service.name", "kubernetes.pod.name")
    message: tuple[str, ...] = ("message",)
    level: tuple[str, ...] = ("log.level",)
    host: tuple[str, ...] = ("host.name", "host.hostname")
    pod: tuple[str, ...] = ("kubernetes.pod.name",)
    container: tuple[str, ...] = ("container.name", "kubernetes.container.name")
    trace_id: tuple[str, ...] = ("trace.id",)
    span_id: tuple[str, ...] = ("span.id",)

    def __post_init__(self) -> None:
        if not isinstance(self.timestamp, str) or not self.timestamp:
            raise UsageError("the mapping needs one timestamp field, e.g. '@timestamp'")
        for column in _MAPPED:
            paths = _paths(getattr(self, column))
            if any(not isinstance(p, str) or not p or "*" in p for p in paths):
                raise UsageError(f"mapping of {column!r}: give field names, without wildcards")
            object.__setattr__(self, column, paths)

    @classmethod
    def from_dict(cls, values: Mapping[str, str | Sequence[str]]) -> LogMapping:
        """Return the ECS mapping with the given columns replaced (e.g. from a TOML table)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UsageError(
                f"unknown logs column(s) {', '.join(unknown)} in the mapping; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**dict(values))

    def columns(self) -> list[tuple[str, tuple[str, ...]]]:
        """Return (column, field paths) for each mapped column, in frame order."""
        return [
            (column, getattr(self, column))
            for column in _MAPPED
            if getattr(self, column) or column in _REQUIRED_TEXT
        ]

    def source_fields(self) -> list[str]:
        """Return the document fields to fetch (the timestamp comes from the sort)."""
        return list(dict.fromkeys(p for _, paths in self.columns() for p in paths))


_MAPPED = ("service", "message", "level", "host", "pod", "container", "trace_id", "span_id")
_REQUIRED_TEXT = ("service", "message")
ECS = LogMapping()


@dataclass(frozen=True, slots=True)
class PullProgress:
    """Where a pull stands after a page: hits and pages read, the server's total."""

    index: str
    hits: int
    pages: int
    total: int | None  # matching hits as counted on the first page
    total_exact: bool  # False when the server only said "at least total"
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class _Dialect:
    """How one server flavour opens, pages and closes a point in time."""

    flavor: str
    open_path: str
    id_key: str
    close_path: str
    tiebreaker: str

    def close_body(self, pit_id: str) -> dict[str, Any]:
        return {"pit_id": [pit_id]} if self.flavor == OPENSEARCH else {"id": pit_id}


_ES_PIT = _Dialect(ELASTICSEARCH, "_pit", "id", "_pit", "_shard_doc")
_OPENSEARCH_PIT = _Dialect(
    OPENSEARCH, "_search/point_in_time", "pit_id", "_search/point_in_time", "_id"
)


class _NoPit(Exception):
    """The server has no point-in-time handler under any dialect's URL."""


class _Failure(Exception):
    """A request that failed for good: an error status, or no answer at all."""

    def __init__(
        self,
        *,
        status: int | None = None,
        error_type: str = "",
        reason: str = "",
        attempts: int = 1,
        timed_out: bool = False,
        elastic: bool = False,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.error_type = error_type
        self.reason = reason
        self.attempts = attempts
        self.timed_out = timed_out
        self.elastic = elastic  # the answer carried X-elastic-product: Elasticsearch

    @property
    def described(self) -> str:
        head = f"HTTP {self.status}" if self.status is not None else ""
        kind = f"{self.error_type}: " if self.error_type else ""
        return f"{head} {kind}{self.reason}".strip()


@dataclass
class _Pull:
    """The running count of one pull, for progress and for errors that say how far it got."""

    index: str
    started: float = field(default_factory=time.monotonic)
    hits: int = 0
    pages: int = 0
    total: int | None = None
    total_exact: bool = True

    @property
    def so_far(self) -> str:
        if not self.pages:
            return "before any hit was read"
        return f"after {self.hits:,} hits in {self.pages} page(s)"

    def progress(self) -> PullProgress:
        return PullProgress(
            self.index,
            self.hits,
            self.pages,
            self.total,
            self.total_exact,
            time.monotonic() - self.started,
        )


class ElasticsearchSource:
    """An Elasticsearch or OpenSearch cluster, read through its HTTP API.

    Parameters
    ----------
    url:
        Base URL, e.g. ``http://127.0.0.1:9200`` or ``https://host/es``. User info in the
        URL (``https://user:pass@host``) is taken as basic auth and dropped from the URL.
    timeout:
        Seconds to wait for each request.
    headers:
        Extra HTTP headers. Never logged.
    username, password:
        Basic auth.
    api_key:
        Elasticsearch API key: the encoded form Kibana shows, or ``(id, api_key)``.
    bearer_token:
        Sent as ``Authorization: Bearer ...`` (OAuth, JWT, service tokens).
    ca_bundle, verify, client_cert, client_key:
        TLS: the CA(s) to trust (PEM), whether to check the server at all, and a client
        certificate for mutual TLS.
    flavor:
        ``"elasticsearch"`` or ``"opensearch"`` to skip detection, for users that may not
        call ``GET /``.
    pagination:
        ``"auto"`` (point in time where the server has it, else scroll), ``"pit"`` or
        ``"scroll"``.
    page_size:
        Hits per request (at most 10,000). Memory grows with it, not with the window.
    keep_alive:
        How long the server keeps the point in time (or scroll) between two requests.
    retries, backoff:
        Retries of a failed request on 429, 502-504, timeouts and dropped connections,
        with exponential backoff from ``backoff`` seconds (``Retry-After`` is honoured).
        A scroll page is retried only when the server cannot have served it (429, no
        connection), since a scroll moves on with every answer.
    mapping:
        Which fields fill the logs frame (:class:`LogMapping`; ECS when omitted).
    allow_partial:
        Keep going when some shards fail a page (a warning each time) instead of
        raising; the frame then lacks those shards' hits.
    compress:
        Ask for gzip answers (fewer bytes on slow links, more CPU on both ends).
    event_hooks:
        httpx event hooks (``{"request": [...], "response": [...]}``) for tracing.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        headers: Mapping[str, str] | None = None,
        username: str | None = None,
        password: str | None = None,
        api_key: str | tuple[str, str] | None = None,
        bearer_token: str | None = None,
        ca_bundle: str | Path | None = None,
        verify: bool = True,
        client_cert: str | Path | None = None,
        client_key: str | Path | None = None,
        flavor: str | None = None,
        pagination: str = AUTO,
        page_size: int = DEFAULT_PAGE_SIZE,
        keep_alive: str | float | timedelta = DEFAULT_KEEP_ALIVE,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF_S,
        mapping: LogMapping | None = None,
        allow_partial: bool = False,
        compress: bool = False,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        base, url_user, url_password = split_credentials(url)
        if base.scheme not in ("http", "https") or not base.host:
            raise UsageError(
                f"{redact(httpx.URL(url.strip()))} is not an http(s) URL; "
                "write e.g. http://127.0.0.1:9200"
            )
        if url_user is not None and username is None:
            username, password = url_user, url_password
        self.url = str(base).rstrip("/")
        given = [kind for kind, v in (("basic", username), ("api_key", api_key),
                 ("bearer", bearer_token)) if v is not None]  # fmt: skip
        if len(given) > 1:
            raise UsageError(f"give one kind of credentials, not {' and '.join(given)}")
        if flavor not in (None, ELASTICSEARCH, OPENSEARCH):
            raise UsageError(f"flavor is 'elasticsearch' or 'opensearch', not {flavor!r}")
        if pagination not in (AUTO, PIT, SCROLL):
            raise UsageError(f"pagination is 'auto', 'pit' or 'scroll', not {pagination!r}")
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise UsageError("timeout must be positive, retries and backoff zero or more")
        self.timeout = float(timeout)
        self.flavor = flavor
        self.pagination = pagination
        self.page_size = _page_size(page_size)
        self.keep_alive = _keep_alive(keep_alive)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.mapping = mapping or ECS
        self.allow_partial = bool(allow_partial)
        self._auth_kind = given[0] if given else None
        self._info: ServerInfo | None = None
        request_headers = {
            "User-Agent": _USER_AGENT,
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Accept-Encoding": "gzip" if compress else "identity",
            **dict(headers or {}),
        }
        secrets = [password] if password else []
        if username is not None:  # what an echoed Authorization header would show
            secrets.append(base64.b64encode(f"{username}:{password or ''}".encode()).decode())
        secrets += [v for k, v in (headers or {}).items() if v and _SECRET_HEADER.search(k)]
        if api_key is not None:
            encoded = _api_key(api_key)
            request_headers["Authorization"] = f"ApiKey {encoded}"
            secrets += [encoded, *([api_key] if isinstance(api_key, str) else api_key)]
        if bearer_token is not None:
            request_headers["Authorization"] = f"Bearer {bearer_token}"
            secrets.append(bearer_token)
        self._secrets = tuple(s for s in secrets if len(s) >= 4)
        self._client = httpx.Client(
            base_url=self.url + "/",
            auth=httpx.BasicAuth(username, password or "") if username is not None else None,
            headers=request_headers,
            timeout=httpx.Timeout(self.timeout),
            verify=tls_context(verify, ca_bundle, client_cert, client_key),
            event_hooks=dict(event_hooks) if event_hooks else None,
            trust_env=False,
        )

    def __repr__(self) -> str:
        auth = f", auth={self._auth_kind!r}" if self._auth_kind else ""
        return f"ElasticsearchSource({self.url!r}{auth})"

    def __enter__(self) -> ElasticsearchSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    # -- public ------------------------------------------------------------------------

    def info(self) -> ServerInfo:
        """Return the server's flavour and version (asked once, from ``GET /``)."""
        if self._info is None:
            self._info = self._detect()
        return self._info

    def count(
        self,
        index: str,
        start: datetime | str | float | None = None,
        end: datetime | str | float | None = None,
        *,
        query: str | None = None,
        filter: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> int:
        """Return how many documents of ``index`` match the window and filters, exactly."""
        body = {"query": self._query(start, end, query, filter)}
        what = f"the count of {index!r}"
        try:
            answer = self._call("POST", f"{_index_path(index)}/_count", body=body, what=what)
        except _Failure as failure:
            raise self._error(failure, what, index) from failure
        self._check_shards(answer, _Pull(index), what)
        return int(answer.get("count", 0))

    def iter_hits(
        self,
        index: str,
        start: datetime | str | float | None = None,
        end: datetime | str | float | None = None,
        *,
        query: str | None = None,
        filter: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        fields: Sequence[str] | None = None,
        timestamp: str | None = None,
        page_size: int | None = None,
        progress: Callable[[PullProgress], None] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield the raw hits of the window, one list per page, oldest first.

        ``index`` is a name, pattern or comma-separated list (``logs-*,audit``).
        ``start``/``end`` bound the ``timestamp`` field (``[start, end)``; ISO-8601,
        epoch seconds, ``now-1h`` or a datetime; None leaves that side open). ``query``
        is a query string (Lucene syntax, as in Kibana's Lucene mode), ``filter`` one
        query DSL clause or a list of them; all must match. ``fields`` limits
        ``_source`` to these fields (None: the whole document). Each hit keeps its
        ``_index``, ``_id``, ``_source`` and ``sort`` (``sort[0]``: the timestamp in ns,
        or ms on servers older than Elasticsearch 7.2).

        The point in time (or scroll) is closed when the iteration ends, fails or is
        closed early (``generator.close()``, or leaving a ``with closing(...)`` block).
        """
        mapping_ts = timestamp or self.mapping.timestamp
        body: dict[str, Any] = {"query": self._query(start, end, query, filter, mapping_ts)}
        if fields is not None:
            body["_source"] = list(fields)
        size = _page_size(page_size) if page_size is not None else self.page_size
        return self._pages(index, body, mapping_ts, size, progress)

    def iter_logs(
        self,
        index: str,
        start: datetime | str | float | None = None,
        end: datetime | str | float | None = None,
        *,
        query: str | None = None,
        filter: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        fields: Sequence[str] = (),
        mapping: LogMapping | None = None,
        page_size: int | None = None,
        progress: Callable[[PullProgress], None] | None = None,
    ) -> Iterator[pl.DataFrame]:
        """Yield the window as logs frames, one per page, oldest first; memory stays flat.

        Arguments as :meth:`iter_hits`. ``fields`` names extra document fields to keep
        as text columns named by their path (``http.response.status_code``); objects and
        arrays of objects come as JSON text, arrays of values joined by newlines.
        ``mapping`` overrides the source's :class:`LogMapping` for this pull.
        """
        mapping = mapping or self.mapping
        extras = _extras(fields)
        wanted = list(dict.fromkeys([*mapping.source_fields(), *extras]))
        nanos = self.info().has_nanos_sort
        pages = self.iter_hits(
            index,
            start,
            end,
            query=query,
            filter=filter,
            fields=wanted,
            timestamp=mapping.timestamp,
            page_size=page_size,
            progress=progress,
        )
        try:
            for hits in pages:
                yield hits_to_logs(hits, mapping, extras, nanos=nanos)
        finally:
            pages.close()

    def logs(
        self,
        index: str,
        start: datetime | str | float | None = None,
        end: datetime | str | float | None = None,
        *,
        query: str | None = None,
        filter: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        fields: Sequence[str] = (),
        mapping: LogMapping | None = None,
        page_size: int | None = None,
        progress: Callable[[PullProgress], None] | None = None,
    ) -> pl.DataFrame:
        """Return the window as one logs frame, oldest first (see :meth:`iter_logs`)."""
        mapping = mapping or self.mapping
        parts = list(
            self.iter_logs(
                index,
                start,
                end,
                query=query,
                filter=filter,
                fields=fields,
                mapping=mapping,
                page_size=page_size,
                progress=progress,
            )
        )
        if not parts:
            return hits_to_logs([], mapping, _extras(fields))
        return pl.concat(parts, how="vertical", rechunk=True)

    def to_parquet(
        self,
        path: str | Path,
        index: str,
        start: datetime | str | float | None = None,
        end: datetime | str | float | None = None,
        *,
        query: str | None = None,
        filter: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        fields: Sequence[str] = (),
        mapping: LogMapping | None = None,
        page_size: int | None = None,
        progress: Callable[[PullProgress], None] | None = None,
    ) -> int:
        """Write the window to a Parquet file page by page; return the lines written.

        Memory stays that of one page however long the window. The file appears only
        when the pull is complete (it is written beside ``path`` and renamed), so a
        failed pull never leaves a file that looks whole.
        """
        import pyarrow.parquet as pq

        mapping = mapping or self.mapping
        target = Path(path)
        partial = target.with_name(f".{target.name}.partial")
        writer = None
        written = 0
        try:
            for frame in self.iter_logs(
                index,
                start,
                end,
                query=query,
                filter=filter,
                fields=fields,
                mapping=mapping,
                page_size=page_size,
                progress=progress,
            ):
                table = frame.to_arrow()
                if writer is None:
                    writer = pq.ParquetWriter(partial, table.schema, compression="zstd")
                writer.write_table(table)
                written += frame.height
            if writer is None:
                empty = hits_to_logs([], mapping, _extras(fields)).to_arrow()
                writer = pq.ParquetWriter(partial, empty.schema, compression="zstd")
                writer.write_table(empty)
            writer.close()
            writer = None
            partial.replace(target)
        finally:
            if writer is not None:
                writer.close()
            partial.unlink(missing_ok=True)
        return written

    # -- paging ------------------------------------------------------------------------

    def _pages(
        self,
        index: str,
        body: dict[str, Any],
        timestamp: str,
        size: int,
        progress: Callable[[PullProgress], None] | None,
    ) -> Iterator[list[dict[str, Any]]]:
        info = self.info()
        sort_key: dict[str, Any] = {"order": "asc"}
        if info.has_nanos_sort:
            sort_key["numeric_type"] = "date_nanos"
        body = {**body, "size": size, "sort": [{timestamp: sort_key}]}
        pull = _Pull(index)
        mode = self._mode(info)
        opened = None
        if mode == PIT:
            try:
                opened = self._open_pit(index, info, pull)
            except _NoPit as exc:
                # A server that calls itself new enough but has no PIT handler (e.g.
                # OpenSearch 1.x reporting 7.10.2 for old clients): scroll instead.
                logger.info("%s has no point in time (%s); paging by scroll", self.url, exc)
                mode = SCROLL
        logger.debug("pulling %r from %s by %s, %d hits a page", index, self.url, mode, size)
        if opened is None:
            pages = self._scroll(index, body, info, pull)
        else:
            pages = self._pit(index, body, opened, pull)
        try:
            for hits in pages:
                pull.pages += 1
                pull.hits += len(hits)
                logger.debug(
                    "%r page %d: %d hits, %d in all", index, pull.pages, len(hits), pull.hits
                )
                if progress is not None:
                    progress(pull.progress())
                yield hits
        finally:
            pages.close()
        logger.info(
            "pulled %d hits of %r in %d page(s) from %s in %.1f s",
            pull.hits,
            index,
            pull.pages,
            self.url,
            time.monotonic() - pull.started,
        )

    def _mode(self, info: ServerInfo) -> str:
        if self.pagination == SCROLL:
            return SCROLL
        if info.has_pit:
            return PIT
        if self.pagination == PIT:
            raise UsageError(
                f"{info.name} at {self.url} has no point in time (Elasticsearch >= 7.12 or "
                "OpenSearch >= 2.4 have it); use pagination='scroll' or 'auto'"
            )
        return SCROLL

    def _pit(
        self, index: str, body: dict[str, Any], opened: tuple[_Dialect, str], pull: _Pull
    ) -> Iterator[list[dict[str, Any]]]:
        dialect, pit_id = opened
        body["sort"].append({dialect.tiebreaker: "asc"})
        what = f"the search of {index!r}"

        def fetch(search_after: list[Any] | None) -> Any:
            request = {**body, "pit": {"id": pit_id, "keep_alive": self.keep_alive}}
            request["track_total_hits"] = search_after is None
            if search_after is not None:
                request["search_after"] = search_after
            return self._call("POST", "_search", body=request, what=what)

        # The next page is asked for as soon as this one's last sort values are known,
        # so the server works on it while the caller turns this one into a frame.
        ahead = ThreadPoolExecutor(1, thread_name_prefix="search-page")
        pending: Future | None = ahead.submit(fetch, None)
        try:
            while True:
                try:
                    answer = pending.result()
                except _Failure as failure:
                    raise self._error(failure, what, index, pull, pit=True) from failure
                finally:
                    pending = None
                # The id may change from answer to answer: always go on with the latest.
                pit_id = answer.get("pit_id") or pit_id
                hits = self._page(answer, pull, what)
                if not hits:
                    return
                search_after = hits[-1].get("sort")
                if not search_after:
                    raise SourceError(
                        f"{self._name} at {self.url} sent hits without sort values for "
                        f"{what}; cannot page on",
                        source=SOURCE,
                        url=self.url,
                    )
                pending = ahead.submit(fetch, search_after)
                yield hits
        finally:
            pit_id = _settle(pending, "pit_id", pit_id)
            ahead.shutdown(wait=True)
            self._release("DELETE", dialect.close_path, dialect.close_body(pit_id), "point in time")

    def _open_pit(self, index: str, info: ServerInfo, pull: _Pull) -> tuple[_Dialect, str]:
        dialects = [_OPENSEARCH_PIT] if info.flavor == OPENSEARCH else [_ES_PIT]
        if not info.flavor:
            # Flavour unknown: Elasticsearch's URL first, since OpenSearch answers it with
            # "no handler found", while Elasticsearch would read OpenSearch's as a
            # document path.
            dialects.append(_OPENSEARCH_PIT)
        what = f"opening a point in time on {index!r}"
        for position, dialect in enumerate(dialects):
            try:
                answer = self._call(
                    "POST",
                    f"{_index_path(index)}/{dialect.open_path}",
                    params={"keep_alive": self.keep_alive},
                    what=what,
                )
            except _Failure as failure:
                unknown_url = failure.status in (400, 404, 405) and (
                    "no handler found" in failure.reason or not failure.error_type
                )
                if unknown_url and position + 1 < len(dialects) and not failure.elastic:
                    continue
                if unknown_url and self.pagination == AUTO:
                    raise _NoPit(failure.described) from failure
                if unknown_url:
                    raise SourceError(
                        f"{self._name} at {self.url} has no point-in-time API "
                        f"({failure.described}); use pagination='scroll' or 'auto'",
                        source=SOURCE,
                        url=self.url,
                    ) from failure
                if failure.status == 400 and "invalid id: [null]" in failure.reason:
                    # OpenSearch 2.x answers a pattern that matches no index this way.
                    raise self._missing(index, failure) from failure
                raise self._error(failure, what, index, pull) from failure
            pit_id = answer.get(dialect.id_key)
            if not isinstance(pit_id, str) or not pit_id:
                raise SourceError(
                    f"{self._name} at {self.url} opened no point in time on {index!r} "
                    f"(the answer has no {dialect.id_key!r})",
                    source=SOURCE,
                    url=self.url,
                )
            self._check_shards(answer, pull, what)
            return dialect, pit_id
        raise AssertionError("unreachable")  # pragma: no cover

    def _scroll(
        self, index: str, body: dict[str, Any], info: ServerInfo, pull: _Pull
    ) -> Iterator[list[dict[str, Any]]]:
        what = f"the scroll of {index!r}"
        request = dict(body)
        if info.has_total_object:
            request["track_total_hits"] = True
        try:
            answer = self._call(
                "POST",
                f"{_index_path(index)}/_search",
                params={"scroll": self.keep_alive},
                body=request,
                what=what,
            )
        except _Failure as failure:
            raise self._error(failure, what, index, pull) from failure
        scroll_id = answer.get("_scroll_id")

        def fetch() -> Any:
            return self._call(
                "POST",
                "_search/scroll",
                body={"scroll": self.keep_alive, "scroll_id": scroll_id},
                what=what,
                moves_on=True,
            )

        ahead = ThreadPoolExecutor(1, thread_name_prefix="scroll-page")
        pending: Future | None = None
        try:
            while True:
                if pending is not None:
                    try:
                        answer = pending.result()
                    except _Failure as failure:
                        raise self._error(failure, what, index, pull, pit=False) from failure
                    finally:
                        pending = None
                    scroll_id = answer.get("_scroll_id") or scroll_id
                hits = self._page(answer, pull, what)
                if not hits:
                    return
                if not scroll_id:
                    raise SourceError(
                        f"{self._name} at {self.url} sent no scroll id for {what}",
                        source=SOURCE,
                        url=self.url,
                    )
                pending = ahead.submit(fetch)
                yield hits
        finally:
            scroll_id = _settle(pending, "_scroll_id", scroll_id)
            ahead.shutdown(wait=True)
            if scroll_id:
                self._release("DELETE", "_search/scroll", {"scroll_id": [scroll_id]}, "scroll")

    def _page(self, answer: dict[str, Any], pull: _Pull, what: str) -> list[dict[str, Any]]:
        self._check_shards(answer, pull, what)
        block = answer.get("hits")
        if not isinstance(block, dict) or not isinstance(block.get("hits"), list):
            raise SourceError(
                f"the answer of {self.url} to {what} has no hits list; is it Elasticsearch "
                "or OpenSearch?",
                source=SOURCE,
                url=self.url,
            )
        if pull.pages == 0:
            counted = hits_total(block)
            if counted is not None:
                pull.total, relation = counted
                pull.total_exact = relation == "eq"
        return block["hits"]

    def _check_shards(self, answer: dict[str, Any], pull: _Pull, what: str) -> None:
        shards = answer.get("_shards") or {}
        failed = int(shards.get("failed") or 0)
        if pull.pages == 0 and shards.get("total") == 0 and not failed:
            raise QueryError(
                f"no index matches {pull.index!r} on {self._name} at {self.url}; check the "
                f"pattern (GET {self.url}/_cat/indices lists the indices)",
                source=SOURCE,
                url=self.url,
            )
        if not failed and not answer.get("timed_out"):
            return
        reasons = _shard_reasons(shards.get("failures") or [])
        if failed:
            problem = f"{failed} of {shards.get('total', '?')} shards failed"
        else:
            problem = "the search timed out on the server"
        detail = f"{problem} on page {pull.pages + 1} of {what}" + (
            f" ({self._scrub(reasons)})" if reasons else ""
        )
        if self.allow_partial:
            message = f"{self._name} at {self.url}: {detail}; the result lacks their hits"
            logger.warning(message)
            warnings.warn(message, SourceWarning, stacklevel=6)
            return
        raise SourceError(
            f"{self._name} at {self.url}: {detail}, {pull.so_far}; the result would be "
            "incomplete, so the pull stops. Retry later, or pass allow_partial=True "
            "(--allow-partial) to keep what the other shards give",
            source=SOURCE,
            url=self.url,
        )

    def _release(self, method: str, path: str, body: dict[str, Any], what: str) -> None:
        # Best effort and quick: the server frees it after keep_alive anyway, and a
        # failure here must not hide the error that ended the pull.
        try:
            response = self._client.request(
                method, path, content=orjson.dumps(body), timeout=CLOSE_TIMEOUT_S
            )
        except (httpx.HTTPError, RuntimeError) as exc:  # RuntimeError: the client is closed
            logger.info("could not close the %s at %s: %s", what, self.url, exc)
            return
        if response.status_code >= 300 and response.status_code != 404:
            logger.info(
                "closing the %s at %s gave HTTP %d; it expires by itself after %s",
                what,
                self.url,
                response.status_code,
                self.keep_alive,
            )

    # -- transport ---------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        moves_on: bool = False,
    ) -> Any:
        """Send one request, retrying what is safe to retry; return the JSON answer.

        ``moves_on`` marks requests that advance a cursor (scroll): they are retried only
        when the server cannot have served them (429, no connection made).
        """
        content = orjson.dumps(body) if body is not None else None
        attempt = 0
        while True:
            asked = None
            try:
                response = self._client.request(method, path, content=content, params=params)
            except httpx.TimeoutException as exc:
                failure = _Failure(reason=type(exc).__name__, attempts=attempt + 1, timed_out=True)
                retry = not moves_on or isinstance(exc, httpx.ConnectTimeout)
            except httpx.TransportError as exc:
                if is_certificate_error(exc):
                    raise AuthError(
                        f"the TLS certificate of {self.url} is not trusted "
                        f"({certificate_reason(exc)}); pass the CA that signed it "
                        "(ca_bundle=, --ca-bundle FILE)",
                        source=SOURCE,
                        url=self.url,
                    ) from None
                failure = _Failure(reason=self._scrub(transport_reason(exc)), attempts=attempt + 1)
                retry = not moves_on or isinstance(exc, httpx.ConnectError)
            else:
                if response.status_code < 300:
                    try:
                        return orjson.loads(response.content)
                    except orjson.JSONDecodeError as exc:
                        raise SourceError(
                            f"the answer of {self.url} to {what} is not JSON ({exc}); is it "
                            "the base URL of Elasticsearch or OpenSearch?",
                            source=SOURCE,
                            url=self.url,
                        ) from None
                failure = self._failure(response, attempt + 1)
                status = response.status_code
                retry = status == 429 or (not moves_on and status in _RETRY_STATUSES)
                asked = retry_after(response)
            if not retry or attempt >= self.retries:
                raise failure
            pause = backoff_pause(attempt, self.backoff, asked)
            logger.info("retrying %s in %.2f s: %s", what, pause, failure.described)
            time.sleep(pause)
            attempt += 1

    def _failure(self, response: httpx.Response, attempts: int) -> _Failure:
        error_type, reason = _error_of(response)
        return _Failure(
            status=response.status_code,
            error_type=error_type,
            reason=self._scrub(reason),
            attempts=attempts,
            elastic=response.headers.get("X-elastic-product") == "Elasticsearch",
        )

    def _detect(self) -> ServerInfo:
        try:
            answer = self._call("GET", "", what="the server information (GET /)")
        except _Failure as failure:
            if failure.status is None:
                raise self._error(failure, "the server information (GET /)", "") from failure
            if failure.status == 401:
                raise self._auth_error(failure, "GET /") from failure
            # Users without the monitor privilege may not call GET /, and Elasticsearch
            # 8's test distribution has no handler for it: page on without a version.
            flavor = self.flavor or (ELASTICSEARCH if failure.elastic else "")
            logger.info(
                "%s did not say its version (GET / gave %s); assuming a current %s",
                self.url,
                failure.described,
                flavor or "Elasticsearch or OpenSearch",
            )
            return ServerInfo(flavor=flavor)
        version = answer.get("version") if isinstance(answer, dict) else None
        if not isinstance(version, dict) or "number" not in version:
            raise SourceError(
                f"{self.url} does not answer GET / as Elasticsearch or OpenSearch do (no "
                "version.number); check the URL",
                source=SOURCE,
                url=self.url,
            )
        number = str(version["number"])
        detected = OPENSEARCH if version.get("distribution") == OPENSEARCH else ELASTICSEARCH
        info = ServerInfo(
            flavor=self.flavor or detected,
            version=_version(number),
            number=number,
            cluster=str(answer.get("cluster_name", "")),
        )
        logger.debug("%s is %s (cluster %r)", self.url, info.name, info.cluster)
        return info

    # -- errors ------------------------------------------------------------------------

    @property
    def _name(self) -> str:
        if self._info is None or not self._info.flavor:
            return "the search server"
        return "OpenSearch" if self._info.flavor == OPENSEARCH else "Elasticsearch"

    def _error(
        self,
        failure: _Failure,
        what: str,
        index: str,
        pull: _Pull | None = None,
        *,
        pit: bool | None = None,
    ) -> SourceError:
        name, url = self._name, self.url
        so_far = pull.so_far if pull is not None else ""
        status = failure.status
        if status is None:
            if failure.timed_out:
                return SourceTimeout(
                    f"{name} at {url} did not answer {what} within {self.timeout:g} s "
                    f"({failure.reason}, {failure.attempts} attempt(s)){_sep(so_far)}; raise "
                    "the timeout (timeout=, --timeout) or lower the page size",
                    source=SOURCE,
                    url=url,
                )
            if pull is not None and pull.pages:
                return SourceUnavailable(
                    f"{name} at {url} stopped answering during {what} {so_far}: "
                    f"{failure.reason} ({failure.attempts} attempt(s)); check that it is "
                    "running, then pull again",
                    source=SOURCE,
                    url=url,
                )
            return SourceUnavailable(
                f"cannot reach {name} at {url} for {what}: {failure.reason}; check that it "
                "is running and that the URL is right",
                source=SOURCE,
                url=url,
            )
        if status in (401, 403):
            return self._auth_error(failure, what)
        if failure.error_type == "index_not_found_exception":
            return self._missing(index, failure)
        if failure.error_type == "search_context_missing_exception" or (
            status == 404 and "No search context found" in failure.reason
        ):
            kind = "point in time" if pit else "scroll"
            return SourceError(
                f"the {kind} on {index!r} at {url} expired {so_far} ({failure.described}); "
                f"it was not reopened, since a new one would see other data and repeat or "
                f"skip hits. Raise keep_alive (now {self.keep_alive}) or pull a narrower "
                "window",
                source=SOURCE,
                url=url,
            )
        if status == 429 or status >= 500:
            tried = f"{failure.attempts} attempt(s)"
            return SourceUnavailable(
                f"{name} at {url} failed {what} ({failure.described}, {tried}){_sep(so_far)}; "
                + (
                    "it is overloaded: retry later or lower the page size"
                    if status == 429
                    else "check the server's health and logs"
                ),
                source=SOURCE,
                url=url,
            )
        if status == 400 and "HTTP request to an HTTPS server" in failure.reason:
            return SourceUnavailable(
                f"{url} serves HTTPS, not HTTP: use {url.replace('http://', 'https://', 1)}",
                source=SOURCE,
                url=url,
            )
        if status == 400 or failure.error_type:
            return QueryError(
                f"{name} at {url} rejected {what}: {failure.described}{_sep(so_far)}; fix "
                "the query string, filter or field names",
                source=SOURCE,
                url=url,
            )
        return SourceError(
            f"{name} at {url} failed {what} ({failure.described}){_sep(so_far)}; is it the "
            "base URL of Elasticsearch or OpenSearch?",
            source=SOURCE,
            url=url,
        )

    def _missing(self, index: str, failure: _Failure) -> QueryError:
        return QueryError(
            f"no index matches {index!r} on {self._name} at {self.url} "
            f"({failure.described}); check the name or pattern (GET {self.url}/_cat/indices "
            "lists the indices)",
            source=SOURCE,
            url=self.url,
        )

    def _auth_error(self, failure: _Failure, what: str) -> AuthError:
        if failure.status == 403:
            hint = "the credentials work but lack a privilege: ask for read on the indices"
        elif self._auth_kind:
            hint = "check the credentials (user and password, API key or token)"
        else:
            hint = "it needs credentials: pass username/password, api_key or bearer_token"
        return AuthError(
            f"{self._name} at {self.url} refused {what} ({failure.described}); {hint}",
            source=SOURCE,
            url=self.url,
        )

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- query -------------------------------------------------------------------------

    def _query(
        self,
        start: datetime | str | float | None,
        end: datetime | str | float | None,
        query: str | None,
        filter: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
        timestamp: str | None = None,
    ) -> dict[str, Any]:
        """Return the query DSL of a window and its filters (asks the server's version)."""
        timestamp = timestamp or self.mapping.timestamp
        now = datetime.now(UTC)
        start_ns = _ns(parse_time(start, now=now)) if start is not None else None
        end_ns = _ns(parse_time(end, now=now)) if end is not None else None
        if start_ns is not None and end_ns is not None and end_ns < start_ns:
            raise UsageError(f"the window ends ({end}) before it starts ({start})")
        if filter is not None and not isinstance(filter, Mapping | list | tuple):
            raise UsageError("filter is one query DSL clause (a dict) or a list of them")
        nanos = self.info().has_nanos_sort
        bounds: dict[str, Any] = {}
        if start_ns is not None:
            bounds["gte"] = _iso_ns(start_ns) if nanos else start_ns // 1_000_000
        if end_ns is not None:
            bounds["lt"] = _iso_ns(end_ns) if nanos else end_ns // 1_000_000
        clauses: list[Any] = []
        if bounds:
            bounds["format"] = NANOS_FORMAT if nanos else "epoch_millis"
            clauses.append({"range": {timestamp: bounds}})
        else:
            clauses.append({"exists": {"field": timestamp}})
        if query is not None and query.strip():
            clauses.append({"query_string": {"query": query}})
        if filter is not None:
            clauses += [filter] if isinstance(filter, Mapping) else list(filter)
        return {"bool": {"filter": clauses}}


# -- hits to frames --------------------------------------------------------------------


def hits_to_logs(
    hits: Sequence[Mapping[str, Any]],
    mapping: LogMapping = ECS,
    extras: Sequence[str] = (),
    *,
    nanos: bool = True,
) -> pl.DataFrame:
    """Return search hits as a logs frame (:class:`LogMapping` says which field is which).

    The timestamp is each hit's first sort value (epoch ns, or ms when ``nanos`` is
    False), as the pull sorts on the timestamp field; ``source`` is the hit's index.
    """
    # Hits are JSON documents of any shape (nested objects or dotted keys, arrays, a
    # field typed differently in two indices), which no columnar JSON reader takes as
    # is: each wanted field is looked up in each source here (a few dict lookups; the
    # sources hold only the wanted fields), then every column is built in one go.
    sources = [hit.get("_source") or {} for hit in hits]
    stamps = pl.Series("timestamp", [hit.get("sort", (None,))[0] for hit in hits], pl.Int64)
    if not nanos:
        stamps = stamps * 1_000_000
    columns: dict[str, pl.Series] = {
        "timestamp": stamps.cast(pl.Datetime("ns")).dt.replace_time_zone("UTC")
    }
    for column, paths in mapping.columns():
        if len(paths) == 1:
            values = [_text(_lookup(source, paths[0])) for source in sources]
        else:
            values = [_text(_first(source, paths)) for source in sources]
        columns[column] = pl.Series(column, values, pl.String)
    columns["source"] = pl.Series("source", [hit.get("_index", "") for hit in hits], pl.String)
    for name in extras:
        columns[name] = pl.Series(name, [_text(_lookup(s, name)) for s in sources], pl.String)
    frame = pl.DataFrame(columns)
    tidy = [pl.col(c).fill_null("") for c, _ in mapping.columns()]
    frame = frame.with_columns(tidy)
    if "service" in frame.columns:
        frame = frame.with_columns(frames.service_expr("service"))
    if "level" in frame.columns:
        level = pl.col("level").str.strip_chars().str.to_lowercase()
        frame = frame.with_columns(level.replace(_LEVELS))
    return frames.validate(frame, frames.LOGS)


def hits_total(block: Mapping[str, Any]) -> tuple[int, str] | None:
    """Return ``hits.total`` as (value, relation): ``gte`` means "at least".

    Elasticsearch 7+ and OpenSearch send ``{"value": n, "relation": "eq"|"gte"}``,
    Elasticsearch 6 a plain integer (exact). Never use it to decide when to stop paging.
    """
    total = block.get("total")
    if isinstance(total, bool) or total is None:
        return None
    if isinstance(total, int):
        return total, "eq"
    if isinstance(total, Mapping) and isinstance(total.get("value"), int):
        return int(total["value"]), str(total.get("relation", "eq"))
    return None


def _lookup(node: dict[str, Any], path: str) -> Any:
    """Return the value at dotted ``path``, through nested objects or dotted keys alike.

    ``{"service": {"name": v}}``, ``{"service.name": v}`` and mixes of both give ``v``;
    through an array of objects, the values of every element (as Elasticsearch indexes
    them).
    """
    value = node.get(path)
    if value is not None:
        return value
    dot = path.find(".")
    while dot != -1:
        head = node.get(path[:dot])
        if head is not None:
            rest = path[dot + 1 :]
            if type(head) is dict:
                value = _lookup(head, rest)
            elif type(head) is list:
                found = [_lookup(item, rest) for item in head if type(item) is dict]
                value = [v for v in _flat_list(found) if v is not None] or None
            if value is not None:
                return value
        dot = path.find(".", dot + 1)
    return None


def _flat_list(values: list[Any]) -> Iterator[Any]:
    for value in values:
        if type(value) is list:
            yield from value
        else:
            yield value


def _first(source: dict[str, Any], paths: tuple[str, ...]) -> Any:
    for path in paths:
        value = _lookup(source, path)
        if value is not None and value != "" and value != []:
            return value
    return None


def _text(value: Any) -> str | None:
    kind = type(value)
    if kind is str or value is None:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return str(value)
    if kind is list:
        if any(type(item) is dict or type(item) is list for item in value):
            return orjson.dumps(value).decode()
        return "\n".join(t for t in map(_text, value) if t is not None)
    return orjson.dumps(value, default=str).decode()


# -- small helpers ---------------------------------------------------------------------


def _settle(pending: Future | None, key: str, current: str | None) -> str | None:
    """Wait for a page asked for ahead and not used; return the cursor id it carries."""
    if pending is None:
        return current
    try:
        answer = pending.result()
    except Exception:  # the pull ends anyway; only the id to close matters here
        return current
    found = answer.get(key) if isinstance(answer, dict) else None
    return found or current


def _extras(fields: Sequence[str]) -> list[str]:
    if isinstance(fields, str):
        fields = [fields]
    columns = {c.name for c in frames.SCHEMAS[frames.LOGS]}
    for name in fields:
        if "*" in name:
            raise UsageError(f"name extra fields exactly, not {name!r}: wildcards vary the columns")
        if name in columns:
            raise UsageError(
                f"{name!r} is a logs-frame column; choose the field that fills it with the "
                f"mapping (LogMapping({name}=...)) instead of fields="
            )
    return list(dict.fromkeys(fields))


def _shard_reasons(failures: Iterable[Mapping[str, Any]]) -> str:
    seen: dict[str, None] = {}
    for failure in failures:
        reason = failure.get("reason")
        if isinstance(reason, Mapping):
            text = f"{reason.get('type', '')}: {reason.get('reason', '')}".strip(": ")
        else:
            text = str(reason or "")
        if text:
            seen.setdefault(text, None)
    return "; ".join(list(seen)[:3])


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """Return (type, reason) of an error answer, the most telling cause first."""
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return "", response.text.strip()[:300]
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, str):
        return "", error
    if not isinstance(error, dict):
        return "", response.text.strip()[:300]
    roots = [r for r in error.get("root_cause") or [] if isinstance(r, dict)]
    top = roots[0] if roots else error
    error_type, reason = str(top.get("type", "")), str(top.get("reason", ""))
    # The root cause names the failure; a shard's caused_by often says where it is.
    for shard in error.get("failed_shards") or []:
        cause = (shard.get("reason") or {}).get("caused_by") if isinstance(shard, dict) else None
        if isinstance(cause, dict) and cause.get("reason"):
            detail = str(cause["reason"]).strip().splitlines()[0]
            if detail and detail not in reason:
                reason = f"{reason} ({detail})"
            break
    else:
        cause = error.get("caused_by")
        if not roots and isinstance(cause, dict) and cause.get("reason"):
            reason = f"{reason} ({cause['reason']})"
    return error_type, reason


def _index_path(index: str) -> str:
    index = index.strip()
    if not index or index.startswith("/"):
        raise UsageError(f"{index!r} is not an index name or pattern; write e.g. logs-*")
    return quote(index, safe="*,-_.+:")


def _page_size(value: int) -> int:
    if not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise UsageError(f"page_size is 1 to {MAX_PAGE_SIZE:,} (the server's result window)")
    return int(value)


def _keep_alive(value: str | float | timedelta) -> str:
    return f"{max(1, parse_duration(value) // timedelta(milliseconds=1))}ms"


def _api_key(value: str | tuple[str, str]) -> str:
    if isinstance(value, str):
        return value.strip()
    key_id, key = value
    return base64.b64encode(f"{key_id}:{key}".encode()).decode()


def _version(number: str) -> tuple[int, ...] | None:
    parts = []
    for piece in number.split("-")[0].split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts) or None


def _ns(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


def _iso_ns(ns: int) -> str:
    seconds, fraction = divmod(ns, 1_000_000_000)
    whole = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{fraction:09d}Z"


def _sep(text: str) -> str:
    return f" {text}" if text else ""
