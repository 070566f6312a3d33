"""Benchmark reading ``journalctl -o json`` into the logs frame against pandas.read_json.

A journal of N entries (a mix like a real host's: plain messages, repeated fields,
non-UTF-8 bytes, a few over 4096 bytes) is written with systemd-journal-remote and
read back by the real journalctl once; both parsers then read the same text. pandas'
``read_json(lines=True)`` is what a user would otherwise reach for; it leaves arrays,
byte lists and nulls as Python objects and the timestamps as strings, so its time is
the lower bound of the work, not the same result. One run, wall clock and peak RSS.

    python benchmarks/bench_journal.py --entries 200000 --out reports/bench_journal.json
"""

from __future__ import annotations

import argparse
import platform
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from workbench.sources import systemd

JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"


def _field(name: str, value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    if isinstance(value, str) and value.isascii() and "\n" not in value:
        return name.encode() + b"=" + data + b"\n"
    return name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"


def write_journal(entries: int, folder: Path) -> Path:
    stream = bytearray()
    base = 1_739_797_380_000_000
    units = ["carts.service", "orders.service", "worker@1.service", "nginx.service"]
    for i in range(entries):
        stream += _field("__REALTIME_TIMESTAMP", str(base + i * 1000))
        stream += _field("__MONOTONIC_TIMESTAMP", str(7_380_000_000 + i * 1000))
        stream += _field("_BOOT_ID", "0f3e9c1d2b4a4f6e8a7b6c5d4e3f2a1b")
        stream += _field("_HOSTNAME", "node-7")
        stream += _field("_SYSTEMD_UNIT", units[i % 4])
        stream += _field("PRIORITY", str(3 + i % 4))
        if i % 1000 == 1:
            stream += _field("MESSAGE", "x" * 5000)
        elif i % 500 == 2:
            stream += _field("MESSAGE", b"bad \xff byte %d" % i)
        elif i % 200 == 3:
            stream += _field("MESSAGE", "first part")
            stream += _field("MESSAGE", f"second part {i}")
        else:
            stream += _field("MESSAGE", f"GET /api/items/{i % 977} 200 in {i % 89} ms")
        stream += b"\n"
    export = folder / "bench.export"
    export.write_bytes(bytes(stream))
    target = folder / "bench.journal"
    subprocess.run(
        [JOURNAL_REMOTE, f"--output={target}", str(export)], check=True, capture_output=True
    )
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_journal(args.entries, Path(tmp))
        started = time.perf_counter()
        text = subprocess.run(
            ["journalctl", "-o", "json", "--no-pager", f"--directory={folder}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        journalctl_s = time.perf_counter() - started
    lines = text.count("\n")

    started = time.perf_counter()
    read = systemd.parse_journal(text, host="node-7")
    ours_s = time.perf_counter() - started
    ours_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    import io

    import pandas as pd

    started = time.perf_counter()
    frame = pd.read_json(io.StringIO(text), lines=True, dtype=False)
    pandas_s = time.perf_counter() - started

    result = {
        "benchmark": "journalctl -o json -> logs frame",
        "entries": lines,
        "bytes": len(text.encode()),
        "journalctl_seconds": round(journalctl_s, 3),
        "ours": {
            "seconds": round(ours_s, 3),
            "lines_per_second": round(lines / ours_s),
            "rows": read.logs.height,
            "missing_messages": read.missing_messages,
            "peak_rss_mb_after": round(ours_rss / 1024, 1),
        },
        "pandas.read_json(lines=True)": {
            "seconds": round(pandas_s, 3),
            "lines_per_second": round(lines / pandas_s),
            "rows": len(frame),
            "note": "raw columns only: arrays, byte lists and nulls left as objects",
        },
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    payload = orjson.dumps(result, option=orjson.OPT_INDENT_2)
    sys.stdout.buffer.write(payload + b"\n")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(payload)


if __name__ == "__main__":
    main()
