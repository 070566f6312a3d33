"""Evaluate template mining on the loghub-2k suite (the JSON of DESIGN.md).

Grouping accuracy: a line is right when its predicted group holds exactly the lines of
its true group. Parsing accuracy: a line is right when its template equals the true one
after both are normalised: Mac's ``<NUM>`` read as ``<*>``, runs of ``<*>`` that only
whitespace separates collapsed to one, whitespace runs made one space, ends stripped.
The true ``EventId`` of each line is kept as given (overlapping templates are never
re-derived).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from workbench import datasets
from workbench.datasets import loghub
from workbench.errors import UsageError
from workbench.logs.masking import WILDCARD

SUITE = "loghub-2k"

Progress = Callable[[int, int, str], None]


def grouping_accuracy(
    truth: Sequence[Any] | pl.Series, predicted: Sequence[Any] | pl.Series
) -> float:
    """Return the share of lines whose predicted group equals their true group exactly."""
    pairs = pl.DataFrame(
        {"truth": pl.Series(truth).cast(pl.String), "pred": pl.Series(predicted).cast(pl.String)}
    )
    if pairs.is_empty():
        return 0.0
    sized = pairs.with_columns(
        pl.len().over("truth").alias("truth_size"),
        pl.len().over("pred").alias("pred_size"),
        pl.len().over("truth", "pred").alias("pair_size"),
    )
    right = (pl.col("pair_size") == pl.col("truth_size")) & (
        pl.col("pair_size") == pl.col("pred_size")
    )
    return float(sized.select(right.mean()).item())


def normalise_template(templates: pl.Expr) -> pl.Expr:
    """Return the comparable form of templates: one wildcard per run, single spaces."""
    wildcard = WILDCARD.replace("*", r"\*")
    return (
        templates.str.replace_all("<NUM>", WILDCARD, literal=True)
        .str.replace_all(rf"{wildcard}(?:\s*{wildcard})+", WILDCARD)
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def parsing_accuracy(
    truth: Sequence[str] | pl.Series, predicted: Sequence[str] | pl.Series
) -> float:
    """Return the share of lines whose template equals the true one after normalising both."""
    frame = pl.DataFrame(
        {"truth": pl.Series(truth, dtype=pl.String), "pred": pl.Series(predicted, dtype=pl.String)}
    )
    if frame.is_empty():
        return 0.0
    same = normalise_template(pl.col("truth")) == normalise_template(pl.col("pred"))
    return float(frame.select(same.fill_null(False).mean()).item())


def evaluate_logparse(
    suite: str = SUITE,
    *,
    miner_factory: Callable[[], Any] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Mine every system of ``suite`` with a fresh miner and score it against the labels.

    ``miner_factory`` returns an object with ``mine(logs) -> frame`` holding
    ``template_id`` and ``template`` per line (default: :class:`TemplateMiner` with its
    default settings, the same for every system).
    """
    from workbench.logs import TemplateMiner

    if suite != SUITE:
        raise UsageError(f"log parsing is scored on {SUITE} only, not {suite!r}")
    factory = miner_factory if miner_factory is not None else TemplateMiner
    systems: dict[str, dict[str, Any]] = {}
    names = sorted(datasets.cases(suite))
    method = ""
    for index, system in enumerate(names):
        logs = datasets.load(f"{suite}/{system}").logs
        truth = loghub.templates(system)
        miner = factory()
        method = getattr(miner, "method", type(miner).__name__)
        started = time.perf_counter()
        mined = miner.mine(logs)
        seconds = time.perf_counter() - started
        systems[system] = score_system(truth, mined, seconds)
        if progress is not None:
            progress(index + 1, len(names), system)
    return summarise(suite, method, systems)


def score_system(truth: pl.DataFrame, mined: pl.DataFrame, seconds: float) -> dict[str, Any]:
    """Return the scores of one system: ``truth`` from :func:`loghub.templates`, lines in order."""
    lines = truth.height
    return {
        "lines": lines,
        "grouping_accuracy": grouping_accuracy(truth["EventId"], mined["template_id"]),
        "parsing_accuracy": parsing_accuracy(truth["EventTemplate"], mined["template"]),
        "templates_true": truth["EventId"].n_unique(),
        "templates_found": mined["template_id"].n_unique(),
        "lines_per_second": lines / seconds if seconds > 0 else float("inf"),
    }


def summarise(suite: str, method: str, systems: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Return the DESIGN.md payload from per-system scores."""
    if not systems:
        raise UsageError(f"suite {suite} holds no systems to score")
    grouping = {name: row["grouping_accuracy"] for name, row in systems.items()}
    worst = min(grouping, key=lambda name: (grouping[name], name))
    return {
        "suite": suite,
        "method": method,
        "systems": systems,
        "mean": {
            "grouping_accuracy": sum(grouping.values()) / len(grouping),
            "parsing_accuracy": sum(r["parsing_accuracy"] for r in systems.values()) / len(systems),
        },
        "min_grouping_accuracy": {"system": worst, "value": grouping[worst]},
    }


def format_table(result: dict[str, Any]) -> str:
    """Return the scores as a plain-text table, one row per system, then the mean."""
    rows = [f"{result['suite']}  {result['method']}"]
    rows.append(
        f"{'system':<12} {'grouping':>8} {'parsing':>8} {'found':>6} {'true':>6} {'lines/s':>9}"
    )
    for system, row in result["systems"].items():
        rows.append(
            f"{system:<12} {row['grouping_accuracy']:>8.3f} {row['parsing_accuracy']:>8.3f} "
            f"{row['templates_found']:>6} {row['templates_true']:>6} "
            f"{row['lines_per_second']:>9.0f}"
        )
    mean = result["mean"]
    worst = result["min_grouping_accuracy"]
    rows.append(f"{'mean':<12} {mean['grouping_accuracy']:>8.3f} {mean['parsing_accuracy']:>8.3f}")
    rows.append(f"lowest grouping accuracy: {worst['system']} {worst['value']:.3f}")
    return "\n".join(rows)
