"""Trace file reading: ours vs ``json.load`` + ``pandas.json_normalize`` on >= 1 million spans.

The spans are the real Nezha Train Ticket traces (every rca trace CSV of both dates),
repeated with fresh trace ids until there are enough, written once as OTLP JSON and as
Jaeger v1 JSON into a temporary folder outside the repository. Each reader then runs in
a fresh process (so peak memory is its own) and reads the same file from disk:

* ours: ``workbench.sources.traces.load_spans`` -> the validated spans frame (ids
  normalised, tags decoded, references, orphan / duplicate / clock-skew checks);
* baseline: ``json.load`` then ``pandas.json_normalize`` of the span records, which is
  less work (no service join, no id or tag handling) and so flatters the baseline.

Prints JSON: spans, file sizes, seconds, spans per second, peak RSS (MiB, and above the
process' RSS after imports) for each, and ours/baseline ratios.

    python benchmarks/bench_traces.py [--spans 1000000] [--out reports/bench_traces.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_SPANS_PER_SECOND = 500_000
GOAL_RATIO = 10.0


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _status_mib(field: str) -> float:
    # /proc, not getrusage: ru_maxrss survives fork and exec, so a child would report the
    # parent's peak (which holds the whole built data set).
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> float:
    """Reset the peak RSS to the current one (Linux clear_refs 5) and return it in MiB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mib("VmRSS")


def build(folder: Path, minimum: int) -> dict:
    """Write the Nezha spans, repeated to at least ``minimum``, as OTLP and Jaeger JSON."""
    import polars as pl

    from workbench import datasets
    from workbench.datasets import nezha
    from workbench.sources.traces.write import to_jaeger_json, to_otlp_json

    root = datasets.path("nezha")
    files = sorted((root / nezha.DATA_DIR).glob("*/trace/*_trace.csv*"))
    spans = nezha.read_spans(files)
    copies = [spans]
    copy = 1
    while sum(c.height for c in copies) < minimum:
        # A fresh trace id per copy (the copy number in the first hex digits); the last
        # copy takes whole traces only, just enough of them to reach ``minimum``.
        prefix = f"{copy:04x}"
        fresh = spans.with_columns(
            (pl.lit(prefix) + pl.col("trace_id").str.slice(len(prefix))).alias("trace_id")
        )
        missing = minimum - sum(c.height for c in copies)
        if missing < fresh.height:
            sizes = fresh.group_by("trace_id", maintain_order=True).len()
            enough = sizes.filter(pl.col("len").cum_sum().shift(1, fill_value=0) < missing)
            fresh = fresh.join(enough.select("trace_id"), on="trace_id", how="semi")
        copies.append(fresh)
        copy += 1
    spans = pl.concat(copies)
    paths = {"otlp": folder / "nezha_otlp.json", "jaeger": folder / "nezha_jaeger.json"}
    paths["otlp"].write_bytes(to_otlp_json(spans))
    paths["jaeger"].write_bytes(to_jaeger_json(spans))
    return {
        "spans": spans.height,
        "nezha_spans": copies[0].height,
        "copies": len(copies),
        "files": {k: {"path": str(p), "bytes": p.stat().st_size} for k, p in paths.items()},
    }


def run_one(method: str, fmt: str, path: str) -> dict:
    """Read ``path`` with ``method`` in this process; return spans, seconds and memory."""
    if method == "ours":
        from workbench.sources import traces

        after_imports = _reset_peak()
        cpu = _cpu_seconds()
        start = time.perf_counter()
        loaded = traces.load_spans(path)
        seconds = time.perf_counter() - start
        count = loaded.spans.height
    else:
        import pandas as pd

        after_imports = _reset_peak()
        cpu = _cpu_seconds()
        start = time.perf_counter()
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        if fmt == "otlp":
            table = pd.json_normalize(data["resourceSpans"], record_path=["scopeSpans", "spans"])
        else:
            table = pd.json_normalize(data["data"], record_path="spans")
        seconds = time.perf_counter() - start
        count = len(table)
    cpu = _cpu_seconds() - cpu
    peak = _status_mib("VmHWM")
    return {
        "spans": count,
        "seconds": round(seconds, 3),
        "spans_per_second": round(count / seconds),
        "cpu_seconds": round(cpu, 3),
        "spans_per_cpu_second": round(count / cpu),
        "peak_rss_mib": round(peak, 1),
        "peak_above_imports_mib": round(peak - after_imports, 1),
    }


def measure(method: str, fmt: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--run", method, fmt, str(path)],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(f"{method} on {fmt} failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(method, fmt, json.dumps(result), file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--run", nargs=3, metavar=("METHOD", "FORMAT", "PATH"))
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(*args.run)))
        return
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_traces_") as tmp:
        made = build(Path(tmp), args.spans)
        result = {
            "load_average_before": load_before,
            "build": made,
            "goal": {"spans_per_second": GOAL_SPANS_PER_SECOND, "ratio": GOAL_RATIO},
            "formats": {},
        }
        for fmt, info in made["files"].items():
            ours = measure("ours", fmt, Path(info["path"]))
            base = measure("baseline", fmt, Path(info["path"]))
            result["formats"][fmt] = {
                "ours": ours,
                "json_load_json_normalize": base,
                "speed_ratio": round(ours["spans_per_second"] / base["spans_per_second"], 2),
                "cpu_ratio": round(ours["spans_per_cpu_second"] / base["spans_per_cpu_second"], 2),
                "memory_ratio": round(
                    ours["peak_above_imports_mib"] / max(base["peak_above_imports_mib"], 1), 2
                ),
            }
    result["cpus"] = os.cpu_count()
    result["load_average_after"] = os.getloadavg()
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
