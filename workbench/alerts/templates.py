"""Expand the Go templates of alert labels and annotations the way Prometheus does.

Prometheus runs ``text/template`` with ``$labels``, ``$value``, ``$externalLabels`` and
``$externalURL`` defined and ``missingkey=zero`` (an absent label expands to ""). The
subset here covers what rule files use: ``{{ $labels.x }}``, ``{{ $value }}``,
``{{ index $labels "x" }}``, ``{{ .Labels.x }}``, ``{{ .Value }}``, ``printf`` and the
pipes ``humanize``, ``humanize1024``, ``humanizePercentage``, ``humanizeDuration``,
``toUpper``, ``toLower``, ``title``. Anything else (``if``, ``range``, ``query``...) is left
as written and reported by :func:`template_problems`, never guessed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\||[^\s|]+')
_VERB = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d+))?([vsdfFgGeEqx%])")


class TemplateError(ValueError):
    """A template construct our evaluator does not expand."""


def expand(
    text: str,
    labels: Mapping[str, str],
    value: float,
    *,
    external_labels: Mapping[str, str] | None = None,
    external_url: str = "",
) -> str:
    """Return ``text`` with its ``{{ ... }}`` actions expanded; unsupported ones stay as written."""
    if "{{" not in text:
        return text
    scope = {
        "$labels": dict(labels),
        "$value": value,
        "$externalLabels": dict(external_labels or {}),
        "$externalURL": external_url,
    }
    out: list[str] = []
    position = 0
    for action in _ACTION.finditer(text):
        before = text[position : action.start()]
        out.append(before.rstrip() if action.group(1) else before)
        try:
            out.append(_run(action.group(2).strip(), scope))
        except TemplateError:
            out.append(action.group(0))
        position = action.end()
        if action.group(3):
            rest = text[position:]
            position += len(rest) - len(rest.lstrip())
    out.append(text[position:])
    return "".join(out)


def template_problems(text: str) -> list[str]:
    """Return why each action of ``text`` would stay unexpanded (empty when all expand)."""
    problems = []
    for action in _ACTION.finditer(text):
        try:
            _run(action.group(2).strip(), {"$labels": {}, "$value": 0.0, "$externalLabels": {}})
        except TemplateError as error:
            problems.append(f"{{{{ {action.group(2).strip()} }}}}: {error}")
    return problems


def go_float(value: float) -> str:
    """Return a float as Go's ``%v`` prints it (shortest digits; exponent from 1e6, below 1e-4)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    digits = Decimal(repr(float(value)))
    exponent = digits.adjusted()
    if exponent < -4 or exponent >= 6:
        sign, numerals, _ = digits.as_tuple()
        mantissa = "".join(map(str, numerals)).rstrip("0") or "0"
        body = mantissa[0] + ("." + mantissa[1:] if len(mantissa) > 1 else "")
        return f"{'-' if sign else ''}{body}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    text = format(digits, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _go_g(value: float, precision: int) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.{precision}g}"


def _humanize(value: float) -> str:
    if value == 0 or math.isnan(value) or math.isinf(value):
        return _go_g(value, 4)
    prefix = ""
    if abs(value) >= 1:
        for step in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(value) < 1000:
                break
            prefix, value = step, value / 1000
    else:
        for step in ("m", "u", "n", "p", "f", "a", "z", "y"):
            if abs(value) >= 1:
                break
            prefix, value = step, value * 1000
    return f"{_go_g(value, 4)}{prefix}"


def _humanize_1024(value: float) -> str:
    if abs(value) <= 1 or math.isnan(value) or math.isinf(value):
        return _go_g(value, 4)
    prefix = ""
    for step in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(value) < 1024:
            break
        prefix, value = step, value / 1024
    return f"{_go_g(value, 4)}{prefix}"


def _humanize_duration(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return _go_g(value, 4)
    if value == 0:
        return "0s"
    if abs(value) < 1:
        prefix = ""
        for step in ("m", "u", "n", "p", "f", "a", "z", "y"):
            if abs(value) >= 1:
                break
            prefix, value = step, value * 1000
        return f"{_go_g(value, 4)}{prefix}s"
    sign = "-" if value < 0 else ""
    whole = int(abs(value))
    seconds, minutes, hours, days = whole % 60, whole // 60 % 60, whole // 3600 % 24, whole // 86400
    if days:
        return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
    if hours:
        return f"{sign}{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{sign}{minutes}m {seconds}s"
    return f"{sign}{_go_g(abs(value), 4)}s"


def _number(value: object) -> float:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise TemplateError(f"{value!r} is not a number") from None
    return float(value)  # type: ignore[arg-type]


_PIPES: dict[str, Callable[[object], str]] = {
    "humanize": lambda v: _humanize(_number(v)),
    "humanize1024": lambda v: _humanize_1024(_number(v)),
    "humanizePercentage": lambda v: f"{_go_g(_number(v) * 100, 4)}%",
    "humanizeDuration": lambda v: _humanize_duration(_number(v)),
    "toUpper": lambda v: _text(v).upper(),
    "toLower": lambda v: _text(v).lower(),
    "title": lambda v: _text(v).title(),
}


def _text(value: object) -> str:
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def _run(pipeline: str, scope: dict) -> str:
    if pipeline.startswith("/*"):
        return ""
    tokens = _TOKEN.findall(pipeline)
    commands: list[list[str]] = [[]]
    for token in tokens:
        if token == "|":
            commands.append([])
        else:
            commands[-1].append(token)
    if not commands[0]:
        raise TemplateError("empty action")
    result = _command(commands[0], scope, None)
    for command in commands[1:]:
        result = _command(command, scope, result)
    return _text(result)


def _command(words: list[str], scope: dict, piped: object | None) -> object:
    head, args = words[0], [_operand(word, scope) for word in words[1:]]
    if piped is not None:
        args.append(piped)
    if head == "printf":
        if not args or not isinstance(args[0], str):
            raise TemplateError("printf needs a format string")
        return _printf(args[0], args[1:])
    if head == "index":
        if len(args) != 2 or not isinstance(args[0], dict):
            raise TemplateError("index takes a map and a key")
        return args[0].get(str(args[1]), "")
    if head in _PIPES:
        if len(args) != 1:
            raise TemplateError(f"{head} takes one value")
        return _PIPES[head](args[0])
    if piped is not None or words[1:]:
        raise TemplateError(f"function {head!r} is not supported by mancerops' evaluator")
    return _operand(head, scope)


def _operand(word: str, scope: dict) -> object:
    if word[0] in '"`':
        return word[1:-1].encode().decode("unicode_escape") if word[0] == '"' else word[1:-1]
    if re.fullmatch(r"-?\d+(\.\d*)?([eE][-+]?\d+)?", word):
        return float(word) if any(c in word for c in ".eE") else int(word)
    aliases = {".Labels": "$labels", ".Value": "$value", ".ExternalLabels": "$externalLabels"}
    for alias, name in aliases.items():
        if word == alias or word.startswith(alias + "."):
            word = name + word[len(alias) :]
    root, _, rest = word.partition(".")
    if root not in scope:
        raise TemplateError(f"{word!r} is not supported by mancerops' evaluator")
    value = scope[root]
    for part in rest.split(".") if rest else ():
        if not isinstance(value, dict):
            raise TemplateError(f"{word!r} is not a map field")
        value = value.get(part, "")
    return value


def _printf(form: str, args: list[object]) -> str:
    remaining = list(args)

    def one(verb: re.Match) -> str:
        flags, width, precision, letter = verb.groups()
        if letter == "%":
            return "%"
        if not remaining:
            return f"%!{letter}(MISSING)"
        arg = remaining.pop(0)
        spec = f"%{flags}{width}" + (f".{precision}" if precision is not None else "")
        if letter in "vs":
            return (spec + "s") % _text(arg)
        if letter == "q":
            return '"' + _text(arg).replace("\\", "\\\\").replace('"', '\\"') + '"'
        if letter in "dx":
            return (spec + letter) % int(_number(arg))
        number = _number(arg)
        if math.isnan(number) or math.isinf(number):
            return _go_g(number, 4)
        return (spec + letter) % number

    return _VERB.sub(one, form)
