"""Times and durations as users write them: ``now-1h``, ISO-8601, epoch seconds, ``1m30s``.

Every source takes its time range through :func:`parse_time` and its steps through
:func:`parse_duration`, so the CLI and notebooks accept the same spellings as Grafana.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from workbench.errors import UsageError

_UNITS_MS = {
    "ms": 1,
    "s": 1_000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": 365 * 86_400_000,
}
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_RELATIVE = re.compile(r"^now\s*(?:(?P<sign>[-+])\s*(?P<duration>\S+))?$")
_NUMBER = re.compile(r"^[-+]?\d+(?:\.\d+)?$")


def parse_duration(value: str | float | int | timedelta) -> timedelta:
    """Return ``value`` as a positive timedelta.

    Accepts a timedelta, a number of seconds, or a Prometheus-style duration such as
    ``15s``, ``1m30s``, ``500ms``, ``2h``, ``1d``, ``1w``.
    """
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, int | float):
        result = timedelta(seconds=value)
    else:
        text = value.strip().lower()
        if _NUMBER.match(text):
            result = timedelta(seconds=float(text))
        elif _DURATION.match(text):
            ms = sum(float(n) * _UNITS_MS[u] for n, u in _PART.findall(text))
            result = timedelta(milliseconds=ms)
        else:
            raise UsageError(f"{value!r} is not a duration; write e.g. 15s, 1m30s, 500ms, 2h or 1d")
    if result <= timedelta(0):
        raise UsageError(f"duration {value!r} must be positive")
    return result


def parse_time(value: str | float | int | datetime, *, now: datetime | None = None) -> datetime:
    """Return ``value`` as a UTC datetime.

    Accepts a datetime (naive means UTC), epoch seconds (number or digit string),
    ISO-8601 (``2022-05-17T18:37:55Z``; no zone means UTC) or a time relative to now:
    ``now``, ``now-1h``, ``now-1d12h``, ``now+5m``. ``now`` is the current time unless given.
    """
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    text = value.strip()
    relative = _RELATIVE.match(text.lower())
    if relative:
        base = parse_time(now) if now is not None else datetime.now(UTC)
        if relative["sign"] is None:
            return base
        offset = parse_duration(relative["duration"])
        return base - offset if relative["sign"] == "-" else base + offset
    if _NUMBER.match(text):
        return datetime.fromtimestamp(float(text), tz=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{value!r} is not a time; write ISO-8601 (2022-05-17T18:37:55Z), "
            "epoch seconds (1652812675) or a relative time (now-1h)"
        ) from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def to_millis(moment: datetime) -> int:
    """Return ``moment`` as integer milliseconds since the epoch (sub-ms parts truncated)."""
    moment = parse_time(moment)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return delta // timedelta(milliseconds=1)


def duration_millis(value: str | float | int | timedelta) -> int:
    """Return a duration as integer milliseconds (at least 1)."""
    return max(1, parse_duration(value) // timedelta(milliseconds=1))
