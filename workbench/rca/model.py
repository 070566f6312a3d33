"""Value objects of an investigation: windows, causes and the investigation itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

# Extras that go into the JSON of an investigation when present (host evidence).
_REPORTED_EXTRAS = ("annotations", "hosts_failed", "hosts_partial")


def iso(value: datetime | None) -> str | None:
    """Return ``value`` as ISO-8601 UTC with a ``Z``, or None."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Window:
    """A closed time interval, UTC."""

    start: datetime
    end: datetime

    def to_dict(self) -> dict[str, str | None]:
        return {"start": iso(self.start), "end": iso(self.end)}


@dataclass(frozen=True, slots=True)
class Cause:
    """One ranked suspect: a service, its strongest indicator and the evidence behind it."""

    rank: int
    service: str
    indicator: str
    score: float
    evidence: dict[str, Any]
    onset: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "service": self.service,
            "indicator": self.indicator,
            "score": self.score,
            "evidence": self.evidence,
            "onset": iso(self.onset),
        }


@dataclass(frozen=True, slots=True)
class Investigation:
    """The answer to "what broke": the onset, the ranked causes and the signals behind them.

    ``signals`` holds one row per indicator (service, indicator, deviation, baseline,
    observed, onset); ``metrics`` is the metrics frame the ranking was computed on.
    """

    onset: datetime
    onset_detected: bool
    ranking: tuple[Cause, ...]
    signals: pl.DataFrame
    metrics: pl.DataFrame
    baseline: Window
    window: Window
    case: str | None = None
    method: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    def top(self, k: int = 5) -> tuple[Cause, ...]:
        """Return the first ``k`` causes."""
        return self.ranking[:k]

    def to_frame(self) -> pl.DataFrame:
        """Return the ranking as a table: one row per cause with its headline evidence."""
        return pl.DataFrame(
            {
                "rank": [c.rank for c in self.ranking],
                "service": [c.service for c in self.ranking],
                "indicator": [c.indicator for c in self.ranking],
                "score": [c.score for c in self.ranking],
                "deviation": [c.evidence.get("deviation") for c in self.ranking],
                "baseline": [c.evidence.get("baseline") for c in self.ranking],
                "observed": [c.evidence.get("observed") for c in self.ranking],
                "onset": [c.onset for c in self.ranking],
            },
            schema_overrides={
                "rank": pl.Int64,
                "score": pl.Float64,
                "deviation": pl.Float64,
                "baseline": pl.Float64,
                "observed": pl.Float64,
                "onset": pl.Datetime("ns", "UTC"),
            },
        )

    def _repr_html_(self) -> str:
        how = "detected" if self.onset_detected else "given"
        head = f"<p><b>{self.case or 'metrics'}</b>: onset {iso(self.onset)} ({how})</p>"
        return head + self.to_frame().head(10)._repr_html_()

    def to_dict(self, k: int | None = None) -> dict[str, Any]:
        causes = self.ranking if k is None else self.ranking[:k]
        return {
            "case": self.case,
            "onset": iso(self.onset),
            "onset_detected": self.onset_detected,
            "method": self.method,
            "baseline": self.baseline.to_dict(),
            "window": self.window.to_dict(),
            "ranking": [cause.to_dict() for cause in causes],
            **{k: self.extras[k] for k in _REPORTED_EXTRAS if k in self.extras},
        }
