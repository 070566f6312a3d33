"""`mancerops eval detect --suite nab --json`: the detector over NAB, scored by NAB's rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from workbench import datasets
from workbench.detect import RobustNoveltyDetector
from workbench.eval.detect import load_nab
from workbench.eval.nab import PROFILES, read_windows, score_detector


def test_eval_detect_scores_all_58_series_with_one_setting():
    run = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "eval", "detect", "--suite", "nab", "--json"],
        capture_output=True, text=True, env=dict(os.environ), timeout=300,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    # datasets README: 58 series, 365,558 rows, 116 windows
    assert (result["series"], result["points"], result["windows"]) == (58, 365_558, 116)
    root = datasets.path("nab")
    final = json.loads((root / "results" / "final_results.json").read_text())
    assert result["scoreboard"]["ARTime"] == final["ARTime"]
    # the reported score is what NAB's scoring gives the detector at the reported threshold
    data = load_nab(root)
    detector = RobustNoveltyDetector()
    outputs = {name: (stamps, detector.score(values)) for name, (stamps, values) in data.items()}
    limits = {name: row["threshold"] for name, row in result["profiles"].items()}
    again = score_detector(outputs, read_windows(root), limits)
    for profile in PROFILES:
        reported = result["profiles"][profile.name]["score"]
        assert reported == pytest.approx(again[profile.name]["score"])
        assert 0.0 < reported < 100.0
    assert np.isfinite(result["points_per_second"])
