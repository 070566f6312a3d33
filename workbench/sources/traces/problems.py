"""What a trace load found wrong with its input, reported instead of silently dropped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Kinds of problem. Those in LOSSY mean some input did not make it into the frame.
INVALID_ID = "invalid id"
SKIPPED_INPUT = "skipped input"
API_ERROR = "api error"
DUPLICATE_SPAN = "duplicate span"
ORPHAN = "missing parent"
CLOCK_SKEW = "clock skew"
NEGATIVE_DURATION = "negative duration"
MISSING_START = "missing start"
UNKNOWN_REFERENCE = "unknown reference"
BAD_COUNT = "bad count"
NON_HEX_ID = "non-hex id"
WARNING = "warning"
TRUNCATED = "truncated search"  # a Jaeger search page that could not be split further
LOSSY = frozenset({INVALID_ID, SKIPPED_INPUT, API_ERROR, TRUNCATED})


@dataclass(frozen=True, slots=True)
class Problem:
    """One kind of fault in the input: how many spans or parts it hit and a few examples."""

    kind: str
    message: str
    count: int = 1
    examples: tuple[str, ...] = ()

    @property
    def lossy(self) -> bool:
        """Return whether some of the input was left out because of it."""
        return self.kind in LOSSY

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "count": self.count,
            "examples": list(self.examples),
        }
