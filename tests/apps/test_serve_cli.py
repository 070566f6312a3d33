"""`mancerops serve` refuses bad input before it starts a server."""

import subprocess
import sys


def mancerops(*args):
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_serve_refuses_a_suite_without_incidents():
    run = mancerops("serve", "--port", "1", "--dataset", "nab/realKnownCause/nyc_taxi")
    assert run.returncode == 2
    assert "holds no incidents" in run.stderr and "rcd-sockshop, nezha" in run.stderr
    assert "serving" not in run.stderr


def test_serve_refuses_an_unknown_case():
    run = mancerops("serve", "--dataset", "rcd-sockshop/carts-cpu/99")
    assert run.returncode == 2
    assert "carts-cpu/99" in run.stderr
    assert "Traceback" not in run.stderr
    # Refused before serving: it must not claim to be serving anything.
    assert "serving" not in run.stderr


def test_serve_refuses_a_case_and_a_live_source_together():
    run = mancerops("serve", "--dataset", "rcd-sockshop/carts-cpu/1", "--live")
    assert run.returncode == 2
    assert "--dataset or a live Prometheus" in run.stderr


def test_serve_live_without_a_url_in_the_settings_says_where_to_set_it(tmp_path):
    config = tmp_path / "mancerops.toml"
    config.write_text("[investigate]\ntop = 3\n")
    run = mancerops("serve", "--live", "--config", str(config))
    assert run.returncode == 2
    assert "no Prometheus URL" in run.stderr and "[prometheus]" in run.stderr
    assert "Traceback" not in run.stderr
