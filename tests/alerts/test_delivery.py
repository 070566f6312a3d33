"""Delivery to a real Alertmanager (v2 API) and to webhooks, retries, and restarts."""

from __future__ import annotations

import time
from datetime import datetime

import httpx
from alertdata import STEP_S
from receiver import Receiver
from servers import free_port

from workbench.alerts import AlertStore, Evaluator, Target, deliver, fingerprint, parse_rules
from workbench.sources import PrometheusSource

LIVE_RULES = """\
groups:
  - name: live
    interval: 30s
    rules:
      - alert: {name}
        expr: {expr}
        for: 1m
        labels: {{severity: page}}
        annotations: {{summary: "{{{{ $labels.job }}}} at {{{{ $value }}}}"}}
"""


def rules(name: str, expr: str = "wb_live > 5"):
    return parse_rules(LIVE_RULES.format(name=name, expr=expr))


def seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_firing_alert_reaches_alertmanager_and_a_webhook_as_alertmanager_sends_it(
    live_prometheus, alertmanager, receiver, tmp_path
):
    now = float(int(time.time()))
    manager = Target("alertmanager", alertmanager.url)
    hook = Target("webhook", receiver.url("/direct"))
    evaluator = Evaluator(
        rules("LiveHigh"),
        prometheus=PrometheusSource(live_prometheus.url),
        store=AlertStore(tmp_path / "state.db"),
        targets=[manager, hook],
    )
    pending = evaluator.evaluate(now - 90)
    assert pending.delivery.ok and pending.delivery.delivered == 0
    firing = evaluator.evaluate(now - 30)  # 60 s after it became pending: `for: 1m` is met
    assert firing.delivery.ok and firing.delivery.delivered == 2

    listed = httpx.get(
        f"{alertmanager.url}/api/v2/alerts", params={"filter": 'alertname="LiveHigh"'}
    ).json()
    (alert,) = listed
    labels = {"alertname": "LiveHigh", "job": "api", "instance": "a", "severity": "page"}
    assert alert["labels"] == labels
    assert alert["annotations"] == {"summary": "api at 10"}
    assert alert["status"]["state"] == "active"
    assert seconds(alert["startsAt"]) == now - 30
    assert seconds(alert["endsAt"]) == now - 30 + 4 * 60  # valid for 4 resend delays
    assert alert["fingerprint"] == fingerprint(labels)
    assert alert["generatorURL"] == (
        f"{live_prometheus.url}/graph?g0.expr=wb_live%20%3E%205&g0.tab=1"
    )

    (ours,) = receiver.wait_for("/direct")
    theirs = [
        body
        for body in receiver.wait_for("/am")
        if body["groupLabels"] == {"alertname": "LiveHigh"}
    ]
    assert theirs, "Alertmanager did not call its webhook"
    theirs = theirs[0]
    assert set(ours) == set(theirs)
    assert set(ours["alerts"][0]) == set(theirs["alerts"][0])
    for key in ("status", "groupLabels", "commonLabels", "commonAnnotations", "version"):
        assert ours[key] == theirs[key], key
    assert ours["groupKey"] == theirs["groupKey"]
    mine, real = ours["alerts"][0], theirs["alerts"][0]
    for key in ("status", "labels", "annotations", "fingerprint", "generatorURL", "endsAt"):
        assert mine[key] == real[key], key
    assert seconds(mine["startsAt"]) == seconds(real["startsAt"])


def test_a_receiver_that_is_down_gets_every_alert_when_it_comes_back(live_prometheus, tmp_path):
    now = float(int(time.time()))
    port = free_port()
    hook = Target("webhook", f"http://127.0.0.1:{port}/late")
    store = AlertStore(tmp_path / "state.db")
    evaluator = Evaluator(
        rules("LateReceiver"),
        prometheus=PrometheusSource(live_prometheus.url),
        store=store,
        targets=[hook],
    )
    evaluator.evaluate(now - 90)
    firing = evaluator.evaluate(now - 30)
    (waiting,) = firing.delivery.waiting
    assert waiting["attempts"] == 1
    assert f"cannot reach http://127.0.0.1:{port}/late" in waiting["error"]
    # within the backoff (1 s after one failure) nothing is tried again
    assert deliver(store, [hook], now - 30 + 0.5).waiting[0]["attempts"] == 1
    late = Receiver(port)
    try:
        report = deliver(store, [hook], now - 30 + 1)
        assert report.ok and report.delivered == 1
        (body,) = late.at("/late")
        assert body["status"] == "firing"
        assert [a["labels"]["job"] for a in body["alerts"]] == ["api"]
        assert deliver(store, [hook], now).delivered == 0  # delivered once, not again
    finally:
        late.close()


def test_an_unreachable_alertmanager_keeps_the_alert_and_backs_off(live_prometheus, tmp_path):
    now = float(int(time.time()))
    manager = Target("alertmanager", f"http://127.0.0.1:{free_port()}")
    store = AlertStore(tmp_path / "state.db")
    evaluator = Evaluator(
        rules("NoManager"),
        prometheus=PrometheusSource(live_prometheus.url),
        store=store,
        targets=[manager],
    )
    evaluator.evaluate(now - 90)
    evaluator.evaluate(now - 30)
    for pause in (1, 2, 4):  # each failure doubles the wait
        (item,) = store.undelivered()
        assert item.next_attempt == (now - 30) + sum(p for p in (1, 2, 4) if p < pause) + pause
        deliver(store, [manager], item.next_attempt)
    (item,) = store.undelivered()
    assert item.attempts == 4
    assert item.payload["alerts"][0]["labels"]["alertname"] == "NoManager"
    assert "api/v2/alerts" in item.last_error


def test_a_restart_neither_drops_nor_resends_an_alert(
    live_prometheus, alertmanager, receiver, tmp_path
):
    t0 = live_prometheus.t0
    state = tmp_path / "state.db"
    targets = [Target("alertmanager", alertmanager.url), Target("webhook", receiver.url("/flap"))]
    source = PrometheusSource(live_prometheus.url)
    first = Evaluator(rules("Flap", "wb_flap > 5"), prometheus=source, store=AlertStore(state),
                      targets=targets)  # fmt: skip
    first.evaluate(t0 + 10 * STEP_S)  # pending
    first.evaluate(t0 + 11 * STEP_S)  # firing: one webhook call, one Alertmanager post
    first.store.close()

    again = Evaluator(rules("Flap", "wb_flap > 5"), prometheus=source, store=AlertStore(state),
                      targets=targets)  # fmt: skip
    (alert,) = again.states[next(iter(again.states))].active.values()
    assert (alert.state, alert.fired_at) == ("firing", t0 + 11 * STEP_S)
    again.evaluate(t0 + 11 * STEP_S + 30)  # still firing; resend delay not over
    assert len(again.store.sent(targets[0].key)) == 1
    assert len(again.store.sent(targets[1].key)) == 1
    resolved = again.evaluate(t0 + 13 * STEP_S)  # wb_flap is 0 from minute 13
    assert resolved.delivery.ok
    statuses = [body["status"] for body in receiver.at("/flap")]
    assert statuses == ["firing", "resolved"]
    (ending,) = receiver.at("/flap")[1]["alerts"]
    assert seconds(ending["endsAt"]) == t0 + 13 * STEP_S
    posts = again.store.sent(targets[0].key)
    assert [seconds(p["alerts"][0]["endsAt"]) for p in posts] == [
        t0 + 11 * STEP_S + 240,
        t0 + 13 * STEP_S,
    ]
