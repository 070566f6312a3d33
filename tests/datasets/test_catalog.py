import dataclasses
import functools
import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest

from workbench import datasets
from workbench.datasets import _download, _locate
from workbench.errors import DatasetError, DatasetNotFound, UnknownCase

RCD_COMMIT = "373882c6982db7a999ec1ff99ea54c644a48b409"  # shared README table


@pytest.fixture
def nowhere(tmp_path, monkeypatch) -> Path:
    """Point the mirror at an empty folder and the user cache into tmp; return the cache."""
    (tmp_path / "mirror").mkdir()
    monkeypatch.setenv("MANCEROPS_DATASETS", str(tmp_path / "mirror"))
    cache = tmp_path / "cache"
    monkeypatch.setattr(_locate.platformdirs, "user_cache_dir", lambda app: str(cache / app))
    monkeypatch.setenv("MANCEROPS_OFFLINE", "1")
    return cache / "mancerops" / "datasets"


def test_catalog_names_the_four_suites():
    assert set(datasets.SUITES) == {"rcd-sockshop", "nezha", "nab", "loghub-2k"}
    infos = {info.name: info for info in datasets.list_suites()}
    assert set(infos) == set(datasets.SUITES)
    rcd = infos["rcd-sockshop"]
    assert (rcd.folder, rcd.repo, rcd.commit) == ("rcd", "azamikram/rcd", RCD_COMMIT)
    assert infos["nab"].license.startswith("MIT")
    with pytest.raises(dataclasses.FrozenInstanceError):
        rcd.name = "other"


def test_suites_resolve_to_the_mirror_first(mirror):
    folders = {"rcd-sockshop": "rcd", "nezha": "nezha", "nab": "nab", "loghub-2k": "loghub"}
    for suite, folder in folders.items():
        assert datasets.path(suite) == mirror / folder
    assert all(info.location is not None for info in datasets.list_suites())


def test_missing_dataset_names_every_place_and_the_fetch_command(nowhere, tmp_path):
    with pytest.raises(DatasetNotFound) as info:
        datasets.path("nab")
    message = str(info.value)
    assert str(tmp_path / "mirror" / "nab") in message
    assert str(nowhere / "nab") in message
    assert "mancerops datasets fetch nab" in message
    assert "not downloaded because $MANCEROPS_OFFLINE is set" in message
    assert datasets.list_suites()[0].location is None


def test_a_missing_suite_is_downloaded_on_first_use(nowhere, monkeypatch, mirror, archive_server):
    url, www = archive_server
    wanted = ["sock-shop-data/carts-cpu/1/normal.csv", "sock-shop-data/carts-cpu/1/anomalous.csv"]
    full = datasets.read_manifest("rcd-sockshop")
    (www / "rcd.tar.gz").write_bytes(
        _archive({n: (mirror / "rcd" / n).read_bytes() for n in wanted})
    )
    manifest = dataclasses.replace(
        full, archive_url=f"{url}/rcd.tar.gz", files={n: full.files[n] for n in wanted}
    )
    monkeypatch.setattr(_download, "read_manifest", lambda suite: manifest)
    monkeypatch.delenv("MANCEROPS_OFFLINE")
    case = datasets.load("rcd-sockshop/carts-cpu/1")
    assert case.truth.root_cause_service == "carts"
    assert (nowhere / "rcd" / wanted[0]).is_file()


def test_a_failed_download_says_where_it_looked_and_why(nowhere, monkeypatch, tmp_path):
    manifest = dataclasses.replace(
        datasets.read_manifest("nab"), archive_url="http://127.0.0.1:9/nab.tar.gz"
    )
    monkeypatch.setattr(_download, "read_manifest", lambda suite: manifest)
    monkeypatch.delenv("MANCEROPS_OFFLINE")
    with pytest.raises(DatasetNotFound) as info:
        datasets.path("nab")
    message = str(info.value)
    assert str(tmp_path / "mirror" / "nab") in message
    assert "the download failed: cannot download nab from http://127.0.0.1:9/nab.tar.gz" in message
    assert "mancerops datasets fetch nab" in message


def test_cache_is_used_when_the_mirror_lacks_the_suite(nowhere):
    (nowhere / "loghub").mkdir(parents=True)
    assert datasets.path("loghub-2k") == nowhere / "loghub"


def test_unknown_suite_lists_the_catalog():
    with pytest.raises(UnknownCase) as info:
        datasets.cases("rcd")
    assert "rcd-sockshop, nezha, nab, loghub-2k" in str(info.value)


def test_unknown_case_gives_close_matches_and_count():
    with pytest.raises(UnknownCase) as info:
        datasets.load("rcd-sockshop/carts-cpu/9")
    message = str(info.value)
    assert "50 cases" in message
    assert "carts-cpu/1" in message


def test_unknown_case_without_close_match_lists_examples():
    with pytest.raises(UnknownCase) as info:
        datasets.load("rcd-sockshop/zzzzzzzzzzzzzzzz")
    assert "for example carts-cpu/1, carts-cpu/2" in str(info.value)


def test_case_name_without_case_id_is_refused():
    with pytest.raises(UnknownCase, match="names no case"):
        datasets.load("rcd-sockshop")


def test_mirror_matches_the_manifests():
    assert datasets.verify("rcd-sockshop") == 100
    assert datasets.verify("loghub-2k") == 65  # 16 systems x 4 files + LICENSE


def test_verify_reports_changed_and_missing_files(tmp_path, monkeypatch, mirror):
    copy = tmp_path / "rcd"
    source = mirror / "rcd" / "sock-shop-data"
    for case in ("carts-cpu/1", "carts-cpu/2"):
        (copy / "sock-shop-data" / case).mkdir(parents=True)
        for name in ("normal.csv", "anomalous.csv"):
            data = (source / case / name).read_bytes()
            (copy / "sock-shop-data" / case / name).write_bytes(data)
    (copy / "sock-shop-data/carts-cpu/1/normal.csv").write_text("time\n1\n")
    monkeypatch.setenv("MANCEROPS_DATASETS", str(tmp_path))
    with pytest.raises(DatasetError) as info:
        datasets.verify("rcd-sockshop")
    message = str(info.value)
    assert "97 of 100 files" in message  # 96 missing + 1 changed
    assert "sha256 mismatch sock-shop-data/carts-cpu/1/normal.csv" in message


def test_fetch_failure_names_url_and_mirror_variable(nowhere, monkeypatch):
    manifest = dataclasses.replace(
        datasets.read_manifest("rcd-sockshop"), archive_url="http://127.0.0.1:9/rcd.tar.gz"
    )
    monkeypatch.setattr(_download, "read_manifest", lambda suite: manifest)
    with pytest.raises(DatasetError) as info:
        datasets.fetch("rcd-sockshop", progress=False)
    message = str(info.value)
    assert "http://127.0.0.1:9/rcd.tar.gz" in message
    assert "MANCEROPS_DATASETS" in message
    assert not (nowhere / "rcd").exists()


def _archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            member = tarfile.TarInfo(f"rcd-{RCD_COMMIT}/{name}")
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def archive_server(tmp_path):
    """Serve tmp_path/www over HTTP on 127.0.0.1; yield its base URL."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def test_fetch_extracts_listed_files_and_checks_them(nowhere, monkeypatch, mirror, archive_server):
    url, www = archive_server
    wanted = ["sock-shop-data/carts-cpu/1/normal.csv", "sock-shop-data/carts-cpu/1/anomalous.csv"]
    full = datasets.read_manifest("rcd-sockshop")
    contents = {name: (mirror / "rcd" / name).read_bytes() for name in wanted}
    (www / "rcd.tar.gz").write_bytes(_archive(contents | {"README.md": b"not listed"}))
    manifest = dataclasses.replace(
        full, archive_url=f"{url}/rcd.tar.gz", files={name: full.files[name] for name in wanted}
    )
    monkeypatch.setattr(_download, "read_manifest", lambda suite: manifest)
    target = datasets.fetch("rcd-sockshop", progress=False)
    assert target == nowhere / "rcd"
    assert (target / wanted[0]).read_bytes() == contents[wanted[0]]
    assert not (target / "README.md").exists()
    assert datasets.path("rcd-sockshop") == target


def test_fetch_rejects_files_whose_sha256_differs(nowhere, monkeypatch, archive_server):
    url, www = archive_server
    name = "sock-shop-data/carts-cpu/1/normal.csv"
    (www / "bad.tar.gz").write_bytes(_archive({name: b"time\n1\n"}))
    full = datasets.read_manifest("rcd-sockshop")
    manifest = dataclasses.replace(
        full, archive_url=f"{url}/bad.tar.gz", files={name: full.files[name]}
    )
    monkeypatch.setattr(_download, "read_manifest", lambda suite: manifest)
    with pytest.raises(DatasetError, match="sha256 mismatch"):
        datasets.fetch("rcd-sockshop", progress=False)
    assert not (nowhere / "rcd").exists()
