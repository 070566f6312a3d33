"""Log header formats: split raw lines into header fields and the message ``Content``.

A format names fields in angle brackets, ``<Date> <Time> <Level> <Component>: <Content>``,
as logparser's benchmark settings write them. Text between fields is a regular
expression (so ``\\[<Pid>\\]`` and optional parts such as ``(\\[<PID>\\])?`` work), and
any run of spaces in it matches any run of whitespace. Every field but the last matches
as little as it can; the last (normally ``Content``) takes the rest of the line.

The escape for whitespace is written as the two characters ``\\s``, never built with
``re.sub`` and a ``\\s`` replacement, which Python 3.7+ rejects as a bad escape
(logparser#84).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import polars as pl

from workbench.errors import UsageError

CONTENT = "Content"
_FIELD = re.compile(r"<(\w+)>")
_SPACES = re.compile(r" +")

# The header of each loghub system (logparser's public benchmark settings), and of the
# Train Ticket services of the Nezha dataset. A system's header is input, not tuning.
LOGHUB_FORMATS: dict[str, str] = {
    "Android": "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>",
    "Apache": r"\[<Time>\] \[<Level>\] <Content>",
    "BGL": "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> "
    "<Content>",
    "HDFS": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "HPC": "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
    "Hadoop": r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
    "HealthApp": r"<Time>\|<Component>\|<Pid>\|<Content>",
    "Linux": r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
    "Mac": r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
    "OpenSSH": r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
    "OpenStack": r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
    "Proxifier": r"\[<Time>\] <Program> - <Content>",
    "Spark": "<Date> <Time> <Level> <Component>: <Content>",
    "Thunderbird": r"<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> "
    r"<Component>(\[<PID>\])?: <Content>",
    "Windows": "<Date> <Time>, <Level>                  <Component>    <Content>",
    "Zookeeper": r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
}
# Train Ticket (Nezha):
# `17:35:38.386 INFO  o.s.OrderServiceImpl#365 TraceID: <hex> SpanID: <hex> [...]`
TRAIN_TICKET_FORMAT = "<Time> <Level> <Logger> TraceID: <TraceID> SpanID: <SpanID> <Content>"


@dataclass(frozen=True)
class LogFormat:
    """A header format such as ``<Date> <Time> <Level> <Component>: <Content>``."""

    format: str

    @cached_property
    def fields(self) -> tuple[str, ...]:
        """Return the field names in order."""
        return tuple(_FIELD.findall(self.format))

    @cached_property
    def pattern(self) -> str:
        """Return the anchored regular expression with one named group per field."""
        fields = self.fields
        if not fields:
            raise UsageError(f"log format {self.format!r} names no field such as <Content>")
        parts = _FIELD.split(self.format)
        regex = ["^"]
        for index, part in enumerate(parts):
            if index % 2 == 0:
                regex.append(_SPACES.sub(r"\\s+", part))
            else:
                last = index == len(parts) - 2
                regex.append(f"(?P<{part}>.*)" if last else f"(?P<{part}>.*?)")
        regex.append("$")
        return "".join(regex)

    def parse(self, line: str) -> dict[str, str] | None:
        """Return the fields of one line, or None when the line does not fit the format."""
        found = re.match(self.pattern, line)
        return None if found is None else {k: v or "" for k, v in found.groupdict().items()}

    def expr(self, column: str | pl.Expr) -> pl.Expr:
        """Return a struct expression of the fields of every line (null where it does not fit)."""
        source = pl.col(column) if isinstance(column, str) else column
        return source.str.extract_groups(self.pattern)

    def content_expr(self, column: str | pl.Expr) -> pl.Expr:
        """Return the last field (the message) of each line; the whole line if it does not fit."""
        source = pl.col(column) if isinstance(column, str) else column
        last = self.fields[-1]
        return self.expr(source).struct.field(last).fill_null(source)

    def __post_init__(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as error:
            raise UsageError(
                f"log format {self.format!r} is not a valid pattern: {error}"
            ) from None
