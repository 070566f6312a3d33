import math
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from workbench import datasets, frames
from workbench.errors import UsageError
from workbench.logs import TRAIN_TICKET_FORMAT, TemplateMiner, log_signals
from workbench.logs.signals import SIGNAL_SCHEMA

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def logs(rows):
    """rows: (seconds after T0, service, level, message)."""
    return frames.validate(
        pl.DataFrame(
            {
                "timestamp": [T0 + timedelta(seconds=s) for s, *_ in rows],
                "service": [r[1] for r in rows],
                "level": [r[2] for r in rows],
                "message": [r[3] for r in rows],
            }
        ),
        frames.LOGS,
    )


def test_new_template_rate_shift_and_error_spike_worked_by_hand():
    rows = [(s, "api", "info", f"served request {s}") for s in range(0, 60, 6)]  # 10 in baseline
    rows += [(60 + s, "api", "info", f"served request {s}") for s in range(0, 60, 2)]  # 30
    rows += [(70 + s, "api", "error", f"db timeout after {s}ms") for s in range(5)]  # new, 5
    rows += [(30, "db", "info", "checkpoint done"), (90, "db", "info", "checkpoint done")]
    signals = log_signals(
        logs(rows),
        (T0, T0 + timedelta(seconds=60)),
        (T0 + timedelta(seconds=60), T0 + timedelta(seconds=120)),
    )
    assert dict(signals.schema) == SIGNAL_SCHEMA
    by_kind = {(r["service"], r["kind"]): r for r in signals.iter_rows(named=True)}
    shift = by_kind[("api", "rate shift")]
    assert shift["template"] == "served request <*>"
    assert (shift["baseline_count"], shift["observed_count"]) == (10, 30)
    assert shift["deviation"] == pytest.approx((30 - 10) / math.sqrt(11))
    new = by_kind[("api", "new template")]
    assert new["template"] == "db timeout after <*>ms"
    assert (new["baseline_count"], new["observed_count"], new["deviation"]) == (0, 5, 5.0)
    assert new["examples"] == [
        "db timeout after 0ms",
        "db timeout after 1ms",
        "db timeout after 2ms",
    ]
    spike = by_kind[("api", "error spike")]
    assert (spike["baseline_count"], spike["observed_count"]) == (0, 5)
    # checkpoint once a minute in both windows: no signal for db
    assert "db" not in signals["service"].to_list()
    # strongest first
    assert signals["deviation"].abs().to_list() == sorted(
        signals["deviation"].abs().to_list(), reverse=True
    )


def test_a_template_that_stops_is_a_shift_down_with_baseline_examples():
    rows = [(s, "job", "info", f"tick {s}") for s in range(0, 60, 3)]  # 20, then nothing
    rows += [(61, "job", "info", "other thing")]
    signals = log_signals(
        logs(rows),
        (T0, T0 + timedelta(seconds=60)),
        (T0 + timedelta(seconds=60), T0 + timedelta(seconds=120)),
    )
    down = signals.filter(pl.col("kind") == "rate shift").row(0, named=True)
    assert (down["baseline_count"], down["observed_count"]) == (20, 0)
    assert down["deviation"] == pytest.approx(-20 / math.sqrt(21))
    assert down["examples"] == ["tick 0", "tick 3", "tick 6"]


def test_empty_windows_give_an_empty_frame_and_bad_windows_are_refused():
    empty = log_signals(
        logs([(500, "a", "info", "x")]),
        (T0, T0 + timedelta(seconds=1)),
        (T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)),
    )
    assert empty.is_empty() and dict(empty.schema) == SIGNAL_SCHEMA
    with pytest.raises(UsageError, match="end after it starts"):
        log_signals(logs([(0, "a", "info", "x")]), (T0, T0), (T0, T0 + timedelta(seconds=1)))


def test_nezha_exception_fault_shows_in_the_injected_service():
    # nezha 2023-01-29 10:12:48: exception injected into ts-travel-service. Two 108 s
    # windows either side. Counted by hand from the case's logs (filters on level and
    # message text): ts-travel-service has 0 error lines before and 7 after (all
    # "Servlet.service() ... No instances available for ts-basic-service"), and its
    # "[getTickets][Calculate distance]" line drops from 100 to 27.
    case = datasets.load("nezha/2023-01-29/10_12")
    inject = datetime(2023, 1, 29, 10, 12, 48, tzinfo=UTC)
    width = timedelta(seconds=108)
    signals = log_signals(
        case.logs,
        (inject - width, inject),
        (inject, inject + width),
        miner=TemplateMiner(log_format=TRAIN_TICKET_FORMAT),
    )
    travel = {
        r["kind"]: r
        for r in signals.filter(pl.col("service") == "ts-travel-service").iter_rows(named=True)
    }
    spike = travel["error spike"]
    assert (spike["baseline_count"], spike["observed_count"], spike["deviation"]) == (0, 7, 7.0)
    assert "No instances available for ts-basic-service" in spike["template"]
    assert all(" ERROR " in line for line in spike["examples"])
    new = travel["new template"]
    assert (new["baseline_count"], new["observed_count"]) == (0, 7)
    shifts = signals.filter(
        (pl.col("service") == "ts-travel-service") & (pl.col("kind") == "rate shift")
    )
    calc = shifts.filter(
        pl.col("template").str.starts_with("[getTickets][Calculate distance]")
    ).row(0, named=True)
    assert (calc["baseline_count"], calc["observed_count"]) == (100, 27)
    assert calc["deviation"] == pytest.approx((27 - 100) / math.sqrt(101))
