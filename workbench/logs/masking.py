"""Variable masking: replace the obvious parameters of log messages with ``<*>``, column-wise.

Each rule is a regular expression run by polars over the whole message column (one pass
per rule, in Rust), so masking costs no Python per line. Rules run in order; a later rule
never sees what an earlier one replaced, because ``<*>`` holds no digit and no hex run.

The patterns use the Rust ``regex`` dialect and are written to stay on its fast DFA
path: ASCII word boundaries (``(?-u:\\b)``; Unicode ones force a slower engine on any
non-ASCII text) and, apart from the rare unit rule, no capture groups (a replacement
that refers to a group makes the engine resolve captures at every match, and numbers
match dozens of times in a long line). Where a rule must not eat its left neighbour it
starts on a boundary instead of matching the neighbour.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import polars as pl

WILDCARD = "<*>"


@dataclass(frozen=True, slots=True)
class MaskRule:
    """One variable kind: ``pattern`` is replaced by ``replacement`` wherever it occurs."""

    name: str
    pattern: str
    replacement: str = WILDCARD


_B = r"(?-u:\b)"  # ASCII word boundary
_NB = r"(?-u:\B)"  # not a word boundary: both sides word characters or both not
_DIGITS = r"\d+(?:[.,]\d+)*"
_UNITS = r"(ms|us|ns|s|sec|secs|min|mins|h|[kKMGT]?B|[kKMGT]b|bps)"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_HEX = "[0-9a-fA-F]"
# Text from which a regex pass is cut into one part per thread (a part costs a few
# hundred microseconds to set up; a pass over a megabyte, milliseconds).
_PARALLEL_BYTES = 1 << 20

DEFAULT_MASKS: tuple[MaskRule, ...] = (
    # Host names with a port: `proxy.example.org:5070`, `db-1.internal:5432`.
    MaskRule(
        "host_port", rf"{_B}(?:[A-Za-z0-9-]+\.)+[A-Za-z]{{2,}}:\d+{_B}", WILDCARD + ":" + WILDCARD
    ),
    # Absolute paths of two parts or more with their query (`/var/lib/x`, `/v2/a?b=1`),
    # not preceded by a word character (`a/b/c` is a name, not a path).
    MaskRule("path", rf"{_NB}(?:/[A-Za-z0-9_.~%+\-]+){{2,}}/?(?:\?\S*)?"),
    # A number after an underscore, which is a word character: `blk_-42`, `attempt_1_0020`.
    MaskRule("underscore_number", rf"_-?{_DIGITS}", "_" + WILDCARD),
    MaskRule("uuid", rf"{_B}{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}{_B}"),
    MaskRule(
        "datetime",
        rf"{_B}\d{{4}}-\d{{2}}-\d{{2}}[T ]\d{{2}}:\d{{2}}:\d{{2}}(?:[.,]\d+)?"
        rf"(?:Z|[+-]\d{{2}}:?\d{{2}})?{_B}"
        rf"|{_B}(?:{_WEEKDAY},?\s+)?{_MONTH}\s+\d{{1,2}},?\s+\d{{1,2}}:\d{{2}}:\d{{2}}"
        rf"(?:\s+\d{{4}})?{_B}",
    ),
    # An IPv4 address; its port is a number of its own (`<*>:<*>`, as loghub writes it).
    MaskRule("ipv4", rf"{_B}\d{{1,3}}\.\d{{1,3}}\.\d{{1,3}}\.\d{{1,3}}{_B}"),
    MaskRule("hex", rf"{_B}0[xX]{_HEX}+{_B}"),
    # Domain names of three labels or more, ending in a top-level domain.
    MaskRule(
        "domain",
        rf"{_B}(?:[A-Za-z0-9-]+\.){{2,}}(?:com|net|org|edu|gov|mil|info|biz|io|[a-z]{{2}}){_B}",
    ),
    # A negative number after a non-word character (`uid=-1`, ` -5`).
    MaskRule("negative", rf"{_NB}-{_DIGITS}{_B}"),
    # Numbers standing alone: not `ssh2` or `jk2_init`, and not the digits a hex id starts with.
    MaskRule("number", rf"{_B}{_DIGITS}{_B}"),
    # Ids written as bare hex (trace and span ids, hashes): long enough that no word is one.
    MaskRule("hex_id", rf"{_B}{_HEX}{{8,}}{_B}"),
    # Durations and sizes glued to their unit keep it: `13ms` -> `<*>ms`.
    MaskRule("duration", rf"{_B}\d+(?:\.\d+)?{_UNITS}{_B}", WILDCARD + "${1}"),
)


# For default rules, a cheap search that finds every ASCII message the rule can match:
# a literal every match holds, or an ASCII digit where every match holds a `\d`. Such
# searches run on the literal search of the regex engine, far faster than a scan for
# the rule; a pass of such rules then runs only over the messages found, plus every
# message with a non-ASCII character (the Unicode digits `\d` also matches).
_DIGIT = "[0-9]"
_PREFILTERS: dict[MaskRule, str] = {
    rule: {"host_port": ":[0-9]", "path": "/", "underscore_number": "_"}.get(rule.name, _DIGIT)
    for rule in DEFAULT_MASKS
    if rule.name
    in {"host_port", "path", "underscore_number", "datetime", "ipv4", "hex", "negative"}
    | {"number", "duration"}
}


def mask_series(series: pl.Series, rules: tuple[MaskRule, ...] = DEFAULT_MASKS) -> pl.Series:
    """Return a string series with every rule's matches masked, as :func:`mask_expr` does.

    Eager, so that a pass with a prefilter (see ``_PREFILTERS``) runs only over the
    messages the prefilter finds, when they are less than half the text: the others
    cannot match, so they come out of the pass unchanged anyway.
    """
    wide = None  # messages with a non-ASCII character, which a `\d` may match anywhere
    series = series.clone()  # `scatter` below writes into its series: never the caller's
    for pattern, replacement, prefilter in _passes(rules):
        sizes = series.str.len_bytes()
        rows = None
        if prefilter is not None:
            # Found once: a pass replaces text by its ASCII replacement, so an ASCII
            # message stays ASCII (a message that became ASCII is only looked at again).
            if wide is None:
                wide = sizes != series.str.len_chars()
            maybe = series.str.contains(prefilter) | wide
            if sizes.filter(maybe).sum() * 2 <= sizes.sum():
                rows = maybe.arg_true()
        if rows is None:
            series = _replace_all(series, pattern, replacement)
        elif rows.len():
            series = series.scatter(rows, _replace_all(series.gather(rows), pattern, replacement))
        if not replacement.isascii():
            wide = None
    return series


def _replace_all(series: pl.Series, pattern: str, replacement: str) -> pl.Series:
    """Return ``series.str.replace_all(pattern, replacement)``, on every thread when large.

    One regex pass over a column runs on one thread; cut into parts of about equal
    bytes, the parts run at once (``pl.collect_all``) and are put back in order.
    """
    parts = pl.thread_pool_size()
    sizes = series.str.len_bytes()
    total = sizes.sum() or 0
    if parts < 2 or total < _PARALLEL_BYTES:
        return series.str.replace_all(pattern, replacement)
    ends = (
        sizes.fill_null(0)
        .cum_sum()
        .search_sorted(pl.Series([total * part // parts for part in range(1, parts)]), side="right")
    )
    bounds = [0, *ends.to_list(), series.len()]
    frames = pl.collect_all(
        series.slice(start, stop - start)
        .to_frame()
        .lazy()
        .select(pl.first().str.replace_all(pattern, replacement))
        for start, stop in itertools.pairwise(bounds)
    )
    return pl.concat([frame.to_series() for frame in frames], rechunk=False)


def mask_expr(column: str | pl.Expr, rules: tuple[MaskRule, ...] = DEFAULT_MASKS) -> pl.Expr:
    """Return an expression that masks every rule's matches in a string column.

    Consecutive rules whose replacement is the bare wildcard run as one alternation, in
    one pass: where several match at the same place the earlier rule wins. One pass
    over a long line costs about what each of those rules costs alone.
    """
    expr = pl.col(column) if isinstance(column, str) else column
    for pattern, replacement, _ in _passes(rules):
        expr = expr.str.replace_all(pattern, replacement)
    return expr


def _passes(rules: tuple[MaskRule, ...]) -> list[tuple[str, str, str | None]]:
    """Return the (pattern, replacement, prefilter or None) passes: wildcard runs joined."""
    passes: list[tuple[str, str, str | None]] = []
    pending: list[MaskRule] = []

    def add(group: list[MaskRule], replacement: str) -> None:
        if replacement == WILDCARD:  # a run of wildcard rules, one alternation
            pattern = "|".join(f"(?:{rule.pattern})" for rule in group)
        else:
            pattern = group[0].pattern
        filters = [_PREFILTERS.get(rule) for rule in group]
        prefilter = None
        if all(filters):
            prefilter = "|".join(dict.fromkeys(f for f in filters if f))
        passes.append((pattern, replacement, prefilter))

    for rule in rules:
        if rule.replacement == WILDCARD:
            pending.append(rule)
            continue
        if pending:
            add(pending, WILDCARD)
            pending = []
        add([rule], rule.replacement)
    if pending:
        add(pending, WILDCARD)
    return passes
