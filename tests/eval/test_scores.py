import pytest

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
