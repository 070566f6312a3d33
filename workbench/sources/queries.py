"""The PromQL queries an investigation pulls: one indicator each, kept in a TOML file.

The defaults (``prometheus_queries.toml`` beside this module) are the RED/USE set:
container CPU, memory, throttling and restarts, request rate, error ratio and latency
quantiles from histograms. Users copy and edit the file; see ``docs/sources/prometheus.md``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from workbench.errors import UsageError

DEFAULT_QUERIES_FILE = Path(__file__).with_name("prometheus_queries.toml")
DEFAULT_SCRAPE_INTERVAL = timedelta(seconds=15)
MIN_RATE_WINDOW = timedelta(minutes=1)
WINDOW_PLACEHOLDER = "${window}"


@dataclass(frozen=True, slots=True)
class Query:
    """One indicator: the name it gets in the frame and the PromQL that computes it.

    An empty ``metric`` takes each series' ``__name__``.
    """

    metric: str
    promql: str

    def render(self, step: timedelta) -> str:
        """Return the PromQL with ``${window}`` replaced by the rate window for ``step``."""
        return self.promql.replace(WINDOW_PLACEHOLDER, _promql_duration(rate_window(step)))

    def to_dict(self) -> dict[str, str]:
        return {"metric": self.metric, "promql": self.promql}


def rate_window(step: timedelta) -> timedelta:
    """Return the range for ``rate()`` at ``step``: one step plus a scrape, at least 1 minute.

    The same rule as Grafana's ``$__rate_interval`` with a 15 s scrape interval, so every
    step sees at least two samples and no sample falls between steps.
    """
    return max(step + DEFAULT_SCRAPE_INTERVAL, MIN_RATE_WINDOW)


def load_queries(path: str | Path | None = None) -> tuple[Query, ...]:
    """Return the queries of a TOML file (the RED/USE defaults when ``path`` is None).

    Raises :class:`UsageError` naming the file and the entry that is malformed.
    """
    file = Path(path) if path is not None else DEFAULT_QUERIES_FILE
    try:
        document = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read the queries file {file}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{file} is not valid TOML: {exc}") from None
    entries = document.get("query")
    if not isinstance(entries, list) or not entries:
        raise UsageError(
            f"{file} holds no [[query]] entries; each needs metric = \"...\" and promql = '...'"
        )
    queries = []
    for number, entry in enumerate(entries, start=1):
        metric, promql = entry.get("metric"), entry.get("promql")
        if not isinstance(metric, str) or not isinstance(promql, str) or not promql.strip():
            raise UsageError(
                f"{file}: [[query]] number {number} needs a string metric and a non-empty "
                f"promql; it has {sorted(entry)}"
            )
        queries.append(Query(metric=metric, promql=promql.strip()))
    return tuple(queries)


def _promql_duration(value: timedelta) -> str:
    ms = value // timedelta(milliseconds=1)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"
