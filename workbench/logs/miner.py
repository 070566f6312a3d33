"""Online template miner: learn log templates from batches of lines, keep them across runs.

``TemplateMiner().mine(logs)`` returns the logs with ``template_id`` and ``template``
columns. Each call learns from its batch and keeps what it learned, so a stream can be
mined batch by batch (a window pulled from Elasticsearch, a minute file, a tail):

1. **Mask** (columnar, polars): numbers, IPs, hex ids, UUIDs, paths, durations, dates
   become ``<*>`` (:mod:`workbench.logs.masking`).
2. **Count** the distinct masked lines of the batch and add them to ``lines_`` (masked
   line -> times seen). Masking folds most lines onto few distinct ones, so everything
   after this runs per distinct line, not per log line.
3. **Group** every distinct line seen so far by positional token frequency
   (:mod:`workbench.logs.grouping`), and name each group by a hash of its template, so
   the same lines give the same ids in every run and on every machine.
4. **Join** the batch back to its templates (columnar).

Regrouping all distinct lines on each batch costs time in proportion to their number
(thousands, not the millions of raw lines), and lets a template widen as new values
arrive: ``user alice`` then ``user bob`` become ``user <*>``. A template that widens
gets a new id, as its text changed; templates that did not change keep theirs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl

from workbench import frames
from workbench.errors import UsageError
from workbench.logs.grouping import distinct_rows, group_lines
from workbench.logs.headers import LogFormat
from workbench.logs.masking import DEFAULT_MASKS, WILDCARD, MaskRule, mask_series

# A column of words is variable from this many distinct values on (a column of numbers
# or masked values from two): fewer distinct words at one place are usually different
# statements (`VM Started` / `VM Stopped`). One setting for every system.
DEFAULT_WORD_THRESHOLD = 4
# Length of the hex template id (64 bits: no collision among any realistic template set).
TEMPLATE_ID_HEX = 16
STATE_VERSION = 1

_SPACE = re.compile(r"\s+")


class TemplateMiner:
    """Learn log templates batch by batch; assign each line a stable ``template_id``.

    Settings: ``masks`` (rules run in order over the message column), ``word_threshold``
    (distinct words from which a column is a variable) and ``log_format`` (a header
    format such as ``"<Date> <Time> <Level> <Component>: <Content>"``: when given, the
    header is cut off the message before mining; see :mod:`workbench.logs.headers`).

    Learned state: ``lines_`` (distinct masked line -> count), ``templates_`` (template id
    -> template text, for every line seen so far), ``sizes_`` (template id -> lines).
    """

    method = "mancerops-miner 1"

    def __init__(
        self,
        *,
        masks: tuple[MaskRule, ...] = DEFAULT_MASKS,
        word_threshold: int = DEFAULT_WORD_THRESHOLD,
        log_format: str | None = None,
    ) -> None:
        if word_threshold < 2:
            raise UsageError(f"word_threshold must be 2 or more, got {word_threshold}")
        self.masks = masks
        self.word_threshold = word_threshold
        self.log_format = log_format
        self.lines_: Counter[str] = Counter()
        self.templates_: dict[str, str] = {}
        self.sizes_: dict[str, int] = {}
        self._assigned: dict[str, tuple[str, str]] = {}

    def __repr__(self) -> str:
        return (
            f"TemplateMiner(word_threshold={self.word_threshold}, "
            f"log_format={self.log_format!r}, masks={len(self.masks)} rules, "
            f"lines_={len(self.lines_)}, templates_={len(self.templates_)})"
        )

    # -- learning and assigning ---------------------------------------------------------

    def mine(self, logs: Any) -> pl.DataFrame:
        """Learn from ``logs`` and return them with ``template_id`` and ``template`` columns.

        ``logs`` is a logs frame (polars or pandas, see :mod:`workbench.frames`); its
        rows keep their order.
        """
        frame = frames.validate(logs, frames.LOGS)
        return frame.with_columns(self._mine(frame["message"]))

    def fit(self, logs: Any) -> TemplateMiner:
        """Learn the templates of ``logs`` and return ``self``."""
        frame = frames.validate(logs, frames.LOGS)
        masked, counts, _ = self._distinct(frame["message"])
        self._learn(masked, counts)
        return self

    def mine_messages(self, messages: Any) -> pl.DataFrame:
        """Learn from bare messages (list or Series); return ``message, template_id, template``."""
        frame = pl.DataFrame({"message": pl.Series(messages, dtype=pl.String)})
        return frame.with_columns(self._mine(frame["message"]))

    def templates(self) -> pl.DataFrame:
        """Return the learned templates: ``template_id, template, lines``, largest first."""
        return pl.DataFrame(
            {
                "template_id": list(self.templates_),
                "template": list(self.templates_.values()),
                "lines": [self.sizes_[t] for t in self.templates_],
            },
            schema={"template_id": pl.String, "template": pl.String, "lines": pl.Int64},
        ).sort(["lines", "template_id"], descending=[True, False])

    # -- parameters ---------------------------------------------------------------------

    @staticmethod
    def parameters(message: str, template: str) -> list[str] | None:
        """Return the values the ``<*>`` of ``template`` stand for in ``message``.

        Whitespace runs match any whitespace run; None when the message does not fit.
        """
        found = re.match(_template_pattern(template), message.strip())
        return None if found is None else [value.strip() for value in found.groups()]

    def extract_parameters(self, mined: pl.DataFrame) -> pl.Series:
        """Return, for each row of :meth:`mine`'s output, the list of its parameters.

        Columnar per template: one regular expression per distinct template runs over
        that template's rows.
        """
        parts = []
        indexed = mined.select("message", "template").with_row_index("_row")
        for (template,), rows in indexed.group_by("template", maintain_order=True):
            pattern = _template_pattern(template)
            count = template.count(WILDCARD)
            if count == 0:
                values = pl.lit([], dtype=pl.List(pl.String))
            else:
                groups = pl.col("message").str.strip_chars().str.extract_groups(pattern)
                values = pl.concat_list(
                    [groups.struct.field(str(i + 1)).str.strip_chars() for i in range(count)]
                )
            parts.append(rows.select("_row", values.alias("parameters")))
        if not parts:
            return pl.Series("parameters", [], dtype=pl.List(pl.String))
        return pl.concat(parts).sort("_row")["parameters"]

    # -- state ----------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the settings and learned state to a JSON file."""
        state = {
            "version": STATE_VERSION,
            "method": self.method,
            "settings": {
                "word_threshold": self.word_threshold,
                "log_format": self.log_format,
                "masks": [[m.name, m.pattern, m.replacement] for m in self.masks],
            },
            "lines": dict(self.lines_),
        }
        Path(path).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> TemplateMiner:
        """Return a miner with the settings and state written by :meth:`save`."""
        try:
            state = json.loads(Path(path).read_text(encoding="utf-8"))
            settings = state["settings"]
            version = state["version"]
            lines = state["lines"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UsageError(f"cannot read miner state {path}: {error}") from error
        if version != STATE_VERSION:
            raise UsageError(
                f"miner state {path} has version {version}; this workbench reads {STATE_VERSION}"
            )
        miner = cls(
            masks=tuple(MaskRule(*rule) for rule in settings["masks"]),
            word_threshold=settings["word_threshold"],
            log_format=settings["log_format"],
        )
        miner.lines_ = Counter({str(k): int(v) for k, v in lines.items()})
        miner._regroup()
        return miner

    # -- internals --------------------------------------------------------------------------

    def _mine(self, messages: pl.Series) -> list[pl.Series]:
        """Learn from ``messages``; return their ``template_id`` and ``template`` columns."""
        masked, counts, rows = self._distinct(messages)
        lines, line_of = self._learn(masked, counts)
        # Each of the batch's distinct masked lines is looked up once; every message
        # then gathers its line's values by position (no join on the long texts).
        assigned = [self._assigned[line] for line in lines]
        ids = pl.Series("template_id", [tid for tid, _ in assigned], dtype=pl.String)
        texts = pl.Series("template", [text for _, text in assigned], dtype=pl.String)
        row_line = line_of.gather(rows)
        return [ids.gather(row_line), texts.gather(row_line)]

    def _distinct(self, messages: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
        """Return the masked form and count of each distinct message, and each row's message.

        Masking runs once per distinct message, not per line: logs repeat themselves, and
        a regex pass over a long line costs far more than hashing it. The third series
        gives, for every row, the index of its message among the distinct ones.
        """
        values, counts, rows = distinct_rows(messages.fill_null(""))
        text = pl.col("message")
        if self.log_format is not None:
            text = LogFormat(self.log_format).content_expr(text)
        stripped = values.to_frame("message").select(text.str.strip_chars()).to_series()
        return mask_series(stripped, self.masks).alias("masked"), counts, rows

    def _learn(self, masked: pl.Series, counts: pl.Series) -> tuple[list[str], pl.Series]:
        """Add the batch's masked lines to ``lines_`` and regroup when new ones came.

        Returns the batch's distinct masked lines and, for each distinct message, the
        index of its masked line among them.
        """
        distinct, line_counts, line_of = distinct_rows(masked, counts)
        lines = distinct.to_list()
        before = len(self.lines_)
        for line, count in zip(lines, line_counts.to_list(), strict=True):
            self.lines_[line] += count
        if len(self.lines_) != before or not self._assigned:
            self._regroup()
        else:
            self._recount()
        return lines, line_of

    def _regroup(self) -> None:
        lines = list(self.lines_)
        weights = [self.lines_[line] for line in lines]
        _, merged, rendered = group_lines(lines, weights, word_threshold=self.word_threshold)
        # A group's text: the most common rendering among its lines (the group id comes
        # from its merged skeleton, which does not depend on which rendering wins).
        renderings: dict[str, Counter[str]] = {}
        ids = []
        id_of: dict[tuple[str, ...], str] = {}
        for index, template in enumerate(merged):
            template_id = id_of.get(template)
            if template_id is None:
                template_id = id_of[template] = _template_id(" ".join(template))
            ids.append(template_id)
            renderings.setdefault(template_id, Counter())[rendered[index]] += weights[index]
        texts = {
            tid: max(forms.items(), key=lambda item: (item[1], item[0]))[0]
            for tid, forms in renderings.items()
        }
        self._assigned = {line: (tid, texts[tid]) for line, tid in zip(lines, ids, strict=True)}
        self.templates_ = dict(sorted(texts.items()))
        self._recount()

    def _recount(self) -> None:
        sizes: Counter[str] = Counter()
        for line, (template_id, _) in self._assigned.items():
            sizes[template_id] += self.lines_[line]
        self.sizes_ = dict(sizes)


def _template_id(skeleton_text: str) -> str:
    """Return the stable id of a template: a hash of its text, the same on every run."""
    digest = hashlib.blake2b(skeleton_text.encode("utf-8"), digest_size=TEMPLATE_ID_HEX // 2)
    return digest.hexdigest()


_META = re.compile(r"([\\.^$|?*+()\[\]{}])")


def _escape(text: str) -> str:
    """Return ``text`` with regex metacharacters escaped, valid in Python and Rust regex."""
    return _META.sub(r"\\\1", text)


def _template_pattern(template: str) -> str:
    """Return an anchored regex of a template: ``<*>`` captures, whitespace runs flexible."""
    pieces = []
    for index, part in enumerate(template.strip().split(WILDCARD)):
        if index:
            pieces.append("(.*?)")
        words = _SPACE.split(part)
        pieces.append(r"\s+".join(_escape(word) for word in words))
    return "^" + "".join(pieces) + "$"
