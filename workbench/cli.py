"""The ``mancerops`` command: parse, call one library function, print."""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from workbench import __version__
from workbench.cli_alerts import alerts_app
from workbench.errors import UsageError, WorkbenchError

app = typer.Typer(
    name="mancerops",
    help="Investigate incidents: rank the services most likely to be the root cause.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(help="Score the workbench on dataset suites.", no_args_is_help=True)
datasets_app = typer.Typer(help="List, locate and fetch the public datasets.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(datasets_app, name="datasets")
logs_app = typer.Typer(help="Pull logs from Elasticsearch or OpenSearch.", no_args_is_help=True)
app.add_typer(logs_app, name="logs")
hosts_app = typer.Typer(
    help="Hosts through mancer: reachability, systemd units, journald logs, config changes.",
    no_args_is_help=True,
)
app.add_typer(hosts_app, name="hosts")
app.add_typer(alerts_app, name="alerts")

_state: dict = {"debug": False, "profile": None}
# Width of tables when stdout is not a terminal (a pipe, a file, a CI log).
_PIPE_WIDTH = 200
# A delay beyond a day moves the onset out of every dataset's window.
_MAX_DELAY_S = 86_400.0
_PROM = "Prometheus"
_CONFIG_HELP = (
    "Settings file (default: $MANCEROPS_CONFIG, ./mancerops.toml, then the user's); "
    "see docs/configuration.md."
)
_HOST_HELP = "Only this host (repeat for several)."


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
    profile: Annotated[
        str | None,
        typer.Option(
            help="Settings profile: the profiles.NAME tables of mancerops.toml "
            "(default: $MANCEROPS_PROFILE).",
        ),
    ] = None,
) -> None:
    _state["debug"] = debug
    _state["profile"] = profile
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )


@app.command()
def investigate(
    dataset: Annotated[
        str | None,
        typer.Option(help="A dataset case, e.g. rcd-sockshop/carts-cpu/1."),
    ] = None,
    onset: Annotated[
        str | None,
        typer.Option(
            help="When the incident started: ISO-8601 (UTC unless a zone is given), epoch s "
            "or now-15m; detected when omitted."
        ),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(
            help="How many causes to show (default: investigate.top of the settings, else 5).",
            min=1,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    report: Annotated[
        Path | None,
        typer.Option(
            help="Write a self-contained HTML report to this file (a bare name goes in the "
            "settings' investigate.report_dir when set)."
        ),
    ] = None,
    prometheus: Annotated[
        str | None,
        typer.Option(
            help="Pull the indicators from this Prometheus (base URL; default without "
            "--dataset: prometheus.url of the settings).",
            rich_help_panel=_PROM,
        ),
    ] = None,
    start: Annotated[
        str,
        typer.Option(help="Range start: ISO-8601, epoch s or now-1h.", rich_help_panel=_PROM),
    ] = "now-1h",
    end: Annotated[
        str, typer.Option(help="Range end: ISO-8601, epoch s or now.", rich_help_panel=_PROM)
    ] = "now",
    step: Annotated[
        str | None,
        typer.Option(
            help="Query step, e.g. 15s (default: about 1,000 points).", rich_help_panel=_PROM
        ),
    ] = None,
    queries: Annotated[
        Path | None,
        typer.Option(
            help="TOML file of indicator queries (default: the RED/USE set).", rich_help_panel=_PROM
        ),
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="Basic-auth user name.", rich_help_panel=_PROM)
    ] = None,
    password_env: Annotated[
        str | None,
        typer.Option(help="Environment variable holding the password.", rich_help_panel=_PROM),
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option(help="Environment variable holding a bearer token.", rich_help_panel=_PROM),
    ] = None,
    ca_bundle: Annotated[
        Path | None, typer.Option(help="CA certificate(s) to trust (PEM).", rich_help_panel=_PROM)
    ] = None,
    client_cert: Annotated[
        Path | None, typer.Option(help="TLS client certificate (PEM).", rich_help_panel=_PROM)
    ] = None,
    client_key: Annotated[
        Path | None, typer.Option(help="TLS client key (PEM).", rich_help_panel=_PROM)
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(help="Seconds to wait for each request (default: 30).", rich_help_panel=_PROM),
    ] = None,
    hosts: Annotated[
        bool,
        typer.Option(
            "--hosts",
            help="Add the inventory's unit and config changes near the onset as evidence.",
        ),
    ] = False,
    config: Annotated[Path | None, typer.Option(help=_CONFIG_HELP)] = None,
    modalities: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated modalities to rank with (default: metrics,logs,traces)."
        ),
    ] = None,
) -> None:
    """Rank the services most likely to be the root cause of an incident, with evidence.

    Options not given come from the settings file (docs/configuration.md).
    """
    from workbench import datasets, settings
    from workbench.rca import FusionRanker
    from workbench.rca import investigate as run

    current = settings.load(config, profile=_state["profile"])
    if dataset is None and prometheus is None and current.prometheus.url is not None:
        prometheus = current.prometheus.url
    if (dataset is None) == (prometheus is None):
        raise UsageError(
            "say what to investigate: --dataset SUITE/CASE (see `mancerops datasets list`) "
            "or --prometheus URL --start T --end T (or url in [prometheus] of the settings)"
        )
    top = top or current.investigate.top or settings.DEFAULT_TOP
    if report is not None and current.investigate.report_dir and report.parent == Path():
        report = Path(current.investigate.report_dir) / report
        report.parent.mkdir(parents=True, exist_ok=True)
    if prometheus is not None:
        url, options = current.source_options(
            "prometheus",
            prometheus,
            username=user,
            password=_secret(password_env),
            bearer_token=_secret(token_env),
            ca_bundle=ca_bundle,
            client_cert=client_cert,
            client_key=client_key,
            timeout=timeout,
        )
        case = _pull_prometheus(
            url,
            start=start,
            end=end,
            step=step or current.prometheus.step,
            queries=queries or current.prometheus.queries,
            **options,
        )
    else:
        case = datasets.load(dataset)
    chosen = _modalities(modalities)
    ranker = FusionRanker() if chosen is None else FusionRanker(modalities=chosen)
    inventory = current.inventory() if hosts else None
    result = run(case, onset=_option_time("--onset", onset), ranker=ranker, hosts=inventory)
    for name, note in result.extras.get("hosts_failed", {}).items():
        typer.secho(f"host {name} failed: {note}", fg="red", err=True)
    for name, note in result.extras.get("hosts_partial", {}).items():
        typer.secho(f"host {name} partial: {note}", fg="yellow", err=True)
    if report is not None:
        _write_report(result, report, top=top, truth=case.truth)
    if as_json:
        payload = result.to_dict(k=top)
        if case.truth is not None:
            payload["truth"] = case.truth.to_dict()
        _print_json(payload)
        return
    _print_ranking(result, top)
    if case.truth is not None:
        from workbench.report.html import truth_line

        typer.echo(truth_line(case.truth))
    if report is not None:
        typer.echo(f"report written to {report}")


@eval_app.command("rca")
def eval_rca(
    suite: Annotated[str, typer.Option(help="Dataset suite, e.g. rcd-sockshop.")],
    given_onset: Annotated[
        bool, typer.Option("--given-onset", help="Hand the true fault start to the ranker.")
    ] = False,
    delay: Annotated[
        float, typer.Option(help="Seconds added to the given onset (with --given-onset).")
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    modalities: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated modalities to rank with, e.g. logs,traces "
            "(default: metrics,logs,traces)."
        ),
    ] = None,
) -> None:
    """Score the root-cause ranking on every case of a suite (AC@k, Avg@5, seconds per case)."""
    from workbench.eval import evaluate_rca

    if delay and not given_onset:
        raise UsageError("--delay only applies with --given-onset")
    if not math.isfinite(delay) or abs(delay) > _MAX_DELAY_S:
        raise UsageError(f"--delay must be a number of seconds within ±{_MAX_DELAY_S:g}")
    progress = None if as_json or not sys.stderr.isatty() else _progress_printer()
    result = evaluate_rca(
        suite,
        given_onset=given_onset,
        delay_s=delay,
        modalities=_modalities(modalities),
        progress=progress,
    )
    if as_json:
        _print_json(result)
        return
    _print_eval(result)


@eval_app.command("logparse")
def eval_logparse(
    suite: Annotated[str, typer.Option(help="Log parsing suite: loghub-2k.")] = "loghub-2k",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score template mining per system: grouping and parsing accuracy, lines per second."""
    from workbench.eval.logparse import evaluate_logparse, format_table

    result = evaluate_logparse(suite)
    if as_json:
        _print_json(result)
        return
    typer.echo(format_table(result))


@eval_app.command("detect")
def eval_detect(
    suite: Annotated[str, typer.Option(help="Anomaly detection suite: nab.")] = "nab",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score the streaming anomaly detector on NAB with NAB's scoring (three profiles)."""
    from workbench.eval.detect import evaluate_detect

    result = evaluate_detect(suite)
    if as_json:
        _print_json(result)
        return
    typer.echo(f"{result['suite']}: {result['series']} series, {result['points']:,} points, "
               f"{result['points_per_second']:,.0f} points/s, {result['method']}")  # fmt: skip
    for name, row in result["profiles"].items():
        board = ", ".join(f"{k} {v[name]:.1f}" for k, v in result["scoreboard"].items())
        typer.echo(f"  {name:<20} {row['score']:6.2f}  (threshold {row['threshold']:.4f}; {board})")


@datasets_app.command("list")
def datasets_list() -> None:
    """List the catalog's suites, their upstream and where each resolves."""
    from workbench import datasets

    for info in datasets.list_suites():
        found = (
            str(info.location)
            if info.location
            else f"missing: mancerops datasets fetch {info.name}"
        )
        typer.echo(f"{info.name:<14} {found}  ({info.repo}@{info.commit[:8]})")


@datasets_app.command("path")
def datasets_path(name: Annotated[str, typer.Argument(help="Suite name.")]) -> None:
    """Print where a suite's files are."""
    from workbench import datasets

    typer.echo(str(datasets.path(name)))


@datasets_app.command("fetch")
def datasets_fetch(name: Annotated[str, typer.Argument(help="Suite name.")]) -> None:
    """Download a suite from its pinned upstream commit into the user cache and check it."""
    from workbench import datasets

    typer.echo(str(datasets.fetch(name, progress=sys.stderr.isatty())))


@logs_app.command("pull")
def logs_pull(
    out: Annotated[Path, typer.Option(help="Parquet file to write (a logs frame).")],
    es: Annotated[
        str | None,
        typer.Option(
            "--es",
            help="Elasticsearch or OpenSearch base URL (default: elasticsearch.url).",
        ),
    ] = None,
    index: Annotated[
        str | None,
        typer.Option(
            help="Index name, pattern or list: logs-*,audit (default: elasticsearch.index)."
        ),
    ] = None,
    start: Annotated[str, typer.Option(help="Window start: ISO-8601, epoch s, now-1h.")] = (
        "now-1h"
    ),
    end: Annotated[str, typer.Option(help="Window end (excluded).")] = "now",
    query: Annotated[str | None, typer.Option(help="Lucene query string.")] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(help="TOML file: logs column = field name(s); ECS when omitted."),
    ] = None,
    page_size: Annotated[
        int | None, typer.Option(help="Hits per request (default: 2000).", min=1)
    ] = None,
    allow_partial: Annotated[
        bool | None,
        typer.Option("--allow-partial/--no-allow-partial", help="Keep going when shards fail."),
    ] = None,
    user: Annotated[str | None, typer.Option(help="Basic-auth user name.")] = None,
    password_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the password.")
    ] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="Environment variable holding an API key (encoded).")
    ] = None,
    token_env: Annotated[
        str | None, typer.Option(help="Environment variable holding a bearer token.")
    ] = None,
    ca_bundle: Annotated[Path | None, typer.Option(help="CA certificates to trust (PEM).")] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds to wait for each request (default: 30).")
    ] = None,
    config: Annotated[Path | None, typer.Option(help=_CONFIG_HELP)] = None,
) -> None:
    """Pull the logs of a time window into a Parquet logs frame, page by page.

    Options not given come from [elasticsearch] of the settings file.
    """
    import time
    import tomllib

    from rich.progress import Progress

    from workbench import settings
    from workbench.sources import LogMapping

    current = settings.load(config, profile=_state["profile"])
    index = index or current.elasticsearch.index
    if index is None:
        raise UsageError(
            "say which index to pull: --index NAME (or index in [elasticsearch] of the settings)"
        )
    chosen = None
    if mapping is not None:
        try:
            table = tomllib.loads(mapping.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"cannot read the mapping file {mapping}: {exc}") from None
        chosen = LogMapping.from_dict(table.get("mapping", table))
    started = time.monotonic()
    with (
        current.elasticsearch_source(
            es,
            username=user,
            password=_secret(password_env),
            api_key=_secret(api_key_env),
            bearer_token=_secret(token_env),
            ca_bundle=ca_bundle,
            timeout=timeout,
            page_size=page_size,
            allow_partial=allow_partial,
            mapping=chosen,
        ) as source,
        Progress(transient=True, disable=not sys.stderr.isatty()) as bar,
    ):
        task = bar.add_task(f"pulling {index}", total=None)

        def show(step) -> None:
            bar.update(task, completed=step.hits, total=step.total if step.total_exact else None)

        lines = source.to_parquet(out, index, start, end, query=query, progress=show)
    typer.echo(f"wrote {lines:,} log lines to {out} in {time.monotonic() - started:.1f} s")


def _pull_prometheus(url: str, **options):
    import warnings

    from workbench.errors import SourceWarning
    from workbench.sources import pull_case

    with warnings.catch_warnings():
        # The source logs its warnings; the Python warning would repeat them.
        warnings.simplefilter("ignore", SourceWarning)
        return pull_case(url, **options)


def _secret(variable: str | None) -> str | None:
    """Return the value of the environment variable named ``variable`` (never echoed)."""
    import os

    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise UsageError(f"environment variable {variable} is not set (or empty)")
    return value


def _option_time(option: str, value: str | None):
    """Return an option's time (ISO-8601, epoch seconds or now-1h) as UTC, or None."""
    if value is None:
        return None
    from workbench.sources.times import parse_time

    try:
        return parse_time(value)
    except UsageError as error:
        raise UsageError(f"{option}: {error}") from None
    except (OverflowError, OSError, ValueError):
        raise UsageError(f"{option}: {value!r} is outside the range of dates") from None


def _write_report(result, path: Path, **options) -> None:
    from workbench.report import write

    if path.is_dir() or not path.name:
        raise UsageError(f"--report {str(path)!r} is a folder; give a file name, e.g. report.html")
    try:
        write(result, path, **options)
    except OSError as error:
        raise UsageError(f"cannot write the report to {path}: {error.strerror or error}") from None


def _modalities(text: str | None) -> list[str] | None:
    if text is None:
        return None
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    if not chosen:
        raise UsageError("--modalities is empty; give e.g. metrics,logs,traces")
    return chosen


def _console():
    """Return a console; off a terminal it is wide, so no column is squeezed to nothing."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=_PIPE_WIDTH)


def _print_json(payload: dict) -> None:
    sys.stdout.buffer.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2) + b"\n")


def _print_ranking(result, top: int) -> None:
    from rich.markup import escape
    from rich.table import Table

    how = "detected" if result.onset_detected else "given"
    console = _console()
    console.print(
        f"[bold]{escape(result.case or 'metrics')}[/]  onset {_iso(result.onset)} ({how})"
    )
    table = Table("#", "service", "indicator", "deviation", "baseline", "observed", "moved")
    table.columns[1].no_wrap = table.columns[2].no_wrap = True
    for cause in result.top(top):
        evidence = cause.evidence
        table.add_row(
            str(cause.rank),
            escape(cause.service),
            escape(cause.indicator),
            f"{evidence['deviation']:+.1f} {'sd' if evidence['kind'] == 'metric' else 'e-fold'}",
            f"{evidence['baseline']:.4g}",
            f"{evidence['observed']:.4g}",
            _relative(cause.onset, result.onset),
        )
    console.print(table)


def _print_eval(result: dict) -> None:
    from rich.table import Table

    overall = result["overall"]
    console = _console()
    onset = "given" + (f" +{result['delay_s']:g} s" if result["delay_s"] else "")
    console.print(
        f"[bold]{result['suite']}[/] {result['cases']} cases, onset "
        f"{onset if result['given_onset'] else 'detected'}, {result['method']}"
    )
    table = Table("faults", "cases", "AC@1", "AC@3", "Avg@5")
    table.add_row(
        "all",
        str(result["cases"]),
        f"{overall['ac@1']:.2f}",
        f"{overall['ac@3']:.2f}",
        f"{overall['avg@5']:.3f}",
    )
    for fault, row in result["by_fault"].items():
        table.add_row(
            fault,
            str(row["cases"]),
            f"{row['ac@1']:.2f}",
            f"{row['ac@3']:.2f}",
            f"{row['avg@5']:.3f}",
        )
    console.print(table)
    seconds = result["seconds_per_case"]
    console.print(f"seconds per case: median {seconds['median']:.4f}, max {seconds['max']:.4f}")
    failed = [row for row in result["per_case"] if "error" in row]
    if failed:
        console.print(f"{len(failed)} case(s) could not be ranked and count as misses:")
        for row in failed:
            console.print(f"  {row['case']}: {row['error']}", markup=False)


def _progress_printer():
    def show(done: int, total: int, case: str) -> None:
        end = "\n" if done == total else ""
        sys.stderr.write(f"\r{done}/{total} {case:<40}{end}")

    return show


def _relative(moment, onset) -> str:
    """Return when an indicator moved, as seconds from the onset."""
    if moment is None:
        return ""
    return f"{(moment - onset).total_seconds():+.0f} s"


def _iso(value) -> str | None:
    from workbench.rca.model import iso

    return iso(value)


def _inventory(config: Path | None, host: list[str] | None):
    from workbench.sources.mancer import Inventory

    return Inventory.load(config).select(host)


def _report_hosts(collected) -> None:
    """Say on stderr which hosts failed or gave part of their data; exit 1 if none answered."""
    for name, error in collected.failed.items():
        typer.secho(f"host {name} failed: {error}", fg="red", err=True)
    for name, note in collected.partial.items():
        typer.secho(f"host {name} partial: {note}", fg="yellow", err=True)


def _print_frame(frame, as_json: bool, columns: list[str] | None = None) -> None:
    from rich.markup import escape
    from rich.table import Table

    if columns:
        frame = frame.select([c for c in columns if c in frame.columns])
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(frame.to_dicts(), option=orjson.OPT_INDENT_2) + b"\n")
        return
    table = Table(*frame.columns)
    for row in frame.iter_rows():
        table.add_row(*("" if v is None else escape(str(v)) for v in row))
    _console().print(table)


def _all_failed(collected, inventory) -> bool:
    return len(collected.failed) == len(inventory.hosts)


@hosts_app.command("list")
def hosts_list(
    config: Annotated[Path | None, typer.Option(help=_CONFIG_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the hosts of the inventory and how each is reached."""
    import polars as pl

    inventory = _inventory(config, None)
    frame = pl.DataFrame(
        {
            "host": [h.name for h in inventory.hosts],
            "url": [h.url for h in inventory.hosts],
            "units": [", ".join(h.units) for h in inventory.hosts],
            "config_files": [", ".join(h.config_files) for h in inventory.hosts],
        }
    )
    _print_frame(frame, as_json)


@hosts_app.command("check")
def hosts_check(
    config: Annotated[Path | None, typer.Option(help=_CONFIG_HELP)] = None,
    host: Annotated[list[str] | None, typer.Option(help=_HOST_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Reach every host in parallel and say which answered (exit 1 if any did not)."""
    result = _inventory(config, host).check()
    _print_frame(result.frame, as_json)
    if result.failed:
        raise typer.Exit(1)


@hosts_app.command("units")
def hosts_units(
    config: Annotated[Path | None, typer.Option(help=_CONFIG_HELP)] = None,
    host: Annotated[list[str] | None, typer.Option(help=_HOST_HELP)] = None,
    state: Annotated[
        str | None, typer.Option(help="Only units in this active state, e.g. failed.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the systemd units of the hosts: state, since when, restarts, PID, memory."""
    import polars as pl

    inventory = _inventory(config, host)
    result = inventory.units()
    _report_hosts(result)
    frame = result.frame
    if state is not None:
        frame = frame.filter(pl.col("active") == state)
    _print_frame(frame, as_json)
    if _all_failed(result, inventory):
        raise typer.Exit(1)


@hosts_app.command("logs")
def hosts_logs(
    start: Annotated[str, typer.Option(help="Window start: ISO-8601, epoch s, now-1h.")] = (
        "now-1h"
    ),
    end: Annotated[str, typer.Option(help="Window end.")] = "now",
    unit: Annotated[
        list[str] | None, typer.Option(help="Only this unit (repeat); default: the host's units.")
    ] = None,
    full: Annotated[
        bool, typer.Option("--all", help="Messages over 4096 bytes in full (journalctl --all).")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Write the logs frame to this Parquet file.")] = (
        None
    ),
    config: Annotated[Path | None, typer.Option(help=_CONFIG_HELP)] = None,
    host: Annotated[list[str] | None, typer.Option(help=_HOST_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Read the journald logs of the hosts' units in a time window (journalctl -o json)."""
    inventory = _inventory(config, host)
    result = inventory.journal(
        _option_time("--start", start), _option_time("--end", end), unit or None, full=full
    )
    _report_hosts(result)
    if out is not None:
        result.frame.write_parquet(out)
        typer.echo(f"wrote {result.frame.height:,} log lines to {out}")
    else:
        columns = ["timestamp", "host", "service", "level", "message"]
        _print_frame(result.frame, as_json, None if as_json else columns)
    if _all_failed(result, inventory):
        raise typer.Exit(1)


@hosts_app.command("events")
def hosts_events(
    start: Annotated[str, typer.Option(help="Window start: ISO-8601, epoch s, now-1h.")] = (
        "now-1h"
    ),
    end: Annotated[str, typer.Option(help="Window end.")] = "now",
    snapshot: Annotated[
        bool, typer.Option(help="Read and store the config files now, to see changes.")
    ] = True,
    config: Annotated[Path | None, typer.Option(help=_CONFIG_HELP)] = None,
    host: Annotated[list[str] | None, typer.Option(help=_HOST_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List unit state changes and config changes of the hosts in a time window."""
    inventory = _inventory(config, host)
    result = inventory.events(
        _option_time("--start", start), _option_time("--end", end), snapshot=snapshot
    )
    _report_hosts(result)
    columns = None if as_json else ["timestamp", "host", "kind", "service", "summary"]
    _print_frame(result.frame, as_json, columns)
    if _all_failed(result, inventory):
        raise typer.Exit(1)


@hosts_app.command("snapshot")
def hosts_snapshot(
    config: Annotated[Path | None, typer.Option(help=_CONFIG_HELP)] = None,
    host: Annotated[list[str] | None, typer.Option(help=_HOST_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Read and store the hosts' watched config files; show what changed since the last time."""
    inventory = _inventory(config, host)
    result = inventory.snapshot()
    _report_hosts(result)
    _print_frame(result.frame, as_json, None if as_json else ["timestamp", "host", "summary"])
    if not as_json:
        for row in result.frame.iter_rows(named=True):
            typer.echo(row["details"])
    if _all_failed(result, inventory):
        raise typer.Exit(1)


config_app = typer.Typer(
    help="The settings file (mancerops.toml): where it is and what it sets.", no_args_is_help=True
)
app.add_typer(config_app, name="config")


@config_app.command("path")
def config_path(config: Annotated[Path | None, typer.Option(help=_CONFIG_HELP)] = None) -> None:
    """Print the settings file in use; exit 1, saying where it looked, when there is none."""
    from workbench import settings

    found = settings.find(config)
    if found is None:
        looked = ", ".join(str(p) for p in settings.places())
        typer.secho(f"no settings file; looked at {looked}", fg="yellow", err=True)
        raise typer.Exit(1)
    typer.echo(str(found))


@config_app.command("show")
def config_show(
    config: Annotated[Path | None, typer.Option(help=_CONFIG_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the settings in effect (file and environment) and where each came from.

    Secrets are shown by the name of their variable and whether it is set, never by value.
    """
    from workbench import settings

    current = settings.load(config, profile=_state["profile"])
    if as_json:
        _print_json(
            {
                "path": None if current.path is None else str(current.path),
                "profile": current.profile,
                "settings": current.to_dict(),
                "from": dict(current.origins),
                "secrets_set": current.secrets(),
            }
        )
        return
    typer.echo(current.to_toml(), nl=False)


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1.", min=1, max=65535)] = 5006,
    dataset: Annotated[
        str | None,
        typer.Option(help="The case to open first, e.g. nezha/2023-01-30/12_52."),
    ] = None,
    prometheus: Annotated[
        str | None,
        typer.Option(
            help="Show a live pull of this Prometheus (base URL) instead of the datasets.",
            rich_help_panel=_PROM,
        ),
    ] = None,
    start: Annotated[
        str, typer.Option(help="Range start (each pull): now-1h, ISO-8601.", rich_help_panel=_PROM)
    ] = "now-1h",
    end: Annotated[
        str, typer.Option(help="Range end (each pull): now, ISO-8601.", rich_help_panel=_PROM)
    ] = "now",
    step: Annotated[
        str | None, typer.Option(help="Query step, e.g. 15s.", rich_help_panel=_PROM)
    ] = None,
    queries: Annotated[
        Path | None,
        typer.Option(help="TOML file of indicator queries.", rich_help_panel=_PROM),
    ] = None,
    live_settings: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Show a live pull of the Prometheus in [prometheus] of the settings.",
            rich_help_panel=_PROM,
        ),
    ] = False,
    config: Annotated[Path | None, typer.Option(help=_CONFIG_HELP)] = None,
) -> None:
    """Serve the dashboards (Overview, Incident, Explore) on 127.0.0.1 until Ctrl-C.

    A live Prometheus (--prometheus URL, or --live for the settings' url) is reached with
    the timeout, TLS and authentication of [prometheus] in the settings file.
    """
    import functools

    from workbench import settings
    from workbench.apps import serve as run

    if dataset is not None and (prometheus is not None or live_settings):
        raise UsageError("give --dataset or a live Prometheus (--prometheus/--live), not both")
    live = None
    if prometheus is not None or live_settings:
        from workbench.sources.prometheus import pull_case

        current = settings.load(config, profile=_state["profile"])
        url, options = current.source_options("prometheus", prometheus)
        live = functools.partial(
            pull_case,
            url,
            start,
            end,
            step or current.prometheus.step,
            queries=queries or current.prometheus.queries,
            **options,
        )
    run(port=port, case=dataset, live=live, announce=lambda line: typer.echo(line, err=True))


notebook_app = typer.Typer(help="Run notebooks with parameters.", no_args_is_help=True)
app.add_typer(notebook_app, name="notebook")


@notebook_app.command(
    "run",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog="Parameters: -p NAME VALUE, repeated (papermill's form); values are read as "
    "YAML (3, 0.8, true, text) with dates kept as text.",
)
def notebook_run(
    ctx: typer.Context,
    notebook: Annotated[Path, typer.Argument(help="The notebook (.ipynb) to run.")],
    out: Annotated[Path, typer.Option(help="Folder for the executed notebook and its HTML.")],
    parameters_file: Annotated[
        Path | None, typer.Option("--parameters-file", "-f", help="YAML file of parameters.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds each cell may run (default: no limit).")
    ] = None,
) -> None:
    """Execute a notebook with parameters (papermill); write it and an HTML copy to --out."""
    from workbench.notebook import parse_value, read_parameters, run_notebook

    values = read_parameters(parameters_file) if parameters_file is not None else {}
    values.update({name: parse_value(value) for name, value in _pairs(ctx.args)})
    run = run_notebook(notebook, out, parameters=values, timeout_s=timeout)
    typer.echo(f"executed notebook: {run.output}")
    typer.echo(f"HTML copy: {run.html}")
    typer.echo(f"ran in {run.seconds:.1f} s")


def _pairs(args: list[str]) -> list[tuple[str, str]]:
    """Return the NAME VALUE pairs of repeated ``-p NAME VALUE`` (typer has no 2-value list)."""
    pairs, rest = [], list(args)
    while rest:
        flag = rest.pop(0)
        if flag not in ("-p", "--parameter") or len(rest) < 2:
            raise UsageError(
                f"unexpected {flag!r}: give parameters as -p NAME VALUE (one pair per -p)"
            )
        pairs.append((rest.pop(0), rest.pop(0)))
    return pairs


schedule_app = typer.Typer(
    help="Run notebooks on a cron schedule, with a history.", no_args_is_help=True
)
app.add_typer(schedule_app, name="schedule")
_DB_HELP = "The schedule's SQLite file (default: in the user data dir)."


@schedule_app.command(
    "add", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def schedule_add(
    ctx: typer.Context,
    notebook: Annotated[Path, typer.Argument(help="The notebook (.ipynb) to run.")],
    cron: Annotated[str, typer.Option(help='When: five cron fields, e.g. "*/15 * * * *".')],
    out: Annotated[Path, typer.Option(help="Folder for the runs (one subfolder per run).")],
    name: Annotated[str | None, typer.Option(help="Job name (default: the notebook's).")] = None,
    missed: Annotated[
        str, typer.Option(help="Missed fire times: run-once (all as one run) or skip.")
    ] = "run-once",
    notify: Annotated[
        str | None, typer.Option(help="Command run when a run fails (MANCEROPS_* in its env).")
    ] = None,
    db: Annotated[Path | None, typer.Option(help=_DB_HELP)] = None,
) -> None:
    """Add (or replace) a job; parameters as -p NAME VALUE after the options."""
    from workbench.notebook import parse_value
    from workbench.schedule import Job, Schedule

    values = {key: parse_value(value) for key, value in _pairs(ctx.args)}
    job = Job(name or notebook.stem, cron, str(notebook), str(out), values, missed, notify)
    schedule = Schedule.open(db)
    replaced = any(known.name == job.name for known in schedule.jobs())
    schedule.add(job)
    typer.echo(f"job {job.name}: {notebook} at {cron!r} into {out}")
    if replaced:
        typer.secho(
            f"replaced the earlier job {job.name} (its history stays)", fg="yellow", err=True
        )


@schedule_app.command("list")
def schedule_list(
    db: Annotated[Path | None, typer.Option(help=_DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the jobs with their next fire time and last run."""
    from workbench.schedule import Schedule, next_fire_time

    store = Schedule.open(db)
    rows = []
    for job in store.jobs():
        last = store.history(job.name, limit=1)
        rows.append(
            {
                "name": job.name,
                "cron": job.cron,
                "notebook": job.notebook,
                "parameters": job.parameters,
                "missed": job.missed,
                "next": _iso(next_fire_time(job)),
                "last_status": last[0]["status"] if last else None,
            }
        )
    if as_json:
        _print_json({"jobs": rows})
        return
    for row in rows:
        typer.echo(
            f"{row['name']}  {row['cron']!r}  next {row['next']}  last {row['last_status']}  "
            f"{row['notebook']}"
        )


@schedule_app.command("history")
def schedule_history(
    job: Annotated[str | None, typer.Argument(help="Only this job's runs.")] = None,
    limit: Annotated[int, typer.Option(help="How many runs, newest first.", min=1)] = 20,
    db: Annotated[Path | None, typer.Option(help=_DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the run history: status, duration, output or failing cell."""
    from workbench.schedule import Schedule

    schedule = Schedule.open(db)
    runs = schedule.history(job, limit=limit)
    if job is not None and not runs:
        names = [known.name for known in schedule.jobs()]
        if job not in names:
            raise UsageError(
                f"no job named {job!r} and no runs of it in {schedule.path}; "
                f"jobs: {', '.join(names) or 'none'} (`mancerops schedule list`)"
            )
    if as_json:
        _print_json({"runs": runs})
        return
    for run in runs:
        seconds = f"{run['seconds']:.1f} s" if run["seconds"] is not None else "-"
        where = run["output"] or run["failed_cell"] or run["error"] or ""
        when = run["scheduled_for"]
        typer.echo(f"{run['id']}  {run['job']}  {when}  {run['status']}  {seconds}  {where}")


@schedule_app.command("run")
def schedule_run(
    db: Annotated[Path | None, typer.Option(help=_DB_HELP)] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run what is due now and exit (for an outside cron).")
    ] = False,
) -> None:
    """Run the jobs at their times in the foreground until Ctrl-C."""
    from workbench.schedule import Schedule, Scheduler

    scheduler = Scheduler(Schedule.open(db))
    if once:
        for done in scheduler.tick():
            typer.echo(f"{done['job']}: {done['status']}")
        return
    typer.echo("scheduler running; Ctrl-C stops it", err=True)
    try:
        scheduler.run_forever()
    except KeyboardInterrupt:
        typer.echo("scheduler stopped", err=True)


def main() -> None:
    """Run the CLI, turning workbench errors into one message and an exit code."""
    try:
        app()
    except WorkbenchError as error:
        if _state["debug"]:
            raise
        typer.secho(f"error: {error}", fg="red", err=True)
        sys.exit(error.exit_code)
    except Exception as error:  # a bug: one line for the user, the traceback with --debug
        if _state["debug"]:
            raise
        typer.secho(
            f"internal error: {type(error).__name__}: {error}. "
            "Run again with --debug for the traceback and report it.",
            fg="red",
            err=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
