"""Where a suite's files are found: the mirror named by the environment, then the user cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

from workbench.datasets._manifest import read_manifest
from workbench.errors import DatasetNotFound

ENV_VAR = "MANCEROPS_DATASETS"
OFFLINE_VAR = "MANCEROPS_OFFLINE"
APP_NAME = "mancerops"


def cache_root() -> Path:
    """Return the user cache folder that fetched suites are extracted into."""
    return Path(platformdirs.user_cache_dir(APP_NAME)) / "datasets"


def candidates(suite: str) -> list[Path]:
    """Return the folders ``suite`` is looked for in, in order of preference."""
    folder = read_manifest(suite).folder
    places = []
    mirror = os.environ.get(ENV_VAR)
    if mirror:
        places.append(Path(mirror).expanduser() / folder)
    places.append(cache_root() / folder)
    return places


def locate(suite: str) -> Path | None:
    """Return the first folder holding ``suite``, or None."""
    return next((place for place in candidates(suite) if place.is_dir()), None)


def path(suite: str) -> Path:
    """Return the folder of ``suite``, downloading it into the cache when it is nowhere.

    Looks in ``$MANCEROPS_DATASETS``, then the user cache, then fetches the pinned
    upstream archive (not when ``$MANCEROPS_OFFLINE`` is set). Raises
    :class:`DatasetNotFound` naming every place looked and why the download failed.
    """
    found = locate(suite)
    if found is not None:
        return found
    places = candidates(suite)
    env_note = "" if os.environ.get(ENV_VAR) else f" (${ENV_VAR} is not set)"
    looked = f"dataset {suite} not found; looked in {', '.join(str(p) for p in places)}{env_note}"
    if os.environ.get(OFFLINE_VAR):
        download = f"; not downloaded because ${OFFLINE_VAR} is set"
    else:
        from workbench.datasets._download import fetch
        from workbench.errors import DatasetError

        try:
            return fetch(suite, progress=sys.stderr.isatty())
        except DatasetError as error:
            download = f"; the download failed: {error}"
    raise DatasetNotFound(
        f"{looked}{download}. Fetch it with `mancerops datasets fetch {suite}`, or set "
        f"{ENV_VAR} to a folder holding a mirror of it."
    )
