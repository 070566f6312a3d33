"""``mancerops alerts ...``: check, export, run, backtest rule files, and read alerts back."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from workbench.errors import UsageError

alerts_app = typer.Typer(
    help="Alerting rules: check, run live, backtest on history, read alerts as events.",
    no_args_is_help=True,
)

RulesArg = Annotated[list[Path], typer.Argument(help="Rule files (Prometheus YAML).")]
PromOption = Annotated[
    str | None, typer.Option("--prometheus", help="Prometheus base URL for the PromQL rules.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _echo_json(payload: object) -> None:
    import orjson

    sys.stdout.buffer.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2) + b"\n")


def _settings():
    """The settings file's sources (``mancerops.toml``, the ``--profile`` chosen)."""
    from workbench import settings
    from workbench.cli import _state

    return settings.load(profile=_state["profile"])


def _source(url: str | None):
    """The Prometheus of ``--prometheus`` (none without it), set up from the settings.

    Timeouts, TLS and authentication come from ``[prometheus]`` (secrets from the
    variables it names); credentials go only to the settings' own URL.
    """
    if url is None:
        return None
    return _settings().prometheus_source(url)


def _seconds(option: str, text: str) -> float:
    from workbench.alerts.rules import parse_duration

    try:
        value = parse_duration(text)
    except ValueError as error:
        raise UsageError(f"{option}: {error}") from None
    if value <= 0:
        raise UsageError(f"{option} must be above 0")
    return value


@alerts_app.command("check")
def check(rules: RulesArg, as_json: JsonOption = False) -> None:
    """Load rule files and list their rules; a malformed file is refused with file:line."""
    from workbench.alerts import load_rules

    loaded = load_rules(*rules)
    promql_note = _promtool_check(loaded)
    rows = [
        {
            "group": r.group,
            "alert": r.name,
            "kind": r.kind,
            "file": r.file,
            "line": r.line,
            "for_s": r.for_s,
            "keep_firing_for_s": r.keep_firing_for_s,
            "notes": list(r.notes),
        }
        for r in loaded.rules
    ]
    if as_json:
        _echo_json({"rules": rows, "recording_rules_skipped": loaded.recording})
        return
    for row in rows:
        typer.echo(f"{row['file']}:{row['line']}  {row['group']}/{row['alert']}  ({row['kind']})")
        for note in row["notes"]:
            typer.echo(f"    note: left as written by our evaluator: {note}")
    typer.echo(
        f"{len(rows)} alerting rule(s) in {len(loaded.groups)} group(s)"
        + (f"; {loaded.recording} recording rule(s) not evaluated" if loaded.recording else "")
    )
    if promql_note:
        typer.secho(promql_note, fg="yellow", err=True)


def _promtool_check(loaded) -> str | None:
    """Have promtool check the Prometheus part of each file with PromQL rules.

    Our loader reads the YAML; the PromQL itself is Prometheus' to judge, so a refusal
    is the file's fault (UsageError, promtool's own reason). Returns a note when promtool
    is not installed and the PromQL went unchecked.
    """
    import shutil
    import subprocess
    import tempfile

    from workbench.alerts import prometheus_part
    from workbench.alerts.rules import PROMQL

    files = sorted({str(r.file) for r in loaded.rules if r.kind == PROMQL})
    if not files:
        return None
    promtool = shutil.which("promtool")
    if promtool is None:
        return "PromQL not checked: promtool (Debian package prometheus) is not installed"
    for file in files:
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / Path(file).name
            copy.write_text(prometheus_part(Path(file).read_text()))
            done = subprocess.run(
                [promtool, "check", "rules", str(copy)],
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
            )
        if done.returncode != 0:
            reason = (done.stdout + done.stderr).replace(str(copy), file).strip()
            raise UsageError(f"{file}: Prometheus would refuse its rules (promtool):\n{reason}")
    return None


@alerts_app.command("export")
def export(rule_file: Annotated[Path, typer.Argument(help="A rule file.")]) -> None:
    """Print the file without its `mancerops:` part, for Prometheus to load."""
    from workbench.alerts import load_rules, prometheus_part

    load_rules(rule_file)  # refuse a malformed file here, not in Prometheus
    typer.echo(prometheus_part(rule_file.read_text()), nl=False)


@alerts_app.command("run")
def run(
    rules: RulesArg,
    prometheus: PromOption = None,
    every: Annotated[
        str | None,
        typer.Option(
            help="Evaluate every rule every DURATION (30s, 1m); default: each group at its "
            "own interval."
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Evaluate once and exit (for cron).")
    ] = False,
    state: Annotated[
        Path, typer.Option(help="SQLite state file: active alerts and undelivered notifications.")
    ] = Path("mancerops-alerts.db"),
    alertmanager: Annotated[
        list[str] | None, typer.Option(help="Alertmanager base URL (repeatable).")
    ] = None,
    webhook: Annotated[
        list[str] | None,
        typer.Option(help="Webhook URL, sent Alertmanager's payload (repeatable)."),
    ] = None,
    external_url: Annotated[
        str | None, typer.Option(help="Base of generatorURL (default: the Prometheus URL).")
    ] = None,
    es: Annotated[
        str | None,
        typer.Option("--es", help="Elasticsearch/OpenSearch base URL for the log rules."),
    ] = None,
    es_index: Annotated[str, typer.Option(help="Index (pattern) the log rules read.")] = "*",
    as_json: JsonOption = False,
) -> None:
    """Evaluate rules live, keep state in SQLite, deliver to Alertmanager and webhooks."""
    from workbench.alerts import AlertStore, Evaluator, Target, load_rules

    loaded = load_rules(*rules)
    if not loaded.rules:
        raise UsageError("the rule files hold no alerting rule")
    interval = (
        _seconds("--every", every) if every else min(g.interval_s for g in loaded.groups if g.rules)
    )
    targets = [Target("alertmanager", url) for url in alertmanager or ()]
    targets += [Target("webhook", url) for url in webhook or ()]
    logs_source = None
    if es is not None:
        logs_source = _settings().elasticsearch_source(es)
    with AlertStore(state) as store:
        evaluator = Evaluator(
            loaded,
            prometheus=_source(prometheus),
            store=store,
            targets=targets,
            external_url=external_url,
            logs_source=logs_source,
            logs_index=es_index,
        )
        failed = False
        try:
            while True:
                started = time.time()
                evaluation = evaluator.evaluate(started, due_only=every is None and not once)
                failed = _show_evaluation(evaluation, as_json)
                if once:
                    break
                time.sleep(max(0.0, interval - (time.time() - started)))
        except KeyboardInterrupt:
            # Each evaluation is committed as a whole, so stopping here loses nothing.
            typer.echo("stopped", err=True)
    if failed:
        raise typer.Exit(1)


def _show_evaluation(evaluation, as_json: bool) -> bool:
    """Print one evaluation; return whether a rule failed or notifications wait."""
    from workbench.alerts.delivery import iso

    if as_json:
        _echo_json(evaluation.to_dict())
    else:
        for outcome in evaluation.outcomes:
            for alert in outcome.alerts:
                labels = ",".join(
                    f"{k}={v}" for k, v in sorted(alert.labels.items()) if k != "alertname"
                )
                typer.echo(
                    f"{iso(evaluation.at)}  {outcome.rule.name:<24} {alert.state:<8} "
                    f"{{{labels}}} {alert.value:g}"
                )
    for outcome in evaluation.errors:
        typer.secho(f"error: rule {outcome.rule.name}: {outcome.error}", fg="red", err=True)
    waiting = [] if evaluation.delivery is None else evaluation.delivery.waiting
    for item in waiting:
        typer.secho(
            f"undelivered ({item['attempts']} attempt(s), kept for retry at "
            f"{item['next_attempt']}): {item['target']}: {item['error']}",
            fg="yellow",
            err=True,
        )
    return bool(evaluation.errors or waiting)


@alerts_app.command("backtest")
def backtest(
    rules: RulesArg,
    dataset: Annotated[
        str | None, typer.Option(help="A dataset case (suite/case) or a suite to replay over.")
    ] = None,
    prometheus: PromOption = None,
    start: Annotated[
        str | None, typer.Option(help="Start with --prometheus: ISO, epoch, now-1d.")
    ] = None,
    end: Annotated[str | None, typer.Option(help="End with --prometheus.")] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help="A known fault, START or START/END (ISO or epoch), with --prometheus "
            "(repeatable); without an end it lasts to the end of the window."
        ),
    ] = None,
    step: Annotated[
        str | None, typer.Option(help="Evaluation interval (default: each group's interval).")
    ] = None,
    grace: Annotated[
        float, typer.Option(help="Seconds after a fault's end a firing still detects it.")
    ] = 300.0,
    report: Annotated[
        Path | None, typer.Option(help="Write an HTML report (firings over the series).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Replay rules over history: firings, detection delays, missed faults, false alarms."""
    from workbench.alerts import backtest as bt
    from workbench.alerts import load_rules
    from workbench.sources.times import parse_time

    loaded = load_rules(*rules)
    options = {"grace": grace, "step": _seconds("--step", step) if step else None}
    if (dataset is None) == (prometheus is None):
        raise UsageError("give either --dataset SUITE[/CASE] or --prometheus URL --start --end")
    results = []
    if dataset is not None:
        from workbench import datasets

        suite, _, prefix = dataset.partition("/")
        names = [
            f"{suite}/{case}"
            for case in datasets.cases(suite)
            if not prefix or case == prefix or case.startswith(prefix + "/")
        ]
        if not names:
            datasets.load(dataset)  # raises UnknownCase, naming what exists
        for name in names:
            results.append(bt.backtest_case(loaded, datasets.load(name), **options))
    else:
        if start is None or end is None:
            raise UsageError("--prometheus needs --start and --end")
        faults = []
        for text in fault or ():
            first, _, last = text.partition("/")
            faults.append(
                bt.Fault(
                    parse_time(first).timestamp(), parse_time(last).timestamp() if last else None
                )
            )
        results.append(
            bt.backtest(
                loaded,
                parse_time(start).timestamp(),
                parse_time(end).timestamp(),
                prometheus=_source(prometheus),
                faults=faults,
                **options,
            )
        )
    if report is not None:
        from workbench.alerts.backtest_report import write_report

        write_report(results, report, prometheus=_source(prometheus))
    if as_json:
        _echo_json(results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results])
    else:
        for result in results:
            _show_backtest(result)
    if report is not None and not as_json:
        typer.echo(f"report written to {report}")


def _show_backtest(result) -> None:
    typer.echo(f"{result.case or 'prometheus'}: {len(result.faults)} known fault(s)")
    for rule in result.rules:
        if rule.error:
            typer.secho(f"  {rule.rule.name}: error: {rule.error}", fg="red")
            continue
        delays = ", ".join(f"{d['delay_s']:g} s" for d in rule.detections) or "-"
        typer.echo(
            f"  {rule.rule.name:<24} firings {len(rule.firings):>3}  detected "
            f"{len(rule.detections)}/{len(result.faults)} (delay {delays})  missed "
            f"{len(rule.missed)}  false alarms {len(rule.false_alarms)}"
        )


@alerts_app.command("events")
def events(
    prometheus: PromOption = None,
    alertmanager: Annotated[str | None, typer.Option(help="Alertmanager base URL.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Read alerts from Prometheus (/api/v1/rules) and Alertmanager as events (kind alert)."""
    from workbench.alerts.evidence import alert_events

    if prometheus is None and alertmanager is None:
        raise UsageError("give --prometheus URL and/or --alertmanager URL")
    frame = alert_events(prometheus=_source(prometheus), alertmanager=alertmanager)
    if as_json:
        rows = frame.with_columns(frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))
        _echo_json(rows.to_dicts())
        return
    for row in frame.iter_rows(named=True):
        typer.echo(
            f"{row['timestamp']:%Y-%m-%dT%H:%M:%SZ}  {row['service'] or '-':<16} {row['summary']}"
        )
    typer.echo(f"{frame.height} alert event(s)")
