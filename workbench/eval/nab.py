"""NAB's own scoring (Numenta Anomaly Benchmark v1.1 ``sweeper.py``), per series and overall.

For every row of a series, a *sweep score* says what a detection there would be worth:

* inside an anomaly window of width ``w`` rows ending at row ``e``, at row ``i``:
  ``σ(-(e - i + 1) / w) · tp / σ(-1)`` — the earliest detection in a window is worth the
  most (``tp``), one at its last row a little above 0;
* after a window (ending at ``e``, width ``w``): ``σ(|e - i| / (w - 1)) · fp`` — a false
  positive just after a window costs little, one far after costs ``fp``;
* before the first window: ``-fp``;

with ``σ(x) = 2 / (1 + e^{5x}) - 1`` (``-1`` beyond ``x > 3``). The first 15 % of a
series (at most 750 rows) is a probationary period: its rows never count. Given a
threshold, rows whose anomaly score is ``>= threshold`` are detections; each window adds
its best (earliest) detection's sweep score, or ``-fn`` when it has none; every detection
outside windows adds its (negative) sweep score. A detector's raw score is the sum over
series; its NAB score is ``100 · (raw - null) / (perfect - null)``, the null detector
missing every window (``-fn`` each) and the perfect one catching each at its start
(``tp`` each).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROBATION_PERCENT = 0.15
PROBATION_MAX_ROWS = 5000 * PROBATION_PERCENT  # 750 rows
THRESHOLD_CANDIDATES = 200


@dataclass(frozen=True, slots=True)
class Profile:
    """A NAB application profile: the weights of true positives, misses and false alarms."""

    name: str
    tp: float = 1.0
    fn: float = 1.0
    fp: float = 0.11


PROFILES = (
    Profile("standard", tp=1.0, fn=1.0, fp=0.11),
    Profile("reward_low_FP_rate", tp=1.0, fn=1.0, fp=0.22),
    Profile("reward_low_FN_rate", tp=1.0, fn=2.0, fp=0.11),
)


@dataclass(frozen=True, slots=True)
class SeriesScore:
    """One series scored at one threshold: NAB's raw score and its row counts."""

    score: float
    tp: int
    tn: int
    fp: int
    fn: int
    windows: int

    @property
    def total(self) -> int:
        return self.tp + self.tn + self.fp + self.fn


def scaled_sigmoid(position: np.ndarray | float) -> np.ndarray:
    """Return NAB's scaled sigmoid ``2 / (1 + e^{5x}) - 1``, ``-1`` where ``x > 3``."""
    x = np.asarray(position, dtype=float)
    with np.errstate(over="ignore"):
        value = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    return np.where(x > 3.0, -1.0, value)


def probation_rows(rows: int) -> int:
    """Return the length of the probationary period of a series of ``rows`` rows."""
    return int(min(math.floor(PROBATION_PERCENT * rows), PROBATION_MAX_ROWS))


def sweep(
    timestamps: np.ndarray, windows: Sequence[tuple[np.datetime64, np.datetime64]], profile: Profile
) -> tuple[np.ndarray, np.ndarray]:
    """Return every row's weighted sweep score and its window number (-1 outside windows).

    Windows are matched by exact timestamps, as NAB does: a window starts at the first
    row (after the previous window) equal to its start, is ``timestamps.index(end) -
    start_row + 1`` rows wide, and ends at the first row from its start equal to its end.
    Only the window boundaries are found in a loop (a handful per series); the rows are
    scored with array operations.
    """
    timestamps = np.asarray(timestamps)
    n = len(timestamps)
    index = np.arange(n)
    max_tp = float(scaled_sigmoid(-1.0))
    scores = np.full(n, -1.0 * profile.fp)
    window_of = np.full(n, -1)
    search_from = 0
    for number, (start, end) in enumerate(windows):
        starts = np.flatnonzero(timestamps[search_from:] == start)
        if not len(starts):
            continue
        first = search_from + int(starts[0])
        right = int(np.flatnonzero(timestamps == end)[0])  # timestamps.index(end)
        exits = np.flatnonzero(timestamps[first:] == end)
        last = first + int(exits[0]) if len(exits) else n - 1
        width = float(right - first + 1)
        inside = index[first : last + 1]
        scores[first : last + 1] = (
            scaled_sigmoid(-(right - inside + 1) / width) * profile.tp / max_tp
        )
        window_of[first : last + 1] = number
        after = index[last + 1 :]
        if width > 1:
            scores[last + 1 :] = scaled_sigmoid(np.abs(right - after) / (width - 1)) * profile.fp
        search_from = last + 1
    return scores, window_of


def score_series(
    timestamps: np.ndarray,
    anomaly_scores: np.ndarray,
    windows: Sequence[tuple[np.datetime64, np.datetime64]],
    threshold: float,
    profile: Profile,
) -> SeriesScore:
    """Return NAB's raw score of one series' anomaly scores at ``threshold``."""
    return score_swept(sweep(timestamps, windows, profile), anomaly_scores, threshold, profile)


def score_swept(
    swept: tuple[np.ndarray, np.ndarray],
    anomaly_scores: np.ndarray,
    threshold: float,
    profile: Profile,
) -> SeriesScore:
    """Return :func:`score_series` from the series' :func:`sweep` (computed once per profile)."""
    weighted, window_of = swept
    anomaly_scores = np.asarray(anomaly_scores, dtype=float)
    counted = np.arange(len(weighted)) >= probation_rows(len(weighted))
    detected = (anomaly_scores >= threshold) & counted
    in_window = (window_of >= 0) & counted
    numbers = np.unique(window_of[in_window])
    total = 0.0
    for number in numbers:
        hits = weighted[detected & (window_of == number)]
        total += float(hits.max()) if len(hits) else -profile.fn
    outside = detected & (window_of < 0)
    total += float(weighted[outside].sum())
    return SeriesScore(
        score=total,
        tp=int((detected & in_window).sum()),
        tn=int((~detected & counted & (window_of < 0)).sum()),
        fp=int(outside.sum()),
        fn=int((~detected & in_window).sum()),
        windows=len(numbers),
    )


def best_threshold(
    outputs: Mapping[str, tuple[np.ndarray, np.ndarray]],
    windows: Mapping[str, Sequence[tuple[np.datetime64, np.datetime64]]],
    profile: Profile,
    candidates: int = THRESHOLD_CANDIDATES,
) -> tuple[float, float]:
    """Return the (threshold, raw score) that scores best over all series, as NAB's optimiser.

    One threshold for the whole corpus, tried at ``candidates`` quantiles of the positive
    anomaly scores (NAB searches the same way, for each profile).
    """
    swept = {name: sweep(outputs[name][0], spans, profile) for name, spans in windows.items()}
    scores = np.concatenate([np.asarray(outputs[name][1], dtype=float) for name in windows])
    positive = scores[scores > 0]
    if not len(positive):
        return 1.0, -profile.fn * sum(len(s) for s in windows.values())
    tried = np.unique(np.quantile(positive, np.linspace(0.0, 1.0, candidates)))
    best = (float(tried[-1]), -np.inf)
    for threshold in tried:
        raw = sum(
            score_swept(swept[name], outputs[name][1], threshold, profile).score for name in windows
        )
        if raw > best[1]:
            best = (float(threshold), raw)
    return best


def row_scores(
    timestamps: np.ndarray,
    anomaly_scores: np.ndarray,
    windows: Sequence[tuple[np.datetime64, np.datetime64]],
    threshold: float,
    profile: Profile,
) -> np.ndarray:
    """Return each row's contribution to the series score; they sum to its raw score.

    A window's worth (its best detection, or ``-fn``) sits on the window's first row,
    every detection outside windows on its own row, 0 elsewhere and in the probationary
    period: the ``S(t)`` columns NAB 1.0 wrote (``results/windowedGaussian``). Later NAB
    versions write :func:`sweep`'s value on every row instead (``results/ARTime``).
    """
    weighted, window_of = sweep(timestamps, windows, profile)
    counted = np.arange(len(weighted)) >= probation_rows(len(weighted))
    detected = (np.asarray(anomaly_scores, dtype=float) >= threshold) & counted
    out = np.where(detected & (window_of < 0), weighted, 0.0)
    for number in np.unique(window_of[(window_of >= 0) & counted]):
        rows = np.flatnonzero((window_of == number) & counted)
        hits = weighted[rows[detected[rows]]]
        out[rows[0]] = hits.max() if len(hits) else -profile.fn
    return out


def normalised(raw: float, windows: int, profile: Profile) -> float:
    """Return a raw total as NAB's 0-100 score between the null and the perfect detector."""
    null = -profile.fn * windows
    perfect = profile.tp * windows
    return 100.0 * (raw - null) / (perfect - null)


def read_windows(root: str | Path) -> dict[str, list[tuple[np.datetime64, np.datetime64]]]:
    """Return ``labels/combined_windows.json`` of a NAB folder, as numpy datetimes by file."""
    table = json.loads((Path(root) / "labels" / "combined_windows.json").read_text())
    return {
        name: [(np.datetime64(start), np.datetime64(end)) for start, end in spans]
        for name, spans in table.items()
    }


def score_detector(
    outputs: Mapping[str, tuple[np.ndarray, np.ndarray]],
    windows: Mapping[str, Sequence[tuple[np.datetime64, np.datetime64]]],
    thresholds: Mapping[str, float],
    profiles: Sequence[Profile] = PROFILES,
) -> dict[str, dict]:
    """Return per profile the NAB score, raw total and per-series scores of a detector.

    ``outputs`` maps ``<group>/<file>.csv`` to (timestamps, anomaly scores); every file of
    ``windows`` must be there. ``thresholds`` gives the threshold of each profile.
    """
    missing = sorted(set(windows) - set(outputs))
    if missing:
        raise ValueError(f"no detector output for {len(missing)} series, e.g. {missing[0]}")
    total_windows = sum(len(spans) for spans in windows.values())
    result = {}
    for profile in profiles:
        per_series = {
            name: score_series(*outputs[name], windows[name], thresholds[profile.name], profile)
            for name in sorted(windows)
        }
        raw = sum(s.score for s in per_series.values())
        result[profile.name] = {
            "score": normalised(raw, total_windows, profile),
            "raw": raw,
            "threshold": thresholds[profile.name],
            "series": per_series,
        }
    return result
