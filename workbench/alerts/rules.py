"""Alerting rule files: Prometheus' own YAML, plus our rule kinds under ``mancerops:``.

The ``groups:`` part is read exactly as Prometheus reads it (``rulefmt``): unknown
fields, duplicate group names, bad durations, bad label names and a rule that is both
``alert`` and ``record`` are refused. Recording rules are accepted and not evaluated.
Our kinds live under a separate top-level key that Prometheus never sees::

    mancerops:
      groups:
        - name: frames
          interval: 30s
          rules:
            - alert: CartsCpuAnomaly
              anomaly: {metric: cpu, service: carts, above: 6, window: 2m, baseline: 30m}
              for: 2m

Prometheus refuses unknown top-level keys, so a file with a ``mancerops:`` part is
loaded into Prometheus through :func:`prometheus_part` (``mancerops alerts export``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.alerts.templates import template_problems
from workbench.errors import RuleFileError

PROMQL = "promql"
THRESHOLD = "threshold"
ANOMALY = "anomaly"
LOG = "log"
TRACE = "trace"
OWN_KINDS = (THRESHOLD, ANOMALY, LOG, TRACE)
OWN_KEY = "mancerops"
DEFAULT_INTERVAL_S = 60.0  # Prometheus' global evaluation_interval default

_GROUP_FIELDS = ("name", "interval", "limit", "rules")
_RULE_FIELDS = ("alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations")
_OWN_RULE_FIELDS = ("alert", "for", "keep_firing_for", "labels", "annotations", *OWN_KINDS)
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_DURATION_UNITS_S = (365 * 86_400, 7 * 86_400, 86_400, 3_600, 60, 1, 0.001)

# Settings of our own kinds: name -> (type, required). Types are checked on load.
_NUMBER = (int, float)
_SPECS: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    THRESHOLD: {
        "metric": ((str,), True),
        "service": ((str,), False),
        "labels": ((dict,), False),
        "above": (_NUMBER, False),
        "below": (_NUMBER, False),
        "lookback": ((str,), False),
    },
    ANOMALY: {
        "metric": ((str,), True),
        "service": ((str,), False),
        "labels": ((dict,), False),
        "detector": ((str,), False),
        "above": (_NUMBER, True),
        "direction": ((str,), False),
        "window": ((str,), False),
        "baseline": ((str,), False),
    },
    LOG: {
        "signal": ((str,), True),
        "service": ((str,), False),
        "above": (_NUMBER, False),
        "window": ((str,), False),
        "baseline": ((str,), False),
    },
    TRACE: {
        "signal": ((str,), True),
        "caller": ((str,), False),
        "callee": ((str,), False),
        "above": (_NUMBER, True),
        "window": ((str,), False),
        "min_calls": ((int,), False),
    },
}
_CHOICES = {
    (ANOMALY, "detector"): ("robust_deviation",),
    (ANOMALY, "direction"): ("up", "down", "both"),
    (LOG, "signal"): ("new_template", "template_rate", "error_spike"),
    (TRACE, "signal"): ("edge_p95", "error_ratio"),
}


@dataclass(frozen=True, slots=True)
class Rule:
    """One alerting rule: Prometheus' (``kind`` "promql", ``expr``) or one of our kinds.

    ``spec`` holds the settings of our kinds (empty for PromQL); ``line`` is the line of
    the rule in its file; ``notes`` lists template constructs our evaluator leaves as
    written (Prometheus itself expands them).
    """

    name: str
    group: str
    kind: str
    expr: str = ""
    for_s: float = 0.0
    keep_firing_for_s: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    spec: Mapping[str, Any] = field(default_factory=dict)
    file: str = ""
    line: int = 0
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Return the identity of the rule in a state file: group, name and position."""
        return f"{self.group}/{self.name}@{self.line}"


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """A group of rules evaluated together every ``interval_s`` seconds."""

    name: str
    interval_s: float
    rules: tuple[Rule, ...]
    file: str = ""
    own: bool = False


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every group of one or more rule files; ``recording`` counts skipped recording rules."""

    groups: tuple[RuleGroup, ...]
    recording: int = 0

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(rule for group in self.groups for rule in group.rules)


def parse_duration(text: str) -> float:
    """Return a Prometheus duration (``1h30m``, ``90s``, ``0``) in seconds; ValueError if bad."""
    text = str(text).strip()
    if text == "0":
        return 0.0
    found = _DURATION.match(text)
    if not text or found is None or not any(found.groups()):
        raise ValueError(f"not a valid duration string: {text!r} (e.g. 30s, 5m, 1h30m)")
    return float(
        sum(int(n) * unit for n, unit in zip(found.groups(), _DURATION_UNITS_S, strict=True) if n)
    )


def load_rules(*paths: str | Path) -> RuleSet:
    """Return the rules of one or more files; raise :class:`RuleFileError` on the first fault."""
    groups: list[RuleGroup] = []
    recording = 0
    for path in paths:
        try:
            text = Path(path).read_text()
        except OSError as error:
            raise RuleFileError(
                f"cannot read the rule file: {error.strerror or error}", path=str(path)
            ) from None
        parsed = parse_rules(text, str(path))
        groups.extend(parsed.groups)
        recording += parsed.recording
    return RuleSet(tuple(groups), recording)


def parse_rules(text: str, path: str = "<rules>") -> RuleSet:
    """Return the rules of one rule file's text; ``path`` names it in errors."""
    reader = _Reader(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise RuleFileError(
            f"not valid YAML: {problem}", path=path, line=mark.line + 1 if mark else None
        ) from None
    if root is None:
        return RuleSet(())
    top = reader.mapping(root, "the file", ("groups", OWN_KEY))
    groups: list[RuleGroup] = []
    recording = 0
    if "groups" in top:
        for group, skipped in reader.groups(top["groups"][1], own=False):
            groups.append(group)
            recording += skipped
    if OWN_KEY in top:
        own = reader.mapping(top[OWN_KEY][1], f"`{OWN_KEY}`", ("groups",))
        if "groups" in own:
            for group, _ in reader.groups(own["groups"][1], own=True):
                groups.append(group)
    return RuleSet(tuple(groups), recording)


def prometheus_part(text: str) -> str:
    """Return a rule file's text without the ``mancerops:`` part, for Prometheus to load."""
    data = yaml.safe_load(text) or {}
    data.pop(OWN_KEY, None)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


Node = yaml.Node


class _Reader:
    """Walks the composed YAML nodes, so every fault is reported with its line."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, message: str, node: Node | None, rule: str | None = None) -> RuleFileError:
        line = node.start_mark.line + 1 if node is not None else None
        return RuleFileError(message, path=self.path, line=line, rule=rule)

    def mapping(
        self, node: Node, what: str, allowed: tuple[str, ...], rule: str | None = None
    ) -> dict[str, tuple[Node, Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(f"{what} must be a mapping, got {_shape(node)}", node, rule)
        found: dict[str, tuple[Node, Node]] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key.value)
            if name in found:
                raise self.fail(f"{what}: field {name!r} is given twice", key, rule)
            if name not in allowed:
                raise self.fail(
                    f"{what}: unknown field {name!r} (allowed: {', '.join(allowed)})", key, rule
                )
            found[name] = (key, value)
        return found

    def scalar(self, node: Node, what: str, rule: str | None = None) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(f"{what} must be a single value, got {_shape(node)}", node, rule)
        return node.value

    def duration(self, node: Node, what: str, rule: str | None) -> float:
        text = self.scalar(node, what, rule)
        try:
            return parse_duration(text)
        except ValueError as error:
            raise self.fail(f"{what}: {error}", node, rule) from None

    def strings(self, node: Node, what: str, rule: str, *, names: str) -> dict[str, str]:
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
            return {}
        fields = self.mapping(node, what, _ANY, rule)
        out: dict[str, str] = {}
        for name, (key, value) in fields.items():
            if not _LABEL_NAME.match(name):
                raise self.fail(f"invalid {names} name {name!r} in {what}", key, rule)
            if name == "__name__" and names == "label":
                raise self.fail(f"{what} may not set __name__", key, rule)
            out[name] = self.scalar(value, f"{what}.{name}", rule)
        return out

    def groups(self, node: Node, *, own: bool):
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
            return
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(f"`groups` must be a list, got {_shape(node)}", node)
        seen: set[str] = set()
        for item in node.value:
            fields = self.mapping(item, "a group", _GROUP_FIELDS)
            if "name" not in fields:
                raise self.fail("a group has no name", item)
            name = self.scalar(fields["name"][1], "group name")
            if not name:
                raise self.fail("a group has an empty name", item)
            if name in seen:
                raise self.fail(f"group {name!r} is defined twice in this file", item, name)
            seen.add(name)
            interval = DEFAULT_INTERVAL_S
            if "interval" in fields:
                interval = self.duration(fields["interval"][1], f"group {name!r} interval", name)
                if interval <= 0:
                    raise self.fail(f"group {name!r}: interval must be above 0", item, name)
            rules: list[Rule] = []
            skipped = 0
            rule_nodes = fields["rules"][1] if "rules" in fields else None
            if rule_nodes is not None and not (
                isinstance(rule_nodes, yaml.ScalarNode) and rule_nodes.tag.endswith(":null")
            ):
                if not isinstance(rule_nodes, yaml.SequenceNode):
                    raise self.fail(f"group {name!r}: `rules` must be a list", rule_nodes, name)
                for rule_node in rule_nodes.value:
                    rule = self.own_rule(rule_node, name) if own else self.rule(rule_node, name)
                    if rule is None:
                        skipped += 1
                    else:
                        rules.append(rule)
            yield RuleGroup(name, interval, tuple(rules), self.path, own), skipped

    def rule(self, node: Node, group: str) -> Rule | None:
        name = _peek(node)
        what = f"rule {name!r} of group {group!r}" if name else f"a rule of group {group!r}"
        fields = self.mapping(node, what, _RULE_FIELDS, name)
        label = self._label(fields, group)
        if "alert" in fields and "record" in fields:
            raise self.fail("a rule has both `alert` and `record`: give one", node, label)
        if "alert" not in fields and "record" not in fields:
            raise self.fail("a rule has neither `alert` nor `record`", node, label)
        if "expr" not in fields or not self.scalar(fields["expr"][1], "expr", label).strip():
            raise self.fail(f"rule {label!r} has no `expr`", node, label)
        expr = self.scalar(fields["expr"][1], "expr", label)
        if "record" in fields:
            name = self.scalar(fields["record"][1], "record", label)
            if not _METRIC_NAME.match(name):
                raise self.fail(f"invalid recording rule name {name!r}", node, label)
            for extra in ("for", "keep_firing_for", "annotations"):
                if extra in fields:
                    raise self.fail(
                        f"recording rule {name!r} may not have `{extra}`", fields[extra][0], label
                    )
            self.strings(fields.get("labels", (None, _NULL))[1], "labels", label, names="label")
            return None
        return self._alert(fields, node, group, label, PROMQL, expr, {})

    def own_rule(self, node: Node, group: str) -> Rule:
        name = _peek(node)
        what = f"rule {name!r} of {OWN_KEY} group {group!r}" if name else "a rule"
        fields = self.mapping(node, what, (*_OWN_RULE_FIELDS, "expr", "record"), name)
        label = self._label(fields, group)
        if "alert" not in fields:
            raise self.fail(f"a rule of {OWN_KEY} group {group!r} has no `alert` name", node)
        for prometheus_only in ("expr", "record"):
            if prometheus_only in fields:
                raise self.fail(
                    f"rule {label!r}: `{prometheus_only}` belongs under the top-level `groups:` "
                    f"(Prometheus' part); under `{OWN_KEY}:` give one of {', '.join(OWN_KINDS)}",
                    fields[prometheus_only][0],
                    label,
                )
        kinds = [kind for kind in OWN_KINDS if kind in fields]
        if len(kinds) != 1:
            raise self.fail(
                f"rule {label!r} needs exactly one rule kind of {', '.join(OWN_KINDS)}"
                + (f", got {', '.join(kinds)}" if kinds else ""),
                node,
                label,
            )
        kind = kinds[0]
        spec = self._spec(kind, fields[kind][1], label)
        return self._alert(fields, node, group, label, kind, "", spec)

    def _alert(self, fields, node, group, label, kind, expr, spec) -> Rule:
        name = self.scalar(fields["alert"][1], "alert", label)
        if not name:
            raise self.fail("an alert has an empty name", node, label)
        for_s = (
            self.duration(fields["for"][1], f"rule {label!r}: for", label)
            if "for" in fields
            else 0.0
        )
        keep = (
            self.duration(fields["keep_firing_for"][1], f"rule {label!r}: keep_firing_for", label)
            if "keep_firing_for" in fields
            else 0.0
        )
        labels = self.strings(
            fields.get("labels", (None, _NULL))[1], "labels", label, names="label"
        )
        annotations = self.strings(
            fields.get("annotations", (None, _NULL))[1], "annotations", label, names="annotation"
        )
        notes = tuple(
            f"{where} {problem}"
            for where, text in (*labels.items(), *annotations.items())
            for problem in template_problems(text)
        )
        return Rule(
            name=name,
            group=group,
            kind=kind,
            expr=expr,
            for_s=for_s,
            keep_firing_for_s=keep,
            labels=labels,
            annotations=annotations,
            spec=spec,
            file=self.path,
            line=node.start_mark.line + 1,
            notes=notes,
        )

    def _spec(self, kind: str, node: Node, label: str) -> dict[str, Any]:
        settings = _SPECS[kind]
        fields = self.mapping(node, f"rule {label!r} {kind}", tuple(settings), label)
        spec: dict[str, Any] = {}
        for name, (key, value) in fields.items():
            loaded = yaml.SafeLoader("").construct_document(value)
            types, _ = settings[name]
            if not isinstance(loaded, types) or isinstance(loaded, bool):
                wanted = " or ".join(t.__name__ for t in types)
                raise self.fail(
                    f"rule {label!r}: {kind}.{name} must be a {wanted}, got {loaded!r}", key, label
                )
            choices = _CHOICES.get((kind, name))
            if choices and loaded not in choices:
                raise self.fail(
                    f"rule {label!r}: {kind}.{name} {loaded!r} is not one of {', '.join(choices)}",
                    value,
                    label,
                )
            if name in ("window", "baseline", "lookback"):
                try:
                    parse_duration(loaded)
                except ValueError as error:
                    raise self.fail(
                        f"rule {label!r}: {kind}.{name}: {error}", value, label
                    ) from None
            spec[name] = loaded
        missing = [
            name for name, (_, required) in settings.items() if required and name not in spec
        ]
        if missing:
            raise self.fail(f"rule {label!r}: {kind} needs {', '.join(missing)}", node, label)
        if kind == THRESHOLD and ("above" in spec) == ("below" in spec):
            raise self.fail(
                f"rule {label!r}: threshold needs one of `above` or `below`", node, label
            )
        if kind == LOG and spec["signal"] != "new_template" and "above" not in spec:
            raise self.fail(
                f"rule {label!r}: log signal {spec['signal']} needs `above`", node, label
            )
        return spec

    def _label(self, fields: dict[str, tuple[Node, Node]], group: str) -> str:
        for key in ("alert", "record"):
            if key in fields and isinstance(fields[key][1], yaml.ScalarNode):
                return fields[key][1].value
        return f"(unnamed rule in group {group})"


class _AnyNames(tuple):
    def __contains__(self, item: object) -> bool:
        return True


_ANY = _AnyNames(("any name",))
_NULL = yaml.ScalarNode("tag:yaml.org,2002:null", "")


def _peek(node: Node) -> str | None:
    """Return the alert or record name of a rule node, before it is checked."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value in ("alert", "record") and isinstance(value, yaml.ScalarNode):
                return value.value
    return None


def _shape(node: Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"{node.value!r}"
