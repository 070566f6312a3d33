"""The RED/USE indicator queries and their TOML file."""

from datetime import timedelta

import pytest

from workbench.errors import UsageError
from workbench.sources import DEFAULT_QUERIES_FILE, Query, load_queries
from workbench.sources.queries import rate_window


def test_default_queries_cover_red_and_use():
    metrics = [query.metric for query in load_queries()]
    assert {"cpu", "mem", "request_rate", "error_ratio", "latency_p99"} <= set(metrics)
    assert DEFAULT_QUERIES_FILE.name == "prometheus_queries.toml"
    latency = next(q for q in load_queries() if q.metric == "latency_p99")
    assert "histogram_quantile(0.99" in latency.promql and "_bucket" in latency.promql


def test_rate_window_is_a_step_plus_a_scrape_and_at_least_a_minute():
    assert rate_window(timedelta(seconds=1)) == timedelta(minutes=1)
    assert rate_window(timedelta(minutes=5)) == timedelta(minutes=5, seconds=15)
    query = Query("cpu", "rate(x[${window}])")
    assert query.render(timedelta(seconds=1)) == "rate(x[60s])"
    assert query.render(timedelta(seconds=0.5) * 300) == "rate(x[165s])"


def test_a_queries_file_of_our_own(tmp_path):
    file = tmp_path / "q.toml"
    file.write_text('[[query]]\nmetric = ""\npromql = \'{__name__=~"cpu|mem"}\'\n')
    assert load_queries(file) == (Query("", '{__name__=~"cpu|mem"}'),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metric = 1", "no \\[\\[query\\]\\]"),
        ("[[query]]\nmetric = 'cpu'\n", "number 1 needs"),
        ("[[query]\n", "not valid TOML"),
    ],
)
def test_malformed_queries_files_name_the_problem(tmp_path, text, message):
    file = tmp_path / "q.toml"
    file.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_queries(file)


def test_a_missing_queries_file_is_named(tmp_path):
    with pytest.raises(UsageError, match=r"nope\.toml"):
        load_queries(tmp_path / "nope.toml")
