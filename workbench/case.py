"""A case: the frames of one incident plus its ground truth, as a dataset adapter yields it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from workbench import frames


@dataclass(frozen=True, slots=True)
class Truth:
    """What really happened in a case: the injected root cause and its window (UTC)."""

    root_cause_service: str
    fault_type: str
    fault_start: datetime | None
    fault_end: datetime | None = None

    def to_dict(self) -> dict:
        return {
            "root_cause_service": self.root_cause_service,
            "fault_type": self.fault_type,
            "fault_start": _iso(self.fault_start),
            "fault_end": _iso(self.fault_end),
        }


@dataclass(frozen=True, slots=True)
class Case:
    """One incident of a suite: its canonical frames and its ground truth."""

    suite: str
    case_id: str
    truth: Truth | None
    metrics: pl.DataFrame = field(default_factory=lambda: frames.empty(frames.METRICS))
    logs: pl.DataFrame = field(default_factory=lambda: frames.empty(frames.LOGS))
    spans: pl.DataFrame = field(default_factory=lambda: frames.empty(frames.SPANS))
    events: pl.DataFrame = field(default_factory=lambda: frames.empty(frames.EVENTS))
    # A fault-free stretch of the same system recorded apart from the incident (the
    # dataset's normal period), an extra baseline for logs and spans; None when none.
    reference: Case | None = None

    @property
    def name(self) -> str:
        """Return the full case name, ``<suite>/<case_id>``."""
        return f"{self.suite}/{self.case_id}"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")
