"""Rank services by how abnormal their metrics became after the incident's onset."""

from __future__ import annotations

import logging
import warnings
from datetime import UTC, datetime

import numpy as np
import polars as pl

from workbench import frames
from workbench.detect import DeviationScorer, OnsetDetector, RobustCusumOnset, RobustDeviation
from workbench.detect.onset import DEFAULT_MIN_SEGMENT, segment_guard
from workbench.errors import UsageError
from workbench.rca.model import Cause, Investigation, Window, iso

log = logging.getLogger(__name__)

METHOD_NAME = "mancerops-metrics"
METHOD_VERSION = "0.1"
DEFAULT_EVIDENCE_INDICATORS = 3
_SECOND = 1_000_000_000
# Joins service and metric into one pivot key; a control character no name contains.
_KEY_SEPARATOR = "\x1f"


class MetricRanker:
    """Rank services by the robust deviation of their indicators after the onset.

    The onset is found by ``detector`` unless given. Every indicator is scored by
    ``scorer`` against the samples before the onset; a service scores as its most
    abnormal indicator. Ties break by service name, so runs repeat exactly.

    Parameters
    ----------
    detector:
        Finds the onset and each indicator's own change point.
    scorer:
        Learns the baseline before the onset and scores the samples after it.
    min_segment:
        Fewest samples needed on each side of the onset.
    """

    def __init__(
        self,
        *,
        detector: OnsetDetector | None = None,
        scorer: DeviationScorer | None = None,
        min_segment: int = DEFAULT_MIN_SEGMENT,
    ) -> None:
        self.detector = (
            detector if detector is not None else RobustCusumOnset(min_segment=min_segment)
        )
        self.scorer = scorer if scorer is not None else RobustDeviation()
        self.min_segment = min_segment

    @property
    def method(self) -> str:
        return f"{METHOD_NAME} {METHOD_VERSION}"

    def rank(
        self,
        metrics: pl.DataFrame,
        onset: datetime | None = None,
        *,
        case: str | None = None,
    ) -> Investigation:
        """Return the investigation of ``metrics``: onset, ranked causes and signals."""
        metrics = frames.validate(metrics, frames.METRICS)
        if metrics.is_empty():
            raise UsageError(
                f"{case or 'the input'} has no metrics; the ranking works on metrics "
                "(logs and traces alone are not ranked yet). Give a case or frame with metrics."
            )
        times, columns, raw, X = _matrix(metrics)
        n = len(times)
        if not columns:
            raise UsageError(
                f"{case or 'the input'} has no indicator with a finite value; nothing to rank"
            )
        guard = segment_guard(n, self.min_segment)
        span = f"the data covers {iso(_to_datetime(times[0]))} to {iso(_to_datetime(times[-1]))}"
        if n < 2 * guard:
            raise UsageError(
                f"the metrics hold {n} time steps ({span}); at least {2 * guard} are needed "
                "to tell normal from abnormal. Widen the time range."
            )
        self.detector.fit(X)
        if onset is None:
            if not np.any(self.detector.profile_ > 0):
                raise UsageError(
                    f"no indicator changed ({span}): every series is constant, so there is "
                    "no onset to find and nothing to rank. Widen the range or give --onset."
                )
            split = self.detector.onset_index_
        else:
            split = int(np.searchsorted(times, _as_ns(onset), side="left"))
            before, after = split, n - split
            if min(before, after) < guard:
                raise UsageError(
                    f"the onset {iso(onset)} leaves {before} samples before it and "
                    f"{after} after ({span}); at least {guard} are needed on each side. "
                    "Widen the time range or move the onset."
                )
        # Scores come from the samples as measured: a gap stays a gap (filled values are
        # only for finding the onset), and an indicator silent on one side scores 0.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            self.scorer.fit(raw[:split])
            deviation = self.scorer.score(raw[split:])
            observed = np.nanmedian(raw[split:], axis=0)
        deviation = np.where(np.isfinite(deviation), deviation, 0.0)
        missing_before = np.isnan(raw[:split]).mean(axis=0)
        missing_after = np.isnan(raw[split:]).mean(axis=0)
        silent = [
            _indicator(*columns[i])
            for i in np.flatnonzero((missing_after == 1) | (missing_before == 1))
        ]
        if silent:
            log.warning(
                "%d indicator(s) have no sample on one side of the onset and score 0: %s",
                len(silent),
                ", ".join(silent[:5]) + (" ..." if len(silent) > 5 else ""),
            )
        moved = deviation != 0
        column_onsets = np.where(moved, times[np.maximum(self.detector.column_onsets_, 0)], -1)

        stamp = _to_datetime
        baseline = Window(stamp(times[0]), stamp(times[split - 1]))
        window = Window(stamp(times[split]), stamp(times[-1]))
        signals = (
            pl.DataFrame(
                {
                    "service": [service for service, _ in columns],
                    "metric": [metric for _, metric in columns],
                    "indicator": [_indicator(service, metric) for service, metric in columns],
                    "deviation": deviation,
                    "baseline": self.scorer.center_,
                    "observed": observed,
                    "scale": self.scorer.scale_,
                    "onset": column_onsets,
                    "missing_before": missing_before,
                    "missing_after": missing_after,
                }
            )
            .with_columns(
                pl.when(pl.col("onset") >= 0)
                .then(pl.col("onset"))
                .cast(pl.Datetime("ns", "UTC"))
                .alias("onset"),
                pl.col("deviation").abs().alias("score"),
            )
            .sort(["score", "service", "metric"], descending=[True, False, False])
        )
        ranking = _causes(signals, baseline, window)
        return Investigation(
            onset=stamp(times[split]),
            onset_detected=onset is None,
            ranking=ranking,
            signals=signals,
            metrics=metrics,
            baseline=baseline,
            window=window,
            case=case,
            method=self.method,
        )


def _matrix(
    metrics: pl.DataFrame,
) -> tuple[np.ndarray, list[tuple[str, str]], np.ndarray, np.ndarray]:
    """Return sample times (int ns), each column's (service, metric), raw and filled values.

    Samples are put on one grid at the series' common step (scrapes of different targets
    land a second or so apart); samples of one indicator in the same slot are averaged.
    In the raw values non-finite samples and empty slots are NaN; the filled copy carries
    the previous sample forward (the next one at the start), for the onset detector. An
    indicator with no finite sample at all is left out, and logged.
    """
    keyed = metrics.select(
        pl.col("timestamp").dt.epoch("ns").alias("t"),
        pl.concat_str("service", "metric", separator=_KEY_SEPARATOR).alias("key"),
        pl.when(pl.col("value").is_finite()).then(pl.col("value")).alias("value"),
    )
    step = _common_step(keyed)
    keyed = keyed.with_columns(((pl.col("t") + step // 2) // step * step).alias("t"))
    table = keyed.pivot(on="key", index="t", values="value", aggregate_function="mean")
    table = table.sort("t")
    keys = [c for c in table.columns if c != "t"]
    present = [k for k in keys if table[k].null_count() < table.height]
    if len(present) < len(keys):
        empty = sorted(set(keys) - set(present))
        log.warning(
            "%d indicator(s) have no finite sample and are left out: %s",
            len(empty),
            ", ".join(_indicator(*k.split(_KEY_SEPARATOR, 1)) for k in empty[:5]),
        )
    pairs = [tuple(k.split(_KEY_SEPARATOR, 1)) for k in present]
    order = sorted(range(len(pairs)), key=lambda i: pairs[i])
    columns = [pairs[i] for i in order]
    chosen = table.select([present[i] for i in order])
    raw = chosen.to_numpy().astype(float).reshape(table.height, len(columns))
    filled = chosen.select(pl.all().forward_fill().backward_fill()).to_numpy()
    times = table["t"].to_numpy()
    return times, columns, raw, filled.astype(float).reshape(table.height, len(columns))


def _common_step(keyed: pl.DataFrame) -> int:
    """Return the typical sampling step in ns: the median of the series' median steps.

    Steps of a second or more are rounded to whole seconds, so a 60 s scrape with a
    second of jitter gives a 60 s grid.
    """
    steps = (
        keyed.select("key", "t")
        .unique()
        .sort("key", "t")
        .group_by("key")
        .agg(pl.col("t").diff().filter(pl.col("t").diff() > 0).median().alias("step"))
        .drop_nulls()
    )
    if steps.is_empty():
        return 1
    step = int(steps["step"].median())
    if step >= _SECOND:
        step = round(step / _SECOND) * _SECOND
    return max(step, 1)


def _causes(signals: pl.DataFrame, baseline: Window, window: Window) -> tuple[Cause, ...]:
    best = signals.group_by("service", maintain_order=True).head(DEFAULT_EVIDENCE_INDICATORS)
    causes = []
    for rank, (service, rows) in enumerate(best.group_by("service", maintain_order=True), 1):
        top = rows.row(0, named=True)
        causes.append(
            Cause(
                rank=rank,
                service=service[0],
                indicator=top["indicator"],
                score=float(top["score"]),
                evidence={
                    "kind": "metric",
                    "metric": top["metric"],
                    "baseline": float(top["baseline"]),
                    "observed": float(top["observed"]),
                    "deviation": float(top["deviation"]),
                    "window": window.to_dict(),
                    "baseline_window": baseline.to_dict(),
                    "indicators": [
                        {
                            "indicator": row["indicator"],
                            "deviation": float(row["deviation"]),
                            "baseline": float(row["baseline"]),
                            "observed": float(row["observed"]),
                            "onset": iso(row["onset"]),
                        }
                        for row in rows.iter_rows(named=True)
                    ],
                },
                onset=top["onset"],
            )
        )
    return tuple(causes)


def _indicator(service: str, metric: str) -> str:
    return f"{service}_{metric}" if service else metric


def _as_ns(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return int(pl.Series([value]).cast(pl.Datetime("ns", "UTC")).dt.epoch("ns")[0])
    except pl.exceptions.PolarsError:
        raise UsageError(
            f"the onset {iso(value)} is outside the years 1678-2261 that nanosecond "
            "timestamps can hold"
        ) from None


def _to_datetime(ns: int) -> datetime:
    return pl.Series([int(ns)]).cast(pl.Datetime("ns", "UTC"))[0]
