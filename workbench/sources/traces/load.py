"""Read trace files of any supported format into the canonical spans frame.

Formats (``format="auto"`` tells them apart by content, gzip or not):

* ``otlp``: OTLP JSON ``TracesData``, one document, JSON Lines or documents in a row;
* ``jaeger-v3``: Jaeger API v3 answers, ``{"result": TracesData}`` alone, in a JSON array or
  one after another (grpc-gateway streaming);
* ``jaeger``: Jaeger v1 JSON: the ``/api/traces`` envelope, the UI's "Download JSON", a bare
  trace object, an array of traces, a span list with embedded processes;
* ``otel-console``: the OpenTelemetry Python SDK's ``ConsoleSpanExporter`` output;
* ``nezha-csv``: the Nezha Train Ticket trace CSVs (read by :mod:`workbench.datasets.nezha`).
"""

from __future__ import annotations

import contextlib
import gc
import logging
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import polars as pl

from workbench import frames
from workbench.errors import FileFormatError
from workbench.sources.traces import _documents as docs
from workbench.sources.traces import clock_skew, console, jaeger_json, otlp
from workbench.sources.traces import problems as pr
from workbench.sources.traces._batch import Batch
from workbench.sources.traces._frame import EXAMPLES, HOST, finish
from workbench.sources.traces.problems import Problem

log = logging.getLogger(__name__)

NEZHA_CSV = "nezha-csv"
FORMATS = ("auto", docs.OTLP, docs.JAEGER_V3, docs.JAEGER, docs.CONSOLE, NEZHA_CSV)
_NEZHA_HEADER = b"TraceID,SpanID,ParentID,PodName,OperationName"


@dataclass(frozen=True, slots=True)
class SpanLoad:
    """The spans read from one source, the format they were in and what was wrong with them."""

    source: str
    format: str
    spans: pl.DataFrame
    problems: tuple[Problem, ...] = field(default=())

    @property
    def partial(self) -> bool:
        """Return whether some input was left out (bad lines, invalid ids, API errors)."""
        return any(p.lossy for p in self.problems)

    def problem(self, kind: str) -> Problem | None:
        """Return the problem of ``kind``, or None."""
        return next((p for p in self.problems if p.kind == kind), None)


def read_spans(
    path: str | Path, *, format: str = "auto", adjust_clock_skew: bool = False
) -> pl.DataFrame:
    """Return the spans of a trace file; problems found in it are logged as warnings.

    Use :func:`load_spans` to get the problems as values.
    """
    loaded = load_spans(path, format=format, adjust_clock_skew=adjust_clock_skew)
    for problem in loaded.problems:
        log.warning("%s: %s", loaded.source, problem.message)
    return loaded.spans


def load_spans(
    path: str | Path, *, format: str = "auto", adjust_clock_skew: bool = False
) -> SpanLoad:
    """Read a trace file into a :class:`SpanLoad` (spans, format, problems).

    Raises :class:`FileFormatError` naming the file (and line) when it is not a trace
    format we read, is malformed beyond recovery, or yields no span at all.
    """
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise FileFormatError(
            f"cannot read trace file {source}: {exc.strerror}", path=source
        ) from exc
    return parse_spans(data, source=source, format=format, adjust_clock_skew=adjust_clock_skew)


def parse_spans(
    data: bytes,
    *,
    source: str = "<bytes>",
    format: str = "auto",
    adjust_clock_skew: bool = False,
    allow_empty: bool = False,
) -> SpanLoad:
    """Read trace data held in memory (a file's bytes, an API answer's body).

    ``allow_empty`` accepts data that holds no span (an empty search result) instead of
    raising.
    """
    with _gc_paused():
        return _parse(data, source, format, adjust_clock_skew, allow_empty)


@contextlib.contextmanager
def _gc_paused():
    # Decoding builds millions of small objects that hold no reference cycles; letting
    # the cycle collector scan them again and again costs a third of the time.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parse(
    data: bytes, source: str, format: str, adjust_clock_skew: bool, allow_empty: bool
) -> SpanLoad:
    if format not in FORMATS:
        raise FileFormatError(
            f"unknown trace format {format!r} for {source}; known: {', '.join(FORMATS)}",
            path=source,
        )
    data = docs.read_bytes(data)
    if format == NEZHA_CSV or (format == "auto" and data.lstrip()[:60].startswith(_NEZHA_HEADER)):
        return _nezha(source)
    documents, notes = docs.split(data, source)
    batches = {"otlp": Batch("otlp"), "jaeger": Batch("jaeger")}
    seen: list[str] = []
    for document in documents:
        what = _add(document, source, batches)
        if format != "auto" and what != format:
            raise FileFormatError(
                f"{source} holds {what} data, not {format}; pass format='auto' to read it",
                path=source,
                line=document.line,
            )
        if what not in seen:
            seen.append(what)
    found = [Problem(pr.SKIPPED_INPUT, note) for note in notes]
    for batch in batches.values():
        found += [_note_problem(note) for note in batch.notes]
    parts = []
    del documents  # views into the file's bytes, no longer needed
    for style, batch in batches.items():
        if len(batch):
            raw = batch.to_frame()
            # The decoded structs (and the raw slices that keep the file's bytes alive)
            # are in columns now: free them before the columnar work.
            batch.spans.clear()
            spans, batch_problems = finish(raw, style)
            del raw
            parts.append(spans)
            found += batch_problems
    spans = pl.concat(parts, how="vertical_relaxed") if parts else _empty()
    spans, checks = _check(spans, adjust_clock_skew)
    found += checks
    described = "+".join(seen) or "unknown"
    if spans.is_empty() and not allow_empty:
        reasons = "; ".join(p.message for p in found) or "the documents hold no span"
        raise FileFormatError(f"no spans in {source} ({described}): {reasons}", path=source)
    return SpanLoad(source, described, frames.validate(spans, frames.SPANS), tuple(found))


def _add(document: docs.Document, source: str, batches: dict[str, Batch]) -> str:
    what = docs.kind_of(document, source)
    try:
        if what == docs.OTLP:
            otlp.add(otlp.decode(document.text), batches["otlp"])
        elif what == docs.JAEGER_V3:
            _add_v3(document.found, batches["otlp"])
        elif what == docs.JAEGER:
            found = document.found
            if docs.has(found, "data") or docs.has(found, "errors"):
                jaeger_json.add_envelope(document.text, batches["jaeger"])
            else:
                jaeger_json.add_trace_object(document.text, batches["jaeger"])
        elif what == "jaeger-span":
            jaeger_json.add_array(
                b"[" + bytes(document.text) + b"]", document.found, batches["jaeger"]
            )
            what = docs.JAEGER
        elif what == docs.CONSOLE:
            console.add_span(document.text, batches["otlp"])
        else:
            what = _add_array(document, source, batches)
    except msgspec.ValidationError as exc:
        raise FileFormatError(
            f"cannot read {source} (document starting at line {document.line}) as {what}: {exc}",
            path=source,
            line=document.line,
        ) from None
    return what


def _add_array(document: docs.Document, source: str, batches: dict[str, Batch]) -> str:
    items = document.found
    if not items:
        return "empty array"
    first = docs._probe(items[0])
    if isinstance(first, list):
        raise FileFormatError(
            f"unsupported trace format in {source}: an array of arrays", path=source
        )
    what = docs.classify(first, source)
    if what == docs.JAEGER or what == "jaeger-span":
        jaeger_json.add_array(document.text, first, batches["jaeger"])
        return docs.JAEGER
    # Arrays of OTLP documents or v3 wrappers: one decode per element (a batch each).
    for item in items:
        _add(docs.Document(item, document.line, docs._probe(item)), source, batches)
    return what


def _add_v3(found: msgspec.Struct, out: Batch) -> None:
    if docs.has(found, "error"):
        out.notes.append(f"Jaeger API v3 error: {bytes(found.error).decode(errors='replace')}")
    if docs.has(found, "result"):
        otlp.add(otlp.decode(found.result), out)


def _note_problem(note: str) -> Problem:
    if note.startswith("Jaeger warning"):
        return Problem(pr.WARNING, note)
    return Problem(pr.API_ERROR, note)


def _check(spans: pl.DataFrame, adjust: bool) -> tuple[pl.DataFrame, list[Problem]]:
    found = []
    # Only rows whose (trace, span) id pair repeats can be duplicates: hashing two string
    # columns is cheap, comparing whole rows (lists, structs) is not.
    # Hashes first (cheap), then the ids themselves among the few rows they flag.
    repeated = spans.select(clock_skew.id_hash("span_id").is_duplicated()).to_series()
    if repeated.any():
        exact = spans.filter(repeated).select(pl.struct("trace_id", "span_id").is_duplicated())
        repeated = repeated.scatter(repeated.arg_true(), exact.to_series())
    unique_ids = True
    if repeated.any():
        indexed = spans.with_row_index("_n")
        kept = indexed.filter(repeated).unique(
            subset=spans.columns, keep="first", maintain_order=True
        )
        dropped = int(repeated.sum()) - kept.height
        if dropped:
            found.append(
                Problem(pr.DUPLICATE_SPAN, f"{dropped} exact duplicate span(s) dropped", dropped)
            )
        spans = pl.concat([indexed.filter(~repeated), kept]).sort("_n").drop("_n")
        shared = kept.filter(pl.struct("trace_id", "span_id").is_duplicated())
        unique_ids = shared.is_empty()
        if shared.height:
            ids = shared["span_id"].unique(maintain_order=True)
            found.append(
                Problem(
                    pr.DUPLICATE_SPAN,
                    f"{ids.len()} span id(s) shared by {shared.height} different spans, "
                    "all kept; children attach to the first",
                    shared.height,
                    tuple(ids.head(EXAMPLES)),
                )
            )
    spans, skew, orphans = clock_skew.check(spans, host=HOST, adjust=adjust, unique_ids=unique_ids)
    if orphans.height:
        found.append(
            Problem(
                pr.ORPHAN,
                f"{orphans.height} span(s) whose parent is not in the data, kept as subtree roots",
                orphans.height,
                tuple(orphans["span_id"].head(EXAMPLES)),
            )
        )
    if skew.height:
        verb = "shifted" if adjust else "flagged (pass adjust_clock_skew=True to shift them)"
        found.append(
            Problem(
                pr.CLOCK_SKEW,
                f"{skew.height} span(s) on another host than their parent lie outside it "
                f"(clock skew), {verb}",
                skew.height,
                tuple(
                    f"{s} {d / 1000:+.3f} ms"
                    for s, d in zip(skew["span_id"].head(EXAMPLES), skew["delta_us"], strict=False)
                ),
            )
        )
    return spans.drop(HOST), found


def _empty() -> pl.DataFrame:
    return frames.empty(frames.SPANS).with_columns(pl.lit("").alias(HOST)).clear()


def _nezha(source: str) -> SpanLoad:
    from workbench.datasets import nezha

    path = Path(source)
    if not path.exists():
        raise FileFormatError(
            f"Nezha trace CSVs are read from files, not bytes: {source}", path=source
        )
    spans = nezha.read_spans([path])
    if spans.is_empty():
        raise FileFormatError(f"no spans in Nezha trace file {source}", path=source)
    return SpanLoad(source, NEZHA_CSV, frames.validate(spans, frames.SPANS), ())
