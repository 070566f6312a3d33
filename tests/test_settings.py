"""The settings file: where it is found, what it may hold, and how values are chosen."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import settings
from workbench.errors import SettingsError, UsageError

SECRET = "hunter2-settings-5b7e"

EXAMPLE = """\
# the team's settings
[prometheus]
url = "https://prom.example:9090"
user = "ops"
password_env = "WB_SETTINGS_PROM_PASSWORD"
timeout = 12
ca_bundle = "certs/ca.pem"
queries = "rcd.toml"
service_labels = ["service", "job"]

[elasticsearch]
url = "http://127.0.0.1:9200"
index = "logs-*"
api_key_env = "WB_SETTINGS_ES_KEY"
page_size = 500

[jaeger]
url = "http://127.0.0.1:16686"
api = "v1"

[investigate]
top = 3
report_dir = "~/reports"

[mancer]
parallel = 2

[[hosts]]
name = "web-1"
address = "10.0.0.5"
user = "ops"

[[hosts]]
name = "here"
"""


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Run in an empty folder, with no user config dir and no MANCEROPS_* variables."""
    for name in list(os.environ):
        if name.startswith("MANCEROPS_") and name != "MANCEROPS_DATASETS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(folder: Path, text: str, name: str = "mancerops.toml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def message(text: str, **env) -> str:
    """Return the SettingsError message of loading ``text`` from ./mancerops.toml."""
    write(Path.cwd(), text)
    with pytest.raises(SettingsError) as raised:
        settings.load(environ=env)
    return str(raised.value)


def test_every_section_is_read_typed(isolated):
    path = write(isolated, EXAMPLE)
    current = settings.load()
    assert current.path == path
    prom = current.prometheus
    assert (prom.url, prom.user, prom.password_env) == (
        "https://prom.example:9090",
        "ops",
        "WB_SETTINGS_PROM_PASSWORD",
    )
    assert prom.timeout == 12.0 and isinstance(prom.timeout, float)
    assert prom.service_labels == ("service", "job")
    # relative paths are read from the file's folder, ~ is the home folder
    assert prom.ca_bundle == str(isolated / "certs" / "ca.pem")
    assert prom.queries == str(isolated / "rcd.toml")
    assert current.investigate.report_dir == str(Path.home() / "reports")
    assert current.investigate.top == 3
    assert (current.elasticsearch.index, current.elasticsearch.page_size) == ("logs-*", 500)
    assert current.jaeger.api == "v1"
    assert [h.name for h in current.hosts] == ["web-1", "here"]
    assert current.hosts[0].url == "ssh://ops@10.0.0.5:22" and current.hosts[1].is_local
    inventory = current.inventory()
    assert inventory.parallel == 2 and [h.name for h in inventory.hosts] == ["web-1", "here"]
    assert current.origins["prometheus.timeout"] == f"{path}:6"
    assert current.origins["hosts.1"] == f"{path}:33"


def test_the_file_is_found_by_option_then_variable_then_folder_then_user_dir(isolated, monkeypatch):
    user = write(isolated / "xdg" / "mancerops", "[investigate]\ntop = 1\n")
    assert settings.find() == user
    here = write(isolated, "[investigate]\ntop = 2\n")
    assert settings.find() == here
    named = write(isolated / "elsewhere", "[investigate]\ntop = 3\n", "team.toml")
    monkeypatch.setenv("MANCEROPS_CONFIG", str(named))
    assert settings.find() == named
    given = write(isolated / "given", "[investigate]\ntop = 4\n")
    assert settings.load(given).investigate.top == 4
    monkeypatch.setenv("MANCEROPS_CONFIG", str(isolated / "gone.toml"))
    with pytest.raises(SettingsError, match=r"gone.toml does not exist \(from \$MANCEROPS_CONFIG"):
        settings.find()
    with pytest.raises(SettingsError, match=r"nope.toml does not exist \(from --config"):
        settings.find(isolated / "nope.toml")


def test_no_file_means_built_in_defaults(isolated):
    current = settings.load()
    assert current.path is None and current.to_dict() == {}
    assert isolated / "mancerops.toml" in current.searched
    with pytest.raises(SettingsError) as raised:
        current.prometheus_source()
    assert "no Prometheus URL" in str(raised.value)
    assert "MANCEROPS_PROMETHEUS_URL" in str(raised.value)
    assert str(isolated / "mancerops.toml") in str(raised.value)


def test_an_unknown_key_names_file_line_and_the_known_keys(isolated):
    said = message('[prometheus]\nurl = "http://127.0.0.1:9090"\n\npasword_env = "X"\n')
    assert said.startswith(f"{isolated / 'mancerops.toml'}:4: unknown setting 'pasword_env'")
    assert "[prometheus]; known: ca_bundle, client_cert, client_key, password_env," in said


def test_an_unknown_section_and_an_unknown_host_key_are_refused(isolated):
    said = message('[investigate]\ntop = 2\n\n[promethus]\nurl = "x"\n')
    assert said.startswith(f"{isolated / 'mancerops.toml'}:4: unknown section or key 'promethus'")
    assert (
        "known sections: elasticsearch, hosts, investigate, jaeger, mancer, profiles, prometheus"
    ) in said
    said = message('[[hosts]]\nname = "a"\n\n[[hosts]]\nname = "b"\nadress = "10.0.0.1"\n')
    assert said.startswith(f"{isolated / 'mancerops.toml'}:6: unknown setting 'adress'")
    assert "[[hosts]] number 2; known: address, config_files," in said


def test_a_wrong_type_names_the_key_and_what_was_expected(isolated):
    said = message('[elasticsearch]\nurl = "http://127.0.0.1:9200"\npage_size = "big"\n')
    assert said == (
        f"{isolated / 'mancerops.toml'}:3: [elasticsearch] page_size: expected int, got str"
    )
    said = message('[jaeger]\napi = "v2"\n')
    assert "[jaeger] api must be auto, v1 or v3, not 'v2'" in said


def test_a_secret_written_in_the_file_is_refused_without_showing_it(isolated):
    said = message(f'[prometheus]\nurl = "http://127.0.0.1:9090"\npassword = "{SECRET}"\n')
    assert said.startswith(f"{isolated / 'mancerops.toml'}:3: [prometheus] password would write")
    assert 'password_env = "VARIABLE"' in said and SECRET not in said
    said = message(f'[prometheus]\nurl = "https://ops:{SECRET}@127.0.0.1:9090"\n')
    assert "url holds a password" in said and SECRET not in said


def test_invalid_toml_says_which_file(isolated):
    said = message("[prometheus\n")
    assert said.startswith(f"the settings file {isolated / 'mancerops.toml'} is not valid TOML")


def test_environment_overrides_the_file_and_the_caller_overrides_both(isolated):
    path = write(isolated, '[prometheus]\nurl = "http://127.0.0.1:9"\ntimeout = 12\n')
    current = settings.load(
        environ={"MANCEROPS_PROMETHEUS_TIMEOUT": "7.5", "MANCEROPS_PROMETHEUS_VERIFY": "false"}
    )
    assert current.prometheus.timeout == 7.5 and current.prometheus.verify is False
    assert current.origins["prometheus.timeout"] == "env MANCEROPS_PROMETHEUS_TIMEOUT"
    assert current.origins["prometheus.url"] == f"{path}:2"
    url, options = current.source_options("prometheus")
    assert (url, options["timeout"], options["verify"]) == ("http://127.0.0.1:9", 7.5, False)
    _, options = current.source_options("prometheus", timeout=3.0)
    assert options["timeout"] == 3.0
    with current.prometheus_source() as source:
        assert source.timeout == 7.5 and source.url == "http://127.0.0.1:9"
    with pytest.raises(SettingsError) as raised:
        settings.load(environ={"MANCEROPS_PROMETHEUS_TIMEOUT": "soon"})
    assert str(raised.value) == (
        "env MANCEROPS_PROMETHEUS_TIMEOUT: [prometheus] timeout: expected float, got str"
    )


def test_an_unset_secret_variable_names_file_key_and_variable(isolated, monkeypatch):
    path = write(isolated, EXAMPLE)
    monkeypatch.delenv("WB_SETTINGS_PROM_PASSWORD", raising=False)
    current = settings.load()
    with pytest.raises(SettingsError) as raised:
        current.source_options("prometheus")
    assert str(raised.value) == (
        f"{path}:5: [prometheus] password_env names the environment variable "
        "WB_SETTINGS_PROM_PASSWORD, which is not set (or empty); export "
        "WB_SETTINGS_PROM_PASSWORD before running, or change password_env"
    )
    assert raised.value.exit_code == 2 and isinstance(raised.value, UsageError)
    monkeypatch.setenv("WB_SETTINGS_PROM_PASSWORD", SECRET)
    assert SECRET not in repr(current) and SECRET not in current.to_toml()
    assert current.secrets() == {
        "prometheus.password_env": True,
        "elasticsearch.api_key_env": False,
    }


def test_the_settings_auth_goes_only_to_the_settings_url(isolated, monkeypatch):
    write(isolated, EXAMPLE.replace("certs/ca.pem", "ca.pem"))
    (isolated / "ca.pem").write_text("")
    monkeypatch.setenv("WB_SETTINGS_PROM_PASSWORD", SECRET)
    current = settings.load()
    url, options = current.source_options("prometheus", "https://prom.example:9090/")
    assert url == "https://prom.example:9090/"
    assert (options["username"], options["password"]) == ("ops", SECRET)
    url, options = current.source_options("prometheus", "https://other.example:9090")
    assert "username" not in options and "password" not in options
    assert options["ca_bundle"] == str(isolated / "ca.pem")  # TLS trust still applies
    # auth given by the caller replaces the settings' auth as a whole
    _, options = current.source_options("prometheus", bearer_token="t0k")
    assert options["bearer_token"] == "t0k" and "username" not in options


def test_a_missing_tls_file_names_the_key(isolated, monkeypatch):
    path = write(isolated, EXAMPLE)
    monkeypatch.setenv("WB_SETTINGS_PROM_PASSWORD", SECRET)
    with pytest.raises(SettingsError) as raised:
        settings.load().prometheus_source()
    assert str(raised.value) == (
        f"{path}:7: [prometheus] ca_bundle: {isolated / 'certs' / 'ca.pem'} does not exist"
    )


def test_hosts_keep_their_format_and_the_inventory_loads_through_settings(isolated):
    from workbench.sources.mancer import Inventory

    write(isolated, EXAMPLE)
    inventory = Inventory.load()
    assert [h.address for h in inventory.hosts] == ["10.0.0.5", "local"]
    write(isolated, "[investigate]\ntop = 2\n")
    with pytest.raises(UsageError, match="lists no hosts; add a \\[\\[hosts\\]\\] table"):
        Inventory.load()


def mancerops(*args, cwd, env=None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MANCEROPS_CONFIG")}
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, "XDG_CONFIG_HOME": str(cwd / "xdg"), **(env or {})},
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_config_show_masks_secrets_and_says_where_values_come_from(tmp_path):
    path = write(tmp_path, EXAMPLE)
    env = {"WB_SETTINGS_PROM_PASSWORD": SECRET, "MANCEROPS_INVESTIGATE_TOP": "4"}
    run = mancerops("config", "show", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"# settings file: {path}"
    assert (
        'password_env = "WB_SETTINGS_PROM_PASSWORD"  # line 5; WB_SETTINGS_PROM_PASSWORD is set '
        "(value hidden)"
    ) in lines
    assert 'api_key_env = "WB_SETTINGS_ES_KEY"  # line 14; WB_SETTINGS_ES_KEY is NOT SET' in lines
    assert "top = 4  # env MANCEROPS_INVESTIGATE_TOP" in lines
    assert SECRET not in run.stdout + run.stderr
    shown = mancerops("config", "show", "--json", cwd=tmp_path, env=env)
    payload = json.loads(shown.stdout)
    assert payload["path"] == str(path) and payload["settings"]["investigate"]["top"] == 4
    assert payload["secrets_set"] == {
        "prometheus.password_env": True,
        "elasticsearch.api_key_env": False,
    }
    assert SECRET not in shown.stdout


def test_config_path_prints_the_file_or_where_it_looked(tmp_path):
    missing = mancerops("config", "path", cwd=tmp_path)
    assert missing.returncode == 1 and missing.stdout == ""
    assert f"no settings file; looked at {tmp_path / 'mancerops.toml'}" in missing.stderr
    path = write(tmp_path, "[investigate]\ntop = 2\n")
    found = mancerops("config", "path", cwd=tmp_path)
    assert found.returncode == 0 and found.stdout == f"{path}\n"
    bad = write(tmp_path, "[investigate]\ntopp = 2\n", "bad.toml")
    refused = mancerops("config", "show", "--config", str(bad), cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"error: {bad}:2: unknown setting 'topp' in [investigate]")
    assert "Traceback" not in refused.stderr


def test_investigate_takes_top_and_report_dir_from_the_settings(tmp_path):
    write(tmp_path, '[investigate]\ntop = 2\nreport_dir = "reports"\n')
    run = mancerops(
        "investigate", "--dataset", "rcd-sockshop/carts-cpu/1", "--json", "--report", "r.html",
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    ranking = json.loads(run.stdout)["ranking"]
    assert len(ranking) == 2 and ranking[0]["service"] == "carts"  # ground truth
    assert (tmp_path / "reports" / "r.html").stat().st_size > 0
    given = mancerops(
        "investigate", "--dataset", "rcd-sockshop/carts-cpu/1", "--json", "--top", "4",
        cwd=tmp_path,
    )  # fmt: skip
    assert len(json.loads(given.stdout)["ranking"]) == 4  # the option beats the file


def test_a_bad_log_mapping_names_the_settings_line(isolated):
    path = write(
        isolated,
        '[elasticsearch]\nurl = "http://127.0.0.1:9200"\nmapping = { mesage = "msg" }\n',
    )
    with pytest.raises(SettingsError) as raised:
        settings.load().elasticsearch_source()
    assert str(raised.value).startswith(
        f"{path}:3: [elasticsearch] mapping: unknown logs column(s) mesage in the mapping"
    )


PROFILES = """\
[prometheus]
url = "https://prod.example:9090"
user = "ops"
password_env = "WB_SETTINGS_PROD_PASSWORD"
timeout = 12

[investigate]
top = 3

[profiles.staging.prometheus]
url = "http://staging.example:9090"
token_env = "WB_SETTINGS_STAGING_TOKEN"

[profiles.lab.jaeger]
url = "http://lab.example:16686"
"""


def test_a_profile_replaces_whole_sections_and_keeps_the_others(isolated, monkeypatch):
    path = write(isolated, PROFILES)
    base = settings.load()
    assert base.profile is None and base.prometheus.url == "https://prod.example:9090"
    staging = settings.load(profile="staging")
    # the whole [prometheus] is the profile's: no prod user, password or timeout leaks in
    assert staging.prometheus == settings.PrometheusSettings(
        url="http://staging.example:9090", token_env="WB_SETTINGS_STAGING_TOKEN"
    )
    assert staging.investigate.top == 3  # not in the profile: the top-level section
    assert staging.origins["prometheus.url"] == f"{path}:11"
    monkeypatch.delenv("WB_SETTINGS_STAGING_TOKEN", raising=False)
    with pytest.raises(SettingsError) as raised:
        staging.source_options("prometheus")
    assert str(raised.value).startswith(
        f"{path}:12: [profiles.staging.prometheus] token_env names the environment variable "
        "WB_SETTINGS_STAGING_TOKEN"
    )
    monkeypatch.setenv("WB_SETTINGS_STAGING_TOKEN", SECRET)
    url, options = staging.source_options("prometheus")
    assert (url, options) == ("http://staging.example:9090", {"bearer_token": SECRET})
    assert staging.to_toml().startswith(f"# settings file: {path} (profile staging)\n")
    assert SECRET not in staging.to_toml()
    assert settings.load(environ={"MANCEROPS_PROFILE": "lab"}).jaeger.url == (
        "http://lab.example:16686"
    )


def test_an_unknown_profile_or_a_typo_in_an_unused_one_is_refused(isolated):
    path = write(isolated, PROFILES)
    with pytest.raises(SettingsError) as raised:
        settings.load(profile="prod")
    assert str(raised.value).startswith(f"no profile 'prod' in {path}; its profiles: lab, staging")
    said = message(PROFILES + '\n[profiles.lab.prometheus]\nurll = "x"\n')
    assert said.startswith(f"{path}:18: unknown setting 'urll' in [profiles.lab.prometheus]")
    said = message(PROFILES + '\n[profiles.lab.hosts]\nname = "x"\n')
    assert said.startswith(f"{path}:17: [profiles.lab] cannot hold 'hosts'; a profile holds:")
