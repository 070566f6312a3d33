"""The ``mancerops`` command: parse, call one library function, print."""

from __future__ import annotations

import sys

import typer

from workbench import __version__
from workbench.errors import WorkbenchError

app = typer.Typer(
    name="mancerops",
    help="Investigate incidents: rank the services most likely to be the root cause.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    _state["debug"] = debug
    if version:
        typer.echo(__version__)
        raise typer.Exit()


def main() -> None:
    """Run the CLI, turning workbench errors into one message and an exit code."""
    try:
        app(standalone_mode=False)
    except WorkbenchError as error:
        if _state["debug"]:
            raise
        typer.secho(f"error: {error}", fg="red", err=True)
        sys.exit(error.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as error:  # click usage errors carry their own exit code
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        raise


if __name__ == "__main__":
    main()
