"""Group masked log lines into templates by positional token frequency.

The idea is Brain's (Yu et al., INFOCOM 2023): the words a logging statement always
prints recur together, so in each line the largest set of tokens sharing one frequency
is the statement's constant part (the *anchor*). Lines with the same anchor form a group;
within a group a column is variable when it holds too many distinct values. On top of
that, three changes make one configuration work across systems:

* **Skeletons.** Tokens the masks turned wholly into ``<*>`` (``<*>:<*>``, ``(<*>)``,
  ``[<*>]``), empty brackets, and units right after them (``(<*> KB)``) are one
  placeholder; a run of them is one placeholder; a list of look-alike values
  (``blk_<*> blk_<*> ...``, ``an14 an15 ...``) is one token. Parameters that span a
  varying number of words then no longer change the token count that Drain-family
  parsers split on.
* **Typed thresholds.** A column whose values all hold digits or ``<*>`` is variable as
  soon as it has two values; a column of words only from ``word_threshold`` values up,
  since few distinct words at one place are usually different statements
  (``VM Started`` / ``VM Stopped``).
* **Merging.** Templates equal once their bare ``<*>`` tokens are dropped are one (a
  value masked in some lines and a word in others), and a template that is another plus
  one partly variable token (``LOCAL(<*>),``) joins the larger one.

Variable tokens keep the punctuation-delimited prefix and suffix their values share
(``user=<*>``, ``(uid=<*>)``), which keeps ``key=value`` templates apart and their
text close to what a reader expects.

Everything here loops in Python over *unique masked lines*, not log lines: masking
leaves a few hundred to a few thousand distinct lines per system, and positional
frequency counting and grouping by dictionary have no columnar form worth its cost.
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from collections.abc import Sequence

import polars as pl

from workbench.logs.masking import WILDCARD

_ALNUM = re.compile(r"[A-Za-z0-9]")
_DIGIT = re.compile(r"\d")
_BRACKETS = frozenset("()[]{}<>\"'")
# Units that belong to the number before them, so `(<*> KB)` is one placeholder.
_UNITS = frozenset(
    {"ms", "us", "ns", "s", "sec", "secs", "seconds", "min", "mins", "minutes", "h", "hours"}
    | {"b", "kb", "mb", "gb", "tb", "bytes", "%"}
)
_EDGE_PUNCT = re.compile(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$")
# Templates shorter than this (in tokens after dropping bare wildcards) are never merged
# by insertion: one-word statements differ only in their one word.
_MIN_MERGE_TOKENS = 3

Tokens = tuple[str, ...]


def _is_placeholder(token: str) -> bool:
    """Return whether a token is wholly variable: only ``<*>`` and punctuation, or ``()``."""
    if _ALNUM.search(token.replace(WILDCARD, "")):
        return False
    return WILDCARD in token or set(token) <= _BRACKETS


def _shape(token: str) -> str | None:
    """Return a token's shape when it holds a value (digits or ``<*>``), else None."""
    if WILDCARD not in token and not _DIGIT.search(token):
        return None
    return _DIGIT.sub("0", token.replace(WILDCARD, "0"))


@functools.lru_cache(maxsize=1 << 16)
def _kind(token: str) -> tuple[bool, bool, str | None]:
    """Return (is placeholder, is a unit, shape) of a token; tokens repeat, so cached."""
    is_unit = _EDGE_PUNCT.sub("", token).lower() in _UNITS
    return _is_placeholder(token), is_unit, _shape(token)


def skeleton(tokens: Sequence[str]) -> tuple[Tokens, tuple[int, ...]]:
    """Return the tokens with placeholder runs and look-alike value lists made one token.

    The second item gives, for each skeleton token, the index of the first original
    token it stands for (a run or a list ends where the next one starts).
    """
    out: list[str] = []
    starts: list[int] = []
    after_placeholder = False
    previous_shape = None
    for index, token in enumerate(tokens):
        placeholder, is_unit, shape = _kind(token)
        if placeholder or (after_placeholder and is_unit):
            if not after_placeholder:
                out.append(WILDCARD)
                starts.append(index)
            after_placeholder = True
            previous_shape = None
            continue
        after_placeholder = False
        if shape is not None and shape == previous_shape:
            continue  # one more item of a list: `blk_<*> blk_<*>`, `an14 an15`
        previous_shape = shape
        out.append(token)
        starts.append(index)
    return tuple(out), tuple(starts)


def render(tokens: Sequence[str], starts: Sequence[int], template: Tokens) -> str:
    """Return the text of a line's template: placeholder runs as masked, the rest decided."""
    words = []
    for position, decided in enumerate(template):
        if decided == WILDCARD and _is_run(tokens, starts, position):
            end = starts[position + 1] if position + 1 < len(starts) else len(tokens)
            words.extend(tokens[starts[position] : end])
        else:
            words.append(decided)
    return " ".join(words)


def _is_run(tokens: Sequence[str], starts: Sequence[int], position: int) -> bool:
    """Return whether skeleton ``position`` stands for a run of placeholder tokens."""
    return _is_placeholder(tokens[starts[position]])


def _variable_token(
    low: str, high: str, low_reversed: str, high_reversed: str, shortest: int
) -> str:
    """Return ``<*>`` with the punctuation-delimited prefix and suffix all values share.

    Takes the smallest and largest value (their common prefix is every value's), the
    same of the reversed values, and the length of the shortest value.
    """
    prefix = _cut_at_punctuation(_common_prefix([low, high]))
    suffix = _cut_at_punctuation(_common_prefix([low_reversed, high_reversed]))[::-1]
    if len(prefix) + len(suffix) > shortest:
        suffix = ""
    token = prefix + WILDCARD + suffix
    while WILDCARD + WILDCARD in token:
        token = token.replace(WILDCARD + WILDCARD, WILDCARD)
    return token


def _common_prefix(texts: list[str]) -> str:
    """Return the longest string every text starts with, character by character."""
    shortest, longest = min(texts), max(texts)
    for index, char in enumerate(shortest):
        if char != longest[index]:
            return shortest[:index]
    return shortest


def _cut_at_punctuation(text: str) -> str:
    """Return ``text`` up to and including its last non-alphanumeric character."""
    for index in range(len(text) - 1, -1, -1):
        if not text[index].isalnum():
            return text[: index + 1]
    return ""


def group(
    lines: Sequence[Tokens], weights: Sequence[int], *, word_threshold: int
) -> tuple[list[Tokens], list[Tokens]]:
    """Return each line's own template and its group's template (same order).

    ``lines`` are skeletons (see :func:`skeleton`), ``weights`` how often each occurred.
    A line's own template has ``<*>`` where its group varies; lines whose group
    templates are equal belong to one group (several own forms may fold into one).

    Columnar: one row per token of every line, so counting and deciding run in polars;
    Python only computes the text of the variable columns and the merge of templates.
    """
    if not lines:
        return [], []
    # Tokens as integer ids: every join and group below then hashes integers, not text.
    vocabulary: dict[str, int] = {}
    ids = [[vocabulary.setdefault(t, len(vocabulary)) for t in tokens] for tokens in lines]
    words = list(vocabulary)
    frame = pl.DataFrame(
        {"line": range(len(lines)), "weight": weights, "token": ids},
        schema={"line": pl.Int64, "weight": pl.Int64, "token": pl.List(pl.Int64)},
    )
    tokens = frame.with_columns(
        pl.int_ranges(pl.col("token").list.len(), dtype=pl.Int64).alias("pos")
    ).explode("token", "pos", keep_nulls=False)
    # How often each token stands at its position, over all lines.
    tokens = tokens.with_columns(pl.col("weight").sum().over("pos", "token").alias("freq"))
    # The anchor: the frequency most of a line's tokens share; on a tie the rarer one,
    # the more specific.
    anchors = (
        tokens.group_by("line", "freq")
        .agg(pl.len().alias("shared"))
        .sort(["line", "shared", "freq"], descending=[False, True, False])
        .unique("line", keep="first")
        .select("line", pl.col("freq").alias("anchor"))
    )
    tokens = tokens.join(anchors, on="line")
    # A group: lines of one width whose anchor tokens (with positions) are the same.
    keys = (
        tokens.filter(pl.col("freq") == pl.col("anchor"))
        .sort("line", "pos")
        .group_by("line", maintain_order=True)
        .agg(pl.col("pos").alias("anchor_pos"), pl.col("token").alias("anchor_token"))
        .join(frame.select("line", pl.col("token").list.len().alias("width")), on="line")
    )
    keys = keys.join(
        keys.select("width", "anchor_pos", "anchor_token")
        .unique(maintain_order=True)
        .with_row_index("group"),
        on=["width", "anchor_pos", "anchor_token"],
    ).select("line", "group")
    tokens = tokens.join(keys, on="line")
    vocabulary_frame = pl.DataFrame(
        {"token": range(len(words)), "word": words},
        schema={"token": pl.Int64, "word": pl.String},
    )
    word = pl.col("word")
    columns = (
        tokens.group_by("group", "pos", "token")
        .agg(pl.col("weight").sum())
        .join(vocabulary_frame, on="token")
        .group_by("group", "pos")
        .agg(
            pl.len().alias("distinct"),
            pl.col("weight").max().alias("most"),
            word.str.contains(r"\d|<\*>").all().alias("valued"),
            word.min().alias("low"),
            word.max().alias("high"),
            word.str.reverse().min().alias("low_reversed"),
            word.str.reverse().max().alias("high_reversed"),
            word.str.len_chars().min().alias("shortest"),
        )
        .filter(pl.col("distinct") > 1)
    )
    # Only columns with more than one value can be variable; a column the whole group
    # agrees on keeps its token, whatever its frequency. A column of values (digits or
    # masked parts) is variable from two values on, a column of words from
    # `word_threshold`, and any column whose every value was seen once.
    thresholds = pl.when(pl.col("valued")).then(2).otherwise(word_threshold)
    # The common prefix of all values is that of the smallest and the largest.
    variables = [
        _variable_token(*bounds)
        for bounds in columns.select(
            "low", "high", "low_reversed", "high_reversed", "shortest"
        ).iter_rows()
    ]
    first_new = len(words)
    words.extend(variables)
    varying = columns.select(
        "group",
        "pos",
        ((pl.col("distinct") >= thresholds) | (pl.col("most") == 1)).alias("below"),
        pl.int_range(first_new, first_new + columns.height, dtype=pl.Int64).alias("variable"),
    )
    # Above the anchor's frequency a token is shared with other statements and kept only
    # when the group agrees on it (it does not, in a varying column); below it, the
    # column's values decide; at the anchor's frequency it is the anchor.
    is_variable = pl.col("variable").is_not_null() & (
        (pl.col("freq") > pl.col("anchor"))
        | ((pl.col("freq") < pl.col("anchor")) & pl.col("below"))
    )
    decided = (
        tokens.join(varying, on=["group", "pos"], how="left")
        .sort("line", "pos")
        .group_by("line", maintain_order=True)
        .agg(
            pl.when(is_variable).then(pl.col("variable")).otherwise(pl.col("token")).alias("token")
        )
    )
    templates: list[Tokens] = [()] * len(lines)
    for line, template in zip(decided["line"].to_list(), decided["token"].to_list(), strict=True):
        templates[line] = tuple(words[i] for i in template)
    return templates, _merge(templates, weights)


def _one_more(longer: Tokens, shorter: Tokens) -> bool:
    """Return whether ``longer`` is ``shorter`` plus one partly variable token."""
    position = 0
    for position, token in enumerate(shorter):  # stops at the first difference
        if longer[position] != token:
            break
    else:
        position = len(shorter)
    return WILDCARD in longer[position] and longer[position + 1 :] == shorter[position:]


def _merge(templates: list[Tokens], weights: Sequence[int]) -> list[Tokens]:
    """Return the templates with near-equal ones folded into the most frequent form."""
    forms_seen: Counter[Tokens] = Counter()
    for template, weight in zip(templates, weights, strict=True):
        forms_seen[template] += weight
    keyed: dict[Tokens, Counter[Tokens]] = defaultdict(Counter)
    for template, weight in forms_seen.items():
        keyed[tuple(t for t in template if t != WILDCARD)][template] += weight
    sizes = {key: sum(forms.values()) for key, forms in keyed.items()}
    by_length: dict[int, list[Tokens]] = defaultdict(list)
    for key in keyed:
        by_length[len(key)].append(key)
    for key in sorted(keyed, key=lambda k: (sizes[k], k)):
        if len(key) < _MIN_MERGE_TOKENS or key not in keyed:
            continue
        for shorter in by_length[len(key) - 1]:
            if shorter in keyed and sizes[shorter] >= sizes[key] and _one_more(key, shorter):
                keyed[shorter].update(keyed.pop(key))
                sizes[shorter] += sizes[key]
                break
    canonical: dict[Tokens, Tokens] = {}
    for forms in keyed.values():
        best = max(forms.items(), key=lambda item: (item[1], item[0]))[0]
        for form in forms:
            canonical[form] = best
    return [canonical[template] for template in templates]
