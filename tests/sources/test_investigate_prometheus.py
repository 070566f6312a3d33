"""`mancerops investigate --prometheus`: a live pull ranks as the recorded case does."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import promdata
from promdata import PASSWORD, USER

from workbench import datasets
from workbench.rca.model import iso


def mancerops(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def rcd_queries(folder):
    file = folder / "rcd.toml"
    file.write_text(f"[[query]]\nmetric = \"\"\npromql = '{promdata.RCD_QUERY}'\n")
    return file


def test_investigate_prometheus_ranks_exactly_as_the_file_investigation(prometheus, tmp_path):
    metrics = datasets.load(promdata.RCD_CASE).metrics
    start, end = iso(metrics["timestamp"].min()), iso(metrics["timestamp"].max())
    from_file = mancerops("investigate", "--dataset", promdata.RCD_CASE, "--json", "--top", "20")
    live = mancerops(
        "investigate",
        "--prometheus", prometheus.url,
        "--start", start,
        "--end", end,
        "--step", "1s",
        "--queries", str(rcd_queries(tmp_path)),
        "--json", "--top", "20",
    )  # fmt: skip
    assert from_file.returncode == 0, from_file.stderr
    assert live.returncode == 0, live.stderr
    expected, got = json.loads(from_file.stdout), json.loads(live.stdout)
    assert [c["service"] for c in got["ranking"]] == [c["service"] for c in expected["ranking"]]
    assert got["ranking"][0]["service"] == "carts"  # the injected fault
    assert got["ranking"] == expected["ranking"]
    assert got["onset"] == expected["onset"] == "2022-05-17T18:37:55Z"
    assert (
        got["case"] == f"prometheus/127.0.0.1:{prometheus.port} {start[:-1]}.000Z..{end[:-1]}.000Z"
    )


def test_relative_times_are_read_against_now(prometheus, tmp_path):
    run = mancerops(
        "investigate",
        "--prometheus", prometheus.url,
        "--start", "now-10m",
        "--end", "now",
        "--queries", str(rcd_queries(tmp_path)),
    )  # fmt: skip
    # the test server holds only history, so the last ten minutes are empty
    assert run.returncode == 2, run.stderr
    assert "none of the 1 queries returned data" in run.stderr
    assert f" between {datetime.now(UTC):%Y-%m-%d}" in run.stderr
    assert "Traceback" not in run.stderr


def test_default_red_use_queries_without_such_metrics_say_what_to_edit(prometheus):
    run = mancerops(
        "investigate", "--prometheus", prometheus.url, "--start", "2022-05-17T18:33:03Z",
        "--end", "2022-05-17T18:42:36Z",
    )  # fmt: skip
    assert run.returncode == 2
    assert "none of the 9 queries returned data" in run.stderr and "queries" in run.stderr


def test_cli_credentials_come_from_the_environment_and_never_show(secure_prometheus):
    wrong = "wrong-battery-7c1e"
    base = [
        "investigate", "--prometheus", secure_prometheus.url,
        "--user", USER, "--password-env", "WB_TEST_PROM_PASSWORD",
        "--ca-bundle", str(secure_prometheus.ca),
    ]  # fmt: skip
    for debug in ([], ["--debug"]):
        run = mancerops(*debug, *base, env={"WB_TEST_PROM_PASSWORD": wrong})
        assert run.returncode == 1
        assert "refused" in run.stderr and "HTTP 401" in run.stderr
        assert wrong not in run.stderr + run.stdout
    right = mancerops(*base, env={"WB_TEST_PROM_PASSWORD": PASSWORD})
    assert right.returncode == 2  # authenticated; the empty server has no data to rank
    assert "none of the 9 queries returned data" in right.stderr
    assert PASSWORD not in right.stderr + right.stdout


def test_an_unset_password_variable_is_a_usage_error(secure_prometheus):
    run = mancerops(
        "investigate", "--prometheus", secure_prometheus.url, "--user", USER,
        "--password-env", "WB_TEST_UNSET_VARIABLE",
    )  # fmt: skip
    assert run.returncode == 2
    assert "environment variable WB_TEST_UNSET_VARIABLE is not set" in run.stderr


def test_dataset_and_prometheus_together_are_refused(prometheus):
    run = mancerops("investigate", "--dataset", promdata.RCD_CASE, "--prometheus", prometheus.url)
    assert run.returncode == 2 and "--prometheus URL" in run.stderr
