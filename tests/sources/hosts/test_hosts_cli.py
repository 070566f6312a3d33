"""`mancerops hosts ...` end to end, against a local host and the test sshd."""

import json
import os
import subprocess
import sys

from hostkit import write_journal
from servers import free_port


def mancerops(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        cwd=cwd,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def settings(sshd, tmp_path, journal=None, config_file=None):
    known = sshd.known_hosts(tmp_path / "known_hosts")
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    lines = [
        "[mancer]",
        f'snapshots = "{tmp_path / "snapshots"}"',
        "",
        "[[hosts]]",
        'name = "ssh-1"',
        'address = "127.0.0.1"',
        f"port = {sshd.port}",
        f'user = "{sshd.user}"',
        f'key = "{sshd.user_key}"',
        f'known_hosts = "{known}"',
    ]
    if journal:
        lines.append(f'journal_directory = "{journal}"')
    if config_file:
        lines.append(f'config_files = {{ "{config_file}" = "orders" }}')
    lines += [
        "",
        "[[hosts]]",
        'name = "down"',
        'address = "127.0.0.1"',
        f"port = {free_port()}",
        f'known_hosts = "{empty}"',
    ]
    path = tmp_path / "mancerops.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_hosts_check_reports_each_host_and_fails_when_one_is_down(sshd, tmp_path):
    config = settings(sshd, tmp_path)
    run = mancerops("hosts", "check", "--config", str(config), "--json")
    assert run.returncode == 1
    rows = {row["host"]: row for row in json.loads(run.stdout)}
    assert rows["ssh-1"]["ok"] is True and rows["ssh-1"]["error"] is None
    assert rows["down"]["ok"] is False and "cannot reach host down" in rows["down"]["error"]
    only = mancerops("hosts", "check", "--config", str(config), "--host", "ssh-1", "--json")
    assert only.returncode == 0 and [r["host"] for r in json.loads(only.stdout)] == ["ssh-1"]


def test_hosts_logs_reads_the_journal_of_the_reachable_host(sshd, tmp_path):
    folder = tmp_path / "journal"
    write_journal(
        [
            {
                "__REALTIME_TIMESTAMP": "1739797380000000",
                "__MONOTONIC_TIMESTAMP": "7380000000",
                "_BOOT_ID": "0f3e9c1d2b4a4f6e8a7b6c5d4e3f2a1b",
                "_SYSTEMD_UNIT": "orders.service",
                "PRIORITY": "4",
                "MESSAGE": "slow query: 2.5 s",
            }
        ],
        folder,
    )
    config = settings(sshd, tmp_path, journal=folder)
    window = ["--start", "2025-02-17T13:00:00Z", "--end", "2025-02-17T14:00:00Z"]
    run = mancerops("hosts", "logs", "--config", str(config), *window, "--json")
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    assert [(r["host"], r["service"], r["level"], r["message"]) for r in rows] == [
        ("ssh-1", "orders", "warn", "slow query: 2.5 s")
    ]
    assert "host down failed: cannot reach host down" in run.stderr


def test_hosts_snapshot_shows_the_diff(sshd, tmp_path):
    watched = tmp_path / "orders.toml"
    watched.write_text("pool = 10\n")
    config = settings(sshd, tmp_path, config_file=watched)
    first = mancerops("hosts", "snapshot", "--config", str(config), "--host", "ssh-1")
    assert first.returncode == 0, first.stderr
    watched.write_text("pool = 1\n")
    second = mancerops("hosts", "snapshot", "--config", str(config), "--host", "ssh-1")
    assert second.returncode == 0, second.stderr
    assert "-pool = 10\n+pool = 1\n" in second.stdout


def test_without_settings_the_error_says_where_it_looked(tmp_path):
    run = mancerops("hosts", "list", cwd=tmp_path)
    assert run.returncode == 2
    assert "no settings file with hosts" in run.stderr
    assert str(tmp_path / "mancerops.toml") in run.stderr


def test_hosts_units_on_a_host_without_systemd_says_so(sshd, tmp_path):
    config = settings(sshd, tmp_path)
    run = mancerops("hosts", "units", "--config", str(config), "--host", "ssh-1", "--json")
    assert run.returncode == 1
    assert json.loads(run.stdout) == []
    assert "host ssh-1 failed: host ssh-1 does not run systemd" in run.stderr


def test_hosts_check_with_every_host_down_reports_each_and_exits_1(tmp_path):
    # No reachable host at all: the table still lists each host with its error (it used
    # to stop on "unknown frame kind 'probe'" with exit 2).
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    config = tmp_path / "mancerops.toml"
    config.write_text(
        "[[hosts]]\n"
        'name = "down"\n'
        'address = "127.0.0.1"\n'
        f"port = {free_port()}\n"
        f'known_hosts = "{empty}"\n'
    )
    run = mancerops("hosts", "check", "--config", str(config), "--json")
    assert run.returncode == 1, run.stderr
    assert "frame kind" not in run.stderr
    [row] = json.loads(run.stdout)
    assert row["host"] == "down" and row["ok"] is False and row["seconds"] is None
    assert "cannot reach host down" in row["error"]
