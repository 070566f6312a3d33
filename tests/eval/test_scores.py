import pytest

from workbench import datasets
from workbench.eval.scores import accuracy, average_accuracy, distinct_services, rank_of


def test_db_container_counts_as_its_service():
    ranked = ["carts-db", "user", "carts", "orders-db", "orders"]
    assert distinct_services(ranked) == ["carts", "user", "orders"]
    assert rank_of("carts", ranked) == 1
    assert rank_of("orders", ranked) == 3
    assert rank_of("payment", ranked) is None


def test_accuracy_and_average_worked_by_hand():
    ranks = [1, 2, None, 5]
    assert accuracy(ranks, 1) == 0.25
    assert accuracy(ranks, 3) == 0.5
    # AC@1..5 = .25, .5, .5, .5, .75 -> mean .5
    assert average_accuracy(ranks) == pytest.approx(0.5)


def test_a_damaged_case_is_a_named_miss_and_the_others_still_count(tmp_path, monkeypatch):
    import shutil

    from workbench.eval import evaluate_rca

    mirror = tmp_path / "rcd" / "sock-shop-data"
    source = datasets.path("rcd-sockshop") / "sock-shop-data"
    for case in ["carts-cpu/1", "user-mem/2"]:
        shutil.copytree(source / case, mirror / case)
    broken = mirror / "user-mem" / "2" / "anomalous.csv"
    broken.write_text(broken.read_text()[:5000] + "\n17,abc\n")
    monkeypatch.setenv("MANCEROPS_DATASETS", str(tmp_path))
    result = evaluate_rca("rcd-sockshop")
    assert result["cases"] == 2 and result["errors"] == 1
    damaged = next(row for row in result["per_case"] if row["case"] == "user-mem/2")
    assert str(broken) in damaged["error"]
    assert damaged["rank_of_truth"] is None
    assert result["overall"]["ac@1"] == 0.5  # carts-cpu/1 still ranks carts first
