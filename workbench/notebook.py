"""Run a notebook with parameters (papermill) into an executed copy and an HTML copy.

>>> run = run_notebook("notebooks/01_investigate_incident.ipynb", "runs/",
...                    parameters={"case": "rcd-sockshop/user-mem/1"})
>>> run.output, run.html, run.seconds

Outputs are written whole or not at all: the run executes into a temporary file in the
output folder, and only a finished run is renamed to ``<name>.ipynb`` and
``<name>.html``. A failed run raises :class:`NotebookFailed` naming the failing cell; what
had run is kept as ``<name>.failed.ipynb`` (written whole too), so a reader can see where
it stopped, and no ``<name>.ipynb`` of a half run ever appears.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench._optional import import_optional
from workbench.errors import UsageError, WorkbenchError

log = logging.getLogger(__name__)

OK, FAILED = "ok", "failed"
FAILED_SUFFIX = ".failed.ipynb"
DEFAULT_KERNEL = "python3"


class NotebookFailed(WorkbenchError):
    """A notebook run stopped: a cell raised, or the kernel died."""

    exit_code = 1

    def __init__(self, message: str, run: NotebookRun) -> None:
        super().__init__(message)
        self.run = run


@dataclass(frozen=True, slots=True)
class FailedCell:
    """The cell a run stopped at: its place among the code cells, its id and first line."""

    index: int
    cell_id: str
    source: str
    error: str

    def describe(self) -> str:
        """Return e.g. ``cell 3 (c2) 'os.kill(...)': DeadKernelError: ...``."""
        return f"cell {self.index} ({self.cell_id}) {self.source!r}: {self.error}"


@dataclass(frozen=True, slots=True)
class NotebookRun:
    """One run of a notebook: where it went, how long it took, how it ended."""

    notebook: Path
    status: str
    seconds: float
    parameters: dict[str, Any]
    output: Path | None = None
    html: Path | None = None
    partial: Path | None = None
    failed_cell: FailedCell | None = None
    not_run: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "notebook": str(self.notebook),
            "status": self.status,
            "seconds": self.seconds,
            "parameters": self.parameters,
            "output": str(self.output) if self.output else None,
            "html": str(self.html) if self.html else None,
            "partial": str(self.partial) if self.partial else None,
            "failed_cell": self.failed_cell.describe() if self.failed_cell else None,
            "not_run": list(self.not_run),
        }


def check_parameters(notebook: Path, parameters: dict[str, Any]) -> None:
    """Refuse a parameter the notebook's ``parameters`` cell does not define (a typo would
    otherwise run the notebook with its default, papermill only warning)."""
    if not parameters:
        return
    papermill = import_optional("papermill", "notebooks")
    try:
        known = papermill.inspect_notebook(str(notebook))
    except Exception as error:  # an unreadable notebook fails the run below with its reason
        log.debug("cannot inspect %s: %s", notebook, error)
        return
    unknown = sorted(set(parameters) - set(known))
    if known and unknown:
        raise UsageError(
            f"{notebook} has no parameter {', '.join(unknown)}; its parameters cell defines "
            f"{', '.join(sorted(known))}"
        )


def run_notebook(
    notebook: str | Path,
    out_dir: str | Path,
    *,
    parameters: dict[str, Any] | None = None,
    kernel: str = DEFAULT_KERNEL,
    timeout_s: float | None = None,
    on_failure: Callable[[NotebookRun], None] | None = None,
) -> NotebookRun:
    """Execute ``notebook`` with ``parameters`` into ``out_dir``; return the finished run.

    Raises :class:`NotebookFailed` (after calling ``on_failure``, the notification hook)
    when a cell raises or the kernel dies.
    """
    papermill = import_optional("papermill", "notebooks")
    notebook = Path(notebook)
    if not notebook.is_file():
        raise UsageError(f"notebook {notebook} does not exist; give the path of an .ipynb file")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parameters = dict(parameters or {})
    check_parameters(notebook, parameters)
    output, html = out / notebook.name, out / f"{notebook.stem}.html"
    partial = _temporary(out, notebook.stem, ".ipynb")
    started = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook),
            str(partial),
            parameters=parameters,
            kernel_name=kernel,
            execution_timeout=timeout_s,
            progress_bar=False,
            cwd=str(notebook.parent),
        )
    except Exception as error:  # papermill's and the kernel's errors alike end the run
        run = _failed(notebook, partial, out, parameters, started, error)
        if on_failure is not None:
            on_failure(run)
        where = run.failed_cell.describe() if run.failed_cell else str(error)
        raise NotebookFailed(
            f"{notebook} failed at {where}; what ran is in {run.partial}", run
        ) from error
    page = _temporary(out, notebook.stem, ".html")
    try:
        page.write_text(_to_html(partial), encoding="utf-8")
        os.replace(partial, output)
        os.replace(page, html)
    finally:
        partial.unlink(missing_ok=True)
        page.unlink(missing_ok=True)
    return NotebookRun(
        notebook, OK, time.perf_counter() - started, parameters, output=output, html=html
    )


def read_parameters(path: str | Path) -> dict[str, Any]:
    """Return the parameters of a YAML file; dates and times stay text, as written."""
    path = Path(path)
    try:
        values = parse_value(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read the parameter file {path}: {error.strerror}") from None
    if not isinstance(values, dict):
        raise UsageError(f"{path} must be a YAML mapping of parameter names to values")
    return {str(name): value for name, value in values.items()}


def parse_value(text: str) -> Any:
    """Return a parameter value written as YAML (``3`` -> 3, ``0.8``, ``true``, text).

    Dates stay text: ``2024-03-01`` is the string ``"2024-03-01"``, never a ``date``
    (papermill issues 345 and 724; shared/cases BL-28).
    """
    import yaml

    try:
        return yaml.load(text, Loader=_text_dates_loader())  # a SafeLoader subclass
    except yaml.YAMLError:
        return text


@functools.cache
def _text_dates_loader() -> type:
    import yaml

    class TextDatesLoader(yaml.SafeLoader):
        """A safe YAML loader that leaves timestamps as the text they were written as."""

    TextDatesLoader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return TextDatesLoader


def _temporary(folder: Path, stem: str, suffix: str) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".partial{suffix}", dir=folder)
    os.close(handle)
    return Path(name)


def _to_html(executed: Path) -> str:
    import nbformat

    nbconvert = import_optional("nbconvert", "notebooks")
    body, _ = nbconvert.HTMLExporter().from_notebook_node(
        nbformat.read(str(executed), as_version=4)
    )
    return body


def _failed(
    notebook: Path,
    partial: Path,
    out: Path,
    parameters: dict[str, Any],
    started: float,
    error: Exception,
) -> NotebookRun:
    import nbformat

    seconds = time.perf_counter() - started
    kept: Path | None = None
    failed_cell: FailedCell | None = None
    not_run: tuple[str, ...] = ()
    if partial.exists() and partial.stat().st_size:
        book = nbformat.read(str(partial), as_version=4)
        failed_cell, not_run = _where(book, error)
        kept = out / f"{notebook.stem}{FAILED_SUFFIX}"
        os.replace(partial, kept)
    partial.unlink(missing_ok=True)
    # One line: the cell's traceback is in the kept notebook, not on the terminal.
    why = failed_cell.describe() if failed_cell else _reason(error)
    log.warning("notebook %s failed after %.1f s: %s", notebook, seconds, why)
    return NotebookRun(
        notebook,
        FAILED,
        seconds,
        parameters,
        partial=kept,
        failed_cell=failed_cell,
        not_run=not_run,
    )


def _where(book: Any, error: Exception) -> tuple[FailedCell | None, tuple[str, ...]]:
    """Return the cell the run stopped at and the ids of the code cells never run.

    A cell that raised is marked with an exception by papermill. A kernel that died
    leaves the killing cell marked ``completed`` with no exception, and the cells after
    it too (papermill issues 476, 478; shared/cases BL-29): the failing cell is then the
    last one that started.
    """
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    marks = [cell.metadata.get("papermill", {}) for cell in code]
    # papermill marks every cell "completed" after a dead kernel, even those never started:
    # a start time is what shows that a cell ran.
    started = [i for i, mark in enumerate(marks) if mark.get("start_time")]
    failed = [i for i in started if marks[i].get("exception") or marks[i].get("status") == "failed"]
    if not started:
        return None, tuple(_cell_id(cell, i) for i, cell in enumerate(code))
    index = failed[0] if failed else started[-1]
    cell = code[index]
    first_line = next((line for line in cell.source.splitlines() if line.strip()), "")
    reason = _reason(error)
    failed_cell = FailedCell(index + 1, _cell_id(cell, index), first_line, reason)
    not_run = tuple(_cell_id(c, i) for i, c in enumerate(code) if i > index)
    return failed_cell, not_run


def _reason(error: Exception) -> str:
    """Return one line saying what failed: the cell's own exception when a cell raised.

    papermill's PapermillExecutionError begins with a blank line and carries the cell's
    exception as ``ename`` and ``evalue``.
    """
    if getattr(error, "ename", None):
        text = f"{error.ename}: {error.evalue}"
    else:
        text = f"{type(error).__name__}: {error}"
    return next((line for line in text.splitlines() if line.strip()), type(error).__name__)


def _cell_id(cell: Any, index: int) -> str:
    return str(cell.get("id") or f"#{index + 1}")
