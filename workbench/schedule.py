"""Scheduled notebook runs: cron jobs, a foreground scheduler and a run history in SQLite.

>>> store = Schedule.open()                       # the user data dir, or a path
>>> store.add(Job("hourly", "*/15 * * * *", "notebooks/01_investigate_incident.ipynb", "runs"))
>>> Scheduler(store).run_forever()                 # `mancerops schedule run`

Policies, stated once:

* **No overlap.** A job's run is recorded as ``running`` (with the scheduler's pid) before
  it starts; a job with a live ``running`` row is not started again, by this scheduler or
  another one on the same history, and the skipped fire time is recorded as ``skipped``.
  A ``running`` row whose pid is gone (a scheduler that was killed) is marked ``lost``.
* **Missed runs** (the scheduler was down, or a run outlasted the next fire times):
  ``run-once`` (the default) runs the job once for all of them, at once, and records
  how many fire times it stands for; ``skip`` records them as ``missed`` and waits for
  the next fire time.
* **Failures.** A failed run is recorded with its failing cell and the notebook kept of
  what ran (:mod:`workbench.notebook`); the job's ``notify`` command, if any, is run with
  the run in its environment (``MANCEROPS_JOB``, ``MANCEROPS_STATUS``,
  ``MANCEROPS_FAILED_CELL``, ``MANCEROPS_OUTPUT``, ``MANCEROPS_RUN_ID``). Outputs are
  whole or absent, as for every notebook run.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from workbench._optional import import_optional
from workbench.errors import UsageError
from workbench.notebook import NotebookFailed, NotebookRun, check_parameters, run_notebook

log = logging.getLogger(__name__)

APP_NAME = "mancerops"
DEFAULT_DB = "schedule.sqlite"
RUN_ONCE, SKIP = "run-once", "skip"
MISSED_POLICIES = (RUN_ONCE, SKIP)
RUNNING, OK, FAILED, SKIPPED, MISSED, LOST = "running", "ok", "failed", "skipped", "missed", "lost"
# The longest the scheduler sleeps between looks at the clock (a job added meanwhile is
# picked up within this).
MAX_SLEEP_S = 60.0
NOTIFY_TIMEOUT_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY,
    cron TEXT NOT NULL,
    notebook TEXT NOT NULL,
    out_dir TEXT NOT NULL,
    parameters TEXT NOT NULL,
    missed TEXT NOT NULL,
    notify TEXT,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL,
    scheduled_for TEXT NOT NULL,
    fire_times INTEGER NOT NULL DEFAULT 1,
    started TEXT,
    finished TEXT,
    status TEXT NOT NULL,
    seconds REAL,
    output TEXT,
    html TEXT,
    partial TEXT,
    failed_cell TEXT,
    error TEXT,
    pid INTEGER
);
CREATE INDEX IF NOT EXISTS runs_by_job ON runs (job, scheduled_for);
"""


@dataclass(frozen=True, slots=True)
class Job:
    """A notebook to run on a cron schedule, with its parameters and policies."""

    name: str
    cron: str
    notebook: str
    out_dir: str
    parameters: dict[str, Any] = field(default_factory=dict)
    missed: str = RUN_ONCE
    notify: str | None = None


class Schedule:
    """The jobs and the run history, in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit: every statement is its own transaction unless one is begun
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.executescript(_SCHEMA)

    @classmethod
    def open(cls, path: str | Path | None = None) -> Schedule:
        """Return the schedule at ``path``, or in the user data dir."""
        if path is None:
            path = Path(platformdirs.user_data_dir(APP_NAME)) / DEFAULT_DB
        return cls(path)

    def close(self) -> None:
        self._db.close()

    # -- jobs -----------------------------------------------------------------------------

    def add(self, job: Job, *, now: datetime | None = None) -> None:
        """Store ``job``; a job of the same name is replaced (its history stays)."""
        _check_cron(job.cron)
        if job.missed not in MISSED_POLICIES:
            raise UsageError(
                f"missed-run policy {job.missed!r}: choose {', '.join(MISSED_POLICIES)}"
            )
        if not Path(job.notebook).is_file():
            raise UsageError(f"notebook {job.notebook} does not exist; give an .ipynb path")
        check_parameters(Path(job.notebook), job.parameters)
        self._db.execute(
            "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.name,
                job.cron,
                str(Path(job.notebook).resolve()),
                str(Path(job.out_dir).resolve()),
                json.dumps(job.parameters),
                job.missed,
                job.notify,
                _iso(now or _now()),
            ),
        )

    def remove(self, name: str) -> None:
        """Remove the job ``name`` (its history stays)."""
        if self._db.execute("DELETE FROM jobs WHERE name = ?", (name,)).rowcount == 0:
            raise UsageError(f"no job named {name!r}; `mancerops schedule list` shows them")

    def jobs(self) -> list[Job]:
        """Return the jobs, by name."""
        rows = self._db.execute("SELECT * FROM jobs ORDER BY name").fetchall()
        return [
            Job(
                r["name"],
                r["cron"],
                r["notebook"],
                r["out_dir"],
                json.loads(r["parameters"]),
                r["missed"],
                r["notify"],
            )
            for r in rows
        ]

    def created(self, name: str) -> datetime:
        row = self._db.execute("SELECT created FROM jobs WHERE name = ?", (name,)).fetchone()
        return _parse(row["created"])

    # -- history --------------------------------------------------------------------------

    def history(self, job: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Return the latest runs (of ``job``), newest first."""
        where, args = ("WHERE job = ?", (job, limit)) if job else ("", (limit,))
        rows = self._db.execute(
            f"SELECT * FROM runs {where} ORDER BY id DESC LIMIT ?",  # where is fixed text
            args,
        ).fetchall()
        return [dict(r) for r in rows]

    def last_fire_time(self, job: str) -> datetime | None:
        row = self._db.execute(
            "SELECT MAX(scheduled_for) AS t FROM runs WHERE job = ?", (job,)
        ).fetchone()
        return _parse(row["t"]) if row["t"] else None

    def begin(self, job: str, scheduled_for: datetime, fire_times: int) -> int | None:
        """Record a run of ``job`` as running and return its id; None if one still runs."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for row in self._db.execute(
                "SELECT id, pid FROM runs WHERE job = ? AND status = ?", (job, RUNNING)
            ).fetchall():
                if _alive(row["pid"]):
                    self._db.execute(
                        "INSERT INTO runs (job, scheduled_for, fire_times, status, error) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (
                            job,
                            _iso(scheduled_for),
                            fire_times,
                            SKIPPED,
                            f"run {row['id']} still running",
                        ),
                    )
                    self._db.execute("COMMIT")
                    return None
                self._db.execute(
                    "UPDATE runs SET status = ?, error = ? WHERE id = ?",
                    (LOST, f"scheduler pid {row['pid']} ended during the run", row["id"]),
                )
            cursor = self._db.execute(
                "INSERT INTO runs (job, scheduled_for, fire_times, started, status, pid) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (job, _iso(scheduled_for), fire_times, _iso(_now()), RUNNING, os.getpid()),
            )
            self._db.execute("COMMIT")
            return int(cursor.lastrowid)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def finish(self, run_id: int, run: NotebookRun) -> None:
        """Record how run ``run_id`` ended."""
        self._db.execute(
            "UPDATE runs SET finished = ?, status = ?, seconds = ?, output = ?, html = ?, "
            "partial = ?, failed_cell = ?, pid = NULL WHERE id = ?",
            (
                _iso(_now()),
                OK if run.status == "ok" else FAILED,
                run.seconds,
                _path(run.output),
                _path(run.html),
                _path(run.partial),
                run.failed_cell.describe() if run.failed_cell else None,
                run_id,
            ),
        )

    def fail(self, run_id: int, error: str) -> None:
        """Record run ``run_id`` as failed before the notebook could run."""
        self._db.execute(
            "UPDATE runs SET finished = ?, status = ?, error = ?, pid = NULL WHERE id = ?",
            (_iso(_now()), FAILED, error, run_id),
        )

    def record_missed(self, job: str, fire_times: list[datetime]) -> None:
        """Record fire times that were passed over (policy ``skip``)."""
        self._db.executemany(
            "INSERT INTO runs (job, scheduled_for, status) VALUES (?, ?, ?)",
            [(job, _iso(t), MISSED) for t in fire_times],
        )


class Scheduler:
    """Run the jobs of a :class:`Schedule` at their cron times, in the foreground."""

    def __init__(
        self,
        schedule: Schedule,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        runner: Callable[..., NotebookRun] = run_notebook,
    ) -> None:
        self.schedule = schedule
        self.clock = clock or _now
        self.sleep = sleep
        self.runner = runner

    def due(self, job: Job, now: datetime) -> list[datetime]:
        """Return the fire times of ``job`` after its last one (or its creation) up to now."""
        croniter = import_optional("croniter", "notebooks").croniter
        since = self.schedule.last_fire_time(job.name) or self.schedule.created(job.name)
        times: list[datetime] = []
        fire = croniter(job.cron, since)
        while (moment := fire.get_next(datetime)) <= now:
            times.append(moment)
        return times

    def tick(self) -> list[dict[str, Any]]:
        """Run every job that is due now (once each, by its missed-run policy); return them."""
        now = self.clock()
        done = []
        for job in self.schedule.jobs():
            times = self.due(job, now)
            if not times:
                continue
            if job.missed == SKIP and len(times) > 1:
                self.schedule.record_missed(job.name, times[:-1])
                times = times[-1:]
            done.append(self._run(job, times[-1], len(times)))
        return done

    def next_fire_time(self) -> datetime | None:
        """Return the earliest next fire time of any job."""
        now = self.clock()
        upcoming = [next_fire_time(job, now) for job in self.schedule.jobs()]
        return min(upcoming) if upcoming else None

    def run_forever(self, *, until: datetime | None = None) -> None:
        """Run due jobs, sleep until the next fire time, repeat (until ``until``)."""
        while until is None or self.clock() < until:
            self.tick()
            upcoming = self.next_fire_time()
            wait = MAX_SLEEP_S
            if upcoming is not None:
                wait = min(wait, max((upcoming - self.clock()).total_seconds(), 0.0) + 0.01)
            if until is not None:
                wait = min(wait, max((until - self.clock()).total_seconds(), 0.0))
            self.sleep(wait)

    def _run(self, job: Job, scheduled_for: datetime, fire_times: int) -> dict[str, Any]:
        run_id = self.schedule.begin(job.name, scheduled_for, fire_times)
        if run_id is None:
            log.warning(
                "job %s is still running; the run of %s is skipped", job.name, scheduled_for
            )
            return {"job": job.name, "status": SKIPPED}
        out = Path(job.out_dir) / scheduled_for.strftime("%Y%m%dT%H%M%SZ")
        try:
            run = self.runner(job.notebook, out, parameters=job.parameters)
        except NotebookFailed as failure:
            run = failure.run
        except Exception as error:  # the run must be recorded whatever stopped it
            self.schedule.fail(run_id, f"{type(error).__name__}: {error}")
            self._notify(job, run_id, FAILED, str(error), None)
            return {"job": job.name, "status": FAILED, "id": run_id}
        self.schedule.finish(run_id, run)
        if run.status != "ok":
            cell = run.failed_cell.describe() if run.failed_cell else ""
            self._notify(job, run_id, FAILED, cell, run.partial)
        return {"job": job.name, "status": run.status, "id": run_id}

    def _notify(
        self, job: Job, run_id: int, status: str, failed_cell: str, output: Path | None
    ) -> None:
        if not job.notify:
            return
        env = {
            **os.environ,
            "MANCEROPS_JOB": job.name,
            "MANCEROPS_RUN_ID": str(run_id),
            "MANCEROPS_STATUS": status,
            "MANCEROPS_FAILED_CELL": failed_cell,
            "MANCEROPS_OUTPUT": str(output or ""),
        }
        try:
            done = subprocess.run(
                shlex.split(job.notify),
                env=env,
                timeout=NOTIFY_TIMEOUT_S,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            log.warning("notify command of job %s failed: %s", job.name, error)
            return
        if done.returncode != 0:
            log.warning("notify command of job %s exited %d", job.name, done.returncode)


def next_fire_time(job: Job, after: datetime | None = None) -> datetime:
    """Return the first fire time of ``job`` after ``after`` (now)."""
    croniter = import_optional("croniter", "notebooks").croniter
    return croniter(job.cron, after or _now()).get_next(datetime)


def _check_cron(expression: str) -> None:
    croniter = import_optional("croniter", "notebooks").croniter
    if not croniter.is_valid(expression):
        raise UsageError(
            f"cron expression {expression!r} is not valid; write five fields, "
            'e.g. "*/15 * * * *" (minute hour day month weekday)'
        )


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _path(path: Path | None) -> str | None:
    return str(path) if path is not None else None


__all__ = ["Job", "Schedule", "Scheduler", "next_fire_time"]
