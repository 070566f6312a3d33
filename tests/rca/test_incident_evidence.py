import polars as pl
import pytest

from workbench import datasets, investigate
from workbench.rca.evidence import DEFAULT_TRACES, IncidentEvidence

RCD_CASE = "rcd-sockshop/carts-cpu/1"
# A Nezha fault (network delay of ts-food-service) whose first suspect has log and trace signals.
NEZHA_CASE = "nezha/2023-01-30/12_52"


@pytest.fixture(scope="module")
def rcd():
    case = datasets.load(RCD_CASE)
    result = investigate(case)
    return case, result, IncidentEvidence.collect(result, logs=case.logs, spans=case.spans)


@pytest.fixture(scope="module")
def nezha():
    case = datasets.load(NEZHA_CASE)
    result = investigate(case)
    return case, result, IncidentEvidence.collect(result, logs=case.logs, spans=case.spans)


def test_indicator_series_is_the_normal_then_anomalous_column(rcd):
    _, result, found = rcd
    cause = result.ranking[0]
    assert (cause.service, cause.evidence["metric"]) == ("carts", "cpu")  # ground truth: carts
    folder = datasets.path("rcd-sockshop") / "sock-shop-data" / "carts-cpu" / "1"
    expected = pl.concat(
        [pl.read_csv(folder / name)["carts_cpu"] for name in ("normal.csv", "anomalous.csv")]
    )
    series = found.for_cause(cause).series
    assert series["value"].to_list() == pytest.approx(expected.to_list())
    assert series["timestamp"].is_sorted()


def test_metrics_only_case_has_no_log_or_trace_evidence(rcd):
    _, result, found = rcd
    evidence = found.for_cause(result.ranking[0])
    assert not evidence.has_logs and not evidence.has_spans
    assert evidence.log_signals.is_empty()
    assert evidence.trace_signals == () and evidence.trace_ids == ()


def test_log_and_trace_evidence_belong_to_the_cause(nezha):
    case, result, found = nezha
    cause = result.ranking[0]
    evidence = found.for_cause(cause)
    assert evidence.has_logs and evidence.has_spans
    assert evidence.log_signals.height > 0
    assert set(evidence.log_signals["service"]) == {cause.service}
    assert evidence.trace_signals
    assert {s.callee for s in evidence.trace_signals} == {cause.service}
    for trace_id in evidence.trace_ids:
        services = case.spans.filter(pl.col("trace_id") == trace_id)["service"]
        assert cause.service in services.to_list()


def test_cause_without_trace_signal_gets_its_slowest_traces_after_onset(nezha):
    case, result, found = nezha
    cause = next(c for c in result.ranking if not found.for_cause(c).trace_signals)
    evidence = found.for_cause(cause)
    # Worked out with plain Python over the spans: the longest span of the service per trace.
    longest: dict[str, float] = {}
    for row in case.spans.iter_rows(named=True):
        if row["service"] == cause.service and row["start"] >= result.onset:
            longest[row["trace_id"]] = max(longest.get(row["trace_id"], 0.0), row["duration_ms"])
    assert "status" not in case.spans.columns  # Nezha spans carry no status: none failed
    failed: set[str] = set()
    expected = sorted(longest, key=lambda t: (t not in failed, -longest[t], t))[:DEFAULT_TRACES]
    assert list(evidence.trace_ids) == expected
