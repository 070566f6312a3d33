"""``eval detect``: run the streaming detector over NAB and score it with NAB's scoring.

Every one of the 58 series gets the same settings; the threshold of each profile is
chosen over the whole corpus as NAB's optimiser chooses it (:func:`best_threshold`), so
the scores compare with the scoreboard in ``nab/results/final_results.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from workbench.detect import RobustNoveltyDetector
from workbench.errors import UsageError
from workbench.eval.nab import PROFILES, best_threshold, normalised, read_windows

SUITE = "nab"
SCOREBOARD = ("ARTime", "numenta", "contextOSE", "htmjava", "knncad", "windowedGaussian", "null")


def load_nab(root: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return {``<group>/<file>.csv``: (timestamps, values)} of every labelled NAB series."""
    root = Path(root)
    series = {}
    for name in read_windows(root):
        frame = pl.read_csv(
            root / "data" / name, schema={"timestamp": pl.String, "value": pl.Float64}
        )
        series[name] = (
            np.array(frame["timestamp"].to_list(), dtype="datetime64[us]"),
            frame["value"].to_numpy(),
        )
    return series


def evaluate_detect(suite: str = SUITE, *, detector: Any = None) -> dict:
    """Return the NAB scores (three profiles), thresholds and speed of ``detector``."""
    from workbench import datasets

    if suite != SUITE:
        raise UsageError(f"eval detect scores the {SUITE} suite only, not {suite!r}")
    root = datasets.path(SUITE)
    detector = detector or RobustNoveltyDetector()
    windows = read_windows(root)
    data = load_nab(root)
    started = time.perf_counter()
    outputs = {name: (stamps, detector.score(values)) for name, (stamps, values) in data.items()}
    seconds = time.perf_counter() - started
    points = sum(len(values) for _, values in data.values())
    total_windows = sum(len(spans) for spans in windows.values())
    profiles = {}
    for profile in PROFILES:
        threshold, raw = best_threshold(outputs, windows, profile)
        profiles[profile.name] = {
            "score": normalised(raw, total_windows, profile),
            "raw": raw,
            "threshold": threshold,
        }
    board = json.loads((root / "results" / "final_results.json").read_text())
    return {
        "suite": SUITE,
        "method": f"{type(detector).__name__} {_settings(detector)}",
        "series": len(data),
        "points": points,
        "windows": total_windows,
        "points_per_second": points / seconds if seconds > 0 else None,
        "profiles": profiles,
        "scoreboard": {name: board[name] for name in SCOREBOARD if name in board},
    }


def _settings(detector: Any) -> str:
    names = (
        "window",
        "suppress",
        "novelty",
        "z_cap",
        "high",
        "calm",
        "context_bins",
        "context_order",
    )
    return " ".join(f"{n}={getattr(detector, n)}" for n in names if hasattr(detector, n))
