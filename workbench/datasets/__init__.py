"""Benchmark datasets: catalog, resolution, download, verification and case loading.

>>> from workbench import datasets
>>> case = datasets.load("rcd-sockshop/carts-cpu/1")

Suites are found in ``$MANCEROPS_DATASETS/<folder>``, then in the user cache, where
:func:`fetch` puts them. See ``docs/datasets.md``.
"""

from __future__ import annotations

from workbench.datasets._catalog import SuiteInfo, cases, iter_cases, list_suites, load
from workbench.datasets._download import fetch
from workbench.datasets._locate import path
from workbench.datasets._manifest import SUITES, read_manifest, verify_folder


def verify(suite: str) -> int:
    """Check the resolved folder of ``suite`` against its manifest; return the files checked.

    Every listed file must exist with the manifest's sha256; a ``.gz`` beside a listed
    path counts when its gunzipped content matches. Raises ``DatasetError`` otherwise.
    """
    return verify_folder(read_manifest(suite), path(suite))


__all__ = [
    "SUITES",
    "SuiteInfo",
    "cases",
    "fetch",
    "iter_cases",
    "list_suites",
    "load",
    "path",
    "verify",
]
