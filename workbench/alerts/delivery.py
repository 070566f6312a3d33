"""Send alerts to Alertmanager (v2 API) and to webhooks (Alertmanager's webhook payload).

Notifications wait in the state file's outbox until a target accepts them; a failed
attempt is retried with exponential backoff, so an unreachable receiver delays alerts
but never loses them (:func:`deliver` reports what is still waiting, and why).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from workbench.alerts.machine import Alert, Transition
from workbench.alerts.store import AlertStore
from workbench.sources._http import redact

log = logging.getLogger(__name__)

ALERTMANAGER = "alertmanager"
WEBHOOK = "webhook"
DEFAULT_TIMEOUT_S = 10.0
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 300.0
ZERO_TIME = "0001-01-01T00:00:00Z"  # how Alertmanager writes "no end" in webhooks
WEBHOOK_VERSION = "4"


@dataclass(frozen=True, slots=True)
class Target:
    """Where notifications go: ``kind`` is "alertmanager" or "webhook", ``url`` its base."""

    kind: str
    url: str
    receiver: str = "mancerops"

    @property
    def key(self) -> str:
        return f"{self.kind} {self.url}"

    @property
    def endpoint(self) -> str:
        if self.kind == ALERTMANAGER:
            return self.url.rstrip("/") + "/api/v2/alerts"
        return self.url


@dataclass(slots=True)
class DeliveryReport:
    """What one delivery pass did: delivered count, and each notification still waiting."""

    delivered: int = 0
    waiting: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.waiting


def iso(seconds: float) -> str:
    """Return epoch seconds as RFC 3339 UTC with milliseconds, as Alertmanager reads it."""
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def generator_url(external_url: str, expr: str) -> str:
    """Return the link Prometheus puts in ``generatorURL``: the expression's graph page."""
    if not external_url:
        return ""
    return f"{external_url.rstrip('/')}/graph?g0.expr={quote(expr, safe='')}&g0.tab=1"


def alertmanager_payload(alerts: Iterable[Alert], generator: str) -> list[dict]:
    """Return the ``POST /api/v2/alerts`` body Prometheus sends for ``alerts``."""
    body = []
    for alert in alerts:
        ends = alert.resolved_at if alert.resolved_at is not None else alert.valid_until
        entry = {
            "labels": alert.labels,
            "annotations": alert.annotations,
            "startsAt": iso(alert.fired_at if alert.fired_at is not None else alert.active_at),
            "generatorURL": generator,
        }
        if ends is not None:
            entry["endsAt"] = iso(ends)
        body.append(entry)
    return body


def webhook_payload(
    transitions: list[Transition], status: str, receiver: str, external_url: str, generator: str
) -> dict:
    """Return Alertmanager's webhook body (version 4) for one rule's transitions of ``status``."""
    alerts = []
    for change in transitions:
        alert = change.alert
        alerts.append(
            {
                "status": status,
                "labels": alert.labels,
                "annotations": alert.annotations,
                "startsAt": iso(alert.fired_at if alert.fired_at is not None else alert.active_at),
                "endsAt": iso(alert.resolved_at) if status == "resolved" else ZERO_TIME,
                "generatorURL": generator,
                "fingerprint": alert.fingerprint,
            }
        )
    common_labels = _common([a["labels"] for a in alerts])
    name = transitions[0].rule.name
    return {
        "receiver": receiver,
        "status": status,
        "alerts": alerts,
        "groupLabels": {"alertname": name},
        "commonLabels": common_labels,
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": external_url,
        "version": WEBHOOK_VERSION,
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
    }


def deliver(
    store: AlertStore,
    targets: Iterable[Target],
    now: float,
    *,
    client: httpx.Client | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> DeliveryReport:
    """Send every due notification; keep the failed ones for a later retry."""
    by_key = {target.key: target for target in targets}
    report = DeliveryReport()
    own = client is None
    client = client or httpx.Client(timeout=timeout, trust_env=False)
    try:
        for item in store.due(now):
            target = by_key.get(item.target)
            if target is None:
                error = "no such target configured in this run"
            else:
                body = item.payload["alerts"] if target.kind == ALERTMANAGER else item.payload
                error = _post(client, target, body)
            if error is None:
                store.delivered(item.id, now)
                report.delivered += 1
                continue
            retry_in = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**item.attempts)
            store.failed(item.id, error, now + retry_in)
            log.warning("%s: delivery failed (%s); retry in %g s", item.target, error, retry_in)
        for item in store.undelivered():
            report.waiting.append(
                {
                    "target": item.target,
                    "attempts": item.attempts,
                    "error": item.last_error,
                    "next_attempt": iso(item.next_attempt),
                    "queued": iso(item.created),
                }
            )
    finally:
        if own:
            client.close()
    return report


def redact_url(url: str) -> str:
    return redact(httpx.URL(url))


def _post(client: httpx.Client, target: Target, payload: object) -> str | None:
    """Return None when the target accepted ``payload``, else why not (no credentials)."""
    try:
        answer = client.post(target.endpoint, json=payload)
    except httpx.TimeoutException:
        return f"no answer from {redact_url(target.endpoint)} in time"
    except httpx.HTTPError as error:
        return f"cannot reach {redact_url(target.endpoint)}: {type(error).__name__}"
    if answer.is_success:
        return None
    return f"{redact_url(target.endpoint)} answered {answer.status_code}: {answer.text[:200]}"


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}
