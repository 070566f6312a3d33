"""NAB's scoring, checked against NAB's published results for two detectors."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from workbench import datasets
from workbench.eval.nab import (
    PROFILES,
    normalised,
    probation_rows,
    read_windows,
    row_scores,
    scaled_sigmoid,
    score_detector,
    sweep,
)


def nab_root() -> Path:
    return datasets.path("nab")


@cache
def published(detector: str) -> tuple[dict, dict]:
    """Return {file: (timestamps, anomaly scores)} and {file: frame} of a detector's outputs."""
    outputs, frames = {}, {}
    for name in read_windows(nab_root()):
        group, file = name.split("/")
        frame = pl.read_csv(nab_root() / "results" / detector / group / f"{detector}_{file}.gz")
        stamps = np.array(frame["timestamp"].to_list(), dtype="datetime64[us]")
        outputs[name] = (stamps, frame["anomaly_score"].to_numpy())
        frames[name] = frame
    return outputs, frames


def thresholds(detector: str) -> dict[str, float]:
    table = json.loads((nab_root() / "config" / "thresholds.json").read_text())[detector]
    return {profile: entry["threshold"] for profile, entry in table.items()}


def test_scaled_sigmoid_and_probation_follow_nab():
    # 2 / (1 + e^{5x}) - 1: 0 at the window's right edge, e.g. 0.98661 at x = -1
    assert scaled_sigmoid(0.0) == 0.0
    assert float(scaled_sigmoid(-1.0)) == pytest.approx(2 / (1 + np.exp(-5)) - 1)
    assert float(scaled_sigmoid(3.5)) == -1.0
    assert probation_rows(4032) == 604  # floor(0.15 * 4032)
    assert probation_rows(15831) == 750  # capped at 0.15 * 5000
    profiles = json.loads((nab_root() / "config" / "profiles.json").read_text())
    for profile in PROFILES:
        weights = profiles[profile.name]["CostMatrix"]
        assert (profile.tp, profile.fn, profile.fp) == (
            weights["tpWeight"], weights["fnWeight"], weights["fpWeight"]
        )  # fmt: skip


@pytest.mark.parametrize("detector", ["ARTime", "windowedGaussian"])
def test_published_scores_are_reproduced_for_all_three_profiles(detector):
    outputs, _ = published(detector)
    windows = read_windows(nab_root())
    result = score_detector(outputs, windows, thresholds(detector))
    final = json.loads((nab_root() / "results" / "final_results.json").read_text())[detector]
    for profile in PROFILES:
        assert result[profile.name]["score"] == pytest.approx(final[profile.name], abs=0.01)
    # and every series' raw score and counts, as in NAB's per-detector score table
    table = pl.read_csv(nab_root() / "results" / detector / f"{detector}_standard_scores.csv.gz")
    for row in table.filter(pl.col("Detector") != "Totals").iter_rows(named=True):
        mine = result["standard"]["series"][row["File"]]
        assert mine.score == pytest.approx(row["Score"], abs=1e-9), row["File"]
        assert (mine.tp, mine.tn, mine.fp, mine.fn) == (row["TP"], row["TN"], row["FP"], row["FN"])
    assert sum(len(w) for w in windows.values()) == 116


def test_per_row_columns_are_reproduced():
    windows = read_windows(nab_root())
    art_outputs, art_frames = published("ARTime")
    wg_outputs, wg_frames = published("windowedGaussian")
    limits = thresholds("windowedGaussian")
    for profile in PROFILES:
        column = f"S(t)_{profile.name}"
        for name, spans in windows.items():
            # ARTime's files (current NAB): the sweep score of every row
            weighted, _ = sweep(art_outputs[name][0], spans, profile)
            np.testing.assert_allclose(weighted, art_frames[name][column].to_numpy(), atol=1e-9)
            # windowedGaussian's (NAB 1.0): each row's contribution to the series score
            stamps, scores = wg_outputs[name]
            rows = row_scores(stamps, scores, spans, limits[profile.name], profile)
            np.testing.assert_allclose(rows, wg_frames[name][column].to_numpy(), atol=1e-9)


def test_null_and_perfect_detectors_score_0_and_100():
    windows = read_windows(nab_root())
    outputs, _ = published("ARTime")
    null = {name: (stamps, np.zeros(len(stamps))) for name, (stamps, _) in outputs.items()}
    perfect = {}
    for name, (stamps, _) in outputs.items():
        flags = np.zeros(len(stamps))
        for start, _end in windows[name]:
            flags[np.flatnonzero(stamps == start)[0]] = 1.0
        perfect[name] = (stamps, flags)
    half = dict.fromkeys((p.name for p in PROFILES), 0.5)
    for profile in PROFILES:
        assert score_detector(null, windows, half)[profile.name]["score"] == pytest.approx(0.0)
        assert score_detector(perfect, windows, half)[profile.name]["score"] == pytest.approx(100.0)
    assert normalised(0.0, 116, PROFILES[2]) == pytest.approx(100 * 232 / 348)
