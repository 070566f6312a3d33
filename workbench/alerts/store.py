"""Alert state and undelivered notifications in one SQLite file.

A restart of ``mancerops alerts run`` reads back every active alert (with the time it
was last sent) and every notification not yet delivered, so it neither forgets a firing
alert nor sends one twice. Each evaluation's new state and the notifications it
queues are written in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from workbench.alerts.machine import Alert
from workbench.errors import UsageError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    rule TEXT NOT NULL, fingerprint TEXT NOT NULL, labels TEXT NOT NULL,
    annotations TEXT NOT NULL, state TEXT NOT NULL, active_at REAL NOT NULL, value REAL,
    fired_at REAL, resolved_at REAL, last_sent_at REAL, keep_firing_since REAL,
    valid_until REAL, PRIMARY KEY (rule, fingerprint));
CREATE TABLE IF NOT EXISTS evaluations (rule TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, payload TEXT NOT NULL,
    created REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL, last_error TEXT, delivered_at REAL);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (delivered_at, next_attempt);
"""
_ALERT_COLUMNS = (
    "labels, annotations, state, active_at, value, fired_at, resolved_at, last_sent_at, "
    "keep_firing_since, valid_until"
)


@dataclass(frozen=True, slots=True)
class Pending:
    """A queued notification: where it goes, what it says, how often it failed."""

    id: int
    target: str
    payload: dict
    created: float
    attempts: int
    next_attempt: float
    last_error: str | None


class AlertStore:
    """The SQLite state file (``":memory:"`` keeps it in memory, for backtests)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as error:
            raise UsageError(
                f"cannot use {self.path} as the alert state file: {error}; "
                "give a new file name or the file an earlier run wrote"
            ) from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- alert state ---------------------------------------------------------------------

    def load(self, rule: str) -> dict[str, Alert]:
        """Return the active alerts of ``rule`` by fingerprint."""
        rows = self._db.execute(
            f"SELECT fingerprint, {_ALERT_COLUMNS} FROM alerts WHERE rule = ?", (rule,)
        ).fetchall()
        found = {}
        for key, labels, notes, state, *times in rows:
            active_at, value, fired, resolved, sent, keep, valid = times
            found[key] = Alert(
                labels=json.loads(labels),
                annotations=json.loads(notes),
                state=state,
                active_at=active_at,
                value=float("nan") if value is None else value,
                fired_at=fired,
                resolved_at=resolved,
                last_sent_at=sent,
                keep_firing_since=keep,
                valid_until=valid,
            )
        return found

    def last_evaluation(self, rule: str) -> float | None:
        row = self._db.execute("SELECT at FROM evaluations WHERE rule = ?", (rule,)).fetchone()
        return None if row is None else row[0]

    def commit(
        self,
        states: Iterable[tuple[str, float, dict[str, Alert]]],
        notifications: Iterable[tuple[str, dict, float]],
    ) -> None:
        """Write each rule's (key, evaluation time, active alerts) and queue notifications.

        ``notifications`` are (target, payload, now); all of it lands or none does.
        """
        with _transaction(self._db):
            for rule, at, active in states:
                self._db.execute("DELETE FROM alerts WHERE rule = ?", (rule,))
                self._db.executemany(
                    f"INSERT INTO alerts (rule, fingerprint, {_ALERT_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            rule,
                            key,
                            json.dumps(a.labels, sort_keys=True),
                            json.dumps(a.annotations, sort_keys=True),
                            a.state,
                            a.active_at,
                            None if a.value != a.value else a.value,
                            a.fired_at,
                            a.resolved_at,
                            a.last_sent_at,
                            a.keep_firing_since,
                            a.valid_until,
                        )
                        for key, a in active.items()
                    ],
                )
                self._db.execute(
                    "INSERT INTO evaluations (rule, at) VALUES (?, ?) "
                    "ON CONFLICT (rule) DO UPDATE SET at = excluded.at",
                    (rule, at),
                )
            self._db.executemany(
                "INSERT INTO outbox (target, payload, created, next_attempt) VALUES (?, ?, ?, ?)",
                [(target, json.dumps(payload), now, now) for target, payload, now in notifications],
            )

    # -- outbox --------------------------------------------------------------------------

    def due(self, now: float) -> list[Pending]:
        """Return undelivered notifications whose next attempt is due, oldest first."""
        rows = self._db.execute(
            "SELECT id, target, payload, created, attempts, next_attempt, last_error FROM outbox "
            "WHERE delivered_at IS NULL AND next_attempt <= ? ORDER BY id",
            (now,),
        ).fetchall()
        return [
            Pending(i, target, json.loads(payload), created, attempts, next_attempt, error)
            for i, target, payload, created, attempts, next_attempt, error in rows
        ]

    def undelivered(self) -> list[Pending]:
        """Return every notification not yet delivered."""
        return self.due(float("inf"))

    def delivered(self, item: int, at: float) -> None:
        self._db.execute("UPDATE outbox SET delivered_at = ? WHERE id = ?", (at, item))

    def failed(self, item: int, error: str, retry_at: float) -> None:
        self._db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt = ? "
            "WHERE id = ?",
            (error, retry_at, item),
        )

    def sent(self, target: str | None = None) -> list[dict]:
        """Return the payloads delivered so far (to ``target``), in order."""
        query = "SELECT payload FROM outbox WHERE delivered_at IS NOT NULL"
        params: tuple = ()
        if target is not None:
            query += " AND target = ?"
            params = (target,)
        return [json.loads(row[0]) for row in self._db.execute(query + " ORDER BY id", params)]


class _transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, *_: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
