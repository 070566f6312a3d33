"""Benchmark the root-cause ranking against BARO (fse-baro, FSE'24) on the same cases.

Prints one JSON document (and writes it with --out): for each method and onset setting,
AC@1, AC@3, Avg@5 and seconds per case, plus peak Python memory on one case.
BARO runs as its README shows: ``bocpd`` finds the anomaly, ``robust_scorer`` ranks.

    python benchmarks/bench_rca.py --out reports/bench_rca.json [--limit 10] [--skip-baro-bocpd]
    python benchmarks/bench_rca.py --suite nezha --out reports/bench_rca_nezha.json

On ``nezha`` the multimodal ranking (``FusionRanker``: metrics, logs and traces) is timed
end to end, loading and log parsing included, beside BARO on the same cases' metrics.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import orjson
import polars as pl

from workbench import datasets, frames
from workbench.case import Case
from workbench.errors import WorkbenchError
from workbench.eval.scores import accuracy, average_accuracy, rank_of
from workbench.rca import FusionRanker, MetricRanker, investigate

SUITE = "rcd-sockshop"
DELAYS = (0, 60)


def ours(case: Case, onset_delay: float | None) -> list[str]:
    onset = None if onset_delay is None else case.truth.fault_start + timedelta(seconds=onset_delay)
    return [c.service for c in investigate(case, onset=onset, ranker=MetricRanker()).ranking]


def baro_table(case: Case):
    """Return the case as the pandas frame BARO reads: ``time`` in epoch s, then columns."""
    wide = frames.wide(case.metrics)
    table = wide.with_columns(pl.col("timestamp").dt.epoch("s").alias("time")).drop("timestamp")
    return table.select(["time", *[c for c in table.columns if c != "time"]]).to_pandas()


def run_baro(case: Case, onset_delay: float | None, scorer: str = "robust_scorer") -> list[str]:
    import importlib

    from baro.anomaly_detection import bocpd

    root_cause_analysis = importlib.import_module("baro.root_cause_analysis")

    data = baro_table(case)
    rank = getattr(root_cause_analysis, scorer)
    if onset_delay is None:
        result = rank(data, anomalies=bocpd(data))
    else:
        inject = int(case.truth.fault_start.timestamp() + onset_delay)
        result = rank(data, inject_time=inject)
    return [column.split("_", 1)[0] for column in result["ranks"]]


def fused_end_to_end(case: Case, onset_delay: float | None) -> list[str]:
    """Load the case again (CSV parsing included) and rank it from all its modalities."""
    fresh = datasets.load(case.name)
    onset = (
        None if onset_delay is None else fresh.truth.fault_start + timedelta(seconds=onset_delay)
    )
    return [c.service for c in investigate(fresh, onset=onset, ranker=FusionRanker()).ranking]


def multimodal_methods() -> dict[str, Callable[[Case], list[str]]]:
    """Return the methods benchmarked on a suite with logs and traces (nezha)."""
    return {
        "mancerops-fusion end-to-end (load + rank)": lambda c: fused_end_to_end(c, None),
        "mancerops-fusion onset+0s (load + rank)": lambda c: fused_end_to_end(c, 0),
        "BARO onset+0s (metrics)": lambda c: run_baro(c, 0),
    }


def methods(include_baro_bocpd: bool) -> dict[str, Callable[[Case], list[str]]]:
    """Return every benchmarked method by name."""
    table: dict[str, Callable[[Case], list[str]]] = {
        "mancerops end-to-end": lambda c: ours(c, None)
    }
    for delay in DELAYS:
        table[f"mancerops onset+{delay}s"] = lambda c, d=delay: ours(c, d)
    for delay in DELAYS:
        table[f"BARO onset+{delay}s"] = lambda c, d=delay: run_baro(c, d)
        table[f"NSigma onset+{delay}s"] = lambda c, d=delay: run_baro(c, d, "nsigma")
    if include_baro_bocpd:
        table["BARO end-to-end"] = lambda c: run_baro(c, None)
    return table


def peak_rss_mib(name: str, case_id: str) -> float:
    """Return the peak resident memory of a fresh process that loads one case and ranks it."""
    probe = subprocess.run(
        [sys.executable, __file__, "--probe", name, "--probe-case", case_id],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(probe.stdout.strip())


def run(name: str, method: Callable[[Case], list[str]], cases: list[Case]) -> dict:
    method(cases[0])  # the first call pays imports and caches: warm up untimed
    ranks, seconds = [], []
    for case in cases:
        started = time.perf_counter()
        try:
            ranked = method(case)
        except WorkbenchError as error:  # a case the method cannot rank is a miss
            print(f"{name} {case.case_id}: {error}", file=sys.stderr)
            ranked = []
        seconds.append(time.perf_counter() - started)
        ranks.append(rank_of(case.truth.root_cause_service, ranked))
        print(f"{name} {case.case_id} rank {ranks[-1]} {seconds[-1]:.3f}s", file=sys.stderr)
    return {
        "method": name,
        "cases": len(cases),
        "ac@1": accuracy(ranks, 1),
        "ac@3": accuracy(ranks, 3),
        "avg@5": average_accuracy(ranks),
        "seconds_per_case": {
            "median": statistics.median(seconds),
            "mean": statistics.fmean(seconds),
            "max": max(seconds),
        },
        "peak_rss_mib_one_case": peak_rss_mib(name, cases[0].name),
        "misses": [c.case_id for c, r in zip(cases, ranks, strict=True) if r != 1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--limit", type=int, help="Only the first N cases.")
    parser.add_argument(
        "--skip-baro-bocpd", action="store_true", help="Skip BARO end to end (35 s a case)."
    )
    parser.add_argument("--suite", default=SUITE, help="rcd-sockshop (default) or nezha.")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parser.add_argument("--probe-case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    table = methods(include_baro_bocpd=True) | multimodal_methods()
    if args.probe:
        table[args.probe](datasets.load(args.probe_case))
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        return
    try:
        import baro  # noqa: F401
    except ImportError:
        sys.exit("fse-baro is not installed: pip install -e '.[bench]' (make bench does this)")
    if args.suite != SUITE:
        table = multimodal_methods()
    elif args.skip_baro_bocpd:
        del table["BARO end-to-end"]

    names = datasets.cases(args.suite)[: args.limit]
    cases = [datasets.load(f"{args.suite}/{name}") for name in names]
    results = [run(name, method, cases) for name, method in table.items()]

    from importlib.metadata import version

    report = {
        "suite": args.suite,
        "cases": len(cases),
        "python": platform.python_version(),
        "fse-baro": version("fse-baro"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "results": results,
    }
    payload = orjson.dumps(report, option=orjson.OPT_INDENT_2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(payload + b"\n")
    sys.stdout.buffer.write(payload + b"\n")


if __name__ == "__main__":
    main()
