import polars as pl
import pytest

from workbench import datasets
from workbench.logs import DEFAULT_WORD_THRESHOLD, TemplateMiner
from workbench.logs.grouping import distinct_rows, group, group_lines, render, skeleton


def test_distinct_rows_numbers_values_by_first_appearance():
    values = pl.Series(["b", "a", "b", "c", "a", "b"])
    distinct, counts, rows = distinct_rows(values)
    assert distinct.to_list() == ["b", "a", "c"]
    assert counts.to_list() == [3, 2, 1]
    assert rows.to_list() == [0, 1, 0, 2, 1, 0]
    # With counts per row, a value's count is their sum: b 1+3+6, a 2+5, c 4.
    _, summed, _ = distinct_rows(values, pl.Series([1, 2, 3, 4, 5, 6]))
    assert summed.to_list() == [10, 7, 4]


@pytest.mark.parametrize("system", ["Android", "Mac", "OpenStack", "Thunderbird"])
def test_group_lines_agrees_with_the_steps_line_by_line(system):
    # The columnar path (one polars row per token) against the plain Python steps it
    # stands for: split, `skeleton`, `group`, `render`, on a real system's masked lines.
    miner = TemplateMiner().fit(datasets.load(f"loghub-2k/{system}").logs)
    lines = list(miner.lines_)
    weights = [miner.lines_[line] for line in lines]
    own, merged, rendered = group_lines(lines, weights, word_threshold=DEFAULT_WORD_THRESHOLD)
    tokens = [line.split() for line in lines]
    skeletons = [skeleton(line) for line in tokens]
    expected_own, expected_merged = group(
        [kept for kept, _ in skeletons], weights, word_threshold=DEFAULT_WORD_THRESHOLD
    )
    assert own == expected_own
    assert merged == expected_merged
    assert rendered == [
        render(line, starts, template)
        for line, (_, starts), template in zip(tokens, skeletons, expected_own, strict=True)
    ]
