"""Host events as evidence: a unit failed or restarted, or a config changed, near the onset.

"What changed just before it broke?" is the first question of an incident review, so a
service with such a change near the onset is ranked ahead of services that only moved
in their metrics. Among changed services the stronger change comes first (a failed unit,
then a restart or a config change), then the one closest to the onset, then the metric
score. Other events near the onset (a unit started or stopped by hand, an alert) are
kept as annotations only. Without events the metric ranking is returned unchanged.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import orjson
import polars as pl

from workbench import frames
from workbench.rca.model import Cause, Investigation, iso

# How far before the onset a change counts, and how far after (the detected onset can
# trail the real start by a few samples).
DEFAULT_LOOKBACK = timedelta(minutes=15)
DEFAULT_GRACE = timedelta(minutes=2)
UNIT_STATE = "unit state"
CONFIG_CHANGE = "config change"
# Strength of a change as evidence; 2 and above promotes the service.
FAILED, CHANGED, NOTED = 3, 2, 1
PROMOTES = CHANGED


def near_onset(
    events: Any,
    onset: datetime,
    *,
    lookback: timedelta = DEFAULT_LOOKBACK,
    grace: timedelta = DEFAULT_GRACE,
) -> pl.DataFrame:
    """Return the events between ``onset - lookback`` and ``onset + grace``, with their strength."""
    frame = frames.validate(events, frames.EVENTS)
    if "host" not in frame.columns:
        frame = frame.with_columns(pl.lit("").alias("host"))
    if "details" not in frame.columns:
        frame = frame.with_columns(pl.lit("").alias("details"))
    frame = frame.filter(
        pl.col("timestamp").is_between(onset - lookback, onset + grace, closed="both")
    )
    strengths = [_strength(row, frame) for row in frame.iter_rows(named=True)]
    return frame.with_columns(pl.Series("strength", strengths, dtype=pl.Int64))


def _strength(row: dict[str, Any], window: pl.DataFrame) -> int:
    if row["kind"] == CONFIG_CHANGE:
        return CHANGED
    if row["kind"] != UNIT_STATE:
        return NOTED
    details = _details(row["details"])
    entered = details.get("to", "")
    if entered == "failed":
        return FAILED
    if entered == "restarting":
        return CHANGED
    if entered in ("activating", "active"):
        if details.get("restarts"):
            return CHANGED
        # Stopped and started again within the window: a restart by hand or by a job.
        unit = details.get("unit", "")
        stopped = window.filter(
            (pl.col("kind") == UNIT_STATE)
            & (pl.col("host") == row["host"])
            & (pl.col("timestamp") <= row["timestamp"])
            & pl.col("details").str.contains(f'"unit":{orjson.dumps(unit).decode()}', literal=True)
            & pl.col("details").str.contains(r'"to":"(inactive|deactivating)"')
        )
        if stopped.height:
            return CHANGED
    return NOTED


def _details(text: str | None) -> dict[str, Any]:
    try:
        value = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def with_events(
    result: Investigation,
    events: Any,
    *,
    lookback: timedelta = DEFAULT_LOOKBACK,
    grace: timedelta = DEFAULT_GRACE,
) -> Investigation:
    """Return ``result`` with changes near its onset ranked first and nearby events annotated."""
    nearby = near_onset(events, result.onset, lookback=lookback, grace=grace)
    if nearby.is_empty():
        return result
    onset = result.onset
    annotations = [
        {
            "timestamp": iso(row["timestamp"]),
            "kind": row["kind"],
            "service": row["service"],
            "host": row["host"],
            "summary": row["summary"],
            "strength": row["strength"],
        }
        for row in nearby.sort("timestamp").iter_rows(named=True)
    ]
    changes = nearby.filter((pl.col("strength") >= PROMOTES) & (pl.col("service") != ""))
    by_service: dict[str, list[dict[str, Any]]] = {}
    for row in changes.iter_rows(named=True):
        by_service.setdefault(row["service"], []).append(row)
    metric = {cause.service: cause for cause in result.ranking}

    def strongest(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return min(
            rows,
            key=lambda r: (-r["strength"], abs((r["timestamp"] - onset).total_seconds())),
        )

    def order(service: str) -> tuple:
        best = strongest(by_service[service])
        distance = abs((best["timestamp"] - onset).total_seconds())
        score = metric[service].score if service in metric else 0.0
        return (-best["strength"], distance, -score, service)

    promoted = []
    for service in sorted(by_service, key=order):
        best = strongest(by_service[service])
        previous = metric.get(service)
        promoted.append(_event_cause(service, best, by_service[service], previous, result))
    rest = [cause for cause in result.ranking if cause.service not in by_service]
    ranking = tuple(
        replace(cause, rank=rank) for rank, cause in enumerate([*promoted, *rest], start=1)
    )
    extras = {**result.extras, "annotations": annotations}
    return replace(result, ranking=ranking, extras=extras)


def _event_cause(
    service: str,
    best: dict[str, Any],
    rows: list[dict[str, Any]],
    previous: Cause | None,
    result: Investigation,
) -> Cause:
    details = _details(best["details"])
    if best["kind"] == UNIT_STATE:
        entered = details.get("to", "")
        # Only a restart promotes a unit that is (re)starting.
        entered = "restarted" if entered in ("activating", "active", "restarting") else entered
        indicator = f"unit:{details.get('unit', service)} {entered}".strip()
    else:
        indicator = f"config:{best['summary'].split(' ', 1)[0]} changed"
    metric = previous.evidence if previous is not None else {}
    evidence = {
        "kind": best["kind"],
        # Numbers of the service's strongest metric, when it has one; NaN when the
        # service is known only from its host events.
        "baseline": metric.get("baseline", math.nan),
        "observed": metric.get("observed", math.nan),
        "deviation": metric.get("deviation", math.nan),
        "window": result.window.to_dict(),
        "event": {
            "timestamp": iso(best["timestamp"]),
            "host": best["host"],
            "summary": best["summary"],
            "details": best["details"],
            "seconds_from_onset": (best["timestamp"] - result.onset).total_seconds(),
        },
        "events": [
            {"timestamp": iso(r["timestamp"]), "kind": r["kind"], "summary": r["summary"]}
            for r in sorted(rows, key=lambda r: r["timestamp"])
        ],
    }
    if previous is not None:
        # "metric" stays the metric's name, as in every metric cause (the report charts it).
        evidence["metric"] = metric.get("metric", "")
        evidence["metric_evidence"] = {"indicator": previous.indicator, **metric}
    return Cause(
        rank=0,
        service=service,
        indicator=indicator,
        score=previous.score if previous is not None else 0.0,
        evidence=evidence,
        onset=best["timestamp"],
    )
