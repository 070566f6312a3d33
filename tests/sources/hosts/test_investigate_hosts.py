"""investigate(hosts=...) end to end: a config changed over SSH before a real RCD incident."""

import os
from datetime import timedelta

from workbench import datasets, investigate
from workbench.sources.mancer import Host, HostSource, Inventory, Snapshot, SnapshotStore


def test_config_changed_before_the_onset_is_ranked_first(sshd, tmp_path):
    case = datasets.load("rcd-sockshop/carts-cpu/1")
    plain = investigate(case)
    config = tmp_path / "orders.toml"
    config.write_text("[db]\npool = 10\n")
    host = Host(
        "shop-1",
        address="127.0.0.1",
        port=sshd.port,
        user=sshd.user,
        key=str(sshd.user_key),
        known_hosts=str(sshd.known_hosts(tmp_path / "known_hosts")),
        config_files={str(config): "orders"},
    )
    store = SnapshotStore(tmp_path / "snapshots")
    # The scheduled snapshot taken ten minutes before the incident, read over SSH.
    files = HostSource(host).read_files([str(config)])
    store.save(Snapshot("shop-1", plain.onset - timedelta(minutes=10), files))
    config.write_text("[db]\npool = 1\n")
    changed = plain.onset - timedelta(seconds=90)
    os.utime(config, (changed.timestamp(), changed.timestamp()))

    result = investigate(case, hosts=Inventory([host], snapshots=store))

    first = result.ranking[0]
    assert first.service == "orders"
    assert first.indicator == f"config:{config} changed"
    assert first.evidence["kind"] == "config change"
    assert first.evidence["event"]["seconds_from_onset"] == -90.0
    assert "-pool = 10\n+pool = 1\n" in first.evidence["event"]["details"]
    assert [c.service for c in result.ranking[1:]] == [
        c.service for c in plain.ranking if c.service != "orders"
    ]
    # This machine has no systemd: the host counts as reached, its units as not read.
    assert "hosts_failed" not in result.extras
    assert "does not run systemd" in result.to_dict()["hosts_partial"]["shop-1"]
    assert len(store.history("shop-1")) == 2


def test_an_unreachable_host_is_reported_and_the_ranking_kept(tmp_path):
    case = datasets.load("rcd-sockshop/carts-cpu/1")
    known = tmp_path / "kh"
    known.write_text("")
    from servers import free_port

    gone = Host("gone", address="127.0.0.1", port=free_port(), known_hosts=str(known))
    result = investigate(case, hosts=[gone])
    assert [c.service for c in result.ranking] == [c.service for c in investigate(case).ranking]
    assert "cannot reach host gone" in result.to_dict()["hosts_failed"]["gone"]


def test_a_unit_that_failed_and_restarted_before_the_onset_is_ranked_first(tmp_path):
    from hostkit import orders_crash, write_journal

    case = datasets.load("rcd-sockshop/carts-cpu/1")
    plain = investigate(case)
    write_journal(orders_crash(int(plain.onset.timestamp())), tmp_path / "journal")
    host = Host("shop-1", journal_directory=str(tmp_path / "journal"))

    result = investigate(case, hosts=Inventory([host], snapshots=tmp_path / "snapshots"))

    first = result.ranking[0]
    assert (first.service, first.indicator) == ("orders", "unit:orders.service failed")
    assert first.evidence["event"]["seconds_from_onset"] == -70.0
    assert first.evidence["event"]["summary"] == "orders.service failed (exit-code)"
    # The changes that count: the failure, the scheduled restart and the start after the
    # stop; the first start and the stop itself are annotations only.
    assert [e["summary"] for e in first.evidence["events"]] == [
        "orders.service failed (exit-code)",
        "orders.service restarting (restart counter 1)",
        "orders.service activating",
        "orders.service active",
    ]
    assert [c.service for c in result.ranking[1:]] == [
        c.service for c in plain.ranking if c.service != "orders"
    ]
    summaries = [a["summary"] for a in result.to_dict()["annotations"]]
    assert summaries[0] == "orders.service active" and len(summaries) == 6
