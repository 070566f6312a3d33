"""Sources: the systems a team already runs, pulled into canonical frames.

>>> from workbench import sources
>>> prom = sources.PrometheusSource("http://127.0.0.1:9090")
>>> frame = prom.query_range("up", "now-1h", "now", "15s")

Names load on first use, so importing this package pulls in no HTTP client.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "PrometheusSource": ("workbench.sources.prometheus", "PrometheusSource"),
    "pull_case": ("workbench.sources.prometheus", "pull_case"),
    "plan_chunks": ("workbench.sources.prometheus", "plan_chunks"),
    "wide_on_grid": ("workbench.sources.prometheus", "wide_on_grid"),
    "Query": ("workbench.sources.queries", "Query"),
    "load_queries": ("workbench.sources.queries", "load_queries"),
    "DEFAULT_QUERIES_FILE": ("workbench.sources.queries", "DEFAULT_QUERIES_FILE"),
    "parse_time": ("workbench.sources.times", "parse_time"),
    "parse_duration": ("workbench.sources.times", "parse_duration"),
    "write_openmetrics": ("workbench.sources.openmetrics", "write_openmetrics"),
    "ElasticsearchSource": ("workbench.sources.elasticsearch", "ElasticsearchSource"),
    "LogMapping": ("workbench.sources.elasticsearch", "LogMapping"),
    "PullProgress": ("workbench.sources.elasticsearch", "PullProgress"),
    "traces": ("workbench.sources.traces", None),
    "read_spans": ("workbench.sources.traces", "read_spans"),
    "load_spans": ("workbench.sources.traces", "load_spans"),
    "JaegerSource": ("workbench.sources.jaeger", "JaegerSource"),
    "Host": ("workbench.sources.mancer", "Host"),
    "HostSource": ("workbench.sources.mancer", "HostSource"),
    "Inventory": ("workbench.sources.mancer", "Inventory"),
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'workbench.sources' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)
