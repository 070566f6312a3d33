"""systemctl parsing on recorded outputs (see recorded/README.md for where they come from)."""

from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl
import pytest

from workbench import frames
from workbench.sources import systemd

RECORDED = Path(__file__).parent / "recorded"
UNITS = [
    "proc-sys-fs-binfmt_misc.automount",
    "carts.service",
    "orders.service",
    "getty@tty1.service",
    "worker@1.service",
    "worker@2.service",
    "café.service",
    "ghost.service",
    "sshd.socket",
]


def read(name: str) -> str:
    return (RECORDED / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "name", ["list-units-legend.txt", "list-units-plain.txt", "list-units.json"]
)
def test_list_units_reads_the_same_nine_units_from_every_form(name):
    listed = systemd.parse_list_units(read(name))
    assert [row["unit"] for row in listed.rows] == UNITS
    assert listed.skipped == []
    by_unit = {row["unit"]: row for row in listed.rows}
    # The bullet in front of a failed unit must not shift the columns (mancer 0.1.4 does).
    assert by_unit["orders.service"] == {
        "unit": "orders.service",
        "load": "loaded",
        "active": "failed",
        "sub": "failed",
        "description": "Sock Shop orders",
    }
    assert by_unit["ghost.service"]["load"] == "not-found"
    assert by_unit["worker@2.service"]["sub"] == "auto-restart"
    assert by_unit["café.service"]["description"] == "Café — commandes (Bestellungen) ☕"
    assert by_unit["proc-sys-fs-binfmt_misc.automount"]["description"] == (
        "Arbitrary Executable File Formats File System Automount Point"
    )


def test_legend_and_footer_lines_never_become_units():
    listed = systemd.parse_list_units(read("list-units-legend.txt"))
    names = {row["unit"] for row in listed.rows}
    assert not names & {"LOAD", "ACTIVE", "SUB", "UNIT", "9", "To"}


def test_a_line_that_is_not_a_unit_is_reported_not_invented():
    listed = systemd.parse_list_units("carts.service loaded active running Carts\nWarning: junk\n")
    assert [row["unit"] for row in listed.rows] == ["carts.service"]
    assert listed.skipped == ["Warning: junk"]


def test_empty_output_gives_no_units():
    assert systemd.parse_list_units("").rows == []
    assert systemd.parse_list_units("\n\n").rows == []
    assert systemd.parse_list_units("[]").rows == []
    assert systemd.units_frame("h", [], []).height == 0


def test_truncated_json_is_an_error_not_an_empty_list():
    with pytest.raises(ValueError, match="not valid JSON"):
        systemd.parse_list_units(read("list-units-truncated.json"))


def test_templated_units_belong_to_their_template_service():
    assert systemd.unit_service("worker@2.service") == "worker"
    assert systemd.unit_service("getty@tty1.service") == "getty"
    assert systemd.unit_service("Carts.service") == "carts"
    assert systemd.unit_service("sshd.socket") == "sshd"


def test_units_frame_takes_times_restarts_pid_and_memory_from_show():
    listed = systemd.parse_list_units(read("list-units-plain.txt")).rows
    shown = systemd.parse_show(read("show.txt"))
    assert [b["Id"] for b in shown] == [
        "carts.service",
        "orders.service",
        "worker@2.service",
        "café.service",
        "ghost.service",
    ]
    units = systemd.units_frame("node-7", listed, shown)
    assert units.schema == frames.validate(units, frames.UNITS).schema
    assert units.height == 9
    row = {r["unit"]: r for r in units.iter_rows(named=True)}
    assert row["carts.service"]["since"] == datetime(2025, 2, 17, 13, 0, tzinfo=UTC)
    assert row["carts.service"]["main_pid"] == 812
    assert row["carts.service"]["memory_bytes"] == 70 * 1024 * 1024
    assert row["orders.service"]["active"] == "failed"
    assert row["orders.service"]["since"] == datetime(2025, 2, 17, 13, 3, tzinfo=UTC)
    # PID 0 is "no main process"; UINT64_MAX and [not set] are "not tracked".
    assert row["orders.service"]["main_pid"] is None
    assert row["orders.service"]["memory_bytes"] is None
    assert row["worker@2.service"]["restarts"] == 3
    assert row["worker@2.service"]["memory_bytes"] is None
    # A clock time in UTC (no --timestamp=unix) is read too.
    assert row["café.service"]["since"] == datetime(2025, 2, 17, 12, 0, tzinfo=UTC)
    assert row["ghost.service"]["since"] is None
    assert row["sshd.socket"]["restarts"] is None  # listed but not shown
    assert set(units["host"]) == {"node-7"}


def test_state_changes_become_unit_state_events():
    events = systemd.unit_events("node-7", systemd.parse_show(read("show.txt")))
    assert set(events["kind"]) == {"unit state"}
    orders = events.filter(pl.col("service") == "orders")
    assert orders.sort("timestamp")["summary"].to_list() == [
        "orders.service activating",
        "orders.service active",
        "orders.service deactivating",
        "orders.service failed",
    ]
    failed = orders.filter(pl.col("summary") == "orders.service failed").row(0, named=True)
    assert failed["timestamp"] == datetime(2025, 2, 17, 13, 3, tzinfo=UTC)
    assert orjson.loads(failed["details"])["latest"] is True
    worker = events.filter(pl.col("service") == "worker").sort("timestamp")
    assert worker["summary"].to_list()[-1] == (
        "worker@2.service activating (restarted automatically 3 times)"
    )
    # ghost.service has no times: no events.
    assert events.filter(pl.col("service") == "ghost").height == 0
    assert events.height == 2 + 4 + 4 + 2  # carts, orders, worker@2, café


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@1739797380", datetime(2025, 2, 17, 13, 3, tzinfo=UTC)),
        ("@1739797380.5", datetime(2025, 2, 17, 13, 3, 0, 500000, tzinfo=UTC)),
        ("Mon 2025-02-17 13:03:00 UTC", datetime(2025, 2, 17, 13, 3, tzinfo=UTC)),
        ("n/a", None),
        ("", None),
        ("Mon 2025-02-17 14:03:00 CET", None),
    ],
)
def test_show_timestamps(text, expected):
    assert systemd.parse_timestamp(text) == expected


def test_journal_and_show_report_one_change_once():
    from workbench.sources.mancer import _merge_unit_events

    shown = systemd.unit_events("node-7", systemd.parse_show(read("show.txt")))
    # systemd's "Failed with result" message for orders, 0.4 s after the second-precision
    # InactiveEnterTimestamp of show.txt.
    message = {
        "__REALTIME_TIMESTAMP": "1739797380400000",
        "UNIT": "orders.service",
        "MESSAGE_ID": "d9b373ed55a64feb8242e02dbe79a49c",
        "UNIT_RESULT": "oom-kill",
        "MESSAGE": "orders.service: Failed with result 'oom-kill'.",
    }
    history = systemd.parse_unit_messages(orjson.dumps(message).decode(), host="node-7")
    merged = _merge_unit_events(shown, history)
    failed = merged.filter(pl.col("summary").str.starts_with("orders.service failed"))
    assert failed["summary"].to_list() == ["orders.service failed (oom-kill)"]
    assert merged.height == shown.height
