"""Benchmark the streaming anomaly detector on NAB: our three profile scores and speed
next to NAB's published scoreboard (final_results.json; those detectors are not re-run).

    python benchmarks/bench_detect.py --out reports/bench_detect.json [--repeat 3]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import orjson

from workbench import datasets
from workbench.detect import RobustNoveltyDetector
from workbench.eval.detect import evaluate_detect, load_nab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="Also write the JSON to this file.")
    parser.add_argument("--repeat", type=int, default=3, help="Timed runs (best kept).")
    args = parser.parse_args()
    result = evaluate_detect("nab")
    data = load_nab(datasets.path("nab"))
    detector = RobustNoveltyDetector()
    best = float("inf")
    for _ in range(args.repeat):
        started = time.perf_counter()
        for _, values in data.values():
            detector.score(values)
        best = min(best, time.perf_counter() - started)
    payload = {
        "suite": "nab",
        "ours": {
            "method": result["method"],
            **{name: round(row["score"], 2) for name, row in result["profiles"].items()},
            "thresholds": {name: row["threshold"] for name, row in result["profiles"].items()},
            "points_per_second": round(result["points"] / best),
        },
        "scoreboard": {
            name: {profile: round(score, 2) for profile, score in scores.items()}
            for name, scores in result["scoreboard"].items()
        },
        "points": result["points"],
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or "?"},
    }
    text = orjson.dumps(payload, option=orjson.OPT_INDENT_2)
    print(text.decode())
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(text + b"\n")


if __name__ == "__main__":
    main()
