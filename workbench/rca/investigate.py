"""The main job: from a case or frames to a ranked, evidenced investigation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from workbench.case import Case
from workbench.errors import UsageError
from workbench.rca.model import Investigation
from workbench.rca.ranking import MetricRanker


def investigate(
    source: Case | Any,
    onset: datetime | str | None = None,
    *,
    ranker: MetricRanker | None = None,
) -> Investigation:
    """Rank the likely root-cause services of an incident, each with its evidence.

    ``source`` is a :class:`~workbench.case.Case` or a metrics frame (polars or pandas).
    ``onset`` is when the incident started, if known (a datetime or ISO-8601 string,
    UTC when it has no zone); without it the onset is detected from the data.
    """
    ranker = ranker if ranker is not None else MetricRanker()
    if isinstance(source, Case):
        metrics, name = source.metrics, source.name
    else:
        metrics, name = source, None
    return ranker.rank(metrics, _parse_onset(onset), case=name)


def _parse_onset(onset: datetime | str | None) -> datetime | None:
    if onset is None or isinstance(onset, datetime):
        return None if onset is None else (onset if onset.tzinfo else onset.replace(tzinfo=UTC))
    try:
        parsed = datetime.fromisoformat(onset.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"onset {onset!r} is not an ISO-8601 time; write e.g. 2022-05-17T10:30:00Z"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
