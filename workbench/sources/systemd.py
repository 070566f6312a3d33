"""systemd's text and JSON outputs, parsed into the units, events and logs frames.

The parsers here know the formats only; :mod:`workbench.sources.mancer` runs the
commands on hosts. Formats (systemd 252's ``systemctl(1)`` and ``journalctl(1)``):

* ``systemctl list-units --all --plain --no-legend --full``: one unit per line, columns
  UNIT LOAD ACTIVE SUB DESCRIPTION separated by runs of spaces; the description may hold
  spaces. Without ``--plain`` a failed or not-found unit is prefixed by a bullet ``●``
  (``*`` off a UTF-8 locale), and without ``--no-legend`` a header and a footer
  (``LOAD   = Reflects ...``, ``12 loaded units listed.``) surround the rows. Both are
  handled, since a wrapper or an older systemd may add them.
* ``systemctl list-units --output=json``: a JSON array of
  ``{"unit", "load", "active", "sub", "description"}`` objects.
* ``systemctl show --property=...``: ``Key=Value`` lines, one block per unit, blocks
  separated by a blank line; with ``--timestamp=unix`` times read ``@1739797380``.
* ``journalctl -o json``: one JSON object per line. Values are strings, ``null`` for a
  field over 4096 bytes when ``--all`` is not given, an array of byte values for
  non-UTF-8 data, and an array of those when a field occurs more than once in an entry.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import polars as pl

from workbench import frames

log = logging.getLogger(__name__)

# The properties `systemctl show` is asked for, in the order the units frame needs them.
SHOW_PROPERTIES = (
    "Id",
    "LoadState",
    "ActiveState",
    "SubState",
    "Description",
    "StateChangeTimestamp",
    "ActiveEnterTimestamp",
    "ActiveExitTimestamp",
    "InactiveEnterTimestamp",
    "InactiveExitTimestamp",
    "NRestarts",
    "MainPID",
    "MemoryCurrent",
)
# systemd prints UINT64_MAX for a counter it does not track (MemoryCurrent without
# memory accounting).
_UINT64_MAX = 2**64 - 1
_BULLETS = ("●", "*", "○")
# Footer and header lines of `systemctl list-units` when the legend is on.
_LEGEND = re.compile(
    r"^(UNIT\s+LOAD\s+ACTIVE\s+SUB\b|(LOAD|ACTIVE|SUB)\s+=\s|\d+ loaded units listed|"
    r"To show all installed unit files|0 loaded units listed|Pass --all to see)"
)
_LOAD_STATES = {"loaded", "not-found", "bad-setting", "error", "masked", "stub", "merged"}
# Timestamps as systemctl prints them without --timestamp=unix, in a UTC locale.
_CLOCK = re.compile(r"^(?:\w{3} )?(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?) (UTC|GMT)$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# journald PRIORITY (syslog severities) to the logs frame's levels.
PRIORITY_LEVELS = {
    "0": "fatal",
    "1": "fatal",
    "2": "fatal",
    "3": "error",
    "4": "warn",
    "5": "info",
    "6": "info",
    "7": "debug",
}


def unit_service(unit: str) -> str:
    """Return the service a unit belongs to: ``carts.service`` and ``carts@2.service`` -> carts."""
    stem = unit.rsplit(".", 1)[0] if "." in unit else unit
    return frames.service_of(stem.split("@", 1)[0])


@dataclass(frozen=True, slots=True)
class UnitList:
    """Rows read from ``systemctl list-units`` and the lines that were not units."""

    rows: list[dict[str, str]]
    skipped: list[str] = field(default_factory=list)


def parse_list_units(text: str) -> UnitList:
    """Return the units listed by ``systemctl list-units`` (plain text or ``--output=json``).

    Bullets in front of failed units are dropped, legend and footer lines are skipped,
    and a line that does not hold ``UNIT LOAD ACTIVE SUB`` is reported in ``skipped``
    rather than turned into a unit.
    """
    stripped = text.strip()
    if stripped.startswith("["):
        return _list_units_json(stripped)
    rows, skipped = [], []
    for line in text.splitlines():
        body = line.strip()
        if not body:
            continue
        if body[0] in _BULLETS:
            body = body[1:].lstrip()
        if _LEGEND.match(body):
            continue
        parts = body.split(None, 4)
        if len(parts) < 4 or parts[1] not in _LOAD_STATES:
            skipped.append(line)
            continue
        rows.append(
            {
                "unit": parts[0],
                "load": parts[1],
                "active": parts[2],
                "sub": parts[3],
                "description": parts[4] if len(parts) > 4 else "",
            }
        )
    return UnitList(rows, skipped)


def _list_units_json(text: str) -> UnitList:
    try:
        items = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"systemctl --output=json is not valid JSON ({error})") from None
    if not isinstance(items, list):
        raise ValueError("systemctl --output=json did not give a list of units")
    rows, skipped = [], []
    for item in items:
        if not isinstance(item, dict) or not item.get("unit"):
            skipped.append(str(item)[:200])
            continue
        rows.append(
            {
                key: str(item.get(key) or "")
                for key in ("unit", "load", "active", "sub", "description")
            }
        )
    return UnitList(rows, skipped)


def parse_show(text: str) -> list[dict[str, str]]:
    """Return the ``Key=Value`` blocks of ``systemctl show``, one dict per unit."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key.strip()] = value
    if current:
        blocks.append(current)
    return blocks


def parse_timestamp(value: str | None) -> datetime | None:
    """Return a ``systemctl show`` time as UTC: ``@1739797380`` or ``Mon 2025-02-17 13:03:00 UTC``.

    Empty, ``n/a`` and ``0`` mean "never" and give None; a local time zone other than UTC
    gives None too (the zone's offset is not in the text), with a log line saying to pass
    ``--timestamp=unix``.
    """
    if value is None:
        return None
    text = value.strip()
    if text in ("", "n/a", "0", "@0"):
        return None
    if text.startswith("@"):
        try:
            return datetime.fromtimestamp(float(text[1:]), tz=UTC)
        except (ValueError, OverflowError, OSError):
            return None
    match = _CLOCK.match(text)
    if match:
        moment = match.group(1)
        fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in moment else "%Y-%m-%d %H:%M:%S"
        return datetime.strptime(moment, fmt).replace(tzinfo=UTC)
    log.warning("cannot read the systemd time %r; run systemctl with --timestamp=unix", text)
    return None


def _count(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    number = int(value)
    return None if number >= _UINT64_MAX else number


def units_frame(
    host: str, listed: list[dict[str, str]], shown: list[dict[str, str]]
) -> pl.DataFrame:
    """Return the units frame of one host from ``list-units`` rows and ``show`` blocks.

    ``show`` fills since, restarts, main PID and memory; its states win over the listing's
    (they are read later). A unit shown but not listed is kept.
    """
    details = {block.get("Id", ""): block for block in shown if block.get("Id")}
    listed_by = {row["unit"]: row for row in listed}
    names = [*listed_by, *(u for u in details if u not in listed_by)]
    records = []
    for unit in names:
        row = listed_by.get(unit, {})
        block = details.get(unit, {})
        main_pid = _count(block.get("MainPID"))
        records.append(
            {
                "host": host,
                "unit": unit,
                "load": block.get("LoadState") or row.get("load", ""),
                "active": block.get("ActiveState") or row.get("active", ""),
                "sub": block.get("SubState") or row.get("sub", ""),
                "description": block.get("Description") or row.get("description", ""),
                "since": parse_timestamp(block.get("StateChangeTimestamp")),
                "restarts": _count(block.get("NRestarts")),
                "main_pid": main_pid if main_pid else None,
                "memory_bytes": _count(block.get("MemoryCurrent")),
            }
        )
    schema = {c.name: c.dtype for c in frames.SCHEMAS[frames.UNITS]}
    return frames.validate(pl.DataFrame(records, schema=schema), frames.UNITS)


# Each timestamp systemd keeps per unit, and the state the unit entered at that moment.
_TRANSITIONS = (
    ("InactiveExitTimestamp", "activating"),
    ("ActiveEnterTimestamp", "active"),
    ("ActiveExitTimestamp", "deactivating"),
    ("InactiveEnterTimestamp", "inactive"),
)


def unit_events(host: str, shown: list[dict[str, str]]) -> pl.DataFrame:
    """Return the events frame of the state changes ``systemctl show`` recorded (kind "unit state").

    systemd keeps the last time a unit entered and left each state; each becomes a row.
    Entering "inactive" while the unit is now failed is written as "failed". A unit
    that was restarted automatically says so, with the count, on its last start.
    """
    records = []
    for block in shown:
        unit = block.get("Id", "")
        if not unit:
            continue
        state = block.get("ActiveState", "")
        restarts = _count(block.get("NRestarts")) or 0
        changed = parse_timestamp(block.get("StateChangeTimestamp"))
        for key, entered in _TRANSITIONS:
            moment = parse_timestamp(block.get(key))
            if moment is None:
                continue
            if entered == "inactive" and state == "failed":
                entered = "failed"
            summary = f"{unit} {entered}"
            if entered in ("activating", "active") and restarts:
                summary += f" (restarted automatically {restarts} time{'s' * (restarts > 1)})"
            details = {
                "unit": unit,
                "to": entered,
                "state_now": state,
                "sub_now": block.get("SubState", ""),
                "restarts": restarts,
                "latest": changed == moment,
            }
            records.append(
                {
                    "timestamp": moment,
                    "kind": "unit state",
                    "service": unit_service(unit),
                    "summary": summary,
                    "host": host,
                    "details": orjson.dumps(details).decode(),
                }
            )
    return events_frame(records)


def events_frame(records: list[dict[str, Any]]) -> pl.DataFrame:
    """Return ``records`` as a validated events frame, sorted by time."""
    schema = {c.name: c.dtype for c in frames.SCHEMAS[frames.EVENTS]}
    frame = pl.DataFrame(records, schema=schema)
    return frames.validate(frame, frames.EVENTS).sort("timestamp", "host", "summary")


@dataclass(frozen=True, slots=True)
class JournalRead:
    """The logs frame read from ``journalctl -o json`` and what was wrong on the way.

    ``bad_lines`` counts lines that were not JSON objects (a truncated last line when the
    command was cut off); ``missing_messages`` counts entries whose message journalctl
    left out (``null``: over 4096 bytes, read them with ``--all``).
    """

    logs: pl.DataFrame
    bad_lines: int = 0
    missing_messages: int = 0

    @property
    def partial(self) -> bool:
        return bool(self.bad_lines or self.missing_messages)


# systemd's own journal messages about units, by MESSAGE_ID (the catalog in
# /usr/lib/systemd/catalog/systemd.catalog), and the state each says the unit entered.
UNIT_MESSAGES = {
    "7d4958e842da4a758f6c1cdc7b36dcc5": "activating",  # "Starting X..."
    "39f53479d3a045ac8e11786248231fbf": "active",  # "Started X."
    "be02cf6855d2428ba40df7e9d022f03d": "failed",  # "Failed to start X."
    "de5b426a63be47a7b6ac3eaac82e2f6f": "deactivating",  # "Stopping X..."
    "9d1aaa27d60140bd96365438aad20286": "inactive",  # "Stopped X."
    "d9b373ed55a64feb8242e02dbe79a49c": "failed",  # "X: Failed with result 'R'."
    "7ad2d189f7e94e70a38c781354912448": "inactive",  # "X: Deactivated successfully."
    "5eb03494b6584870a536b337290809b3": "restarting",  # "X: Scheduled restart job, ..."
}


def _entries(text: str) -> tuple[list[dict[str, Any]], int]:
    """Return the JSON objects of ``journalctl -o json`` output and the count of bad lines."""
    entries, bad = [], 0
    # One JSON object per line whose values change type from entry to entry (string,
    # null, byte array, array of either): no columnar JSON reader types that as one
    # column, so each line is decoded here.
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            bad += 1
            continue
        if not isinstance(entry, dict) or "__REALTIME_TIMESTAMP" not in entry:
            bad += 1
            continue
        entries.append(entry)
    return entries, bad


def parse_unit_messages(text: str, *, host: str) -> pl.DataFrame:
    """Return the events frame (kind "unit state") of systemd's unit messages in a journal.

    Each message whose ``MESSAGE_ID`` is in :data:`UNIT_MESSAGES` is one state change of
    the unit named by its ``UNIT`` field, at its ``__REALTIME_TIMESTAMP``. A scheduled
    automatic restart carries the restart counter (``N_RESTARTS``).
    """
    entries, _ = _entries(text)
    records = []
    for entry in entries:
        entered = UNIT_MESSAGES.get(_field_text(entry.get("MESSAGE_ID")))
        unit = _field_text(entry.get("UNIT")) or _field_text(entry.get("USER_UNIT"))
        moment = _micros(entry.get("__REALTIME_TIMESTAMP"))
        if entered is None or not unit or moment is None:
            continue
        restarts = _field_text(entry.get("N_RESTARTS"))
        details = {
            "unit": unit,
            "to": entered,
            "restarts": int(restarts) if restarts.isdigit() else 0,
            "result": _field_text(entry.get("UNIT_RESULT") or entry.get("JOB_RESULT")),
            "message": _field_text(entry.get("MESSAGE")),
            "source": "journal",
        }
        summary = f"{unit} {entered}"
        if entered == "restarting" and details["restarts"]:
            summary += f" (restart counter {details['restarts']})"
        elif details["result"] and entered == "failed":
            summary += f" ({details['result']})"
        records.append(
            {
                "timestamp": _EPOCH + timedelta(microseconds=moment),
                "kind": "unit state",
                "service": unit_service(unit),
                "summary": summary,
                "host": host,
                "details": orjson.dumps(details).decode(),
            }
        )
    return events_frame(records)


def parse_journal(text: str, *, host: str = "") -> JournalRead:
    """Return the logs frame of ``journalctl -o json`` output.

    ``timestamp`` is ``__REALTIME_TIMESTAMP`` (microseconds, when journald received the
    entry); ``source_time`` keeps ``_SOURCE_REALTIME_TIMESTAMP`` when the sender gave one.
    Repeated fields are joined with a newline; byte arrays are decoded as UTF-8 with
    replacement. A ``null`` message becomes "" with ``message_missing`` true, never the
    text "None".
    """
    records = []
    missing = 0
    entries, bad = _entries(text)
    for entry in entries:
        raw_message = entry.get("MESSAGE")
        message = _field_text(raw_message)
        if raw_message is None:
            missing += 1
        # systemd's messages about a unit name it in UNIT (their sender is init.scope),
        # as `journalctl -u` matches them.
        unit = _field_text(entry.get("UNIT")) or _field_text(entry.get("_SYSTEMD_UNIT"))
        name = (
            unit_service(unit)
            if unit
            else frames.service_of(
                _field_text(entry.get("SYSLOG_IDENTIFIER")) or _field_text(entry.get("_COMM"))
            )
        )
        records.append(
            {
                "timestamp": _micros(entry.get("__REALTIME_TIMESTAMP")),
                "service": name,
                "message": message or "",
                "level": PRIORITY_LEVELS.get(_field_text(entry.get("PRIORITY")), ""),
                "host": host or _field_text(entry.get("_HOSTNAME")),
                "source": f"journald:{unit}" if unit else "journald",
                "unit": unit,
                "source_time": _micros(entry.get("_SOURCE_REALTIME_TIMESTAMP")),
                "message_missing": raw_message is None,
            }
        )
    schema = {
        "timestamp": pl.Int64,
        "service": pl.String,
        "message": pl.String,
        "level": pl.String,
        "host": pl.String,
        "source": pl.String,
        "unit": pl.String,
        "source_time": pl.Int64,
        "message_missing": pl.Boolean,
    }
    frame = pl.DataFrame(records, schema=schema).with_columns(
        pl.from_epoch("timestamp", time_unit="us").dt.replace_time_zone("UTC"),
        pl.from_epoch("source_time", time_unit="us").dt.replace_time_zone("UTC"),
    )
    frame = frames.validate(frame, frames.LOGS).with_columns(
        pl.col("source_time").dt.cast_time_unit("ns")
    )
    return JournalRead(frame.sort("timestamp", maintain_order=True), bad, missing)


def _micros(value: Any) -> int | None:
    text = _field_text(value)
    return int(text) if text.isdigit() else None


def _field_text(value: Any) -> str:
    """Return one journal field as text: a string, a byte array, or several of either."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if value and all(isinstance(v, int) for v in value):
            return bytes(v & 0xFF for v in value).decode("utf-8", errors="replace")
        return "\n".join(_field_text(v) for v in value)
    return str(value)
