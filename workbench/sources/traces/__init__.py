"""Trace files into the spans frame: OTLP JSON, Jaeger JSON (v1 and v3), Nezha CSV.

>>> from workbench.sources import traces
>>> spans = traces.read_spans("trace.json")          # problems logged as warnings
>>> loaded = traces.load_spans("trace.json")         # problems as values
>>> loaded.format, loaded.partial, loaded.problems
"""

from workbench.sources.traces.load import FORMATS, SpanLoad, load_spans, parse_spans, read_spans
from workbench.sources.traces.problems import Problem

__all__ = ["FORMATS", "Problem", "SpanLoad", "load_spans", "parse_spans", "read_spans"]
