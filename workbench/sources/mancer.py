"""Hosts reached through the ``mancer`` library: systemd units, journald logs, config files.

>>> from workbench.sources.mancer import Inventory
>>> hosts = Inventory.load()                 # [[hosts]] tables of mancerops.toml
>>> units = hosts.units().frame              # one row per unit per host
>>> logs = hosts.journal("now-1h", "now").frame

Commands run through mancer's backends: ``BashBackend`` on this machine and
``SshBackend`` over OpenSSH. mancer is an optional extra (``pip install
'mancerops[mancer]'``) and is imported only when a command runs.

Workarounds for mancer 0.1.4, all kept in this module:

* Only the two backends are used. ``ShellRunner`` crashes on remote runs with its cache
  on, its ``MancerLogger`` prints to stdout and stderr, and its services write under
  ``~/.mancer``; the backends do none of that.
* ``SshBackend`` passes ``StrictHostKeyChecking=no`` and ``BatchMode=no`` before any
  option we could add, and OpenSSH keeps the first value it sees, so a changed host key
  would be accepted and a password prompt could hang. :class:`_CheckedSshBackend` keeps
  its settings and result parsing but builds the ssh command line itself: host keys are
  checked against ``known_hosts`` and never added silently, and nothing prompts.
* mancer's systemctl parser shifts columns on bullet-marked units and reads legend lines
  as units: systemctl and journalctl output is parsed by :mod:`workbench.sources.systemd`.
"""

from __future__ import annotations

import base64
import difflib
import functools
import hashlib
import itertools
import logging
import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import platformdirs
import polars as pl

from workbench import frames, settings
from workbench.errors import (
    AuthError,
    QueryError,
    SourceError,
    SourceTimeout,
    SourceUnavailable,
    UsageError,
)
from workbench.sources import systemd

log = logging.getLogger(__name__)

SOURCE = "mancer"
INSTALL_HINT = "pip install 'mancerops[mancer]'"
LOCAL = "local"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_PARALLEL = 8
DEFAULT_SSH_PORT = 22
# Lines of stderr quoted in an error message.
_STDERR_LINES = 3
_NOT_FOUND = 127
_TIMED_OUT = 124
_SSH_FAILED = 255


class HostCommandError(SourceError):
    """A command ran on a host and failed (non-zero exit)."""


class CommandNotFound(QueryError):
    """A command the adapter needs is not installed on the host."""


@dataclass(frozen=True, slots=True)
class Host:
    """One host of the inventory and how to reach it.

    ``address`` "local" runs commands on this machine; anything else is reached over
    SSH as ``user`` with the private key at ``key``, on ``port``. Host keys are checked
    against ``known_hosts`` (default ``~/.ssh/known_hosts``). ``units`` limits the
    journal read by default; ``config_files`` maps each watched file to the service it
    configures ("" for host-wide). ``journal_directory`` reads journal files from a
    folder (``journalctl --directory``) instead of the system journal.
    """

    name: str
    address: str = LOCAL
    user: str | None = None
    key: str | None = None
    port: int = DEFAULT_SSH_PORT
    known_hosts: str | None = None
    units: tuple[str, ...] = ()
    config_files: dict[str, str] = field(default_factory=dict)
    journal_directory: str | None = None

    @property
    def is_local(self) -> bool:
        return self.address == LOCAL

    @property
    def url(self) -> str:
        """Return where the host is reached, safe to print (no secret is ever part of it)."""
        if self.is_local:
            return LOCAL
        user = f"{self.user}@" if self.user else ""
        return f"ssh://{user}{self.address}:{self.port}"

    @classmethod
    def from_dict(cls, table: dict[str, Any], *, where: str = "the inventory") -> Host:
        """Return a host from one ``[[hosts]]`` table of the settings."""
        known = {"name", "address", "user", "key", "port", "known_hosts", "units"}
        known |= {"config_files", "journal_directory"}
        unknown = sorted(set(table) - known)
        name = table.get("name")
        if not isinstance(name, str) or not name:
            raise UsageError(f'a host in {where} has no name; add name = "web-1"')
        if unknown:
            raise UsageError(
                f"host {name!r} in {where} has unknown setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        port = table.get("port", DEFAULT_SSH_PORT)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise UsageError(f"host {name!r} in {where}: port {port!r} is not a TCP port")
        files = table.get("config_files", {})
        if isinstance(files, list):
            files = dict.fromkeys(files, "")
        if not isinstance(files, dict):
            raise UsageError(
                f"host {name!r} in {where}: config_files is a list of paths or a table "
                "of path = service"
            )
        units = table.get("units", [])
        if isinstance(units, str) or not all(isinstance(u, str) for u in units):
            raise UsageError(f"host {name!r} in {where}: units is a list of unit names")
        return cls(
            name=name,
            address=str(table.get("address", LOCAL)),
            user=table.get("user"),
            key=_expand(table.get("key")),
            port=port,
            known_hosts=_expand(table.get("known_hosts")),
            units=tuple(units),
            config_files={str(k): str(v) for k, v in files.items()},
            journal_directory=table.get("journal_directory"),
        )


def _expand(path: str | None) -> str | None:
    return None if path is None else os.path.expanduser(str(path))


def _backends() -> tuple[type, type]:
    """Return mancer's BashBackend and SshBackend classes, or say how to install mancer."""
    try:
        from mancer.infrastructure.backend.bash_backend import BashBackend
        from mancer.infrastructure.backend.ssh_backend import SshBackend
    except ImportError:
        raise UsageError(
            f"host commands need the mancer library, which is not installed: {INSTALL_HINT}"
        ) from None
    return BashBackend, SshBackend


@functools.cache
def _checked_ssh_class() -> type:
    _, ssh_backend = _backends()

    class _CheckedSshBackend(ssh_backend):
        """mancer's SshBackend with host keys checked and no prompt (see the module notes)."""

        def __init__(self, *, known_hosts: str, timeout: float, **settings: Any) -> None:
            super().__init__(**settings)
            self.known_hosts = known_hosts
            self.run_timeout = timeout

        def argv(self, command: str) -> list[str]:
            argv = ["ssh", "-p", str(self.port)]
            options = {
                "BatchMode": "yes",
                "StrictHostKeyChecking": "yes",
                "UserKnownHostsFile": self.known_hosts,
                "ConnectTimeout": str(max(1, int(self.run_timeout))),
                "LogLevel": "ERROR",
            }
            if self.key_filename:
                argv += ["-i", self.key_filename]
                options["IdentitiesOnly"] = "yes"
            for key, value in options.items():
                argv += ["-o", f"{key}={value}"]
            target = f"{self.username}@{self.hostname}" if self.username else self.hostname
            return [*argv, "--", target, command]

        def execute_command(self, command: str, working_dir=None, env_vars=None):
            process = subprocess.run(
                self.argv(command),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.run_timeout,
                check=False,
            )
            return self.parse_output(
                command,
                process.stdout.decode("utf-8", errors="replace"),
                process.returncode,
                process.stderr.decode("utf-8", errors="replace"),
            )

    return _CheckedSshBackend


class HostSource:
    """Run commands on one host through mancer and read its units, journal and files."""

    def __init__(self, host: Host, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.host = host
        self.timeout = timeout
        bash, _ = _backends()
        if host.is_local:
            self._backend = bash()
        else:
            known = host.known_hosts or os.path.expanduser("~/.ssh/known_hosts")
            self._backend = _checked_ssh_class()(
                hostname=host.address,
                username=host.user,
                port=host.port,
                key_filename=host.key,
                known_hosts=known,
                timeout=timeout,
                allow_agent=False,
                look_for_keys=host.key is None,
            )

    def run(self, command: str, *, what: str | None = None) -> str:
        """Return what ``command`` printed on the host; raise a mapped error on failure."""
        what = what or command.split()[0]
        if self.host.is_local:
            # BashBackend.execute_command has no timeout; coreutils' timeout gives one.
            wrapped = f"timeout -k 5 {self.timeout:g} sh -c {shlex.quote(command)}"
            result = self._backend.execute_command(wrapped)
        else:
            try:
                result = self._backend.execute_command(command)
            except FileNotFoundError:
                raise UsageError(
                    "ssh (the OpenSSH client) is not installed on this machine; install it "
                    "(Debian: apt-get install openssh-client) to reach remote hosts"
                ) from None
            except subprocess.TimeoutExpired:
                raise self._error(
                    SourceTimeout,
                    f"{what} on host {self.host.name} did not finish within {self.timeout:g} s; "
                    "raise the host timeout or narrow the request",
                ) from None
        if result.exit_code == 0:
            return result.raw_output
        raise self._failure(result.exit_code, result.error_message or "", what)

    def _error(self, kind: type[SourceError], message: str) -> SourceError:
        return kind(message, source=SOURCE, url=self.host.url)

    def _failure(self, code: int, stderr: str, what: str) -> SourceError:
        name = self.host.name
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        said = " / ".join(lines[-_STDERR_LINES:]) or f"exit code {code}"
        if not self.host.is_local and code == _SSH_FAILED:
            return self._ssh_failure(stderr, said)
        if self.host.is_local and code == _TIMED_OUT:
            return self._error(
                SourceTimeout,
                f"{what} on host {name} did not finish within {self.timeout:g} s; "
                "raise the host timeout or narrow the request",
            )
        if code == _NOT_FOUND:
            return self._error(
                CommandNotFound,
                f"{what} is not installed on host {name} ({said}); install it there "
                "(systemctl and journalctl come with systemd) or leave that host out",
            )
        if "not been booted with systemd" in stderr or "Failed to connect to bus" in stderr:
            return self._error(
                HostCommandError,
                f"host {name} does not run systemd, so {what} has nothing to read ({said})",
            )
        return self._error(HostCommandError, f"{what} failed on host {name}: {said}")

    def _ssh_failure(self, stderr: str, said: str) -> SourceError:
        host = self.host
        known = host.known_hosts or "~/.ssh/known_hosts"
        target = host.address if host.port == DEFAULT_SSH_PORT else f"[{host.address}]:{host.port}"
        if "IDENTIFICATION HAS CHANGED" in stderr:
            return self._error(
                AuthError,
                f"the host key of {host.name} ({host.url}) is not the one in {known}: it "
                "changed, or someone is in between. Ask the host's admin for its key "
                f"fingerprint; once confirmed, remove the old key (ssh-keygen -R '{target}' "
                f"-f {known}) and add the new one as for a new host",
            )
        if "Host key verification failed" in stderr or "host key is known" in stderr:
            return self._error(
                AuthError,
                f"the host key of {host.name} ({host.url}) is not in {known}, so the host is "
                f"not trusted yet. To trust it: ssh-keyscan -p {host.port} {host.address} "
                f">> {known}, after checking the printed fingerprint with the host's admin",
            )
        if "Permission denied" in stderr or "Too many authentication failures" in stderr:
            key = host.key or "the default keys"
            return self._error(
                AuthError,
                f"host {host.name} ({host.url}) refused the login of {host.user or 'the user'} "
                f"with {key} ({said}); check the user and that the key is in its "
                "authorized_keys",
            )
        return self._error(
            SourceUnavailable,
            f"cannot reach host {host.name} ({host.url}): {said}; check the address, port "
            "and that sshd runs there",
        )

    def units(self) -> pl.DataFrame:
        """Return the units frame: every unit, with state times, restarts, PID and memory."""
        units, _ = self.systemd_state()
        return units

    def systemd_state(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Return the units frame and the events frame of unit state changes (kind "unit state")."""
        listing = self.run(
            "systemctl list-units --all --output=json --no-pager 2>/dev/null "
            "|| systemctl list-units --all --plain --no-legend --full --no-pager",
            what="systemctl list-units",
        )
        try:
            listed = systemd.parse_list_units(listing)
        except ValueError as error:
            raise self._error(
                HostCommandError, f"systemctl list-units on host {self.host.name}: {error}"
            ) from None
        if listed.skipped:
            log.warning(
                "host %s: %d line(s) of systemctl list-units were not units and were "
                "skipped, e.g. %r",
                self.host.name,
                len(listed.skipped),
                listed.skipped[0][:120],
            )
        names = [row["unit"] for row in listed.rows]
        shown: list[dict[str, str]] = []
        if names:
            properties = ",".join(systemd.SHOW_PROPERTIES)
            text = self.run(
                f"systemctl show --no-pager --timestamp=unix --property={properties} -- "
                + " ".join(shlex.quote(n) for n in names),
                what="systemctl show",
            )
            shown = systemd.parse_show(text)
        return (
            systemd.units_frame(self.host.name, listed.rows, shown),
            systemd.unit_events(self.host.name, shown),
        )

    def journal(
        self,
        start: datetime,
        end: datetime,
        units: Sequence[str] | None = None,
        *,
        full: bool = False,
    ) -> systemd.JournalRead:
        """Return the journal of ``units`` (default: the host's) between ``start`` and ``end``.

        ``full`` passes ``--all`` so journalctl writes messages over 4096 bytes in full
        instead of ``null``.
        """
        chosen = list(units) if units is not None else list(self.host.units)
        command = [
            "journalctl",
            "-o",
            "json",
            "--no-pager",
            f"--since=@{start.timestamp():.6f}",
            f"--until=@{end.timestamp():.6f}",
        ]
        if full:
            command.append("--all")
        if self.host.journal_directory:
            command.append(f"--directory={self.host.journal_directory}")
        for unit in chosen:
            command += ["-u", unit]
        text = self.run(" ".join(shlex.quote(part) for part in command), what="journalctl")
        return systemd.parse_journal(text, host=self.host.name)

    def unit_history(self, start: datetime, end: datetime) -> pl.DataFrame:
        """Return the unit state changes systemd wrote to the journal between ``start`` and ``end``.

        These are systemd's own messages ("Started", "Failed with result", "Scheduled
        restart job", ...), so every change is there, not only the last of each kind.
        """
        command = ["journalctl", "-o", "json", "--no-pager"]
        command += [f"--since=@{start.timestamp():.6f}", f"--until=@{end.timestamp():.6f}"]
        if self.host.journal_directory:
            command.append(f"--directory={self.host.journal_directory}")
        # Several matches of one field are OR-ed by journalctl.
        command += [f"MESSAGE_ID={message_id}" for message_id in systemd.UNIT_MESSAGES]
        text = self.run(" ".join(shlex.quote(part) for part in command), what="journalctl")
        return systemd.parse_unit_messages(text, host=self.host.name)

    def read_files(self, paths: Iterable[str]) -> dict[str, FileState]:
        """Return each file's text and modification time (a missing file is marked missing)."""
        paths = list(paths)
        if not paths:
            return {}
        # One round trip for every file: "<index> <mtime> <base64>" per line, base64 so
        # any bytes survive the text decoding of the backends.
        script = "; ".join(
            f'if [ -r {shlex.quote(p)} ]; then printf "{i} %s " "$(stat -c %Y {shlex.quote(p)})"; '
            f"base64 -w0 {shlex.quote(p)}; echo; else echo '{i} missing'; fi"
            for i, p in enumerate(paths)
        )
        out = self.run(script, what="reading config files")
        states: dict[str, FileState] = {}
        for line in out.splitlines():
            parts = line.split(" ", 2)
            if len(parts) < 2 or not parts[0].isdigit() or int(parts[0]) >= len(paths):
                continue
            path = paths[int(parts[0])]
            if parts[1] == "missing":
                states[path] = FileState(None, None)
                continue
            data = base64.b64decode(parts[2] if len(parts) > 2 else "")
            states[path] = FileState.read(data, int(parts[1]))
        return states


@dataclass(frozen=True, slots=True)
class FileState:
    """A config file as read: its text with secret values redacted, mtime and checksum.

    ``text`` is None when the file is missing. ``sha256`` is of the file as read, before
    redaction, so a change of a secret value alone still counts as a change.
    """

    text: str | None
    mtime: int | None
    sha256: str | None = None

    @classmethod
    def read(cls, raw: bytes, mtime: int | None) -> FileState:
        text = raw.decode("utf-8", errors="replace")
        return cls(redact(text), mtime, hashlib.sha256(raw).hexdigest())

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "mtime": self.mtime, "sha256": self.sha256}


# `key = value`, `key: value` and `KEY=value` lines whose key names a secret.
_SECRET_LINE = re.compile(
    r"(?im)^(\s*[\w.-]*(?:password|passwd|passphrase|secret|token|api[_-]?key|"
    r"access[_-]?key|private[_-]?key|credentials?)[\w.-]*[\"']?\s*[:=]\s*)(\S.*?)\s*$"
)
REDACTED = "<redacted>"


def redact(text: str) -> str:
    """Return ``text`` with the values of secret-looking settings replaced by <redacted>."""
    return _SECRET_LINE.sub(lambda m: m.group(1) + REDACTED, text)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The watched config files of one host at one moment."""

    host: str
    taken: datetime
    files: dict[str, FileState]

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "taken": self.taken.isoformat(),
            "files": {path: state.to_dict() for path, state in self.files.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        return cls(
            host=data["host"],
            taken=datetime.fromisoformat(data["taken"]),
            files={
                path: FileState(state.get("text"), state.get("mtime"), state.get("sha256"))
                for path, state in data["files"].items()
            },
        )


class SnapshotStore:
    """Config snapshots on disk, one JSON file per host and moment, under ``root``.

    The default root is the user data folder (``platformdirs``), ``.../mancerops/snapshots``.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        default = Path(platformdirs.user_data_dir("mancerops")) / "snapshots"
        self.root = Path(root) if root is not None else default

    def _folder(self, host: str) -> Path:
        return self.root / re.sub(r"[^A-Za-z0-9._-]", "_", host)

    def save(self, snapshot: Snapshot) -> Path:
        folder = self._folder(snapshot.host)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{snapshot.taken.strftime('%Y%m%dT%H%M%S.%fZ')}.json"
        path.write_bytes(orjson.dumps(snapshot.to_dict()))
        return path

    def history(self, host: str) -> list[Snapshot]:
        """Return the stored snapshots of ``host``, oldest first."""
        folder = self._folder(host)
        if not folder.is_dir():
            return []
        files = sorted(folder.glob("*.json"))
        return [Snapshot.from_dict(orjson.loads(p.read_bytes())) for p in files]


def config_changes(
    before: Snapshot, after: Snapshot, services: dict[str, str] | None = None
) -> pl.DataFrame:
    """Return the events frame of files that differ between two snapshots (kind "config change").

    The time of a change is the file's modification time when it falls between the two
    snapshots, else the later snapshot's time; ``details`` holds the unified diff.
    """
    services = services or {}
    records = []
    for path in sorted(set(before.files) | set(after.files)):
        old = before.files.get(path, FileState(None, None))
        new = after.files.get(path, FileState(None, None))
        if old.sha256 == new.sha256:
            continue
        old_lines = (old.text or "").splitlines(keepends=True)
        new_lines = (new.text or "").splitlines(keepends=True)
        diff = "".join(
            difflib.unified_diff(
                old_lines,
                new_lines,
                fromfile=f"{path} ({before.taken.isoformat()})",
                tofile=f"{path} ({after.taken.isoformat()})",
            )
        )
        added = sum(1 for line in diff.splitlines() if line[:1] == "+" and line[:3] != "+++")
        removed = sum(1 for line in diff.splitlines() if line[:1] == "-" and line[:3] != "---")
        if old.text is not None and new.text is not None and old.text == new.text:
            what = "changed (secret values only, redacted)"
        elif old.text is None:
            what = "created"
        elif new.text is None:
            what = "removed"
        else:
            what = "changed"
        moment = after.taken
        if new.mtime is not None:
            modified = datetime.fromtimestamp(new.mtime, tz=UTC)
            if before.taken <= modified <= after.taken:
                moment = modified
        records.append(
            {
                "timestamp": moment,
                "kind": "config change",
                "service": services.get(path, ""),
                "summary": f"{path} {what} on {after.host} (+{added} -{removed} lines)",
                "host": after.host,
                "details": diff,
            }
        )
    return systemd.events_frame(records)


@dataclass(frozen=True, slots=True)
class Collected:
    """A frame gathered from several hosts, and what failed.

    ``failed`` maps a host's name to the error that stopped it; ``partial`` to a note
    on data it gave only in part. The frame holds what the other hosts gave.
    """

    frame: pl.DataFrame
    failed: dict[str, str] = field(default_factory=dict)
    partial: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.failed and not self.partial


class Inventory:
    """Hosts from the settings, read in parallel: one host failing never stops the others.

    Parameters
    ----------
    hosts:
        The hosts, e.g. from :meth:`load`.
    parallel:
        How many hosts are read at once.
    timeout:
        Seconds a command may take on a host (connecting included).
    snapshots:
        Where config snapshots are kept (a :class:`SnapshotStore` or a folder).
    """

    def __init__(
        self,
        hosts: Sequence[Host],
        *,
        parallel: int = DEFAULT_PARALLEL,
        timeout: float = DEFAULT_TIMEOUT_S,
        snapshots: SnapshotStore | str | Path | None = None,
    ) -> None:
        names = [h.name for h in hosts]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise UsageError(f"host name(s) {', '.join(repeated)} appear twice in the inventory")
        self.hosts = tuple(hosts)
        self.parallel = max(1, parallel)
        self.timeout = timeout
        self.snapshots = (
            snapshots if isinstance(snapshots, SnapshotStore) else SnapshotStore(snapshots)
        )

    @classmethod
    def load(cls, config: str | Path | None = None) -> Inventory:
        """Return the inventory of the settings file (see :func:`workbench.settings.find`)."""
        current = settings.load(config)
        if current.path is None:
            raise UsageError(
                "no settings file with hosts: looked at "
                + ", ".join(str(p) for p in current.searched)
                + "; create one with [[hosts]] tables (see docs/sources/mancer.md) or pass --config"
            )
        return current.inventory()

    def select(self, names: Sequence[str] | None) -> Inventory:
        """Return the inventory of the hosts named (all when ``names`` is empty)."""
        if not names:
            return self
        known = {h.name: h for h in self.hosts}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UsageError(
                f"no host named {', '.join(unknown)} in the inventory; known: {', '.join(known)}"
            )
        return Inventory(
            [known[n] for n in names],
            parallel=self.parallel,
            timeout=self.timeout,
            snapshots=self.snapshots,
        )

    def source(self, host: Host) -> HostSource:
        return HostSource(host, timeout=self.timeout)

    def _each(
        self,
        work: Callable[[HostSource], tuple[pl.DataFrame, str | None]],
        kind: str | dict[str, pl.DataType],
    ) -> Collected:
        """Run ``work`` on every host; ``kind`` is a frame kind or the schema of the result."""
        _backends()  # a missing extra is one clear error, not one per host
        parts: list[pl.DataFrame] = []
        failed: dict[str, str] = {}
        partial: dict[str, str] = {}

        def one(host: Host) -> tuple[Host, pl.DataFrame | None, str | None, str | None]:
            try:
                frame, note = work(self.source(host))
                return host, frame, note, None
            except SourceError as error:
                return host, None, None, str(error)

        workers = min(self.parallel, len(self.hosts)) or 1
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mancer") as pool:
            for host, frame, note, error in pool.map(one, self.hosts):
                if error is not None:
                    log.warning("host %s: %s", host.name, error)
                    failed[host.name] = error
                    continue
                if note:
                    partial[host.name] = note
                parts.append(frame)
        if parts:
            frame = pl.concat(parts, how="diagonal_relaxed")
        else:
            frame = frames.empty(kind) if isinstance(kind, str) else pl.DataFrame(schema=kind)
        return Collected(frame, failed, partial)

    def check(self) -> Collected:
        """Return one row per host: reached or not, in how many seconds, and the error."""
        probed = self._each(_probe, _PROBE_SCHEMA)
        rows = pl.DataFrame(
            {"host": [h.name for h in self.hosts], "url": [h.url for h in self.hosts]}
        )
        answers = probed.frame
        errors = pl.DataFrame(
            {"host": list(probed.failed), "error": list(probed.failed.values())},
            schema={"host": pl.String, "error": pl.String},
        )
        out = (
            rows.join(answers, on="host", how="left")
            .join(errors, on="host", how="left")
            .with_columns(pl.col("error").is_null().alias("ok"))
            .select("host", "url", "ok", "seconds", "kernel", "error")
        )
        return Collected(out, probed.failed)

    def units(self) -> Collected:
        """Return the units frame of every host."""
        return self._each(lambda s: (s.units(), None), frames.UNITS)

    def events(
        self, start: datetime | None = None, end: datetime | None = None, *, snapshot: bool = True
    ) -> Collected:
        """Return unit state changes and config changes of every host between ``start`` and ``end``.

        With ``snapshot`` the watched config files are read now and stored, so a change
        since the last snapshot shows up.
        """

        def work(source: HostSource) -> tuple[pl.DataFrame, str | None]:
            notes = []
            try:
                _, states = source.systemd_state()
            except (HostCommandError, CommandNotFound) as error:
                # Reached but without a running systemd (a container, a copied journal):
                # its journal and config files still count.
                states = frames.empty(frames.EVENTS)
                notes.append(str(error))
            if start is not None and end is not None:
                try:
                    history = source.unit_history(start, end)
                except (HostCommandError, CommandNotFound) as error:
                    history = frames.empty(frames.EVENTS)
                    notes.append(str(error))
                states = _merge_unit_events(states, history)
            changes = self._config_changes(source, snapshot=snapshot)
            frame = pl.concat([states, changes], how="diagonal_relaxed")
            return _between(frame, start, end), "; ".join(notes) or None

        collected = self._each(work, frames.EVENTS)
        order = [c for c in ("timestamp", "host", "summary") if c in collected.frame.columns]
        sorted_frame = collected.frame.sort(order)
        return Collected(sorted_frame, collected.failed, collected.partial)

    def snapshot(self) -> Collected:
        """Read and store every host's watched config files; return what changed since last time."""
        return self._each(
            lambda s: (self._config_changes(s, snapshot=True, latest=True), None), frames.EVENTS
        )

    def _config_changes(
        self, source: HostSource, *, snapshot: bool, latest: bool = False
    ) -> pl.DataFrame:
        """Return the changes between consecutive snapshots (only the newest pair if ``latest``)."""
        host = source.host
        if not host.config_files:
            return frames.empty(frames.EVENTS)
        history = self.snapshots.history(host.name)
        if snapshot:
            taken = datetime.now(UTC)
            current = Snapshot(host.name, taken, source.read_files(host.config_files))
            self.snapshots.save(current)
            history.append(current)
        pairs = list(itertools.pairwise(history))
        parts = [
            config_changes(old, new, host.config_files)
            for old, new in (pairs[-1:] if latest else pairs)
        ]
        return pl.concat(parts) if parts else frames.empty(frames.EVENTS)

    def journal(
        self,
        start: datetime,
        end: datetime,
        units: Sequence[str] | None = None,
        *,
        full: bool = False,
    ) -> Collected:
        """Return the journal of every host between ``start`` and ``end`` as one logs frame."""

        def work(source: HostSource) -> tuple[pl.DataFrame, str | None]:
            read = source.journal(start, end, units, full=full)
            notes = []
            if read.bad_lines:
                notes.append(
                    f"{read.bad_lines} line(s) of journalctl output were not JSON "
                    "(cut off?); the rest was read"
                )
            if read.missing_messages:
                notes.append(
                    f"{read.missing_messages} message(s) over 4096 bytes were left out by "
                    "journalctl; read them in full with --all (full=True)"
                )
            return read.logs, "; ".join(notes) or None

        collected = self._each(work, frames.LOGS)
        return Collected(
            collected.frame.sort("timestamp", maintain_order=True),
            collected.failed,
            collected.partial,
        )


_PROBE_SCHEMA = {"host": pl.String, "seconds": pl.Float64, "kernel": pl.String}


def _probe(source: HostSource) -> tuple[pl.DataFrame, None]:
    started = time.monotonic()
    kernel = source.run("uname -sr", what="uname").strip()
    seconds = round(time.monotonic() - started, 3)
    row = {"host": [source.host.name], "seconds": [seconds], "kernel": [kernel]}
    return pl.DataFrame(row), None


def _merge_unit_events(shown: pl.DataFrame, history: pl.DataFrame) -> pl.DataFrame:
    """Return the journal's unit events plus the ``systemctl show`` ones it does not repeat.

    ``systemctl show`` keeps the last time of each state; the journal has every change.
    A shown change within 2 s of a journal one for the same unit and state is the same
    change (the two clocks are read at different precisions).
    """
    if history.is_empty():
        return shown
    if shown.is_empty():
        return history

    def keyed(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(
            pl.col("details").str.json_path_match("$.unit").alias("_unit"),
            pl.col("details").str.json_path_match("$.to").alias("_to"),
        ).sort("timestamp")

    seen = keyed(history).select("timestamp", "_unit", "_to", pl.lit(True).alias("_seen"))
    matched = keyed(shown).join_asof(
        seen,
        on="timestamp",
        by=["_unit", "_to"],
        strategy="nearest",
        tolerance="2s",
        check_sortedness=False,  # both sorted by time, so every group is too
    )
    kept = matched.filter(pl.col("_seen").is_null()).drop("_unit", "_to", "_seen")
    return pl.concat([kept, history], how="diagonal_relaxed").sort("timestamp")


def _between(frame: pl.DataFrame, start: datetime | None, end: datetime | None) -> pl.DataFrame:
    if start is not None:
        frame = frame.filter(pl.col("timestamp") >= start)
    if end is not None:
        frame = frame.filter(pl.col("timestamp") <= end)
    return frame
