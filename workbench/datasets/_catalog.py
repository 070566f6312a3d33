"""The catalog: suites, their cases, and loading a case by name."""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from workbench.case import Case
from workbench.datasets._locate import locate, path
from workbench.datasets._manifest import SUITES, check_suite, read_manifest
from workbench.errors import UnknownCase

# Adapter module of each suite; each has case_ids(root) and load_case(root, case_id).
_ADAPTERS = {
    "rcd-sockshop": "workbench.datasets.rcd",
    "nezha": "workbench.datasets.nezha",
    "nab": "workbench.datasets.nab",
    "loghub-2k": "workbench.datasets.loghub",
}
# Case ids listed in an unknown-case error when no close match is found.
_SHOWN_CASES = 5
_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True, slots=True)
class SuiteInfo:
    """A catalog entry: the suite, its upstream source, and where it resolves now."""

    name: str
    folder: str
    repo: str
    commit: str
    license: str
    description: str
    location: Path | None


def list_suites() -> list[SuiteInfo]:
    """Return every suite of the catalog with the folder it resolves to (None if absent)."""
    infos = []
    for suite in SUITES:
        manifest = read_manifest(suite)
        infos.append(
            SuiteInfo(
                name=manifest.name,
                folder=manifest.folder,
                repo=manifest.repo,
                commit=manifest.commit,
                license=manifest.license,
                description=manifest.description,
                location=locate(suite),
            )
        )
    return infos


def natural_key(text: str) -> tuple:
    """Return a sort key that orders digit runs by value (``carts-cpu/2`` before ``/10``)."""
    return tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(text))


def cases(suite: str) -> list[str]:
    """Return the case ids of ``suite``, sorted naturally."""
    root = path(check_suite(suite))
    return sorted(_adapter(suite).case_ids(root), key=natural_key)


def load(name: str) -> Case:
    """Return the case ``<suite>/<case_id>``."""
    suite, _, case_id = name.partition("/")
    check_suite(suite)
    if not case_id:
        raise UnknownCase(f"{name!r} names no case; use {suite}/<case id>, e.g. {_example(suite)}")
    root = path(suite)
    known = _adapter(suite).case_ids(root)
    if case_id not in known:
        raise UnknownCase(_unknown_case_message(suite, case_id, known))
    return _adapter(suite).load_case(root, case_id)


def iter_cases(suite: str) -> Iterator[Case]:
    """Yield every case of ``suite`` in natural order."""
    root = path(check_suite(suite))
    adapter = _adapter(suite)
    for case_id in cases(suite):
        yield adapter.load_case(root, case_id)


def _adapter(suite: str) -> ModuleType:
    return importlib.import_module(_ADAPTERS[suite])


def _example(suite: str) -> str:
    return {
        "rcd-sockshop": "rcd-sockshop/carts-cpu/1",
        "nezha": "nezha/2023-01-29/08_43",
        "nab": "nab/realKnownCause/nyc_taxi",
        "loghub-2k": "loghub-2k/HDFS",
    }[suite]


def _unknown_case_message(suite: str, case_id: str, known: list[str]) -> str:
    ordered = sorted(known, key=natural_key)
    close = difflib.get_close_matches(case_id, ordered, n=_SHOWN_CASES)
    if close:
        hint = f"close matches: {', '.join(close)}"
    else:
        hint = f"for example {', '.join(ordered[:_SHOWN_CASES])}"
    return (
        f"no case {suite}/{case_id}; {suite} has {len(known)} cases, {hint}. "
        f"List them with workbench.datasets.cases({suite!r})."
    )
