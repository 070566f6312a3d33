"""The main job: from a case or frames to a ranked, evidenced investigation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np
import polars as pl

from workbench import frames
from workbench.case import Case
from workbench.errors import UsageError
from workbench.rca.events import DEFAULT_LOOKBACK, with_events
from workbench.rca.fusion import FusionRanker
from workbench.rca.model import Investigation
from workbench.rca.ranking import MetricRanker


def investigate(
    source: Case | Any,
    onset: datetime | str | None = None,
    *,
    ranker: FusionRanker | MetricRanker | None = None,
    events: Any = None,
    hosts: Any = None,
) -> Investigation:
    """Rank the likely root-cause services of an incident, each with its evidence.

    ``source`` is a :class:`~workbench.case.Case` (its metrics, logs and spans are
    fused, see :mod:`workbench.rca.fusion`) or a metrics frame (polars or pandas).
    ``onset`` is when the incident started, if known: a datetime (numpy, pandas or
    stdlib), epoch seconds, or ISO-8601 text, UTC when it has no zone; without it the
    onset is detected from the data.

    ``events`` (an events frame) and ``hosts`` (a mancer
    :class:`~workbench.sources.mancer.Inventory` or a list of its hosts) add host
    evidence: a unit that failed or restarted, or a config that changed, near the onset
    is ranked first and every nearby event is kept as an annotation (see
    :mod:`workbench.rca.events`). A case's own events count the same way.
    """
    ranker = ranker if ranker is not None else FusionRanker()
    when = _parse_onset(onset)
    if isinstance(source, Case):
        if isinstance(ranker, FusionRanker):
            result = ranker.rank(source, when)
        else:
            result = ranker.rank(source.metrics, when, case=source.name)
        extra = [source.events] if not source.events.is_empty() else []
    else:
        metric_ranker = ranker.metric_ranker if isinstance(ranker, FusionRanker) else ranker
        result = metric_ranker.rank(source, when, case=None)
        extra = []
    if events is not None:
        extra.append(frames.validate(events, frames.EVENTS))
    if hosts is not None:
        collected = _host_events(hosts, result)
        extra.append(collected.frame)
        notes = {"hosts_failed": collected.failed, "hosts_partial": collected.partial}
        notes = {key: value for key, value in notes.items() if value}
        if notes:
            result = replace(result, extras={**result.extras, **notes})
    if not extra:
        return result
    return with_events(result, pl.concat(extra, how="diagonal_relaxed"))


def _host_events(hosts: Any, result: Investigation):
    from workbench.sources.mancer import Inventory

    inventory = hosts if isinstance(hosts, Inventory) else Inventory(list(hosts))
    return inventory.events(result.baseline.start - DEFAULT_LOOKBACK, result.window.end)


def _parse_onset(onset: Any) -> datetime | None:
    if onset is None or isinstance(onset, datetime):
        return None if onset is None else (onset if onset.tzinfo else onset.replace(tzinfo=UTC))
    if isinstance(onset, int | float) and not isinstance(onset, bool):
        return _from_epoch(onset)
    if isinstance(onset, np.datetime64):
        return _parse_onset(onset.astype("datetime64[us]").item())
    if hasattr(onset, "to_pydatetime"):  # pandas Timestamp
        return _parse_onset(onset.to_pydatetime())
    if isinstance(onset, date):
        return datetime.combine(onset, time(), tzinfo=UTC)
    if not isinstance(onset, str):
        raise UsageError(
            f"onset {onset!r} is not a time; give a datetime, epoch seconds or ISO-8601 text"
        )
    if onset.strip().lstrip("-").replace(".", "", 1).isdigit():
        return _from_epoch(float(onset))
    try:
        parsed = datetime.fromisoformat(onset.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"onset {onset!r} is not an ISO-8601 time; write e.g. 2022-05-17T10:30:00Z"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _from_epoch(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise UsageError(f"onset {seconds!r} is not an epoch second within the calendar") from None
