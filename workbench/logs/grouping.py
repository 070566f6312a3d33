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

Everything here runs over *unique masked lines*, not log lines: masking leaves a few
hundred to a few thousand distinct lines per system. Those lines can still be long (a
Train Ticket line lists hundreds of tickets), so :func:`group_lines` keeps one polars
row per token from splitting to rendering; Python runs per line or per template only
(the merge, the text of variable columns). :func:`skeleton` and :func:`render` are
the same steps for one line, in plain Python.
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
    kind = _kind
    for index, token in enumerate(tokens):
        placeholder, is_unit, shape = kind(token)
        if placeholder or (is_unit and after_placeholder):
            if not after_placeholder:
                out.append(WILDCARD)
                starts.append(index)
                after_placeholder = True
            previous_shape = None
        elif shape is None:  # a word, the common case
            after_placeholder = False
            previous_shape = None
            out.append(token)
            starts.append(index)
        elif shape != previous_shape:
            after_placeholder = False
            previous_shape = shape
            out.append(token)
            starts.append(index)
        else:  # one more item of a list: `blk_<*> blk_<*>`, `an14 an15`
            after_placeholder = False
    return tuple(out), tuple(starts)


def render(tokens: Sequence[str], starts: Sequence[int], template: Tokens) -> str:
    """Return the text of a line's template: placeholder runs as masked, the rest decided."""
    if WILDCARD not in template:
        return " ".join(template)
    words: list[str] = []
    for position, decided in enumerate(template):
        if decided == WILDCARD and _is_run(tokens, starts, position):
            end = starts[position + 1] if position + 1 < len(starts) else len(tokens)
            words.extend(tokens[starts[position] : end])
        else:
            words.append(decided)
    return " ".join(words)


def _is_run(tokens: Sequence[str], starts: Sequence[int], position: int) -> bool:
    """Return whether skeleton ``position`` stands for a run of placeholder tokens."""
    return _kind(tokens[starts[position]])[0]


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
        {"line": range(len(lines)), "token": ids},
        schema={"line": pl.Int64, "token": pl.List(pl.Int64)},
    )
    tokens = frame.with_columns(
        pl.int_ranges(pl.col("token").list.len(), dtype=pl.Int64).alias("pos")
    ).explode("token", "pos", keep_nulls=False)
    templates, merged, _ = _group_tokens(tokens, weights, words, word_threshold=word_threshold)
    return templates, merged


def group_lines(
    lines: Sequence[str], weights: Sequence[int], *, word_threshold: int
) -> tuple[list[Tokens], list[Tokens], list[str]]:
    """Return each masked line's own template, its group's template, and its rendering.

    The same as splitting each line on whitespace, taking its :func:`skeleton`, calling
    :func:`group` and :func:`render`, but columnar from the start: the tokens of all lines
    are one polars frame, so no Python runs per token (long lines hold hundreds).
    """
    if not lines:
        return [], [], []
    tokens, words = _skeleton_frame(lines)
    # Ids into `words`, which holds every distinct token text; a run is `<*>`.
    if WILDCARD in words:
        wildcard = words.index(WILDCARD)
    else:
        wildcard = len(words)
        words.append(WILDCARD)
    # A line's first token is always kept, so `first` still marks where lines start.
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    skeletons = tokens.filter("kept").select(
        "line",
        (row - pl.when("first").then(row).forward_fill()).alias("pos"),
        pl.when("absorbed").then(pl.lit(wildcard, dtype=pl.Int64)).otherwise("id").alias("token"),
    )
    templates, merged, decided = _group_tokens(
        skeletons, weights, words, word_threshold=word_threshold
    )
    # Rendering (see `render`): a placeholder run the template leaves `<*>` shows its
    # masked tokens; any other skeleton token shows its decided text once. The decided
    # tokens are in skeleton order, the skeleton tokens are the kept rows in the same
    # order, so the running count of kept rows indexes each row's decided token.
    # All in token ids; the texts are gathered once, for the tokens shown.
    vocabulary = pl.Series("shown", words, dtype=pl.String)
    skeleton_row = pl.col("kept").cast(pl.Int64).cum_sum() - 1
    wildcards = vocabulary == WILDCARD  # a variable column's token can be a bare `<*>` too
    shown = (
        tokens.select(
            "line",
            "id",
            "absorbed",
            "kept",
            pl.lit(decided["token"]).gather(skeleton_row).alias("decided"),
        )
        .select(
            "line",
            pl.when(pl.col("absorbed") & pl.lit(wildcards).gather(pl.col("decided")))
            .then("id")
            .when("kept")
            .then("decided")
            .alias("shown"),
        )
        .drop_nulls("shown")
        .select("line", pl.lit(vocabulary).gather(pl.col("shown")))
        .group_by("line", maintain_order=True)
        .agg(pl.col("shown").str.join(" "))
    )
    rendered = [""] * len(lines)
    for line, text in zip(shown["line"].to_list(), shown["shown"].to_list(), strict=True):
        rendered[line] = text
    return templates, merged, rendered


def distinct_rows(
    values: pl.Series, counts: pl.Series | None = None
) -> tuple[pl.Series, pl.Series, pl.Series]:
    """Return the distinct values, their counts and each row's index among the values.

    Values come in order of first appearance; a value's count is its number of rows, or
    the sum of ``counts`` over its rows when given. One grouping of the texts: each
    distinct value collects its row numbers, which are then scattered back, so no second
    pass (a join) hashes the texts again.
    """
    frame = values.to_frame("value").with_row_index("row")
    total = pl.len()
    if counts is not None:
        frame = frame.with_columns(counts.alias("count"))
        total = pl.col("count").sum()
    grouped = (
        frame.group_by("value", maintain_order=True)
        .agg("row", total.alias("count"))
        .with_row_index("index")
    )
    members = grouped.select("index", "row").explode("row")
    rows = pl.zeros(values.len(), dtype=pl.UInt32, eager=True).scatter(
        members["row"], members["index"]
    )
    return grouped["value"], grouped["count"], rows


# What `str.split()` splits out: Python's whitespace is exactly the regex engine's
# Unicode `\s` plus the four separators \x1c-\x1f (checked over every code point).
_TOKEN = r"[^\s\x1c-\x1f]+"
# The ASCII whitespace other than the space, and those separators: in an ASCII line
# without any of them, `str.split()` is splitting on single spaces, empty parts dropped.
_OTHER_SPACE = r"[\t\n\x0B\x0C\r\x1c-\x1f]"


def _split(lines: Sequence[str]) -> pl.DataFrame:
    """Return ``line, text``: the tokens of each line as ``str.split()`` gives them, in order."""
    text = pl.col("text")
    frame = pl.DataFrame({"text": lines}, schema={"text": pl.String}).select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("line"),
        text,
        (~text.str.contains(_OTHER_SPACE) & (text.str.len_bytes() == text.str.len_chars())).alias(
            "plain"
        ),
    )
    # Splitting on a literal is several times cheaper than extracting regex matches, so
    # only the lines that need it (other whitespace, non-ASCII) take the regex.
    plain = frame.filter("plain").select("line", text.str.split(" "))
    other = frame.filter(~pl.col("plain"))
    if other.height:
        plain = pl.concat([plain, other.select("line", text.str.extract_all(_TOKEN))]).sort(
            "line", maintain_order=True
        )
    return plain.explode("text", keep_nulls=False).filter(text != "")


def _skeleton_frame(lines: Sequence[str]) -> tuple[pl.DataFrame, list[str]]:
    """Return one row per token of every line, with what :func:`skeleton` makes of it.

    Also returns the distinct token texts. Columns: ``line``, ``text``, ``id`` (the
    text's index in that list), ``first`` (the line's first token), ``absorbed`` (part
    of a placeholder run) and ``kept`` (starts a skeleton token). The loop of
    :func:`skeleton` as column operations: a token is absorbed when it is a placeholder,
    or a unit right after an absorbed token; it is dropped when it repeats the shape of
    the token before it (a list item).
    """
    tokens = _split(lines)
    distinct, _, ids = distinct_rows(tokens["text"])
    texts = distinct.to_list()
    kinds = [_kind(token) for token in texts]
    # Shapes as numbers: only their equality matters.
    shapes: dict[str | None, int | None] = {None: None}
    kind_frame = pl.DataFrame(
        {
            "placeholder": [kind[0] for kind in kinds],
            "unit": [kind[1] for kind in kinds],
            "shape": [shapes.setdefault(kind[2], len(shapes)) for kind in kinds],
        },
        schema={"placeholder": pl.Boolean, "unit": pl.Boolean, "shape": pl.Int64},
    )
    tokens = tokens.with_columns(
        ids.cast(pl.Int64).alias("id"), *(kind.gather(ids) for kind in kind_frame.get_columns())
    )
    line, first = pl.col("line"), pl.col("first")
    placeholder = pl.col("placeholder")
    absorbed = pl.col("absorbed")
    # Absorbed: the placeholder flag of the last token that is not a bare unit, within
    # the line (a unit opening a line is not absorbed).
    after_absorbed = absorbed.shift(1, fill_value=False) & ~first
    previous_shape = pl.when(first | after_absorbed).then(None).otherwise(pl.col("shape").shift(1))
    repeated = (~absorbed & (pl.col("shape") == previous_shape)).fill_null(False)
    frame = (
        tokens.with_columns((line != line.shift(1)).fill_null(True).alias("first"))
        .with_columns(
            pl.when(placeholder | ~pl.col("unit"))
            .then(placeholder)
            .when(first)
            .then(False)
            .otherwise(None)
            .forward_fill()
            .alias("absorbed")
        )
        .with_columns(((absorbed & ~after_absorbed) | (~absorbed & ~repeated)).alias("kept"))
        .select("line", "text", "id", "first", "absorbed", "kept")
    )
    return frame, texts


def _group_tokens(
    tokens: pl.DataFrame, weights: Sequence[int], words: list[str], *, word_threshold: int
) -> tuple[list[Tokens], list[Tokens], pl.DataFrame]:
    """Group the skeleton tokens ``line, pos, token`` (ids into ``words``).

    The rows must come in line order and, within a line, in position order; every step
    below keeps that order (per-line values are gathered, not joined), so no sort is
    needed. Returns the own and merged templates of each line and the decided tokens
    (``line, pos, token`` in the same order, ids into ``words``, which gains the
    variable tokens).
    """
    line_count = len(weights)
    all_lines = pl.DataFrame({"line": range(line_count)}, schema={"line": pl.Int64})

    def per_line(frame: pl.DataFrame, column: str) -> pl.Series:
        """Return ``column`` of a frame of one row per line, for every token row."""
        values = all_lines.join(frame, on="line", how="left", maintain_order="left")[column]
        return values.gather(tokens["line"])

    weight_of = pl.Series("weight", weights, dtype=pl.Int64)
    tokens = tokens.with_columns(weight_of.gather(tokens["line"]))
    widths = tokens.group_by("line").agg(pl.len().alias("width"))
    # Pairs of integer keys are packed into one integer (`high * size + low`): polars
    # groups and joins on one integer column several times faster than on two. Every
    # packed value stays below (token rows) x (vocabulary or lines seen), far from
    # 2**63 for any batch that fits in memory.
    size = len(words)
    pos, token, line = pl.col("pos"), pl.col("token"), pl.col("line")
    # How often each token stands at its position, over all lines.
    tokens = tokens.with_columns(pl.col("weight").sum().over(pos * size + token).alias("freq"))
    # The anchor: the frequency most of a line's tokens share; on a tie the rarer one,
    # the more specific. Ranked by one number: shared count first, then lower frequency.
    top = (tokens["freq"].max() or 0) + 1
    cell = pl.col("cell")
    anchors = (
        tokens.group_by((line * top + pl.col("freq")).alias("cell"))
        .len()
        .group_by((cell // top).alias("line"))
        .agg((pl.col("len") * top + (top - 1) - cell % top).max().alias("rank"))
        .select("line", ((top - 1) - pl.col("rank") % top).alias("anchor"))
    )
    tokens = tokens.with_columns(per_line(anchors, "anchor"))
    # A group: lines of one width whose anchor tokens (with positions) are the same.
    keys = (
        tokens.filter(pl.col("freq") == pl.col("anchor"))
        .group_by("line", maintain_order=True)
        .agg(pl.col("pos").alias("anchor_pos"), pl.col("token").alias("anchor_token"))
        .join(widths, on="line")
    )
    groups = (
        keys.select("width", "anchor_pos", "anchor_token")
        .unique(maintain_order=True)
        .with_row_index("group")
    )
    keys = keys.join(groups, on=["width", "anchor_pos", "anchor_token"]).select("line", "group")
    # A column (a group's position) as one number: each group's columns are numbered
    # after those of the groups before it.
    offsets = groups["width"].cum_sum() - groups["width"]
    tokens = tokens.with_columns((offsets.gather(per_line(keys, "group")) + pos).alias("column"))
    # Only columns of several values are looked at further: a column varies when one of
    # its tokens differs from the one any of its lines holds there (the last written).
    # (`scatter` writes into the series it is called on: each one here is new.)
    column, columns_count = tokens["column"], groups["width"].sum()
    held = pl.zeros(columns_count, dtype=pl.Int64, eager=True).scatter(column, tokens["token"])
    varies = pl.zeros(columns_count, dtype=pl.Boolean, eager=True).scatter(
        column.filter(tokens["token"] != held.gather(column)), True
    )
    moving = tokens.with_row_index("row").filter(varies.gather(column))
    # What the columns need of a word, once per vocabulary word rather than per row.
    word = pl.col("word")
    vocabulary_frame = pl.DataFrame(
        {"token": range(len(words)), "word": words},
        schema={"token": pl.Int64, "word": pl.String},
    ).with_columns(
        word.str.contains(r"\d|<\*>").alias("valued"),
        word.str.reverse().alias("reversed"),
        word.str.len_chars().alias("chars"),
    )
    # The aggregations are plain ones (polars' fast path), the string work done per
    # word above.
    columns = (
        moving.group_by((pl.col("column") * size + token).alias("cell"))
        .agg(pl.col("weight").sum())
        .select((cell // size).alias("column"), (cell % size).alias("token"), "weight")
        .join(vocabulary_frame, on="token")
        .group_by("column")
        .agg(
            pl.len().alias("distinct"),
            pl.col("weight").max().alias("most"),
            pl.col("valued").all(),
            word.min().alias("low"),
            word.max().alias("high"),
            pl.col("reversed").min().alias("low_reversed"),
            pl.col("reversed").max().alias("high_reversed"),
            pl.col("chars").min().alias("shortest"),
        )
    )
    # Only columns with more than one value can be variable; a column the whole group
    # agrees on keeps its token, whatever its frequency. A column of values (digits or
    # masked parts) is variable from two values on, a column of words from
    # `word_threshold`, and any column whose every value was seen once.
    thresholds = pl.when(pl.col("valued")).then(2).otherwise(word_threshold)
    # The common prefix of all values is that of the smallest and the largest.
    # Few columns differ in their bounds (long lines repeat their structure): one call each.
    variable_of: dict[tuple, str] = {}
    variables = [
        variable_of.get(bounds) or variable_of.setdefault(bounds, _variable_token(*bounds))
        for bounds in columns.select(
            "low", "high", "low_reversed", "high_reversed", "shortest"
        ).iter_rows()
    ]
    first_new = len(words)
    words.extend(variables)
    varying = columns.select(
        "column",
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
    changed = moving.join(varying, on="column", how="left").select(
        "row", pl.when(is_variable).then(pl.col("variable")).otherwise(token).alias("token")
    )
    decided = tokens.select(
        "line",
        "pos",
        tokens["token"].clone().scatter(changed["row"], changed["token"]).alias("token"),
    )
    by_line = decided.group_by("line", maintain_order=True).agg("token")
    templates: list[Tokens] = [()] * line_count
    for line, template in zip(by_line["line"].to_list(), by_line["token"].to_list(), strict=True):
        templates[line] = tuple(map(words.__getitem__, template))
    return templates, _merge(templates, weights), decided


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
    """Return the templates with near-equal ones folded into the most frequent form.

    Forms and keys are numbered once, so the loops below hash integers rather than
    templates of hundreds of tokens.
    """
    form_of: dict[Tokens, int] = {}
    line_forms = [form_of.setdefault(template, len(form_of)) for template in templates]
    forms = list(form_of)
    form_weights = [0] * len(forms)
    for form, weight in zip(line_forms, weights, strict=True):
        form_weights[form] += weight
    key_of: dict[Tokens, int] = {}
    keyed: dict[int, Counter[int]] = {}
    for form, template in enumerate(forms):
        key = key_of.setdefault(tuple([t for t in template if t != WILDCARD]), len(key_of))
        keyed.setdefault(key, Counter())[form] += form_weights[form]
    keys = list(key_of)
    sizes = [sum(keyed[key].values()) for key in range(len(keys))]
    by_length: dict[int, list[int]] = defaultdict(list)
    for key, tokens in enumerate(keys):
        by_length[len(tokens)].append(key)
    for key in sorted(range(len(keys)), key=lambda k: (sizes[k], keys[k])):
        if len(keys[key]) < _MIN_MERGE_TOKENS or key not in keyed:
            continue
        for shorter in by_length[len(keys[key]) - 1]:
            if (
                shorter in keyed
                and sizes[shorter] >= sizes[key]
                and _one_more(keys[key], keys[shorter])
            ):
                keyed[shorter].update(keyed.pop(key))
                sizes[shorter] += sizes[key]
                break
    canonical = list(range(len(forms)))
    for members in keyed.values():
        best = max(members.items(), key=lambda item: (item[1], forms[item[0]]))[0]
        for form in members:
            canonical[form] = best
    return [forms[canonical[form]] for form in line_forms]
