"""Accuracy of a ranking against ground truth: AC@k and Avg@k over distinct services."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

DEFAULT_K = 5


def service_family(service: str) -> str:
    """Return the service a container counts as: a ``-db`` container counts as its service."""
    return service.removesuffix("-db")


def distinct_services(ranked: Iterable[str]) -> list[str]:
    """Return the ranked services folded to their family, first appearance kept."""
    seen: dict[str, None] = {}
    for service in ranked:
        seen.setdefault(service_family(service), None)
    return list(seen)


def rank_of(truth: str, ranked: Iterable[str]) -> int | None:
    """Return the 1-based rank of ``truth`` among the distinct services, or None."""
    services = distinct_services(ranked)
    family = service_family(truth)
    return services.index(family) + 1 if family in services else None


def accuracy(ranks: Sequence[int | None], k: int) -> float:
    """Return AC@k: the share of cases whose root cause is within the first ``k``."""
    if not ranks:
        return 0.0
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def average_accuracy(ranks: Sequence[int | None], k: int = DEFAULT_K) -> float:
    """Return Avg@k: the mean of AC@1 .. AC@k."""
    return sum(accuracy(ranks, j) for j in range(1, k + 1)) / k
