"""The multimodal ranking on small hand-built cases whose answer is worked out by hand."""

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from workbench import datasets, frames
from workbench.case import Case
from workbench.errors import UsageError
from workbench.rca import FusionRanker, MetricRanker, investigate

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
ONSET = T0 + timedelta(minutes=5)


def _spans(rows):
    return frames.validate(
        pl.DataFrame(
            rows,
            schema={
                "trace_id": pl.String,
                "span_id": pl.String,
                "parent_span_id": pl.String,
                "service": pl.String,
                "operation": pl.String,
                "start": pl.Datetime("ns", "UTC"),
                "duration_ms": pl.Float64,
            },
            orient="row",
        ),
        frames.SPANS,
    )


def _chain(c_ms_after: float, gap_into_b_after: float = 1.0, traces: int = 40):
    """Traces front -> a -> b -> c, one every 15 s over 10 minutes, each call behind a
    client span of its caller. Before the onset: c 10 ms, b 5 ms of its own, a 5 ms, every
    hop 1 ms. After: c takes ``c_ms_after`` and the hop into b ``gap_into_b_after``."""
    rows = []
    for i in range(traces):
        start = T0 + timedelta(seconds=15 * i)
        after = start >= ONSET
        c = c_ms_after if after else 10.0
        gap_b = gap_into_b_after if after else 1.0
        b = 5.0 + 1.0 + c
        a = 5.0 + gap_b + b
        t = f"{i:032x}"
        rows += [
            (t, f"{i:08x}00000001", "", "front", "GET /", start, a + 1.0 + 1.0),
            (t, f"{i:08x}00000002", f"{i:08x}00000001", "front", "HTTP GET", start, a + 1.0),
            (t, f"{i:08x}00000003", f"{i:08x}00000002", "a", "A.op", start, a),
            (t, f"{i:08x}00000004", f"{i:08x}00000003", "a", "HTTP GET", start, b + gap_b),
            (t, f"{i:08x}00000005", f"{i:08x}00000004", "b", "B.op", start, b),
            (t, f"{i:08x}00000006", f"{i:08x}00000005", "b", "HTTP GET", start, c + 1.0),
            (t, f"{i:08x}00000007", f"{i:08x}00000006", "c", "C.op", start, c),
        ]
    return _spans(rows)


def test_callee_slowdown_ranks_the_callee_above_its_callers():
    # c goes from 10 to 110 ms. b then takes 116 instead of 16 ms, all of it waiting on
    # c: its exclusive slowdown is 116 - 16 - 100 = 0 ms. a's rise (100 ms) is likewise
    # explained by b's. c's own latency fold: ln((110 + 10) / (10 + 10)) = ln 6.
    case = Case(suite="hand", case_id="chain", truth=None, spans=_chain(110.0))
    result = FusionRanker(modalities=["traces"]).rank(case, ONSET)
    ranked = [cause.service for cause in result.ranking]
    assert ranked[0] == "c"
    top = result.ranking[0]
    assert top.score == pytest.approx(1.791759, abs=1e-6)  # ln 6
    assert top.evidence["kind"] == "trace" and top.evidence["baseline"] == 10.0
    assert top.evidence["modalities"]["traces"]["explained_by_callee_ms"] == 0.0
    scores = {cause.service: cause.score for cause in result.ranking}
    assert scores["b"] == 0.0 and scores["a"] == 0.0
    trace_ids = top.evidence["modalities"]["traces"]["trace_ids"]
    assert len(trace_ids) == 5 and all(int(t, 16) >= 20 for t in trace_ids)


def test_network_delay_into_a_service_ranks_it_by_the_hop_gap():
    # The hop into b grows from 1 to 501 ms while b itself stays as fast:
    # gap fold ln((501 + 10) / (1 + 10)) = ln(511 / 11). a waits 500 ms more, which no
    # callee's own latency explains (a hop rise is not taken off: a starved caller makes
    # it too), so a keeps ln((22 + 500 + 10) / (22 + 10)) = ln(532 / 32), below b.
    case = Case(suite="hand", case_id="delay", truth=None, spans=_chain(10.0, 501.0))
    result = FusionRanker(modalities=["traces"]).rank(case, ONSET)
    top = result.ranking[0]
    assert top.service == "b"
    assert top.indicator == "trace:edge a->b gap"
    assert top.score == pytest.approx(3.838474, abs=1e-6)  # ln(511 / 11)
    scores = {c.service: c.score for c in result.ranking}
    assert scores["a"] == pytest.approx(2.810908, abs=1e-6)  # ln(532 / 32)
    assert scores["c"] == 0.0


def _logs_and_spans(caller_follows: bool = False, new_info: bool = False):
    """Service s answers 30 requests before the onset and 30 after (one every 10 s);
    each request logs statement #31, then #34, and t logs #7 per request. After the
    onset s's #34 falls silent (code skipped by an early return). With
    ``caller_follows``, t (s's caller) also logs #9 after s's answer when s found it.
    With ``new_info``, t logs an info #12 per request after the onset only."""
    logs, spans = [], []
    for i in range(60):
        start = T0 + timedelta(seconds=10 * i)
        t = f"{i:032x}"
        s_span, t_span = f"{i:08x}0000000a", f"{i:08x}0000000b"
        spans += [
            (t, t_span, "", "t", "T.op", start, 20.0),
            (t, s_span, t_span, "s", "S.op", start, 5.0),
        ]

        def line(service, span, text, at=start, trace=t):
            return (at, service, f"12:00:00.000 INFO  {text}", "info", trace, span)

        logs.append(line("t", t_span, "x.T#7 [call s]"))
        logs.append(line("s", s_span, "x.S#31 [find]"))
        if start < ONSET:
            logs.append(line("s", s_span, "x.S#34 [found]"))
            if caller_follows:
                logs.append(line("t", t_span, "x.T#9 [got it]"))
        elif new_info:
            logs.append(line("t", t_span, "x.T#12 [other branch]"))
    log_frame = frames.validate(
        pl.DataFrame(
            logs,
            schema={
                "timestamp": pl.Datetime("ns", "UTC"),
                "service": pl.String,
                "message": pl.String,
                "level": pl.String,
                "trace_id": pl.String,
                "span_id": pl.String,
            },
            orient="row",
        ),
        frames.LOGS,
    )
    return log_frame, _spans(spans)


def test_a_statement_that_falls_silent_points_at_its_service():
    logs, spans = _logs_and_spans()
    case = Case(suite="hand", case_id="return", truth=None, logs=logs, spans=spans)
    result = FusionRanker(modalities=["logs"]).rank(case, ONSET)
    top = result.ranking[0]
    # 30 requests of S.op before and after: #34 expected 30, seen 0 -> ln(1 / 31) =
    # -3.433987, shrunk by one standard error sqrt(1 / (0 + 1) + 1 / (30 + 1)) = 1.016001.
    assert top.service == "s"
    assert top.indicator == "log:statement x.S#34 in S.op"
    assert top.evidence["deviation"] == pytest.approx(-2.417986, abs=1e-6)
    found = top.evidence["modalities"]["logs"]
    assert found["baseline_count"] == 30 and found["observed"] == 0.0
    assert found["lines"][0].endswith("x.S#34 [found]")
    assert found["trace_ids"][0] == f"{0:032x}"
    # t's statement keeps its rate per request: ln(31 / 31) = 0, no evidence.
    assert [(c.service, c.score) for c in result.ranking[1:]] == [("t", 0.0)]


def test_a_caller_whose_statement_follows_its_callee_ranks_below_it():
    logs, spans = _logs_and_spans(caller_follows=True)
    case = Case(suite="hand", case_id="return", truth=None, logs=logs, spans=spans)
    result = FusionRanker(modalities=["logs"]).rank(case, ONSET)
    # t's #9 falls silent like s's #34 (both 30 -> 0, shrunk to 2.417986), but T.op
    # calls S.op, whose shift explains all of it: 2.417986 - min(2.417986, 2.417986) = 0.
    assert [(c.service, round(c.score, 6)) for c in result.ranking] == [
        ("s", 2.417986),
        ("t", 0.0),
    ]
    # Without the callee explanation both shift alike and the tie goes by name.
    alike = FusionRanker(modalities=["logs"], callee_explains=0.0).rank(case, ONSET)
    assert [round(c.score, 6) for c in alike.ranking] == [2.417986, 2.417986]


def test_an_ordinary_statement_that_runs_more_often_can_be_left_unscored():
    logs, spans = _logs_and_spans(new_info=True)
    case = Case(suite="hand", case_id="branch", truth=None, logs=logs, spans=spans)
    # Without the callee explanation (T.op calls S.op, whose shift explains t's), t's
    # info #12 goes 0 -> 30 lines in 30 requests: ln(31 / 1) = 3.433987, shrunk by
    # sqrt(1 / 31 + 1 / 1) to 2.417986, as large as s's drop: a tie, by name.
    counted = FusionRanker(modalities=["logs"], callee_explains=0.0).rank(case, ONSET)
    assert [(c.service, round(c.score, 6)) for c in counted.ranking] == [
        ("s", 2.417986),
        ("t", 2.417986),
    ]
    # Weighted 0, an ordinary statement running more often (a branch) does not score.
    left = FusionRanker(modalities=["logs"], callee_explains=0.0, ordinary_rise_weight=0.0)
    assert [(c.service, round(c.score, 6)) for c in left.rank(case, ONSET).ranking] == [
        ("s", 2.417986),
        ("t", 0.0),
    ]


def test_all_modalities_carry_their_evidence():
    logs, spans = _logs_and_spans()
    case = Case(suite="hand", case_id="both", truth=None, logs=logs, spans=spans)
    result = FusionRanker(modalities=["logs", "traces"]).rank(case, ONSET)
    top = result.ranking[0]
    assert top.service == "s"
    assert set(top.evidence["modalities"]) == {"logs", "traces"}
    assert top.evidence["scores"]["traces"] == 0.0


def test_metrics_only_rank_exactly_as_the_metric_ranker():
    case = datasets.load("rcd-sockshop/carts-cpu/1")
    fused = investigate(case)
    alone = MetricRanker().rank(case.metrics, case=case.name)
    assert [c.service for c in fused.ranking] == [c.service for c in alone.ranking]
    assert [c.score for c in fused.ranking] == [c.score for c in alone.ranking]
    assert fused.ranking[0].service == "carts"


def test_unknown_modality_is_refused():
    with pytest.raises(UsageError, match="unknown modality smells"):
        FusionRanker(modalities=["metrics", "smells"])


def test_without_metrics_an_onset_must_be_given():
    logs, spans = _logs_and_spans()
    case = Case(suite="hand", case_id="x", truth=None, logs=logs, spans=spans)
    with pytest.raises(UsageError, match="has no metrics, so the onset cannot be detected"):
        FusionRanker().rank(case)
