from datetime import timedelta

import polars as pl

from workbench import datasets
from workbench.views.state import IncidentState

CASE = "rcd-sockshop/carts-cpu/1"


def _last_anomalous_time(case_dir: str):
    folder = datasets.path("rcd-sockshop") / "sock-shop-data" / case_dir
    last = pl.read_csv(folder / "anomalous.csv")["time"].max()
    return pl.Series([last * 1_000_000_000]).cast(pl.Datetime("ns", "UTC"))[0]


def test_state_investigates_the_named_case():
    state = IncidentState(CASE)
    assert (state.suite, state.case_id) == ("rcd-sockshop", "carts-cpu/1")
    assert state.param.case_id.objects == datasets.cases("rcd-sockshop")
    assert state.investigation.ranking[0].service == "carts"  # ground truth: carts
    assert state.error == ""


def test_choosing_another_case_reinvestigates_and_keeps_the_range():
    state = IncidentState(CASE)
    state.cause = 2
    state.time.relative = "last 5 min"
    state.case_id = "user-mem/1"
    assert state.case.truth.root_cause_service == "user"
    assert state.investigation.case == "rcd-sockshop/user-mem/1"
    assert state.cause == 0
    assert state.time.relative == "last 5 min"
    end = _last_anomalous_time("user-mem/1")
    assert state.time.window == (end - timedelta(minutes=5), end)


def test_relative_range_ends_at_the_last_sample():
    state = IncidentState(CASE)
    assert state.time.window is None
    state.time.relative = "last 5 min"
    end = _last_anomalous_time("carts-cpu/1")
    assert state.time.window == (end - timedelta(minutes=5), end)
    state.time.relative = "last 24 h"  # longer than the data: clipped to its first sample
    assert state.time.window[0] == state.case.metrics["timestamp"].min()


def test_changing_suite_lists_its_cases_and_opens_the_first():
    state = IncidentState(CASE)
    state.suite = "nezha"
    assert state.param.case_id.objects == datasets.cases("nezha")
    assert state.case_id == datasets.cases("nezha")[0]
    assert state.case.suite == "nezha"


def test_case_that_cannot_be_investigated_is_reported_not_raised():
    # 2023-01-29/09_25 holds 5 one-minute metric steps: no onset can be found in them.
    state = IncidentState("nezha/2023-01-29/09_25")
    assert state.investigation is None
    assert state.error.startswith("nezha/2023-01-29/09_25: ")
    assert "onset" in state.error


def test_live_state_pulls_on_load_and_on_refresh_only():
    pulls = []

    def pull():
        pulls.append(1)
        return datasets.load(CASE)

    state = IncidentState(live=pull)
    assert len(pulls) == 1
    assert (state.suite, state.case_id) == ("rcd-sockshop", "carts-cpu/1")  # the pulled case
    assert state.investigation.ranking[0].service == "carts"
    state.time.relative = "last 5 min"
    assert len(pulls) == 1  # a new range redraws; it does not pull
    state.refresh()
    assert len(pulls) == 2 and state.error == ""


def test_dataset_state_refresh_does_not_reload():
    state = IncidentState(CASE)
    before = state.investigation
    state.refresh()
    assert state.investigation is before
