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


def test_serve_refuses_an_unknown_case():
    run = mancerops("serve", "--dataset", "rcd-sockshop/carts-cpu/99")
    assert run.returncode == 2
    assert "carts-cpu/99" in run.stderr
    assert "Traceback" not in run.stderr
