"""Manifests: what each suite is, where it comes from, and the sha256 of every file it uses.

One TOML file per suite lives in the project's top-level ``datasets/`` folder. Paths in
``[files]`` are relative to the suite's folder and equal the upstream repository paths;
the sha256 is that of the file as the upstream repository holds it (for Nezha, the plain
``.csv``, which the mirror stores gzip-compressed as ``.csv.gz``).
"""

from __future__ import annotations

import gzip
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import DatasetError, UnknownCase

MANIFEST_DIR = Path(__file__).resolve().parents[2] / "datasets"
SUITES = ("rcd-sockshop", "nezha", "nab", "loghub-2k")
# Where a pinned commit is downloaded from unless a manifest names its own archive_url.
ARCHIVE_URL = "https://github.com/{repo}/archive/{commit}.tar.gz"

# Problems listed in full in a verification error before the rest are only counted.
_SHOWN_PROBLEMS = 5
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Manifest:
    """The pinned upstream source of one suite and the files it uses with their sha256."""

    name: str
    folder: str
    repo: str
    commit: str
    license: str
    description: str
    files: dict[str, str] = field(default_factory=dict)
    archive_url: str = ""


def check_suite(suite: str) -> str:
    """Return ``suite`` if the catalog knows it, else raise :class:`UnknownCase`."""
    if suite not in SUITES:
        raise UnknownCase(f"unknown dataset suite {suite!r}; the catalog has {', '.join(SUITES)}")
    return suite


def read_manifest(suite: str) -> Manifest:
    """Return the manifest of ``suite`` read from ``datasets/<suite>.toml``."""
    source = MANIFEST_DIR / f"{check_suite(suite)}.toml"
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DatasetError(
            f"cannot read the manifest of {suite} at {source}: {exc}; "
            "the manifests ship in the project's datasets/ folder, so run from a checkout"
        ) from exc
    return Manifest(
        name=data["name"],
        folder=data["folder"],
        repo=data["repo"],
        commit=data["commit"],
        license=data["license"],
        description=data["description"],
        files=dict(data.get("files", {})),
        archive_url=data.get("archive_url", ARCHIVE_URL.format(**data)),
    )


def file_sha256(path: Path) -> str:
    """Return the sha256 of a file's content, of the gunzipped content for ``.gz``."""
    digest = hashlib.sha256()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_folder(manifest: Manifest, root: Path) -> int:
    """Check every manifest file under ``root``; return how many were checked.

    A file may be stored as listed or gzip-compressed beside it (``<path>.gz``); the
    gunzipped content must then match. Raises :class:`DatasetError` listing the missing
    and mismatched files.
    """
    problems: list[str] = []
    for relative, expected in manifest.files.items():
        candidate = root / relative
        if not candidate.is_file():
            candidate = root / f"{relative}.gz"
        if not candidate.is_file():
            problems.append(f"missing {relative}")
            continue
        actual = file_sha256(candidate)
        if actual != expected:
            problems.append(f"sha256 mismatch {relative} (expected {expected}, got {actual})")
    if problems:
        shown = "; ".join(problems[:_SHOWN_PROBLEMS])
        more = len(problems) - _SHOWN_PROBLEMS
        tail = f"; and {more} more" if more > 0 else ""
        raise DatasetError(
            f"{manifest.name} at {root} does not match its manifest "
            f"({len(problems)} of {len(manifest.files)} files): {shown}{tail}. "
            f"Fetch it again with `mancerops datasets fetch {manifest.name}`."
        )
    return len(manifest.files)
