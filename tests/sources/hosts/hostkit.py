"""A real OpenSSH server and real journal files for the host tests.

sshd follows ../shared/SERVERS.md §4: Debian's openssh-server, started on 127.0.0.1 on a
free port with its own host key, config and authorised key, stopped by PID. Journal
files are written by systemd's own ``systemd-journal-remote`` from the journal export
format (https://systemd.io/JOURNAL_EXPORT_FORMATS/), so ``journalctl --directory``
reads them exactly as it reads a host's journal.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from servers import LOOPBACK, READY_TIMEOUT_S, free_port

SSHD = "/usr/sbin/sshd"
JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
HINT = "install it with `bash .ci/run servers` (Debian's openssh-server, systemd-journal-remote)"


def need(path: str) -> str:
    if not Path(path).exists():
        pytest.fail(f"{path} is not installed: {HINT}", pytrace=False)
    return path


def keygen(path: Path) -> str:
    """Write an ed25519 key pair at ``path`` and return the public key line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return path.with_suffix(".pub").read_text().strip()


@dataclass
class SshServer:
    root: Path
    port: int
    process: subprocess.Popen
    user: str
    user_key: Path
    host_public: str

    def known_hosts(self, path: Path, public: str | None = None) -> Path:
        """Write a known_hosts file trusting this server's key (or ``public``)."""
        kind, key = (public or self.host_public).split()[:2]
        path.write_text(f"[{LOOPBACK}]:{self.port} {kind} {key}\n")
        return path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_sshd(root: Path) -> SshServer:
    """Start sshd on 127.0.0.1 with a fresh host key, for the current user and a fresh key."""
    need(SSHD)
    root.mkdir(parents=True, exist_ok=True)
    host_public = keygen(root / "host_key")
    user_public = keygen(root / "user_key")
    (root / "authorized_keys").write_text(user_public + "\n")
    port = free_port()
    config = root / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                f"ListenAddress {LOOPBACK}",
                f"HostKey {root / 'host_key'}",
                f"PidFile {root / 'sshd.pid'}",
                f"AuthorizedKeysFile {root / 'authorized_keys'}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True)
    if check.returncode:
        pytest.fail(f"sshd rejected its test config: {check.stderr.strip()}", pytrace=False)
    log = (root / "sshd.log").open("w")
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=log, stdin=subprocess.DEVNULL
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"sshd exited: {(root / 'sshd.log').read_text()}", pytrace=False)
        with socket.socket() as probe:
            if probe.connect_ex((LOOPBACK, port)) == 0:
                break
        time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("sshd did not listen within the timeout", pytrace=False)
    return SshServer(root, port, process, getpass.getuser(), root / "user_key", host_public)


def _export_field(name: str, value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    if b"\n" in data or not data.isascii() or isinstance(value, bytes):
        return name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
    return name.encode() + b"=" + data + b"\n"


def write_journal(entries: list[dict], folder: Path, name: str = "test") -> Path:
    """Write ``entries`` (field -> text, bytes, or a list for a repeated field) as a journal file.

    Each entry needs ``__REALTIME_TIMESTAMP`` and ``__MONOTONIC_TIMESTAMP`` (µs) and
    ``_BOOT_ID``; the file is written by systemd-journal-remote.
    """
    need(JOURNAL_REMOTE)
    folder.mkdir(parents=True, exist_ok=True)
    stream = bytearray()
    for entry in entries:
        for key, value in entry.items():
            for one in value if isinstance(value, list) else [value]:
                stream += _export_field(key, one)
        stream += b"\n"
    export = folder / f"{name}.export"
    export.write_bytes(bytes(stream))
    target = folder / f"{name}.journal"
    target.unlink(missing_ok=True)
    run = subprocess.run(
        [JOURNAL_REMOTE, f"--output={target}", str(export)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    export.unlink()
    if run.returncode:
        pytest.fail(f"systemd-journal-remote failed: {run.stderr.strip()}", pytrace=False)
    return target


def journalctl() -> str:
    found = shutil.which("journalctl")
    if found is None:
        pytest.fail(f"journalctl is not installed: {HINT}", pytrace=False)
    return found


def systemd_message(micros: int, unit: str, message_id: str, message: str, **fields) -> dict:
    """Return a journal entry as systemd (PID 1) writes one about ``unit``.

    The fields are those systemd 252 sets (strings in libsystemd-core-252.so:
    ``MESSAGE_ID=``, ``UNIT=``, ``JOB_TYPE=``, ``JOB_RESULT=``, ``UNIT_RESULT=``,
    ``N_RESTARTS=``); the message ids are from /usr/lib/systemd/catalog/systemd.catalog.
    """
    entry = {
        "__REALTIME_TIMESTAMP": str(micros),
        "__MONOTONIC_TIMESTAMP": str(micros - 1_652_000_000_000_000),
        "_BOOT_ID": "0f3e9c1d2b4a4f6e8a7b6c5d4e3f2a1b",
        "_HOSTNAME": "shop-1",
        "_PID": "1",
        "_COMM": "systemd",
        "SYSLOG_IDENTIFIER": "systemd",
        "_SYSTEMD_UNIT": "init.scope",
        "PRIORITY": "6",
        "UNIT": unit,
        "MESSAGE_ID": message_id,
        "MESSAGE": message,
        **{key.upper(): str(value) for key, value in fields.items()},
    }
    return {key: value for key, value in entry.items() if value != ""}


def orders_crash(onset_s: int) -> list[dict]:
    """systemd's messages of orders.service failing 70 s before ``onset_s`` and restarting."""
    us = 1_000_000
    at = onset_s * us
    return [
        systemd_message(
            at - 120 * us,
            "orders.service",
            "39f53479d3a045ac8e11786248231fbf",
            "Started orders.service - Sock Shop orders.",
            job_type="start",
            job_result="done",
        ),
        {
            **systemd_message(
                at - 71 * us, "orders.service", "", "orders: db pool exhausted, exiting"
            ),
            "_SYSTEMD_UNIT": "orders.service",
            "_COMM": "orders",
            "SYSLOG_IDENTIFIER": "orders",
            "_PID": "812",
            "PRIORITY": "2",
        },
        systemd_message(
            at - 70 * us,
            "orders.service",
            "d9b373ed55a64feb8242e02dbe79a49c",
            "orders.service: Failed with result 'exit-code'.",
            unit_result="exit-code",
            priority=4,
        ),
        systemd_message(
            at - 65 * us,
            "orders.service",
            "5eb03494b6584870a536b337290809b3",
            "orders.service: Scheduled restart job, restart counter is at 1.",
            n_restarts=1,
        ),
        systemd_message(
            at - 64 * us,
            "orders.service",
            "9d1aaa27d60140bd96365438aad20286",
            "Stopped orders.service - Sock Shop orders.",
            job_type="restart",
            job_result="done",
        ),
        systemd_message(
            at - 64 * us + 1000,
            "orders.service",
            "7d4958e842da4a758f6c1cdc7b36dcc5",
            "Starting orders.service - Sock Shop orders...",
            job_type="start",
        ),
        systemd_message(
            at - 63 * us,
            "orders.service",
            "39f53479d3a045ac8e11786248231fbf",
            "Started orders.service - Sock Shop orders.",
            job_type="start",
            job_result="done",
        ),
    ]
