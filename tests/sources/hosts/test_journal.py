"""journald into the logs frame: the BL-34/35/36 cases, parsed and read by the real journalctl."""

from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl
import pytest
from hostkit import journalctl, write_journal

from workbench import frames
from workbench.sources import systemd
from workbench.sources.mancer import Host, HostSource, Inventory

CASES = Path(__file__).resolve().parents[4] / "shared" / "cases"
BOOT = "0f3e9c1d2b4a4f6e8a7b6c5d4e3f2a1b"
WINDOW = (datetime(2025, 2, 17, 13, 0, tzinfo=UTC), datetime(2025, 2, 17, 13, 10, tzinfo=UTC))


def case(name: str) -> str:
    path = CASES / name
    if not path.exists():
        pytest.fail(f"case file {path} is missing (../shared/cases beside the checkout)")
    return path.read_text()


def test_bl34_repeated_message_keeps_both_values():
    read = systemd.parse_journal(case("BL-34.jsonl"))
    assert read.logs["message"].to_list() == [
        "Security update mandatory\nUpgrade now, see advisory 2024-01"
    ]
    assert read.logs["service"].to_list() == ["resolver"]
    assert not read.partial


def test_bl35_null_message_is_marked_missing_never_none():
    read = systemd.parse_journal(case("BL-35.jsonl"))
    assert read.logs["message"].to_list() == ["", "short one"]
    assert read.logs["message_missing"].to_list() == [True, False]
    assert "None" not in read.logs["message"].to_list()
    assert read.missing_messages == 1 and read.partial


def test_bl36_realtime_is_microseconds_and_source_time_is_kept():
    logs = systemd.parse_journal(case("BL-36.jsonl")).logs
    row = logs.row(0, named=True)
    assert row["timestamp"] == datetime(2025, 2, 17, 13, 2, 59, 231625, tzinfo=UTC)
    assert row["source_time"] == datetime(2025, 2, 17, 13, 2, 59, 230001, tzinfo=UTC)
    assert logs.schema["timestamp"] == frames.UTC_NS
    assert row["level"] == "info" and row["service"] == "cron" and row["host"] == "node-7"
    assert row["source"] == "journald:cron.service"


def test_truncated_last_line_is_counted_and_the_rest_read():
    text = case("BL-36.jsonl") + case("BL-34.jsonl")[:80]
    read = systemd.parse_journal(text)
    assert read.logs.height == 1 and read.bad_lines == 1 and read.partial


def test_empty_journal_gives_an_empty_logs_frame():
    read = systemd.parse_journal("")
    assert read.logs.height == 0
    assert frames.validate(read.logs, frames.LOGS).columns[:3] == [
        "timestamp",
        "service",
        "message",
    ]


def _entry(line: str) -> dict:
    """Turn a case's JSON line back into the fields journald stored."""
    entry = {k: v for k, v in orjson.loads(line).items() if v is not None}
    if "MESSAGE" not in entry:  # BL-35: journald held a message over 4096 bytes
        entry["MESSAGE"] = "x" * 5000
    return entry


@pytest.fixture(scope="module")
def journal_dir(tmp_path_factory):
    """A real journal file holding the three cases' entries plus a non-UTF-8 one."""
    lines = [
        line
        for name in ("BL-36.jsonl", "BL-34.jsonl", "BL-35.jsonl")
        for line in case(name).splitlines()
        if line.strip()
    ]
    entries = [_entry(line) for line in lines]
    entries.append(
        {
            "__REALTIME_TIMESTAMP": "1739797390000000",
            "__MONOTONIC_TIMESTAMP": "7390000000",
            "_BOOT_ID": BOOT,
            "_HOSTNAME": "node-7",
            "_SYSTEMD_UNIT": "app.service",
            "PRIORITY": "3",
            "MESSAGE": b"bad \xff byte",
        }
    )
    folder = tmp_path_factory.mktemp("journal")
    write_journal(entries, folder)
    return folder


def test_real_journalctl_output_of_the_cases(journal_dir):
    journalctl()
    host = Host("node-7", journal_directory=str(journal_dir))
    read = HostSource(host).journal(*WINDOW)
    logs = read.logs
    assert logs["message"].to_list() == [
        "job started",
        "Security update mandatory\nUpgrade now, see advisory 2024-01",
        "",
        "short one",
        "bad \ufffd byte",
    ]
    assert logs["message_missing"].to_list() == [False, False, True, False, False]
    assert logs["timestamp"][0] == datetime(2025, 2, 17, 13, 2, 59, 231625, tzinfo=UTC)
    assert logs["source_time"][0] == datetime(2025, 2, 17, 13, 2, 59, 230001, tzinfo=UTC)
    assert logs["level"].to_list() == ["info", "info", "info", "info", "error"]
    assert logs["service"].to_list() == ["cron", "resolver", "app", "app", "app"]
    assert set(logs["host"]) == {"node-7"}
    assert read.missing_messages == 1


def test_full_reads_the_long_message_with_all(journal_dir):
    host = Host("node-7", journal_directory=str(journal_dir))
    logs = HostSource(host).journal(*WINDOW, ["app.service"], full=True).logs
    assert logs["message"].to_list() == ["x" * 5000, "short one", "bad \ufffd byte"]
    assert not any(logs["message_missing"])


def test_unit_filter_and_time_window_are_applied_by_journalctl(journal_dir):
    host = Host("node-7", journal_directory=str(journal_dir), units=("cron.service",))
    source = HostSource(host)
    assert source.journal(*WINDOW).logs["message"].to_list() == ["job started"]
    late = datetime(2025, 2, 17, 13, 3, 0, tzinfo=UTC)
    assert source.journal(late, WINDOW[1], ["app.service"]).logs.height == 3
    assert source.journal(late, WINDOW[1], ["cron.service"]).logs.height == 0


def test_inventory_journal_reports_missing_messages_as_partial(journal_dir):
    hosts = Inventory([Host("node-7", journal_directory=str(journal_dir))])
    collected = hosts.journal(*WINDOW)
    assert collected.frame.height == 5
    assert "--all" in collected.partial["node-7"]
    assert collected.failed == {}
    assert collected.frame.filter(pl.col("message_missing")).height == 1


def test_journal_logs_feed_the_template_miner(tmp_path):
    from workbench.logs import TemplateMiner

    messages = ["GET /api/items/1 200 in 5 ms", "GET /api/items/22 200 in 17 ms", "db down"]
    entries = [
        {
            "__REALTIME_TIMESTAMP": str(1739797380000000 + i),
            "__MONOTONIC_TIMESTAMP": str(7380000000 + i),
            "_BOOT_ID": BOOT,
            "_SYSTEMD_UNIT": "carts.service",
            "MESSAGE": message,
        }
        for i, message in enumerate(messages)
    ]
    write_journal(entries, tmp_path)
    logs = HostSource(Host("n", journal_directory=str(tmp_path))).journal(*WINDOW).logs
    mined = TemplateMiner().mine(logs)
    ids = mined["template_id"].to_list()
    assert ids[0] == ids[1] != ids[2]
    assert mined["service"].to_list() == ["carts"] * 3


def test_systemd_unit_messages_become_the_full_state_history(tmp_path):
    from hostkit import orders_crash

    onset = 1652812675  # 2022-05-17T18:37:55Z
    write_journal(orders_crash(onset), tmp_path)
    source = HostSource(Host("shop-1", journal_directory=str(tmp_path)))
    start = datetime.fromtimestamp(onset - 600, tz=UTC)
    end = datetime.fromtimestamp(onset, tz=UTC)
    history = source.unit_history(start, end)
    assert history["summary"].to_list() == [
        "orders.service active",
        "orders.service failed (exit-code)",
        "orders.service restarting (restart counter 1)",
        "orders.service inactive",
        "orders.service activating",
        "orders.service active",
    ]
    assert set(history["kind"]) == {"unit state"} and set(history["service"]) == {"orders"}
    assert history["timestamp"][1] == datetime.fromtimestamp(onset - 70, tz=UTC)
    assert orjson.loads(history["details"][2])["restarts"] == 1
    # The same journal read as logs: systemd's messages about orders count as orders'.
    logs = source.journal(start, end, ["orders.service"]).logs
    assert logs.height == 7 and set(logs["service"]) == {"orders"}
    assert logs.filter(pl.col("level") == "fatal")["message"].to_list() == [
        "orders: db pool exhausted, exiting"
    ]
