"""The whole Nezha Train Ticket suite (45 faults) with the multimodal ranking.

Targets of the multimodal issue: AC@1 >= 0.93 and AC@3 >= 0.98 at service level (Nezha,
FSE'23, publishes AS@1 0.867, AS@3 0.978 with the injection time known). They are NOT met
yet; these tests guard what the ranking reaches now (measured 2026-12-04: handed the
injection time, AC@1 0.80, AC@3 0.91; onset detected from the minute metrics, AC@1 0.58,
AC@3 0.76), a case below, so a regression fails while noise of one case does not.
"""

import json
import shutil

import pytest

from workbench.eval import evaluate_rca

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def given():
    return evaluate_rca("nezha", given_onset=True)


def test_given_onset_ranks_most_injected_services_first(given):
    assert given["cases"] == 45 and given["errors"] == 0
    assert given["overall"]["ac@1"] >= 0.77  # 35 of 45; measured 36
    assert given["overall"]["ac@3"] >= 0.88  # 40 of 45; measured 41
    # Network delays show on the hop into the service, in 13 of 14 cases.
    assert given["by_fault"]["network_delay"]["ac@1"] >= 0.92
    assert given["by_fault"]["cpu_contention"]["ac@3"] == 1.0
    assert given["by_fault"]["cpu_contention"]["ac@1"] >= 0.85  # 6 of 7; measured 7


def test_first_case_ranks_contacts_first_and_times_the_loading(given):
    row = next(r for r in given["per_case"] if r["case"] == "2023-01-29/08_43")
    assert row["truth"] == "ts-contacts-service" and row["rank_of_truth"] == 1
    assert row["load_seconds"] > 0


def test_detected_onset_keeps_its_level():
    detected = evaluate_rca("nezha")
    assert detected["cases"] == 45
    assert detected["overall"]["ac@1"] >= 0.55  # measured 0.58 (26 of 45)
    assert detected["overall"]["ac@3"] >= 0.73  # measured 0.76 (34 of 45)


def test_truncated_case_file_is_named_and_other_cases_still_count(tmp_path, monkeypatch, mirror):
    # A two-fault copy of the suite: 08:43 with a minute of its logs cut in half, 08:52 whole.
    source = mirror / "nezha"
    copy = tmp_path / "nezha"
    shutil.copytree(source / "construct_data", copy / "construct_data")
    day = copy / "rca_data" / "2023-01-29"
    for kind in ("log", "trace", "metric"):
        (day / kind).mkdir(parents=True)
        for file in (source / "rca_data" / "2023-01-29" / kind).iterdir():
            (day / kind / file.name).symlink_to(file)
    faults = json.loads((source / "rca_data/2023-01-29/2023-01-29-fault_list.json").read_text())
    (day / "2023-01-29-fault_list.json").write_text(json.dumps({"08": faults["08"][:2]}))
    damaged = day / "log" / "08_44_log.csv.gz"
    whole = damaged.resolve().read_bytes()
    damaged.unlink()
    damaged.write_bytes(whole[: len(whole) // 2])
    monkeypatch.setenv("MANCEROPS_DATASETS", str(tmp_path))

    result = evaluate_rca("nezha", given_onset=True)

    assert result["cases"] == 2 and result["errors"] == 1
    broken, fine = result["per_case"]
    assert broken["case"] == "2023-01-29/08_43" and broken["fault"] == "unreadable"
    assert "08_44_log.csv.gz" in broken["error"] and "unexpected end of file" in broken["error"]
    assert fine["case"] == "2023-01-29/08_52" and fine["rank_of_truth"] is not None
    assert "error" not in fine
