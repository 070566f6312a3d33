import panel as pn

from workbench.apps import incident
from workbench.views.state import IncidentState

NEZHA_CASE = "nezha/2023-01-30/12_52"


def test_app_is_the_stock_template_with_case_controls():
    app = incident.create_app("rcd-sockshop/carts-cpu/1")
    assert isinstance(app, pn.template.BootstrapTemplate)
    navigation, *widgets = app.sidebar.objects
    assert isinstance(navigation, pn.param.ParamFunction)  # links bound to the case and range
    names = [widget.label for widget in widgets]
    assert names == ["Suite", "Case", "Time range"]


def test_opening_a_cause_fills_it_with_its_evidence_and_selects_it():
    state = IncidentState(NEZHA_CASE)
    accordion = incident.causes(state.investigation, state=state)
    top = state.investigation.ranking[0]
    assert accordion.objects[0].name.startswith(f"#1 {top.service} · {top.indicator}")
    assert all(not card.objects for card in accordion.objects)  # evidence is built on opening
    accordion.active = [0]
    assert state.cause == 1
    evidence = accordion.objects[0].objects[0]
    assert "wb-evidence-1" in evidence.css_classes
    rendered = [type(part).__name__ for part in evidence.objects]
    assert "DataFrame" in rendered  # the log template table of ts-verification-code-service
    assert not accordion.objects[1].objects
    accordion.active = []
    assert state.cause == 0


def test_metrics_only_case_says_it_has_no_logs_or_traces():
    state = IncidentState("rcd-sockshop/carts-cpu/1")
    evidence = incident.evidence_view(state.investigation.ranking[0], state=state)
    texts = [part.object for part in evidence.objects if isinstance(part, pn.pane.Markdown)]
    assert "This case has no logs." in texts
    assert "This case has no traces." in texts


def test_unusable_case_shows_the_error():
    state = IncidentState("nezha/2023-01-29/09_25")
    shown = incident.summary(state.investigation, state.error, state=state)
    assert isinstance(shown, pn.pane.Alert)
    assert "nezha/2023-01-29/09_25" in shown.object and "onset" in shown.object
