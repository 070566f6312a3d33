"""The console script end to end, as a user runs it."""

import json
import os
import subprocess
import sys

import pytest


def mancerops(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_investigate_json_ranks_the_injected_service_first():
    run = mancerops("investigate", "--dataset", "rcd-sockshop/carts-cpu/1", "--json")
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["case"] == "rcd-sockshop/carts-cpu/1"
    assert len(payload["ranking"]) == 5
    top = payload["ranking"][0]
    assert top["service"] == "carts"  # ground truth: the folder name
    assert set(top) == {"rank", "service", "indicator", "score", "evidence", "onset"}
    assert {"kind", "baseline", "observed", "deviation", "window"} <= set(top["evidence"])
    # fault start is the first row of anomalous.csv, 1652812675 = 2022-05-17T18:37:55Z
    assert payload["onset"] == "2022-05-17T18:37:55Z"


def test_investigate_prints_a_table_and_writes_a_report(tmp_path):
    report = tmp_path / "r.html"
    run = mancerops("investigate", "--dataset", "rcd-sockshop/user-mem/2", "--report", str(report))
    assert run.returncode == 0, run.stderr
    first_row = next(line for line in run.stdout.splitlines() if line.startswith("│ 1 "))
    assert "│ user " in first_row
    page = report.read_text()
    assert "<script src=" not in page  # self-contained
    assert "2022-05" in page and "onset" in page


def test_unknown_case_lists_what_exists():
    run = mancerops("investigate", "--dataset", "rcd-sockshop/carts-cpu/9")
    assert run.returncode == 2
    assert "carts-cpu/1" in run.stderr
    assert "Traceback" not in run.stderr


def test_unknown_suite_says_which_exist():
    run = mancerops("eval", "rca", "--suite", "nope")
    assert run.returncode == 2
    assert "rcd-sockshop" in run.stderr and "Traceback" not in run.stderr


def test_missing_dataset_names_places_and_fetch_command(tmp_path):
    env = {
        "MANCEROPS_DATASETS": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "MANCEROPS_OFFLINE": "1",
    }
    run = mancerops("investigate", "--dataset", "rcd-sockshop/carts-cpu/1", env=env)
    assert run.returncode == 1  # the input was right; the run could not get its data
    assert str(tmp_path / "rcd") in run.stderr
    assert "mancerops datasets fetch rcd-sockshop" in run.stderr


def test_debug_shows_the_traceback():
    run = mancerops("--debug", "investigate", "--dataset", "rcd-sockshop/carts-cpu/9")
    assert run.returncode != 0
    assert "Traceback" in run.stderr


def test_without_a_source_it_says_what_to_give():
    run = mancerops("investigate")
    assert run.returncode == 2
    assert "--dataset" in run.stderr


@pytest.mark.parametrize("command", [("datasets", "list"), ("datasets", "path", "rcd-sockshop")])
def test_dataset_commands_answer(command):
    run = mancerops(*command)
    assert run.returncode == 0, run.stderr
    assert "rcd" in run.stdout


def test_json_carries_the_ground_truth_of_a_dataset_case():
    run = mancerops("investigate", "--dataset", "rcd-sockshop/orders-mem/5", "--json", "--top", "2")
    payload = json.loads(run.stdout)
    assert payload["truth"]["root_cause_service"] == "orders"
    assert payload["truth"]["fault_type"] == "mem"
    assert len(payload["ranking"]) == 2


def test_an_unexpected_failure_is_one_line_not_a_traceback(monkeypatch, capsys):
    import workbench.rca
    from workbench import cli

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(workbench.rca, "investigate", broken)
    monkeypatch.setattr(
        sys, "argv", ["mancerops", "investigate", "--dataset", "rcd-sockshop/carts-cpu/1"]
    )
    monkeypatch.setitem(cli._state, "debug", False)
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: boom" in err and "--debug" in err
    assert "Traceback" not in err


def test_version_alone_prints_the_version():
    from workbench import __version__

    run = mancerops("--version")
    assert run.returncode == 0 and run.stdout.strip() == __version__


def test_top_must_be_positive():
    run = mancerops("investigate", "--dataset", "rcd-sockshop/carts-cpu/1", "--top", "0")
    assert run.returncode == 2 and "--top" in run.stderr


def test_a_case_without_metrics_says_so():
    run = mancerops("investigate", "--dataset", "loghub-2k/HDFS")
    assert run.returncode == 2
    assert "loghub-2k/HDFS has no metrics" in run.stderr


def test_onset_takes_epoch_seconds_like_start_and_end():
    # 1652812675 = 2022-05-17T18:37:55Z, the first row of carts-cpu/1's anomalous.csv
    run = mancerops(
        "investigate", "--dataset", "rcd-sockshop/carts-cpu/1", "--onset", "1652812675", "--json"
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["onset"] == "2022-05-17T18:37:55Z"


def test_onset_outside_nanosecond_years_is_a_usage_error():
    run = mancerops(
        "investigate", "--dataset", "rcd-sockshop/carts-cpu/1", "--onset", "0001-01-01T00:00:00Z"
    )
    assert run.returncode == 2 and "outside the years 1678-2261" in run.stderr


def test_report_to_a_folder_is_refused(tmp_path):
    run = mancerops(
        "investigate", "--dataset", "rcd-sockshop/carts-cpu/1", "--report", str(tmp_path)
    )
    assert run.returncode == 2 and "is a folder" in run.stderr


def test_delay_must_be_finite():
    run = mancerops("eval", "rca", "--suite", "rcd-sockshop", "--given-onset", "--delay", "nan")
    assert run.returncode == 2 and "--delay must be" in run.stderr


def test_table_off_a_terminal_keeps_every_column():
    run = mancerops("investigate", "--dataset", "nezha/2023-01-29/08_43")
    assert run.returncode == 0, run.stderr
    first = next(line for line in run.stdout.splitlines() if line.startswith("│ 1 "))
    assert (" sd " in first or " e-fold " in first) and "…" not in first


def test_service_names_are_not_read_as_markup(capsys):
    from datetime import UTC, datetime, timedelta

    import polars as pl

    from workbench import cli
    from workbench.rca import investigate

    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    times = [t0 + timedelta(seconds=i) for i in range(40)]
    metrics = pl.concat(
        pl.DataFrame({"timestamp": times, "service": name, "metric": "cpu", "value": values})
        for name, values in [("[/bold]x", [1.0] * 20 + [9.0] * 20), ("[red]y[/red]", [1.0] * 40)]
    )
    cli._print_ranking(investigate(metrics), 2)
    out = capsys.readouterr().out
    assert "[/bold]x" in out and "[red]y[/red]" in out


def test_investigate_nezha_fuses_logs_and_traces_with_their_evidence(tmp_path):
    report = tmp_path / "r.html"
    run = mancerops(
        "investigate",
        "--dataset",
        "nezha/2023-01-29/08_43",
        "--onset",
        "2023-01-29T08:43:04Z",
        "--json",
        "--report",
        str(report),
    )
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    top = payload["ranking"][0]
    # Injected: an early return in ts-contacts-service (ground truth of the fault list).
    assert top["service"] == "ts-contacts-service"
    logs = top["evidence"]["modalities"]["logs"]
    assert logs["statement"] == "c.s.ContactsServiceImpl#37" and logs["lines"]
    assert logs["trace_ids"][0] in logs["lines"][0]  # the line's own TraceID
    page = report.read_text()
    assert "Evidence by modality" in page and "c.s.ContactsServiceImpl#37" in page


def test_modalities_option_restricts_the_ranking_and_refuses_unknown_names():
    run = mancerops(
        "investigate",
        "--dataset",
        "nezha/2023-01-29/08_43",
        "--onset",
        "2023-01-29T08:43:04Z",
        "--modalities",
        "traces",
        "--json",
    )
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["method"] == "mancerops-fusion 0.1 [traces]"
    assert all(set(c["evidence"]["modalities"]) <= {"traces"} for c in payload["ranking"])
    bad = mancerops("eval", "rca", "--suite", "nezha", "--modalities", "metrics,smells")
    assert bad.returncode == 2 and "unknown modality smells" in bad.stderr
