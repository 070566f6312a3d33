"""Commands through mancer's backends: the local shell and a real sshd on 127.0.0.1."""

import subprocess
import sys
from datetime import UTC, datetime

import orjson
import pytest
from hostkit import keygen, write_journal
from servers import free_port

from workbench.errors import AuthError, SourceTimeout, SourceUnavailable
from workbench.sources import mancer
from workbench.sources.mancer import (
    CommandNotFound,
    Host,
    HostCommandError,
    HostSource,
    Inventory,
    SnapshotStore,
)


def ssh_host(sshd, tmp_path, name="remote", **changes) -> Host:
    settings = {
        "name": name,
        "address": "127.0.0.1",
        "port": sshd.port,
        "user": sshd.user,
        "key": str(sshd.user_key),
        "known_hosts": str(sshd.known_hosts(tmp_path / f"known_hosts_{name}")),
    }
    settings.update(changes)
    return Host(**settings)


def test_local_backend_runs_a_real_command():
    source = HostSource(Host("here"))
    assert source.run("printf 'a b\\n'; echo 'ignored' >&2") == "a b\n"


def test_local_failure_names_the_command_and_what_it_said():
    with pytest.raises(HostCommandError, match=r"ls failed on host here: .*no-such-dir"):
        HostSource(Host("here")).run("ls /no-such-dir")


def test_ssh_runs_the_command_on_the_server(sshd, tmp_path):
    source = HostSource(ssh_host(sshd, tmp_path))
    assert source.run("echo $((6 * 7)) && whoami") == f"42\n{sshd.user}\n"


def test_wrong_key_is_an_auth_error(sshd, tmp_path):
    keygen(tmp_path / "stranger")
    host = ssh_host(sshd, tmp_path, key=str(tmp_path / "stranger"))
    with pytest.raises(AuthError, match="refused the login") as raised:
        HostSource(host).run("true")
    assert raised.value.url == f"ssh://{sshd.user}@127.0.0.1:{sshd.port}"


def test_unknown_host_key_is_refused_with_how_to_trust_it(sshd, tmp_path):
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    host = ssh_host(sshd, tmp_path, known_hosts=str(empty))
    with pytest.raises(AuthError, match=f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {empty}"):
        HostSource(host).run("true")
    # Never accepted silently: the key was not added.
    assert empty.read_text() == ""


def test_changed_host_key_is_refused(sshd, tmp_path):
    other = keygen(tmp_path / "impostor")
    known = sshd.known_hosts(tmp_path / "stale_known_hosts", public=other)
    host = ssh_host(sshd, tmp_path, known_hosts=str(known))
    with pytest.raises(AuthError, match="changed, or someone is in between"):
        HostSource(host).run("true")


def test_unreachable_host_is_source_unavailable(tmp_path):
    known = tmp_path / "kh"
    known.write_text("")
    host = Host("gone", address="127.0.0.1", port=free_port(), known_hosts=str(known))
    with pytest.raises(SourceUnavailable, match=r"cannot reach host gone .*refused"):
        HostSource(host, timeout=5).run("true")


def test_missing_command_on_the_host(sshd, tmp_path):
    with pytest.raises(CommandNotFound, match="no-such-tool-xyz is not installed on host remote"):
        HostSource(ssh_host(sshd, tmp_path)).run("no-such-tool-xyz --version")


def test_systemctl_without_systemd_says_so(sshd, tmp_path):
    # This machine has systemctl but no systemd as PID 1, as many containers.
    with pytest.raises(HostCommandError, match="does not run systemd"):
        HostSource(ssh_host(sshd, tmp_path)).units()


def test_journal_over_ssh(sshd, tmp_path):
    folder = tmp_path / "journal"
    write_journal(
        [
            {
                "__REALTIME_TIMESTAMP": "1739797380000000",
                "__MONOTONIC_TIMESTAMP": "7380000000",
                "_BOOT_ID": "0f3e9c1d2b4a4f6e8a7b6c5d4e3f2a1b",
                "_SYSTEMD_UNIT": "orders.service",
                "PRIORITY": "2",
                "MESSAGE": "orders: out of memory, exiting",
            }
        ],
        folder,
    )
    host = ssh_host(sshd, tmp_path, journal_directory=str(folder))
    start, end = datetime(2025, 2, 17, 13, tzinfo=UTC), datetime(2025, 2, 17, 14, tzinfo=UTC)
    logs = HostSource(host).journal(start, end).logs
    assert logs.select("service", "message", "level", "host").rows() == [
        ("orders", "orders: out of memory, exiting", "fatal", "remote")
    ]


def test_one_failing_host_does_not_stop_the_others(sshd, tmp_path):
    empty = tmp_path / "kh"
    empty.write_text("")
    hosts = Inventory(
        [
            ssh_host(sshd, tmp_path, "a"),
            Host("down", address="127.0.0.1", port=free_port(), known_hosts=str(empty)),
            Host("here"),
            ssh_host(sshd, tmp_path, "b"),
        ],
        parallel=4,
        timeout=10,
    )
    checked = hosts.check()
    rows = {r["host"]: r for r in checked.frame.iter_rows(named=True)}
    assert [rows[n]["ok"] for n in ("a", "down", "here", "b")] == [True, False, True, True]
    kernel = subprocess.run(["uname", "-sr"], capture_output=True, text=True).stdout.strip()
    assert rows["a"]["kernel"] == rows["here"]["kernel"] == kernel
    assert list(checked.failed) == ["down"]
    assert "cannot reach host down" in rows["down"]["error"]


def test_config_snapshots_turn_a_change_into_an_event(sshd, tmp_path):
    config = tmp_path / "orders.conf"
    config.write_text("pool_size = 10\ntimeout = 5s\n")
    host = ssh_host(sshd, tmp_path, config_files={str(config): "orders", "/etc/none.conf": ""})
    hosts = Inventory([host], snapshots=tmp_path / "snapshots")
    first = hosts.snapshot()
    assert first.frame.height == 0 and first.failed == {}
    config.write_text("pool_size = 1\ntimeout = 5s\n")
    second = hosts.snapshot()
    assert second.frame.height == 1
    event = second.frame.row(0, named=True)
    assert event["kind"] == "config change" and event["service"] == "orders"
    assert event["summary"] == f"{config} changed on remote (+1 -1 lines)"
    assert "-pool_size = 10\n+pool_size = 1\n" in event["details"]
    history = SnapshotStore(tmp_path / "snapshots").history("remote")
    assert len(history) == 2
    assert history[1].files["/etc/none.conf"].text is None
    # The change happened when the file was written, between the two snapshots.
    assert history[0].taken <= event["timestamp"] <= history[1].taken


def test_no_output_and_nothing_written_under_home(sshd, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    hosts = Inventory([ssh_host(sshd, tmp_path), Host("here")])
    assert hosts.check().complete
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert list((tmp_path / "home").iterdir()) == []


def test_without_mancer_the_error_says_how_to_install(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_mancer(name, *args, **kwargs):
        if name.startswith("mancer"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mancer)
    with pytest.raises(mancer.UsageError, match=r"pip install 'mancerops\[mancer\]'"):
        HostSource(Host("here"))


def test_settings_file_gives_the_inventory(tmp_path):
    path = tmp_path / "mancerops.toml"
    path.write_text(
        "[mancer]\nparallel = 2\ntimeout = 7\n\n"
        '[[hosts]]\nname = "web-1"\naddress = "10.0.0.5"\nuser = "ops"\nkey = "~/.ssh/ops"\n'
        'units = ["carts.service"]\nconfig_files = { "/etc/carts.toml" = "carts" }\n\n'
        '[[hosts]]\nname = "here"\n'
    )
    hosts = Inventory.load(path)
    assert [h.name for h in hosts.hosts] == ["web-1", "here"]
    assert hosts.parallel == 2 and hosts.timeout == 7
    web = hosts.hosts[0]
    assert web.url == "ssh://ops@10.0.0.5:22" and web.units == ("carts.service",)
    assert web.config_files == {"/etc/carts.toml": "carts"} and hosts.hosts[1].is_local
    path.write_text('[[hosts]]\nname = "x"\nadress = "typo"\n')
    with pytest.raises(mancer.UsageError, match="unknown setting"):
        Inventory.load(path)


def test_unit_events_are_json_details():
    # Guard the contract the RCA reads: details hold "unit", "to", "restarts".
    from workbench.sources import systemd

    block = {"Id": "a.service", "ActiveState": "failed", "InactiveEnterTimestamp": "@100"}
    row = systemd.unit_events("h", [block]).row(0, named=True)
    assert orjson.loads(row["details"])["to"] == "failed"
    assert row["timestamp"] == datetime(1970, 1, 1, 0, 1, 40, tzinfo=UTC)


def test_importing_the_adapter_does_not_import_mancer():
    code = (
        "import sys, workbench, workbench.sources.mancer; "
        "from workbench.sources import Inventory; "
        "sys.exit(1 if any(m == 'mancer' or m.startswith('mancer.') for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_a_command_that_runs_too_long_is_a_timeout(sshd, tmp_path):
    with pytest.raises(SourceTimeout, match="sleep on host remote did not finish within 1 s"):
        HostSource(ssh_host(sshd, tmp_path), timeout=1).run("sleep 5")
    with pytest.raises(SourceTimeout, match="sleep on host here did not finish within 1 s"):
        HostSource(Host("here"), timeout=1).run("sleep 5")


def test_secret_values_never_reach_snapshots_or_diffs(sshd, tmp_path):
    config = tmp_path / "db.conf"
    config.write_text("host = db-1\npassword = hunter2\n")
    host = ssh_host(sshd, tmp_path, config_files={str(config): "orders"})
    hosts = Inventory([host], snapshots=tmp_path / "snapshots")
    hosts.snapshot()
    config.write_text("host = db-1\npassword = s3cret-2\n")
    changed = hosts.snapshot().frame.row(0, named=True)
    # Only the secret changed: the change is reported, its values are not.
    assert changed["summary"] == (
        f"{config} changed (secret values only, redacted) on remote (+0 -0 lines)"
    )
    config.write_text("host = db-2\npassword = s3cret-3\n")
    diff = hosts.snapshot().frame.row(0, named=True)["details"]
    assert "-host = db-1\n+host = db-2\n" in diff
    stored = "".join(p.read_text() for p in (tmp_path / "snapshots").rglob("*.json"))
    for secret in ("hunter2", "s3cret-2", "s3cret-3"):
        assert secret not in diff and secret not in stored
    assert "password = <redacted>" in stored
