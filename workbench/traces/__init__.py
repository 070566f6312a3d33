"""Trace analytics beyond the service graph: baselines and signals for root-cause analysis.

>>> from workbench.traces import TraceSignals
>>> signals = TraceSignals().fit(before).detect(after)
"""

from workbench.traces.signals import (
    ERROR_JUMP,
    LATENCY_SHIFT,
    NEW_EDGE,
    OperationBaseline,
    TraceSignal,
    TraceSignals,
    trace_signals,
)

__all__ = [
    "ERROR_JUMP",
    "LATENCY_SHIFT",
    "NEW_EDGE",
    "OperationBaseline",
    "TraceSignal",
    "TraceSignals",
    "trace_signals",
]
