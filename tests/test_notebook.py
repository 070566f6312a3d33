"""Notebook runs with parameters (papermill), their outputs, and runs that fail."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from workbench.notebook import NotebookFailed, parse_value, read_parameters, run_notebook

ROOT = Path(__file__).resolve().parents[1]
# ../shared/cases beside the checkout: inputs from real bug reports.
CASES = ROOT.parent / "shared" / "cases"
INVESTIGATE = ROOT / "notebooks" / "01_investigate_incident.ipynb"


def mancerops(*args):
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def _stdout(path: Path) -> str:
    book = nbformat.read(str(path), as_version=4)
    return "".join(
        output.get("text", "")
        for cell in book.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("name") == "stdout"
    )


def test_run_with_a_parameter_writes_the_notebook_and_its_html(tmp_path):
    run = run_notebook(INVESTIGATE, tmp_path, parameters={"case": "rcd-sockshop/user-mem/1"})
    assert run.status == "ok"
    assert run.output == tmp_path / INVESTIGATE.name and run.output.exists()
    assert run.html == tmp_path / "01_investigate_incident.html"
    text = _stdout(run.output)
    assert "rcd-sockshop/user-mem/1: onset" in text
    assert "#1 user " in text  # ground truth of user-mem/1
    page = run.html.read_text()
    assert "rcd-sockshop/user-mem/1" in page and "plotly" in page
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "01_investigate_incident.html",
        "01_investigate_incident.ipynb",
    ]  # no temporary file left behind


def test_bl28_yaml_parameters_keep_dates_as_text():
    assert read_parameters(CASES / "BL-28.yaml") == {
        "run_date": "2024-03-01",
        "window_start": "2024-03-01T10:00:00Z",
        "threshold": 0.8,
        "service": "checkout",
    }
    assert parse_value("3") == 3 and parse_value("true") is True
    assert parse_value("2024-03-01") == "2024-03-01"


def test_bl29_dead_kernel_names_the_killing_cell_and_keeps_what_ran(tmp_path):
    failures = []
    with pytest.raises(NotebookFailed) as raised:
        run_notebook(
            CASES / "BL-29.ipynb", tmp_path, parameters={"n": 3}, on_failure=failures.append
        )
    run = raised.value.run
    assert failures == [run]  # the notification hook saw the failed run
    assert run.status == "failed"
    assert run.failed_cell.cell_id == "c2"  # papermill itself marks c2 "completed"
    assert "DeadKernelError" in run.failed_cell.error
    assert run.not_run == ("c3",)
    assert run.output is None and not (tmp_path / "BL-29.ipynb").exists()
    assert run.partial == tmp_path / "BL-29.failed.ipynb"
    assert "before crash 3" in _stdout(run.partial)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["BL-29.failed.ipynb"]


def test_cli_run_failure_exits_1_with_the_failing_cell(tmp_path):
    run = mancerops(
        "notebook", "run", str(CASES / "BL-29.ipynb"), "-p", "n", "3", "--out", tmp_path
    )
    assert run.returncode == 1
    assert "(c2)" in run.stderr and "DeadKernelError" in run.stderr
    assert "Traceback" not in run.stderr


def test_cli_refuses_a_parameter_without_a_value(tmp_path):
    run = mancerops("notebook", "run", str(INVESTIGATE), "--out", tmp_path, "-p", "case")
    assert run.returncode == 2
    assert "-p NAME VALUE" in run.stderr


def test_cli_a_cell_that_raises_names_its_exception_and_message(tmp_path):
    # The error line says what the cell raised, not papermill's empty wrapper
    # ("PapermillExecutionError: ;").
    run = mancerops("notebook", "run", INVESTIGATE, "--out", tmp_path, "-p", "case", "bogus/x")
    assert run.returncode == 1
    [line] = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert "datasets.load(case)" in line
    assert "UnknownCase: unknown dataset suite 'bogus'" in line
    assert "PapermillExecutionError" not in line
    assert "Traceback" not in run.stderr  # the cell's traceback stays in the kept notebook


def test_cli_refuses_a_parameter_the_notebook_does_not_define(tmp_path):
    run = mancerops("notebook", "run", str(INVESTIGATE), "--out", tmp_path, "-p", "cases", "x")
    assert run.returncode == 2
    assert "has no parameter cases" in run.stderr and "defines case, top" in run.stderr
    assert list(tmp_path.iterdir()) == []  # refused before anything ran
