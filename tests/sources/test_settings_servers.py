"""Sources built from the settings file, against the real test servers.

The TLS Prometheus checks basic auth against a bcrypt hash of ``PASSWORD``: a pull that
gets past it proves the password came from the variable the file names.
"""

import json
import logging
import os
import subprocess
import sys
from datetime import timedelta

import esdata
import polars as pl
import promdata
import pytest
from esdata import ECS_PATTERN, sortable
from polars.testing import assert_frame_equal
from promdata import PASSWORD, USER

from workbench import datasets, settings
from workbench.errors import AuthError, QueryError, SettingsError
from workbench.rca.model import iso

VARIABLE = "WB_TEST_SETTINGS_PROM_PASSWORD"
WRONG = "wrong-staple-41aa"


def mancerops(*args, cwd, env=None):
    clean = {k: v for k, v in os.environ.items() if k not in (VARIABLE, "MANCEROPS_CONFIG")}
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, "XDG_CONFIG_HOME": str(cwd / "xdg"), **(env or {})},
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def secure_settings(folder, server, url=None):
    """Write the TLS Prometheus' settings: the CA beside the file, the password named."""
    (folder / "ca.pem").write_bytes(server.ca.read_bytes())
    path = folder / "mancerops.toml"
    path.write_text(
        "[prometheus]\n"
        f'url = "{url or server.url}"\n'
        f'user = "{USER}"\n'
        f'password_env = "{VARIABLE}"\n'
        'ca_bundle = "ca.pem"\n'
        "timeout = 10\n"
    )
    return path


def test_a_source_from_settings_authenticates_with_the_named_variable(
    secure_prometheus, tmp_path, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    path = secure_settings(tmp_path, secure_prometheus)
    monkeypatch.setenv(VARIABLE, PASSWORD)
    current = settings.load(path)
    with current.prometheus_source() as source:
        assert source.query("vector(1)")["value"].to_list() == [1.0]
        assert source.buildinfo()["version"].startswith("2.42")
        assert PASSWORD not in repr(source)
    monkeypatch.setenv(VARIABLE, WRONG)
    with pytest.raises(AuthError) as raised, current.prometheus_source() as source:
        source.query("up")
    assert "HTTP 401" in str(raised.value)
    for shown in (str(raised.value), repr(current), current.to_toml(), caplog.text):
        assert WRONG not in shown and PASSWORD not in shown


def test_the_settings_password_is_not_sent_to_another_url(secure_prometheus, tmp_path, monkeypatch):
    path = secure_settings(tmp_path, secure_prometheus)
    monkeypatch.setenv(VARIABLE, PASSWORD)
    # the same server under another name is another URL: no credentials go there
    other = secure_prometheus.url.replace("127.0.0.1", "localhost")
    with pytest.raises(AuthError) as raised, settings.load(path).prometheus_source(other) as source:
        source.query("up")
    assert "needs credentials" in str(raised.value)


def test_investigate_pulls_from_the_settings_prometheus(secure_prometheus, tmp_path):
    secure_settings(tmp_path, secure_prometheus)
    for debug in ([], ["--debug"]):
        wrong = mancerops(*debug, "investigate", cwd=tmp_path, env={VARIABLE: WRONG})
        assert wrong.returncode == 1
        assert f"Prometheus at {secure_prometheus.url} refused" in wrong.stderr
        assert WRONG not in wrong.stdout + wrong.stderr
    right = mancerops("investigate", cwd=tmp_path, env={VARIABLE: PASSWORD})
    assert right.returncode == 2  # authenticated; the empty server has no data to rank
    assert "none of the 9 queries returned data" in right.stderr
    assert PASSWORD not in right.stdout + right.stderr


def test_an_unset_variable_names_the_file_key_and_variable(secure_prometheus, tmp_path):
    path = secure_settings(tmp_path, secure_prometheus)
    run = mancerops("investigate", cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr == (
        f"error: {path}:4: [prometheus] password_env names the environment variable {VARIABLE}, "
        f"which is not set (or empty); export {VARIABLE} before running, or change "
        "password_env\n"
    )
    # the CLI's own credentials replace the settings' (and need no variable of the file)
    given = mancerops(
        "investigate", "--user", USER, "--password-env", "WB_TEST_OTHER_VARIABLE",
        cwd=tmp_path, env={"WB_TEST_OTHER_VARIABLE": PASSWORD},
    )  # fmt: skip
    assert given.returncode == 2 and "none of the 9 queries returned data" in given.stderr


def test_settings_give_url_queries_step_and_top_to_investigate(prometheus, tmp_path):
    metrics = datasets.load(promdata.RCD_CASE).metrics
    start, end = iso(metrics["timestamp"].min()), iso(metrics["timestamp"].max())
    (tmp_path / "rcd.toml").write_text(
        f"[[query]]\nmetric = \"\"\npromql = '{promdata.RCD_QUERY}'\n"
    )
    (tmp_path / "mancerops.toml").write_text(
        f'[prometheus]\nurl = "{prometheus.url}"\nqueries = "rcd.toml"\nstep = "1s"\n\n'
        "[investigate]\ntop = 3\n"
    )
    from_file = mancerops("investigate", "--dataset", promdata.RCD_CASE, "--json", cwd=tmp_path)
    live = mancerops("investigate", "--start", start, "--end", end, "--json", cwd=tmp_path)
    assert from_file.returncode == 0, from_file.stderr
    assert live.returncode == 0, live.stderr
    expected, got = json.loads(from_file.stdout), json.loads(live.stdout)
    assert len(got["ranking"]) == 3 and got["ranking"][0]["service"] == "carts"  # the fault
    assert got["ranking"] == expected["ranking"]
    assert got["case"].startswith(f"prometheus/127.0.0.1:{prometheus.port} ")


def test_logs_pull_takes_server_and_index_from_the_settings(opensearch, tmp_path):
    stamps = esdata.case_logs()["timestamp"]
    start, end = stamps.min().isoformat(), (stamps.max() + timedelta(microseconds=1)).isoformat()
    (tmp_path / "mancerops.toml").write_text(
        f'[elasticsearch]\nurl = "{opensearch.url}"\nindex = "{ECS_PATTERN}"\npage_size = 20\n'
    )
    out = tmp_path / "errors.parquet"
    run = mancerops(
        "logs", "pull", "--start", start, "--end", end, "--out", str(out),
        "--query", "log.level:ERROR", cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    want = esdata.case_logs().filter(pl.col("level") == "error")
    assert f"wrote {want.height:,} log lines to {out}" in run.stdout
    assert_frame_equal(sortable(pl.read_parquet(out)), sortable(want))


def test_a_missing_url_says_how_to_give_one(tmp_path):
    (tmp_path / "mancerops.toml").write_text('[elasticsearch]\nindex = "logs-*"\n')
    run = mancerops("logs", "pull", "--out", str(tmp_path / "x.parquet"), cwd=tmp_path)
    assert run.returncode == 2
    assert "no Elasticsearch URL: pass one, or set url in [elasticsearch] of" in run.stderr
    with pytest.raises(SettingsError, match="MANCEROPS_JAEGER_URL"):
        settings.load(tmp_path / "mancerops.toml").jaeger_source()


def test_a_jaeger_source_from_settings_sends_its_auth_and_trusts_its_ca(
    secure_prometheus, tmp_path, monkeypatch
):
    # No test Jaeger runs behind TLS and basic auth; the TLS Prometheus checks both the same
    # way, so the answer says whether the credentials and CA from [jaeger] reached it.
    (tmp_path / "ca.pem").write_bytes(secure_prometheus.ca.read_bytes())
    path = tmp_path / "mancerops.toml"
    path.write_text(
        f'[jaeger]\nurl = "{secure_prometheus.url}"\nuser = "{USER}"\n'
        f'password_env = "{VARIABLE}"\nca_bundle = "ca.pem"\nretries = 0\napi = "v1"\n'
    )
    monkeypatch.setenv(VARIABLE, WRONG)
    with pytest.raises(AuthError) as refused, settings.load(path).jaeger_source() as source:
        source.services()
    assert "refused /api/services (401)" in str(refused.value)
    assert WRONG not in str(refused.value)
    monkeypatch.setenv(VARIABLE, PASSWORD)
    with pytest.raises(QueryError) as passed, settings.load(path).jaeger_source() as source:
        assert repr(source) == f"JaegerSource({secure_prometheus.url!r}, api='v1')"
        assert PASSWORD not in repr(source) and PASSWORD not in source.url
        source.services()
    # past TLS and auth: Prometheus has no /api/services page
    assert "rejected /api/services (404): 404 page not found" in str(passed.value)


def test_a_jaeger_source_from_settings_reads_the_real_jaeger(jaeger, tmp_path):
    import jaegerdata

    path = tmp_path / "mancerops.toml"
    path.write_text(f'[jaeger]\nurl = "{jaeger.url}"\napi = "v1"\ntimeout = 20\n')
    with settings.load(path).jaeger_source() as source:
        assert source.api_ == "v1"
        assert source.services() == sorted(set(jaegerdata.expected()["service"]))
    # the environment overrides the file
    current = settings.load(path, environ={"MANCEROPS_JAEGER_API": "v3"})
    with current.jaeger_source() as source:
        assert source.api_ == "v3"
        assert source.services() == sorted(set(jaegerdata.expected()["service"]))


def test_investigate_with_a_profile_pulls_from_the_profiles_prometheus(secure_prometheus, tmp_path):
    from servers import free_port

    path = secure_settings(tmp_path, secure_prometheus)
    secure = path.read_text().replace("[prometheus]", "[profiles.secure.prometheus]")
    down = f"http://127.0.0.1:{free_port()}"
    path.write_text(f'[prometheus]\nurl = "{down}"\n\n{secure}')
    plain = mancerops("investigate", cwd=tmp_path, env={VARIABLE: PASSWORD})
    assert plain.returncode == 1 and f"cannot reach Prometheus at {down}" in plain.stderr
    for how, env in ((["--profile", "secure"], {}), ([], {"MANCEROPS_PROFILE": "secure"})):
        run = mancerops(*how, "investigate", cwd=tmp_path, env={VARIABLE: PASSWORD, **env})
        assert run.returncode == 2  # authenticated; the empty server has no data to rank
        assert "none of the 9 queries returned data" in run.stderr
        assert PASSWORD not in run.stdout + run.stderr


def test_alerts_events_reach_a_secured_prometheus_with_the_settings_auth(
    secure_prometheus, tmp_path
):
    secure_settings(tmp_path, secure_prometheus)
    args = ["alerts", "events", "--prometheus", secure_prometheus.url, "--json"]
    done = mancerops(*args, cwd=tmp_path, env={VARIABLE: PASSWORD})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []  # the test server holds no alerting rules
    refused = mancerops(*args, cwd=tmp_path, env={VARIABLE: WRONG})
    assert refused.returncode == 1 and "HTTP 401" in refused.stderr
    assert WRONG not in refused.stderr + refused.stdout
