"""Download of a suite's pinned upstream archive into the user cache, checked file by file."""

from __future__ import annotations

import logging
import shutil
import tarfile
from pathlib import Path

from workbench.datasets._locate import ENV_VAR, cache_root
from workbench.datasets._manifest import Manifest, read_manifest, verify_folder
from workbench.errors import DownloadError

log = logging.getLogger(__name__)

DOWNLOAD_DIR = "downloads"


def fetch(suite: str, progress: bool = True) -> Path:
    """Download ``suite`` from its pinned upstream commit into the cache; return its folder.

    Only the files the manifest lists are extracted, at their upstream paths, and each is
    checked against the manifest's sha256 (the archive's own bytes are not stable, so it
    is not pinned). The folder appears only once every file checks out.
    """
    manifest = read_manifest(suite)
    archive = _download(manifest, progress)
    target = cache_root() / manifest.folder
    staging = target.with_name(f"{manifest.folder}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    _extract(manifest, archive, staging)
    verify_folder(manifest, staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    log.info("fetched %s into %s", suite, target)
    return target


def _download(manifest: Manifest, progress: bool) -> Path:
    import pooch
    import requests

    url = manifest.archive_url
    if progress:
        try:
            import tqdm  # noqa: F401  (pooch draws its bar with tqdm)
        except ImportError:
            log.info("tqdm is not installed: downloading %s without a progress bar", url)
            progress = False
    try:
        file = pooch.retrieve(
            url,
            known_hash=None,
            fname=f"{manifest.folder}-{manifest.commit}.tar.gz",
            path=cache_root() / DOWNLOAD_DIR,
            progressbar=progress,
        )
    except (requests.RequestException, OSError) as exc:
        raise DownloadError(
            f"cannot download {manifest.name} from {url}: {exc}. "
            f"Check the network, or set {ENV_VAR} to a folder holding a mirror "
            f"(with a {manifest.folder}/ subfolder)."
        ) from exc
    return Path(file)


def _extract(manifest: Manifest, archive: Path, staging: Path) -> None:
    wanted = set(manifest.files)
    found = set()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                # Archive entries are <repo>-<commit>/<path in the repository>.
                _, _, relative = member.name.partition("/")
                if relative not in wanted or not member.isfile():
                    continue
                source = tar.extractfile(member)
                if source is None:
                    continue
                destination = staging / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with source, destination.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
                found.add(relative)
    except (tarfile.TarError, OSError) as exc:
        raise DownloadError(
            f"cannot extract {archive} for {manifest.name}: {exc}; delete it and fetch again"
        ) from exc
    missing = sorted(wanted - found)
    if missing:
        raise DownloadError(
            f"the archive of {manifest.name} at commit {manifest.commit} lacks "
            f"{len(missing)} manifest file(s), e.g. {', '.join(missing[:3])}"
        )
