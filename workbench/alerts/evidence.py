"""Alerts as evidence: what Prometheus and Alertmanager say fired, as an events frame.

Each alert becomes one event of kind ``alert``: ``timestamp`` when it became active
(``activeAt`` in Prometheus, ``startsAt`` in Alertmanager), ``service`` from the first of
the service labels it has, ``summary`` "<alertname> <state>: <summary annotation>",
``host`` its ``instance`` label, and ``details`` the labels, annotations, state, value
and where it was read, as JSON. A Prometheus rule whose evaluation fails is an event
too (state ``error``), since a broken alert is evidence of a blind spot.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import polars as pl

from workbench import frames
from workbench.errors import SourceError, SourceTimeout, SourceUnavailable
from workbench.sources._http import redact
from workbench.sources.prometheus import DEFAULT_SERVICE_LABELS

ALERT = "alert"
_SUMMARY_ANNOTATIONS = ("summary", "description", "message")


def prometheus_alert_events(source: Any) -> pl.DataFrame:
    """Return the active alerts of a PrometheusSource (``/api/v1/alerts``) as events."""
    rows = [
        _row(
            a["labels"],
            a.get("annotations"),
            a.get("state", ""),
            a.get("activeAt"),
            a.get("value"),
            f"prometheus {source.url}",
        )
        for a in source.alerts()
    ]
    return _frame(rows)


def prometheus_rule_events(source: Any) -> pl.DataFrame:
    """Return the alerts of every alerting rule (``/api/v1/rules``) and failing rules as events."""
    rows = []
    where = f"prometheus {source.url}"
    for group in source.rules():
        for rule in group.get("rules") or ():
            if rule.get("type") != "alerting":
                continue
            for a in rule.get("alerts") or ():
                rows.append(
                    _row(
                        a["labels"],
                        a.get("annotations"),
                        a.get("state", ""),
                        a.get("activeAt"),
                        a.get("value"),
                        where,
                    )
                )
            if rule.get("health") == "err":
                labels = {"alertname": rule.get("name", ""), **(rule.get("labels") or {})}
                note = {"summary": f"rule evaluation fails: {rule.get('lastError', '')}"}
                rows.append(_row(labels, note, "error", rule.get("lastEvaluation"), None, where))
    return _frame(rows)


def alertmanager_events(
    url: str, *, timeout: float = 10.0, active_only: bool = False
) -> pl.DataFrame:
    """Return the alerts an Alertmanager holds (``/api/v2/alerts``) as events."""
    base = httpx.URL(url.rstrip("/") + "/")
    shown = redact(base)
    params = {"active": "true", "silenced": "true", "inhibited": "true"}
    if active_only:
        params = {"active": "true", "silenced": "false", "inhibited": "false"}
    try:
        answer = httpx.get(
            base.join("api/v2/alerts"), params=params, timeout=timeout, trust_env=False
        )
    except httpx.TimeoutException:
        raise SourceTimeout(
            f"Alertmanager at {shown} did not answer within {timeout:g} s",
            source="alertmanager",
            url=shown,
        ) from None
    except httpx.HTTPError as error:
        raise SourceUnavailable(
            f"cannot reach Alertmanager at {shown} ({type(error).__name__}); "
            "check the URL and that it runs",
            source="alertmanager",
            url=shown,
        ) from None
    if not answer.is_success:
        raise SourceError(
            f"Alertmanager at {shown} answered {answer.status_code} to GET /api/v2/alerts: "
            f"{answer.text[:200]}",
            source="alertmanager",
            url=shown,
        )
    try:
        alerts = answer.json()
    except ValueError:
        raise SourceError(
            f"{shown} did not answer /api/v2/alerts with JSON: is it an Alertmanager?",
            source="alertmanager",
            url=shown,
        ) from None
    rows = [
        _row(
            a.get("labels") or {},
            a.get("annotations"),
            (a.get("status") or {}).get("state", ""),
            a.get("startsAt"),
            None,
            f"alertmanager {shown}",
            extra={"endsAt": a.get("endsAt"), "fingerprint": a.get("fingerprint")},
        )
        for a in alerts
    ]
    return _frame(rows)


def alert_events(*, prometheus: Any = None, alertmanager: str | None = None) -> pl.DataFrame:
    """Return the alerts (and failing rules) of a Prometheus and an Alertmanager, by time."""
    parts = []
    if prometheus is not None:
        parts.append(prometheus_rule_events(prometheus))
    if alertmanager is not None:
        parts.append(alertmanager_events(alertmanager))
    if not parts:
        return _frame([])
    return pl.concat(parts).sort("timestamp", "summary")


def _row(
    labels: Mapping[str, str],
    annotations: Mapping[str, str] | None,
    state: str,
    moment: str | None,
    value: Any,
    where: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    annotations = dict(annotations or {})
    name = labels.get("alertname", "")
    note = next((annotations[k] for k in _SUMMARY_ANNOTATIONS if annotations.get(k)), "")
    service = next((labels[k] for k in DEFAULT_SERVICE_LABELS if labels.get(k)), "")
    details = {
        "labels": dict(labels),
        "annotations": annotations,
        "state": state,
        "value": value,
        "source": where,
        **(extra or {}),
    }
    return {
        "timestamp": _moment(moment),
        "kind": ALERT,
        "service": frames.service_of(service),
        "summary": f"{name} {state}" + (f": {note}" if note else ""),
        "host": labels.get("instance", ""),
        "details": json.dumps(details, sort_keys=True),
    }


def _moment(text: str | None) -> datetime | None:
    if not text or text.startswith("0001-01-01"):
        return None
    if "." not in text:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    # Go writes up to nanoseconds; Python reads up to microseconds.
    head, _, fraction = text.rstrip("Z").partition(".")
    zone = ""
    for sign in ("+", "-"):
        if sign in fraction:
            fraction, _, zone = fraction.partition(sign)
            zone = sign + zone
    stamp = head + (f".{fraction[:6]}" if fraction else "") + (zone or "+00:00")
    return datetime.fromisoformat(stamp).astimezone(UTC)


def _frame(rows: Iterable[dict[str, Any]]) -> pl.DataFrame:
    schema = {
        "timestamp": frames.UTC_NS,
        "kind": pl.String,
        "service": pl.String,
        "summary": pl.String,
        "host": pl.String,
        "details": pl.String,
    }
    return frames.validate(pl.DataFrame(list(rows), schema=schema), frames.EVENTS)
