"""Prometheus as a source: PromQL over the HTTP API into canonical metrics frames.

>>> from workbench.sources import PrometheusSource
>>> prom = PrometheusSource("http://127.0.0.1:9090")
>>> cpu = prom.query_range('rate(process_cpu_seconds_total[1m])', "now-6h", "now")

Ranges of any length work: a range that would exceed the server's 11,000 points per
series is split into chunks whose edges sit on the step grid of the whole range, so the
merged answer equals the one big query sample for sample (Prometheus evaluates every
step on its own, ``rate()`` included). Chunks are fetched a few at a time; transient
failures (429, 5xx, timeouts, dropped connections) are retried with backoff; every other
failure becomes one :class:`~workbench.errors.SourceError` that says what failed, where,
and what to do next. Credentials are sent, never shown: not in errors, logs or reprs.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

import httpx
import orjson
import polars as pl

from workbench import __version__, frames
from workbench.case import Case
from workbench.errors import (
    AuthError,
    QueryError,
    SourceError,
    SourceTimeout,
    SourceUnavailable,
    SourceWarning,
    UsageError,
)
from workbench.sources import _prometheus_json as pj
from workbench.sources._http import (
    RETRY_STATUSES,
    backoff_pause,
    certificate_reason,
    is_certificate_error,
    redact,
    retry_after,
    tls_context,
    transport_reason,
)
from workbench.sources.queries import Query, load_queries
from workbench.sources.times import duration_millis, parse_time, to_millis

logger = logging.getLogger(__name__)

SOURCE = "prometheus"
DEFAULT_TIMEOUT_S = 30.0
MAX_POINTS_PER_SERIES = 11_000  # Prometheus refuses query_range answers longer than this
# A guard against a typo (start 0, step 1 ms) sending thousands of requests: a year at
# 15 s is about 2.1 million steps.
MAX_STEPS_PER_PULL = 5_000_000
DEFAULT_CONCURRENCY = 4
DEFAULT_RESOLUTION = 1_000  # points per series when no step is given
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF_S = 0.25
POST_THRESHOLD = 2_000  # encoded parameters longer than this go in a POST form
DEFAULT_SERVICE_LABELS = ("service", "app", "job", "container", "pod")
NICE_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
_DAY_S = 86_400
_USER_AGENT = f"mancerops/{__version__}"


class PrometheusSource:
    """A Prometheus server (or an API-compatible one: Thanos, Mimir, VictoriaMetrics).

    Parameters
    ----------
    url:
        Base URL, e.g. ``http://127.0.0.1:9090`` or ``https://host/prometheus``. User
        info in the URL (``https://user:pass@host``) is taken as basic auth and dropped
        from the URL.
    timeout:
        Seconds to wait for each request (also sent to the server as its query timeout).
    headers:
        Extra HTTP headers, e.g. ``{"X-Scope-OrgID": "tenant"}``. Never logged.
    username, password:
        Basic auth.
    bearer_token:
        Sent as ``Authorization: Bearer ...``; exclusive with basic auth.
    ca_bundle:
        PEM file of the CA(s) to trust for ``https`` (a self-signed server's certificate).
    verify:
        False skips certificate checks (not recommended).
    client_cert, client_key:
        PEM files for TLS client authentication (the key may be inside ``client_cert``).
    max_points:
        Points per series per request; ranges needing more are split.
    concurrency:
        Requests in flight at once for one split range.
    retries, backoff:
        Retries of a failed request on 429, 5xx, timeouts and dropped connections, with
        exponential backoff from ``backoff`` seconds (``Retry-After`` is honoured).
    resolution:
        Points per series aimed at when no step is given.
    service_labels:
        Labels read, in order, for the ``service`` column; pod suffixes are dropped.
    post_threshold:
        Requests whose encoded parameters are longer than this are sent as POST forms.
    compress:
        Ask for gzip answers: a third of the bytes on slow links, but Prometheus takes
        about five times longer to send a large answer, so it is off by default.
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
        bearer_token: str | None = None,
        ca_bundle: str | Path | None = None,
        verify: bool = True,
        client_cert: str | Path | None = None,
        client_key: str | Path | None = None,
        max_points: int = MAX_POINTS_PER_SERIES,
        concurrency: int = DEFAULT_CONCURRENCY,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF_S,
        resolution: int = DEFAULT_RESOLUTION,
        service_labels: Sequence[str] = DEFAULT_SERVICE_LABELS,
        post_threshold: int = POST_THRESHOLD,
        compress: bool = False,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        parsed = httpx.URL(url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise UsageError(
                f"{redact(parsed)} is not an http(s) URL; write e.g. http://127.0.0.1:9090"
            )
        if parsed.username and username is None:
            username, password = unquote(parsed.username), unquote(parsed.password or "")
        base = parsed.copy_with(username=None, password=None, query=None, fragment=None)
        self.url = str(base).rstrip("/")
        if username is not None and bearer_token is not None:
            raise UsageError("give either basic auth (username/password) or a bearer token")
        if timeout <= 0 or max_points < 1 or concurrency < 1 or retries < 0 or resolution < 1:
            raise UsageError(
                "timeout, max_points, concurrency and resolution must be positive, "
                "retries zero or more"
            )
        self.timeout = float(timeout)
        self.max_points = int(max_points)
        self.concurrency = int(concurrency)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.resolution = int(resolution)
        self.service_labels = tuple(service_labels)
        self.post_threshold = int(post_threshold)
        self._auth_kind = "basic" if username is not None else "bearer" if bearer_token else None
        request_headers = {
            "User-Agent": _USER_AGENT,
            "Accept-Encoding": "gzip" if compress else "identity",
            **dict(headers or {}),
        }
        if bearer_token:
            request_headers["Authorization"] = f"Bearer {bearer_token}"
        self._client = httpx.Client(
            base_url=self.url + "/",
            auth=httpx.BasicAuth(username, password or "") if username is not None else None,
            headers=request_headers,
            timeout=httpx.Timeout(self.timeout),
            verify=tls_context(verify, ca_bundle, client_cert, client_key),
            limits=httpx.Limits(
                max_connections=self.concurrency, max_keepalive_connections=self.concurrency
            ),
            event_hooks=dict(event_hooks) if event_hooks else None,
            trust_env=False,
        )

    def __repr__(self) -> str:
        auth = f", auth={self._auth_kind!r}" if self._auth_kind else ""
        return f"PrometheusSource({self.url!r}{auth})"

    def __enter__(self) -> PrometheusSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    # -- queries -----------------------------------------------------------------------

    def query_range(
        self,
        promql: str,
        start: datetime | str | float,
        end: datetime | str | float,
        step: timedelta | str | float | None = None,
        *,
        metric: str | None = None,
    ) -> pl.DataFrame:
        """Return the samples of ``promql`` evaluated every ``step`` from start to end.

        Returns the long metrics frame (``timestamp, service, metric, value, series,
        labels``). ``start``/``end`` take datetimes, epoch seconds, ISO-8601 or
        ``now-1h``; ``step`` a duration (``15s``) or seconds, chosen from
        ``resolution`` when omitted. ``metric`` names the indicator (default: each
        series' ``__name__``, else the query text). Steps without data are absent, as
        Prometheus sends them; :meth:`query_range_wide` puts them on the full grid.
        Server warnings are issued as :class:`~workbench.errors.SourceWarning`.
        """
        start_ms, end_ms, step_ms = self._range(start, end, step)
        parts = self._pull(promql, start_ms, end_ms, step_ms)
        return pj.to_frame(
            parts, metric=metric, fallback_metric=promql, service_labels=self.service_labels
        )

    def query_range_wide(
        self,
        promql: str,
        start: datetime | str | float,
        end: datetime | str | float,
        step: timedelta | str | float | None = None,
        *,
        metric: str | None = None,
    ) -> pl.DataFrame:
        """Return :meth:`query_range` as the wide view on the full step grid.

        One ``timestamp`` row per step from start to end, one ``<service>_<metric>``
        column per indicator; steps without data are NaN, never 0.
        """
        start_ms, end_ms, step_ms = self._range(start, end, step)
        parts = self._pull(promql, start_ms, end_ms, step_ms)
        long = pj.to_frame(
            parts, metric=metric, fallback_metric=promql, service_labels=self.service_labels
        )
        return wide_on_grid(long, start_ms, end_ms, step_ms)

    def query(
        self,
        promql: str,
        at: datetime | str | float | None = None,
        *,
        metric: str | None = None,
    ) -> pl.DataFrame:
        """Return the instant value(s) of ``promql`` at ``at`` (default: now).

        A vector, scalar or range-vector (``x[5m]``: raw samples) answer is a metrics
        frame; a ``string`` answer is a frame of ``timestamp`` and a text ``value``.
        """
        params = [("query", promql), ("timeout", f"{self.timeout:g}s")]
        if at is not None:
            params.append(("time", _seconds(to_millis(parse_time(at)))))
        part = self._parsed("api/v1/query", params, what=f"query {promql!r}")
        self._surface([part], promql)
        if part.result_type == pj.STRING:
            return pj.string_frame(part)
        return pj.to_frame(
            [part], metric=metric, fallback_metric=promql, service_labels=self.service_labels
        )

    def indicators(
        self,
        start: datetime | str | float,
        end: datetime | str | float,
        step: timedelta | str | float | None = None,
        *,
        queries: Iterable[Query] | str | Path | None = None,
    ) -> pl.DataFrame:
        """Return the metrics frame of every indicator query over the range.

        ``queries`` are :class:`~workbench.sources.queries.Query` objects or a TOML file
        of them (the RED/USE defaults when omitted). Queries without data are skipped;
        ``labels`` is JSON text here, since the queries' label sets differ.
        """
        if queries is None or isinstance(queries, str | Path):
            queries = load_queries(queries)
        queries = tuple(queries)
        start_ms, end_ms, step_ms = self._range(start, end, step)
        step_td = timedelta(milliseconds=step_ms)
        pulled = []
        for query in queries:
            promql = query.render(step_td)
            parts = self._pull(promql, start_ms, end_ms, step_ms)
            frame = pj.to_frame(
                parts,
                metric=query.metric or None,
                fallback_metric=promql,
                service_labels=self.service_labels,
            )
            if frame.is_empty():
                logger.info("no data for %s (%s)", query.metric or promql, promql)
                continue
            if "labels" in frame.columns:
                frame = frame.with_columns(pl.col("labels").struct.json_encode())
            pulled.append(frame)
        if not pulled:
            raise UsageError(
                f"none of the {len(queries)} queries returned data from Prometheus at "
                f"{self.url} between {_iso(start_ms)} and {_iso(end_ms)}; check the time "
                "range and that the queried metrics are scraped there (edit the queries "
                "file to match your metric names)"
            )
        return frames.validate(pl.concat(pulled, how="diagonal"), frames.METRICS)

    # -- metadata ----------------------------------------------------------------------

    def series(
        self,
        match: str | Sequence[str],
        start: datetime | str | float | None = None,
        end: datetime | str | float | None = None,
    ) -> pl.DataFrame:
        """Return the series matching the selector(s): ``series`` then one column per label."""
        selectors = [match] if isinstance(match, str) else list(match)
        params = [("match[]", selector) for selector in selectors]
        params += self._bounds(start, end)
        found = self._data("api/v1/series", params, what=f"series {selectors!r}")
        names = sorted({name for labels in found for name in labels})
        return pl.DataFrame(
            {
                "series": [pj.series_key(labels) for labels in found],
                **{name: [labels.get(name) for labels in found] for name in names},
            },
            schema={"series": pl.String, **dict.fromkeys(names, pl.String)},
        )

    def labels(
        self,
        start: datetime | str | float | None = None,
        end: datetime | str | float | None = None,
    ) -> list[str]:
        """Return the label names the server holds."""
        return list(self._data("api/v1/labels", self._bounds(start, end), what="label names"))

    def label_values(
        self,
        name: str,
        start: datetime | str | float | None = None,
        end: datetime | str | float | None = None,
    ) -> list[str]:
        """Return the values label ``name`` takes (``__name__`` gives the metric names)."""
        path = f"api/v1/label/{httpx.URL(name)}/values"
        return list(self._data(path, self._bounds(start, end), what=f"values of {name!r}"))

    def metadata(self, metric: str | None = None) -> pl.DataFrame:
        """Return the metric metadata: ``metric, type, help, unit``, one row per entry."""
        params = [("metric", metric)] if metric else []
        found = self._data("api/v1/metadata", params, what="metadata")
        rows = [(name, *_meta(entry)) for name, entries in found.items() for entry in entries]
        return pl.DataFrame(rows, schema=["metric", "type", "help", "unit"], orient="row").cast(
            pl.String
        )

    def buildinfo(self) -> dict[str, str]:
        """Return the server's build information (``version``, ``revision``, ...)."""
        return dict(self._data("api/v1/status/buildinfo", [], what="build information"))

    def alerts(self) -> list[dict[str, Any]]:
        """Return the server's active alerts (``/api/v1/alerts``) as it sends them."""
        return list((self._data("api/v1/alerts", [], what="alerts") or {}).get("alerts") or ())

    def rules(self) -> list[dict[str, Any]]:
        """Return the server's rule groups (``/api/v1/rules``) as it sends them."""
        return list((self._data("api/v1/rules", [], what="rules") or {}).get("groups") or ())

    # -- planning ----------------------------------------------------------------------

    def auto_step(self, start_ms: int, end_ms: int) -> int:
        """Return the step (ms) giving about ``resolution`` points: a round value, >= 1 s."""
        wanted_s = max((end_ms - start_ms) / 1000 / self.resolution, 1.0)
        for nice in NICE_STEPS_S:
            if nice >= wanted_s:
                return nice * 1000
        return math.ceil(wanted_s / _DAY_S) * _DAY_S * 1000

    def _range(self, start: Any, end: Any, step: Any) -> tuple[int, int, int]:
        start_ms, end_ms = to_millis(parse_time(start)), to_millis(parse_time(end))
        if end_ms < start_ms:
            raise UsageError(f"the range ends ({_iso(end_ms)}) before it starts ({_iso(start_ms)})")
        step_ms = duration_millis(step) if step is not None else self.auto_step(start_ms, end_ms)
        points = (end_ms - start_ms) // step_ms + 1
        if points > MAX_STEPS_PER_PULL:
            raise UsageError(
                f"the range {_iso(start_ms)} to {_iso(end_ms)} at a {step_ms / 1000:g} s step is "
                f"{points:,} points per series (the most this pulls is {MAX_STEPS_PER_PULL:,}); "
                "raise the step or shorten the range"
            )
        return start_ms, end_ms, step_ms

    # -- transport ---------------------------------------------------------------------

    def _pull(self, promql: str, start_ms: int, end_ms: int, step_ms: int) -> list[pj.Parsed]:
        # Ranges within the limit stay one request: measured on 2 cores, cutting them
        # for parallel requests was slower (server and parser share the cores).
        chunks = plan_chunks(start_ms, end_ms, step_ms, self.max_points)
        what = f"query_range {promql!r}"
        logger.debug("%s: %d request(s) to %s", what, len(chunks), self.url)

        def fetch(chunk: tuple[int, int]) -> pj.Parsed:
            params = [
                ("query", promql),
                ("start", _seconds(chunk[0])),
                ("end", _seconds(chunk[1])),
                ("step", _seconds(step_ms)),
                ("timeout", f"{self.timeout:g}s"),
            ]
            return self._parsed("api/v1/query_range", params, what=what)

        if len(chunks) == 1:
            parts = [fetch(chunks[0])]
        else:
            parts = self._fetch_concurrently(fetch, chunks, what)
        self._surface(parts, promql)
        return parts

    def _fetch_concurrently(
        self,
        fetch: Callable[[tuple[int, int]], pj.Parsed],
        chunks: list[tuple[int, int]],
        what: str,
    ) -> list[pj.Parsed]:
        done = [0]
        lock = threading.Lock()

        def counted(chunk: tuple[int, int]) -> pj.Parsed:
            part = fetch(chunk)
            with lock:
                done[0] += 1
            return part

        pool = ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(chunks)), thread_name_prefix="prometheus"
        )
        try:
            futures = [pool.submit(counted, chunk) for chunk in chunks]
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in futures if f in finished and f.exception()), None)
            if failed is not None:
                for future in futures:
                    future.cancel()
                error = failed.exception()
                if isinstance(error, SourceUnavailable) and done[0]:
                    raise SourceUnavailable(
                        f"Prometheus at {self.url} stopped answering during {what} after "
                        f"{done[0]} of {len(chunks)} requests: {error}",
                        source=SOURCE,
                        url=self.url,
                    ) from error
                raise error
            return [future.result() for future in futures]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _parsed(self, path: str, params: list[tuple[str, str]], *, what: str) -> pj.Parsed:
        body = self._request(path, params, what=what)
        try:
            return pj.parse_body(body)
        except pj.ApiError as exc:
            raise self._api_error(exc, what, 200) from None
        except ValueError as exc:
            raise self._not_prometheus(what, str(exc)) from None

    def _data(self, path: str, params: list[tuple[str, str]], *, what: str) -> Any:
        body = self._request(path, params, what=what)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise self._not_prometheus(what, f"not JSON: {exc}") from None
        if not isinstance(payload, dict) or payload.get("status") != "success":
            error = payload.get("error", "") if isinstance(payload, dict) else ""
            raise self._not_prometheus(what, f"status is not success {error}".strip())
        self._surface_notes(payload.get("warnings") or (), payload.get("infos") or (), what)
        return payload.get("data")

    def _request(self, path: str, params: list[tuple[str, str]], *, what: str) -> bytes:
        encoded = urlencode(params)
        attempt = 0
        while True:
            delay = None
            try:
                if len(encoded) > self.post_threshold:
                    response = self._client.post(
                        path,
                        content=encoded.encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                    )
                else:
                    response = self._client.get(path, params=params)
            except httpx.TimeoutException as exc:
                error: SourceError = SourceTimeout(
                    f"Prometheus at {self.url} did not answer {what} within "
                    f"{self.timeout:g} s ({type(exc).__name__}, {attempt + 1} attempt(s)); "
                    "raise the timeout (timeout=, --timeout), narrow the range or use a "
                    "coarser step",
                    source=SOURCE,
                    url=self.url,
                )
            except httpx.TransportError as exc:
                if is_certificate_error(exc):
                    raise AuthError(
                        f"the TLS certificate of {self.url} is not trusted "
                        f"({certificate_reason(exc)}); pass the CA that signed it "
                        "(ca_bundle=, --ca-bundle FILE)",
                        source=SOURCE,
                        url=self.url,
                    ) from None
                error = SourceUnavailable(
                    f"cannot reach Prometheus at {self.url} for {what}: "
                    f"{transport_reason(exc)}; check that it is running and that the URL "
                    "is right",
                    source=SOURCE,
                    url=self.url,
                )
            else:
                if response.status_code == 200:
                    return response.content
                error = self._status_error(response, what)
                if response.status_code not in RETRY_STATUSES or isinstance(error, SourceTimeout):
                    raise error
                delay = retry_after(response)
            if attempt >= self.retries:
                raise error
            pause = backoff_pause(attempt, self.backoff, delay)
            logger.info("retrying %s in %.2f s: %s", what, pause, error)
            time.sleep(pause)
            attempt += 1

    # -- errors ------------------------------------------------------------------------

    def _status_error(self, response: httpx.Response, what: str) -> SourceError:
        status = response.status_code
        error_type, message = _error_body(response)
        reason = f"HTTP {status}" + (f" {message}" if message else "")
        if status in (401, 403):
            hint = (
                "check the username and password or token (--user, --password-env, --token-env)"
                if self._auth_kind
                else "it needs credentials: pass username/password or a bearer token "
                "(--user with --password-env, or --token-env)"
            )
            return AuthError(
                f"Prometheus at {self.url} refused {what} ({reason}); {hint}",
                source=SOURCE,
                url=self.url,
            )
        if status == 400 and "HTTP request to an HTTPS server" in message:
            return SourceUnavailable(
                f"{self.url} serves HTTPS, not HTTP: use "
                f"{self.url.replace('http://', 'https://', 1)}",
                source=SOURCE,
                url=self.url,
            )
        if error_type:
            return self._api_error(pj.ApiError(error_type, message), what, status)
        if status == 404:
            return SourceError(
                f"no Prometheus API at {self.url} ({reason} for {what}); give the base URL "
                "of the server, without /api/v1",
                source=SOURCE,
                url=self.url,
            )
        return SourceUnavailable(
            f"Prometheus at {self.url} failed {what} ({reason})", source=SOURCE, url=self.url
        )

    def _api_error(self, exc: pj.ApiError, what: str, status: int) -> SourceError:
        if exc.error_type == "timeout":
            return SourceTimeout(
                f"Prometheus at {self.url} gave up on {what}: {exc.error}; narrow the range, "
                "use a coarser step or raise the timeout",
                source=SOURCE,
                url=self.url,
            )
        if exc.error_type in ("bad_data", "execution") or status in (400, 422):
            return QueryError(
                f"Prometheus at {self.url} rejected {what}: {exc.error} ({exc.error_type})",
                source=SOURCE,
                url=self.url,
            )
        return SourceUnavailable(
            f"Prometheus at {self.url} failed {what}: {exc.error} ({exc.error_type}, "
            f"HTTP {status})",
            source=SOURCE,
            url=self.url,
        )

    def _not_prometheus(self, what: str, detail: str) -> SourceError:
        return SourceError(
            f"the answer of {self.url} to {what} is not a Prometheus API answer ({detail}); "
            "is it the base URL of a Prometheus server?",
            source=SOURCE,
            url=self.url,
        )

    # -- notes -------------------------------------------------------------------------

    def _surface(self, parts: Sequence[pj.Parsed], promql: str) -> None:
        notes_w = dict.fromkeys(w for part in parts for w in part.warnings)
        notes_i = dict.fromkeys(i for part in parts for i in part.infos)
        self._surface_notes(notes_w, notes_i, f"query {promql!r}")

    def _surface_notes(self, warned: Iterable[str], infos: Iterable[str], what: str) -> None:
        for text in warned:
            message = f"Prometheus at {self.url} warned about {what}: {text}"
            logger.warning(message)
            warnings.warn(message, SourceWarning, stacklevel=4)
        for text in infos:
            message = f"Prometheus at {self.url} noted about {what}: {text}"
            logger.info(message)
            warnings.warn(message, SourceWarning, stacklevel=4)

    def _bounds(self, start: Any, end: Any) -> list[tuple[str, str]]:
        params = []
        if start is not None:
            params.append(("start", _seconds(to_millis(parse_time(start)))))
        if end is not None:
            params.append(("end", _seconds(to_millis(parse_time(end)))))
        return params


def plan_chunks(start_ms: int, end_ms: int, step_ms: int, max_points: int) -> list[tuple[int, int]]:
    """Return (start, end) ms of the requests that cover the step grid of one range query.

    The grid is ``start + k * step`` up to ``end``. Each chunk holds at most
    ``max_points`` grid points and starts on the grid right after the previous one ends,
    so no step is asked twice or skipped.
    """
    points = (end_ms - start_ms) // step_ms + 1
    chunks = []
    for first in range(0, points, max_points):
        last = min(first + max_points, points) - 1
        chunks.append((start_ms + first * step_ms, start_ms + last * step_ms))
    return chunks


def wide_on_grid(long: pl.DataFrame, start_ms: int, end_ms: int, step_ms: int) -> pl.DataFrame:
    """Return the wide view of ``long`` with one row per step of the grid, NaN where empty."""
    grid_ms = pl.int_range(start_ms, end_ms + 1, step_ms, eager=True, dtype=pl.Int64)
    grid = pl.DataFrame(
        {"timestamp": (grid_ms * 1_000_000).cast(pl.Datetime("ns")).dt.replace_time_zone("UTC")}
    )
    wide = frames.wide(long)
    out = grid.join(wide, on="timestamp", how="left", maintain_order="left")
    return out.with_columns(pl.col(pl.Float64).fill_null(float("nan")))


def _error_body(response: httpx.Response) -> tuple[str, str]:
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return "", response.text.strip()[:200]
    if isinstance(payload, dict):
        return str(payload.get("errorType", "")), str(payload.get("error", ""))
    return "", ""


def _meta(entry: dict[str, str]) -> tuple[str, str, str]:
    return entry.get("type", ""), entry.get("help", ""), entry.get("unit", "")


def _seconds(ms: int) -> str:
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    return f"{sign}{ms // 1000}.{ms % 1000:03d}"


def _iso(ms: int) -> str:
    return pl.Series([ms]).cast(pl.Datetime("ms", "UTC")).dt.to_string("%Y-%m-%dT%H:%M:%S%.3fZ")[0]


def pull_case(
    url: str,
    start: datetime | str | float = "now-1h",
    end: datetime | str | float = "now",
    step: timedelta | str | float | None = None,
    *,
    queries: Iterable[Query] | str | Path | None = None,
    **options: Any,
) -> Case:
    """Return a :class:`~workbench.case.Case` of the indicators pulled from ``url``.

    The same input an investigation of a dataset case gets, so ``investigate(pull_case(...))``
    ranks a live incident the way it ranks a recorded one. Relative times are read
    against one "now". ``options`` go to :class:`PrometheusSource` (auth, TLS, timeout).
    """
    now = datetime.now(UTC)
    start_at, end_at = parse_time(start, now=now), parse_time(end, now=now)
    with PrometheusSource(url, **options) as source:
        metrics = source.indicators(start_at, end_at, step, queries=queries)
        where = httpx.URL(source.url)
    name = f"{where.host}:{where.port or where.scheme}{where.path.rstrip('/')}"
    window = f"{_iso(to_millis(start_at))}..{_iso(to_millis(end_at))}"
    return Case(suite=SOURCE, case_id=f"{name} {window}", truth=None, metrics=metrics)
