from datetime import UTC, datetime, timedelta

import polars as pl

from workbench.logs.explore import histogram, search, template_table

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _logs():
    rows = [
        (T0, "api", "info", "user alice logged in"),
        (T0 + timedelta(seconds=5), "api", "error", "Timeout calling db after 30 ms"),
        (T0 + timedelta(seconds=20), "db", "error", "timeout on query 17"),
        (T0 + timedelta(seconds=21), "api", "info", "user bob logged in"),
        (T0 + timedelta(seconds=40), "api", "warn", "axb happened"),
    ]
    return pl.DataFrame(rows, schema=["timestamp", "service", "level", "message"], orient="row")


def test_search_is_case_insensitive_and_literal():
    assert search(_logs(), "TIMEOUT")["service"].to_list() == ["api", "db"]
    assert search(_logs(), "a.b").is_empty()  # a dot is a dot, not "any character"
    assert search(_logs()).height == 5


def test_search_filters_services_levels_and_window():
    assert search(_logs(), "timeout", services=["db"])["message"].to_list() == [
        "timeout on query 17"
    ]
    assert search(_logs(), levels=["info"]).height == 2
    window = (T0 + timedelta(seconds=5), T0 + timedelta(seconds=21))
    assert search(_logs(), window=window).height == 3


def test_histogram_counts_lines_per_bin_and_level():
    counts = histogram(_logs(), every="15s")
    assert counts.rows() == [
        (T0, "error", 1),
        (T0, "info", 1),
        (T0 + timedelta(seconds=15), "error", 1),
        (T0 + timedelta(seconds=15), "info", 1),
        (T0 + timedelta(seconds=30), "warn", 1),
    ]


def test_template_table_groups_lines_with_their_first_and_last_time():
    logins = search(_logs(), "logged in")
    table = template_table(logins)
    assert table.height == 1
    row = table.row(0, named=True)
    assert row["lines"] == 2
    assert (row["first"], row["last"]) == (T0, T0 + timedelta(seconds=21))
    assert template_table(search(_logs(), "nothing like this")).is_empty()
