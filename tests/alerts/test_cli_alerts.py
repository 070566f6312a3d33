"""`mancerops alerts ...` end to end, as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import yaml
from alertdata import T0
from receiver import Receiver
from servers import free_port

LIVE = """\
groups:
  - name: live
    interval: 30s
    rules:
      - alert: CliPromQL
        expr: wb_live > 5
mancerops:
  groups:
    - name: own
      interval: 30s
      rules:
        - alert: CliThreshold
          threshold: {metric: wb_live, above: 5}
          labels: {severity: ticket}
"""
CARTS = """\
mancerops:
  groups:
    - name: carts
      interval: 15s
      rules:
        - alert: CartsCpuHigh
          threshold: {metric: cpu, service: carts, above: 50}
          for: 30s
"""


def mancerops(*args):
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *map(str, args)],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_check_lists_rules_and_refuses_a_malformed_file(tmp_path):
    good = tmp_path / "good.yml"
    good.write_text(LIVE)
    run = mancerops("alerts", "check", good)
    assert run.returncode == 0, run.stderr
    assert f"{good}:5  live/CliPromQL  (promql)" in run.stdout
    assert "2 alerting rule(s) in 2 group(s)" in run.stdout
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n  fro: 1\n"
    )
    run = mancerops("alerts", "check", bad)
    assert run.returncode == 2
    assert run.stderr.startswith(f"error: {bad}:6: ")
    assert "Traceback" not in run.stderr
    exported = mancerops("alerts", "export", good)
    assert yaml.safe_load(exported.stdout) == {"groups": yaml.safe_load(LIVE)["groups"]}


def test_check_has_promtool_judge_the_promql(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(LIVE.replace("expr: wb_live > 5", "expr: rate(("))
    run = mancerops("alerts", "check", broken)
    assert run.returncode == 2
    assert f"{broken}: Prometheus would refuse its rules (promtool)" in run.stderr
    assert "parse error" in run.stderr and str(broken) in run.stderr
    assert "Traceback" not in run.stderr


def test_run_once_twice_notifies_once_and_pulls_metrics_for_our_kinds(live_prometheus, tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text(LIVE)
    receiver = Receiver()
    try:
        options = ["--prometheus", live_prometheus.url, "--state", tmp_path / "state.db",
                   "--webhook", receiver.url("/cli"), "--once"]  # fmt: skip
        first = mancerops("alerts", "run", rules, *options)
        assert first.returncode == 0, first.stderr
        assert "CliThreshold" in first.stdout and "firing" in first.stdout
        second = mancerops("alerts", "run", rules, *options)
        assert second.returncode == 0, second.stderr
        bodies = receiver.at("/cli")
        # one firing notification per rule, none repeated by the second run
        assert sorted(b["groupLabels"]["alertname"] for b in bodies) == [
            "CliPromQL",
            "CliThreshold",
        ]
        threshold = next(b for b in bodies if b["groupLabels"]["alertname"] == "CliThreshold")
        # wb_live{job="api",instance="a"} is 10: service from the job label, as the source does
        assert threshold["alerts"][0]["labels"] == {
            "alertname": "CliThreshold", "severity": "ticket", "service": "api",
            "metric": "wb_live", "job": "api", "instance": "a",
        }  # fmt: skip
    finally:
        receiver.close()


def test_run_reports_undelivered_alerts_and_delivers_them_on_a_later_run(live_prometheus, tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text(LIVE.split("mancerops:")[0])
    port = free_port()
    options = ["--prometheus", live_prometheus.url, "--state", tmp_path / "state.db",
               "--webhook", f"http://127.0.0.1:{port}/x", "--once"]  # fmt: skip
    first = mancerops("alerts", "run", rules, *options)
    assert first.returncode == 1
    assert "undelivered (1 attempt(s), kept for retry" in first.stderr
    assert f"cannot reach http://127.0.0.1:{port}/x" in first.stderr
    time.sleep(1.1)  # past the first backoff
    receiver = Receiver(port)
    try:
        second = mancerops("alerts", "run", rules, *options)
        assert second.returncode == 0, second.stderr
        assert [b["status"] for b in receiver.at("/x")] == ["firing"]
    finally:
        receiver.close()


def test_run_names_the_rule_whose_promql_the_server_rejects(live_prometheus, tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n  - name: g\n    rules:\n      - alert: Broken\n"
                     "        expr: wb_live + on() wb_live\n")  # fmt: skip
    run = mancerops("alerts", "run", rules, "--prometheus", live_prometheus.url,
                    "--state", tmp_path / "s.db", "--once")  # fmt: skip
    assert run.returncode == 1
    assert "error: rule Broken: Prometheus at" in run.stderr
    assert "many-to-many matching not allowed" in run.stderr
    assert "Traceback" not in run.stderr


def test_backtest_on_a_dataset_case_prints_delays_and_writes_a_report(tmp_path):
    rules = tmp_path / "carts.yml"
    rules.write_text(CARTS)
    report = tmp_path / "bt.html"
    run = mancerops("alerts", "backtest", rules, "--dataset", "rcd-sockshop/carts-cpu/1",
                    "--json", "--report", report)  # fmt: skip
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    (rule,) = payload["rules"]
    # fault 18:37:55; evaluations every 15 s from 18:33:03 first see ~100 at 18:38:03,
    # `for: 30s` -> fires 18:38:33 (see test_backtest)
    assert rule["detections"][0]["delay_s"] == 38.0
    assert rule["firings"][0]["start"] == "2022-05-17T18:38:33.000Z"
    page = report.read_text()
    assert "CartsCpuHigh" in page and "plotly" in page
    run = mancerops("alerts", "backtest", rules)
    assert run.returncode == 2 and "give either --dataset" in run.stderr


def test_events_reads_the_alerts_prometheus_holds(ruled_prometheus):
    run = mancerops("alerts", "events", "--prometheus", ruled_prometheus.url, "--json")
    assert run.returncode == 0, run.stderr
    summaries = sorted(row["summary"] for row in json.loads(run.stdout))
    assert summaries[1:] == ["LiveFiring firing: api at 10", "LivePending pending"]
    assert summaries[0].startswith("LiveBroken error: rule evaluation fails:")


def test_run_every_evaluates_repeatedly_until_interrupted(live_prometheus, tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text(LIVE.split("mancerops:")[0])
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "alerts", "run", str(rules), "--prometheus",
         live_prometheus.url, "--state", str(tmp_path / "s.db"), "--every", "1s", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while sum('"at":' in line for line in seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    reader.join(timeout=5)
    stamps = [line.split('"')[3] for line in seen if line.startswith('  "at":')]
    assert len(stamps) >= 2 and stamps == sorted(set(stamps))  # one evaluation a second
    assert process.returncode == 0
    assert "stopped" in process.stderr.read()


def test_backtest_over_every_case_of_a_prefix(tmp_path):
    rules = tmp_path / "carts.yml"
    rules.write_text(CARTS)
    run = mancerops("alerts", "backtest", rules, "--dataset", "rcd-sockshop/carts-cpu", "--json")
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    assert [r["case"] for r in results] == [f"rcd-sockshop/carts-cpu/{n}" for n in range(1, 6)]
    # in the five cases carts cpu is at most 2.5 before the fault and has a median of
    # ~100 after it (normal.csv / anomalous.csv): each fault caught, no false alarm
    assert all(len(r["rules"][0]["detections"]) == 1 for r in results)
    assert all(r["rules"][0]["false_alarms"] == [] for r in results)
    run = mancerops("alerts", "backtest", rules, "--dataset", "rcd-sockshop/nope")
    assert run.returncode == 2 and "no case rcd-sockshop/nope" in run.stderr


def test_backtest_over_prometheus_history_from_the_command_line(history_prometheus, tmp_path):
    rules = tmp_path / "load.yml"
    rules.write_text(
        "groups:\n  - name: load\n    interval: 1m\n    rules:\n      - alert: LoadHigh\n"
        "        expr: wb_load > 5\n        for: 2m\n"
    )
    report = tmp_path / "load.html"
    run = mancerops("alerts", "backtest", rules, "--prometheus", history_prometheus.url,
                    "--start", T0, "--end", T0 + 1800, "--fault", f"{T0 + 180}/{T0 + 300}",
                    "--grace", 0, "--json", "--report", report)  # fmt: skip
    assert run.returncode == 0, run.stderr
    (rule,) = json.loads(run.stdout)["rules"]
    # as in test_backtest: api fires at minute 4 and 14, db at 6; the fault at 3 is caught
    # after 60 s, the other two firings are false alarms
    assert [f["labels"]["job"] for f in rule["firings"]] == ["api", "db", "api"]
    assert rule["detections"][0]["delay_s"] == 60.0
    assert len(rule["false_alarms"]) == 2
    assert "LoadHigh" in report.read_text()
