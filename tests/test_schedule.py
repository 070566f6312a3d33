"""Scheduled notebook runs: missed-run policies, no overlap, failures, history, CLI."""

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest

from workbench.errors import UsageError
from workbench.schedule import (
    FAILED,
    LOST,
    MISSED,
    OK,
    SKIP,
    SKIPPED,
    Job,
    Schedule,
    Scheduler,
)

# ../shared/cases beside the checkout: inputs from real bug reports.
CASES = Path(__file__).resolve().parents[1].parent / "shared" / "cases"
CREATED = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def tiny(tmp_path):
    """A notebook that prints its parameter."""
    book = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell("who = 'nobody'")
    parameters.metadata["tags"] = ["parameters"]
    book.cells = [parameters, nbformat.v4.new_code_cell("print('hello', who)")]
    book.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path / "tiny.ipynb"
    nbformat.write(book, str(path))
    return path


@pytest.fixture
def store(tmp_path):
    schedule = Schedule(tmp_path / "schedule.sqlite")
    yield schedule
    schedule.close()


def _at(hour: int, minute: int) -> datetime:
    return datetime(2024, 3, 1, hour, minute, tzinfo=UTC)


def test_missed_fire_times_run_once_for_all_and_write_the_run(store, tiny, tmp_path):
    job = Job("every15", "*/15 * * * *", str(tiny), str(tmp_path / "runs"), {"who": "ops"})
    store.add(job, now=CREATED)
    # Down from 10:00 to 11:02: fire times 10:15, 10:30, 10:45 and 11:00 were missed.
    done = Scheduler(store, clock=lambda: _at(11, 2)).tick()
    assert [d["status"] for d in done] == ["ok"]
    (run,) = store.history("every15")
    assert (run["status"], run["fire_times"]) == (OK, 4)
    assert run["scheduled_for"] == _at(11, 0).isoformat()
    folder = tmp_path / "runs" / "20240301T110000Z"
    assert run["output"] == str(folder / "tiny.ipynb") and run["html"] == str(folder / "tiny.html")
    executed = nbformat.read(run["output"], as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "hello ops\n"
    assert run["seconds"] > 0 and run["pid"] is None
    assert Scheduler(store, clock=lambda: _at(11, 14)).tick() == []  # nothing new is due


def test_skip_policy_records_missed_fire_times_and_runs_the_latest(store, tiny, tmp_path):
    store.add(
        Job("hourly", "0 * * * *", str(tiny), str(tmp_path / "runs"), missed=SKIP), now=CREATED
    )
    Scheduler(store, clock=lambda: _at(13, 30)).tick()  # 11:00, 12:00 missed; 13:00 runs
    runs = sorted(store.history("hourly"), key=lambda r: r["scheduled_for"])
    assert [(r["scheduled_for"][11:16], r["status"]) for r in runs] == [
        ("11:00", MISSED),
        ("12:00", MISSED),
        ("13:00", OK),
    ]


def test_a_running_job_is_not_started_again_and_a_lost_run_is_marked(store, tiny, tmp_path):
    store.add(Job("busy", "*/5 * * * *", str(tiny), str(tmp_path / "runs")), now=CREATED)
    # This process holds a run of the job (its pid is alive): the next one is skipped.
    holding = store.begin("busy", _at(10, 5), 1)
    done = Scheduler(store, clock=lambda: _at(10, 11)).tick()
    assert done == [{"job": "busy", "status": SKIPPED}]
    skipped = store.history("busy", limit=1)[0]
    assert skipped["status"] == SKIPPED and f"run {holding} still running" in skipped["error"]
    # A run whose scheduler died (its pid is gone) is lost; the job runs again.
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    store._db.execute("UPDATE runs SET pid = ? WHERE id = ?", (ended.pid, holding))
    Scheduler(store, clock=lambda: _at(10, 16)).tick()
    by_id = {r["id"]: r for r in store.history("busy")}
    assert by_id[holding]["status"] == LOST
    assert max(by_id.values(), key=lambda r: r["id"])["status"] == OK


def test_failed_run_is_recorded_and_notified_without_an_output(store, tmp_path):
    note = tmp_path / "notified.json"
    notify = (
        f'{sys.executable} -c "import json, os, sys; json.dump({{k: v for k, v in '
        f"os.environ.items() if k.startswith('MANCEROPS_')}}, open(sys.argv[1], 'w'))\" {note}"
    )
    notebook = str(CASES / "BL-29.ipynb")
    job = Job("crash", "*/15 * * * *", notebook, str(tmp_path / "runs"), {"n": 3}, notify=notify)
    store.add(job, now=CREATED)
    Scheduler(store, clock=lambda: _at(10, 16)).tick()
    (run,) = store.history("crash")
    assert run["status"] == FAILED
    assert "(c2)" in run["failed_cell"] and "DeadKernelError" in run["failed_cell"]
    folder = tmp_path / "runs" / "20240301T101500Z"
    assert run["output"] is None and run["partial"] == str(folder / "BL-29.failed.ipynb")
    assert sorted(p.name for p in folder.iterdir()) == ["BL-29.failed.ipynb"]
    sent = json.loads(note.read_text())
    assert sent["MANCEROPS_JOB"] == "crash" and sent["MANCEROPS_STATUS"] == FAILED
    assert "(c2)" in sent["MANCEROPS_FAILED_CELL"]
    assert sent["MANCEROPS_RUN_ID"] == str(run["id"])


def test_bad_cron_and_policy_are_refused(store, tiny, tmp_path):
    with pytest.raises(UsageError, match="five fields"):
        store.add(Job("x", "every monday", str(tiny), str(tmp_path)))
    with pytest.raises(UsageError, match="run-once, skip"):
        store.add(Job("x", "* * * * *", str(tiny), str(tmp_path), missed="later"))


def test_cli_add_list_and_history(tiny, tmp_path):
    db = tmp_path / "s.sqlite"

    def mancerops(*args):
        return subprocess.run(
            [sys.executable, "-m", "workbench.cli", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    added = mancerops(
        "schedule", "add", tiny, "--cron", "*/15 * * * *", "--out", tmp_path / "runs",
        "--db", db, "--name", "t", "-p", "who", "2024-03-01",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = json.loads(mancerops("schedule", "list", "--db", db, "--json").stdout)
    (job,) = listed["jobs"]
    assert (job["name"], job["cron"], job["parameters"]) == (
        "t",
        "*/15 * * * *",
        {"who": "2024-03-01"},
    )
    assert job["next"][14:16] in {"00", "15", "30", "45"} and job["last_status"] is None
    again = mancerops(
        "schedule", "add", tiny, "--cron", "0 * * * *", "--out", tmp_path / "runs",
        "--db", db, "--name", "t",
    )  # fmt: skip
    assert again.returncode == 0 and "replaced the earlier job t" in again.stderr
    assert "replaced" not in added.stderr
    bad = mancerops("schedule", "add", tiny, "--cron", "nope", "--out", tmp_path, "--db", db)
    assert bad.returncode == 2 and "five fields" in bad.stderr
    history = json.loads(mancerops("schedule", "history", "--db", db, "--json").stdout)
    assert history == {"runs": []}
    # A job name that is neither scheduled nor in the history is a typo: say so (exit 2).
    typo = mancerops("schedule", "history", "tt", "--db", db)
    assert typo.returncode == 2
    assert "no job named 'tt'" in typo.stderr and "t" in typo.stderr.split("jobs:")[1]
    known = mancerops("schedule", "history", "t", "--db", db, "--json")
    assert known.returncode == 0 and json.loads(known.stdout) == {"runs": []}


def test_add_refuses_a_parameter_the_notebook_does_not_define(store, tiny, tmp_path):
    job = Job("typo", "*/15 * * * *", str(tiny), str(tmp_path), parameters={"whom": "x"})
    with pytest.raises(UsageError, match="has no parameter whom; its parameters cell defines who"):
        store.add(job)
    assert store.jobs() == []
