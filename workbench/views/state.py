"""The state of the served apps: the chosen case, the time range, the opened cause.

Views are functions of these ``param`` classes; the classes call the library (datasets,
investigate, evidence) and hold its answers. Nothing here draws.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta

import param
import polars as pl

from workbench import datasets
from workbench.case import Case
from workbench.errors import WorkbenchError
from workbench.rca import investigate
from workbench.rca.evidence import IncidentEvidence
from workbench.rca.model import Investigation
from workbench.traces.summaries import trace_summaries

log = logging.getLogger(__name__)

# Suites whose cases carry an incident to investigate (nab and loghub-2k do not).
INCIDENT_SUITES = ("rcd-sockshop", "nezha")
DEFAULT_CASE = "rcd-sockshop/carts-cpu/1"
WHOLE_CASE = "whole case"
ALL = "(all)"
# Relative ranges end at the data's last sample (a dataset case has no "now").
RELATIVE_RANGES = {
    WHOLE_CASE: None,
    "last 5 min": timedelta(minutes=5),
    "last 15 min": timedelta(minutes=15),
    "last 1 h": timedelta(hours=1),
    "last 6 h": timedelta(hours=6),
    "last 24 h": timedelta(hours=24),
}
# Auto refresh of a live source: label -> seconds (None: off).
REFRESH_OFF = "off"
REFRESH_PERIODS = {REFRESH_OFF: None, "30 s": 30, "1 min": 60, "5 min": 300}
# Cases kept in memory per server process: switching back is instant.
CASE_CACHE_SIZE = 8
# Traces offered in the trace picker: the longest of the range.
TRACES_LISTED = 20


class TimeRange(param.Parameterized):
    """A time range shared by every chart of an app: whole data or the last N of it."""

    relative = param.Selector(default=WHOLE_CASE, objects=list(RELATIVE_RANGES), label="Time range")
    data_start = param.Date(default=None, allow_None=True, doc="First sample of the data.")
    data_end = param.Date(default=None, allow_None=True, doc="Last sample: 'now' for the data.")

    @property
    def window(self) -> tuple[datetime, datetime] | None:
        """Return the (start, end) to show, or None for the whole data."""
        length = RELATIVE_RANGES[self.relative]
        if length is None or self.data_end is None:
            return None
        start = self.data_end - length
        if self.data_start is not None:
            start = max(start, self.data_start)
        return start, self.data_end


class IncidentState(param.Parameterized):
    """One incident under investigation: its case, investigation, evidence and opened cause."""

    suite = param.Selector(default=INCIDENT_SUITES[0], objects=list(INCIDENT_SUITES), label="Suite")
    case_id = param.Selector(default=None, objects=[], label="Case")
    cause = param.Integer(default=0, bounds=(0, None), doc="Rank of the opened cause; 0 = none.")
    time = param.ClassSelector(class_=TimeRange, doc="The time range shown.")
    case = param.ClassSelector(class_=Case, default=None, allow_None=True, constant=True)
    investigation = param.ClassSelector(
        class_=Investigation, default=None, allow_None=True, constant=True
    )
    evidence = param.ClassSelector(
        class_=IncidentEvidence, default=None, allow_None=True, constant=True
    )
    error = param.String(default="", constant=True, doc="Why the case could not be shown.")
    live = param.Callable(
        default=None,
        doc="Pulls the case from a live source (e.g. Prometheus) on each load; None: datasets.",
    )
    refresh_every = param.Selector(
        default=REFRESH_OFF, objects=list(REFRESH_PERIODS), label="Auto refresh"
    )

    def __init__(self, name: str | None = None, *, live=None, **params) -> None:
        params.setdefault("time", TimeRange())
        if live is not None:
            params["live"] = live
        elif name is not None:
            suite, _, case_id = name.partition("/")
            params.update(suite=suite, case_id=case_id)
        super().__init__(**params)
        if self.live is None:
            self._list_cases()
        self._load()

    def refresh(self) -> None:
        """Pull the live case again (a dataset case does not change)."""
        if self.live is not None:
            self._load()

    @property
    def case_name(self) -> str:
        """Return ``<suite>/<case_id>``."""
        return f"{self.suite}/{self.case_id}"

    @param.depends("suite", watch=True)
    def _list_cases(self) -> None:
        if self.live is not None:
            return
        try:
            ids = datasets.cases(self.suite)
        except WorkbenchError as error:
            ids = []
            self._fail(str(error))
        self.param.case_id.objects = ids
        if self.case_id not in ids:
            self.case_id = ids[0] if ids else None

    @param.depends("case_id", watch=True)
    def _load(self) -> None:
        if self.live is None and self.case_id is None:
            return
        try:
            if self.live is None:
                case, investigation, evidence = _investigated(self.case_name)
            else:
                case, investigation, evidence = _investigate(self.live())
                with param.parameterized.discard_events(self):
                    self.param.suite.objects = [case.suite]
                    self.param.case_id.objects = [case.case_id]
                    self.param.update(suite=case.suite, case_id=case.case_id)
        except WorkbenchError as error:
            self._fail(f"{self.case_name if self.live is None else 'live source'}: {error}")
            return
        times = case.metrics["timestamp"]
        with param.parameterized.batch_call_watchers(self), param.edit_constant(self):
            # The range stays (as a dashboard's does); its window follows the new data.
            self.time.param.update(data_start=times.min(), data_end=times.max())
            self.case, self.investigation, self.evidence = case, investigation, evidence
            self.error = ""
            self.cause = 0

    def _fail(self, message: str) -> None:
        log.warning("%s", message)
        with param.edit_constant(self):
            self.param.update(case=None, investigation=None, evidence=None, error=message)


class ExploreState(IncidentState):
    """An incident being explored: the metric, the log search and the trace being looked at."""

    metric_service = param.Selector(default=None, objects=[], label="Service")
    metric = param.Selector(default=None, objects=[], label="Metric")
    log_text = param.String(default="", label="Search logs")
    log_service = param.Selector(default=ALL, objects=[ALL], label="Log service")
    trace_service = param.Selector(default=ALL, objects=[ALL], label="Trace service")
    trace_id = param.Selector(default=None, objects=[], label="Trace")

    @param.depends("case", watch=True)
    def _choices(self) -> None:
        case = self.case
        if case is None:
            return
        services = sorted(case.metrics["service"].unique())
        top = self.investigation.ranking[0] if self.investigation is not None else None
        self.param.metric_service.objects = services
        self.metric_service = top.service if top is not None else (services or [None])[0]
        self._metrics()
        self.param.log_service.objects = [ALL, *sorted(case.logs["service"].unique())]
        self.param.trace_service.objects = [ALL, *sorted(case.spans["service"].unique())]
        self.param.update(log_text="", log_service=ALL, trace_service=ALL)
        if top is not None and top.service == self.metric_service:
            self.metric = top.evidence.get("metric")
        self._traces()

    @param.depends("metric_service", watch=True)
    def _metrics(self) -> None:
        if self.case is None:
            return
        names = sorted(
            self.case.metrics.filter(pl.col("service") == self.metric_service)["metric"].unique()
        )
        self.param.metric.objects = names
        if self.metric not in names:
            self.metric = names[0] if names else None

    @param.depends("trace_service", "time.relative", watch=True)
    def _traces(self) -> None:
        if self.case is None or self.case.spans.is_empty():
            self.param.trace_id.objects = []
            self.trace_id = None
            return
        listed = trace_summaries(
            self.case.spans,
            service=None if self.trace_service == ALL else self.trace_service,
            window=self.time.window,
        ).head(TRACES_LISTED)
        ids = listed["trace_id"].to_list()
        self.param.trace_id.objects = ids
        if self.trace_id not in ids:
            self.trace_id = ids[0] if ids else None


@functools.lru_cache(maxsize=CASE_CACHE_SIZE)
def _investigated(name: str) -> tuple[Case, Investigation, IncidentEvidence]:
    return _investigate(datasets.load(name))


def _investigate(case: Case) -> tuple[Case, Investigation, IncidentEvidence]:
    investigation = investigate(case)
    evidence = IncidentEvidence.collect(investigation, logs=case.logs, spans=case.spans)
    return case, investigation, evidence
