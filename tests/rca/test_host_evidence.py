"""Host events near the onset as ranked evidence, on a real RCD case (truth: carts, cpu)."""

import math
from datetime import timedelta

import orjson
import polars as pl
import pytest

from workbench import datasets, frames, investigate

CASE = "rcd-sockshop/carts-cpu/1"


@pytest.fixture(scope="module")
def case():
    return datasets.load(CASE)


@pytest.fixture(scope="module")
def plain(case):
    return investigate(case)


def unit_events(onset, rows):
    records = [
        {
            "timestamp": onset + timedelta(seconds=seconds),
            "kind": "unit state",
            "service": unit.split(".")[0].split("@")[0],
            "summary": f"{unit} {to}",
            "host": "node-1",
            "details": orjson.dumps({"unit": unit, "to": to, "restarts": restarts}).decode(),
        }
        for seconds, unit, to, restarts in rows
    ]
    return frames.validate(pl.DataFrame(records), frames.EVENTS)


def services(result):
    return [cause.service for cause in result.ranking]


def test_without_events_the_ranking_is_the_metric_ranking(plain):
    assert services(plain)[0] == "carts"
    assert "annotations" not in plain.to_dict()


def test_a_unit_that_failed_before_the_onset_is_ranked_first(case, plain):
    onset = plain.onset
    result = investigate(case, events=unit_events(onset, [(-60, "orders.service", "failed", 0)]))
    assert result.onset == onset
    first = result.ranking[0]
    assert (first.rank, first.service) == (1, "orders")
    assert first.indicator == "unit:orders.service failed"
    assert first.evidence["kind"] == "unit state"
    assert first.evidence["event"]["seconds_from_onset"] == -60.0
    assert first.onset == onset - timedelta(seconds=60)
    # The metric evidence of orders stays with it; the rest keep their order behind it.
    before = {c.service: c for c in plain.ranking}
    assert first.evidence["deviation"] == before["orders"].evidence["deviation"]
    assert first.evidence["metric_evidence"]["indicator"] == before["orders"].indicator
    assert first.evidence["metric"] == before["orders"].evidence["metric"]
    rest = [s for s in services(plain) if s != "orders"]
    assert services(result)[1:] == rest
    assert [c.rank for c in result.ranking] == list(range(1, len(result.ranking) + 1))
    payload = result.to_dict()
    assert payload["annotations"][0]["summary"] == "orders.service failed"
    assert payload["ranking"][0]["indicator"] == "unit:orders.service failed"


def test_events_far_from_the_onset_change_nothing(case, plain):
    far = unit_events(plain.onset, [(-7200, "orders.service", "failed", 0)])
    result = investigate(case, events=far)
    assert services(result) == services(plain)
    assert "annotations" not in result.to_dict()


def test_a_unit_started_by_hand_is_an_annotation_only(case, plain):
    started = unit_events(plain.onset, [(-30, "queue-master.service", "active", 0)])
    result = investigate(case, events=started)
    assert services(result) == services(plain)
    assert result.to_dict()["annotations"][0]["strength"] == 1


def test_failed_ranks_before_restarted_and_a_stop_start_is_a_restart(case, plain):
    rows = [
        (-200, "user.service", "deactivating", 0),
        (-199, "user.service", "inactive", 0),
        (-198, "user.service", "activating", 0),
        (-197, "user.service", "active", 0),
        (-100, "worker@3.service", "activating", 2),
        (-300, "payment.service", "failed", 0),
    ]
    result = investigate(case, events=unit_events(plain.onset, rows))
    # Failed first; then the restarts, the closest to the onset first.
    assert services(result)[:4] == ["payment", "worker", "user", "carts"]
    assert result.ranking[1].indicator == "unit:worker@3.service restarted"
    assert result.ranking[2].indicator == "unit:user.service restarted"
    # The stop-start's latest step (active, 197 s before the onset) is the evidence.
    assert result.ranking[2].evidence["event"]["seconds_from_onset"] == -197.0


def test_a_service_known_only_from_its_host_has_no_metric_numbers(case, plain):
    result = investigate(
        case, events=unit_events(plain.onset, [(-5, "ledger.service", "failed", 0)])
    )
    first = result.ranking[0]
    assert first.service == "ledger" and first.score == 0.0
    assert math.isnan(first.evidence["deviation"]) and "metric_evidence" not in first.evidence
    assert result.to_frame()["service"].to_list()[:2] == ["ledger", "carts"]


def test_the_report_charts_and_lists_the_host_events(case, plain, tmp_path):
    from workbench.report import write

    rows = [(-60, "orders.service", "failed", 0), (-5, "ledger.service", "failed", 0)]
    result = investigate(case, events=unit_events(plain.onset, rows))
    page = write(result, tmp_path / "r.html").read_text()
    assert "unit:orders.service failed" in page and "unit:ledger.service failed" in page
    assert page.count("orders.service failed") >= 2  # the ranking row and the chart marker
