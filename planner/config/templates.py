"""Template strings: `${var.X}`, `${local.X}`, `${TYPE.NAME.ATTR}`, `${file("p")}`, `${env("X")}`.

A string that is exactly one `${...}` yields the raw value (bool, list...); `$${` is a literal
`${`. References to values only the API knows (a certificate's id) cannot be evaluated while
loading: they become `Deferred` values that the planner resolves in dependency order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from planner.model import UNKNOWN, Address

_IDENT = r"[A-Za-z_][A-Za-z0-9_-]*"
_REF_RE = re.compile(rf"^{_IDENT}(\.{_IDENT})*$")
_CALL_RE = re.compile(rf"^({_IDENT})\((.*)\)$", re.DOTALL)
_STRING_RE = re.compile(r'^"((?:[^"\\]|\\.)*)"$', re.DOTALL)
FUNCTIONS = ("file", "env")


class TemplateError(ValueError):
    """A template that cannot be parsed or evaluated; the message is shown to the user."""


@dataclass(frozen=True)
class Ref:
    parts: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Call:
    function: str
    argument: tuple[str | Ref | Call, ...] | Ref  # a string literal (itself a template) or a ref


Expr = Ref | Call
Part = str | Expr


@dataclass(frozen=True)
class Reference:
    """An attribute of another resource that only the planner can resolve."""

    address: Address
    attribute: str

    def __str__(self) -> str:
        return f"{self.address}.{self.attribute}"


@dataclass(frozen=True)
class Deferred:
    """A value waiting on `references`; `parts` mix text and references."""

    parts: tuple[Any, ...]

    @property
    def references(self) -> tuple[Reference, ...]:
        return tuple(p for p in self.parts if isinstance(p, Reference))

    def resolve(self, lookup: Callable[[Reference], Any]) -> Any:
        """The value once references are known, or UNKNOWN while any is unknown."""
        values = [lookup(p) if isinstance(p, Reference) else p for p in self.parts]
        if any(v is UNKNOWN for v in values):
            return UNKNOWN
        if len(values) == 1:
            return values[0]
        return "".join(v if isinstance(v, str) else to_text(v) for v in values)


def to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise TemplateError(f"cannot interpolate a {type(value).__name__} into a string")


def parse(text: str) -> list[Part]:
    """Split a template into literal text and expressions."""
    parts: list[Part] = []
    buffer: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            buffer.append("${")
            i += 3
        elif text.startswith("${", i):
            end = _closing_brace(text, i + 2)
            if buffer:
                parts.append("".join(buffer))
                buffer = []
            parts.append(parse_expression(text[i + 2 : end].strip()))
            i = end + 1
        else:
            buffer.append(text[i])
            i += 1
    if buffer:
        parts.append("".join(buffer))
    return parts


def _closing_brace(text: str, start: int) -> int:
    depth, i, in_string = 0, start, False
    while i < len(text):
        char = text[i]
        if in_string:
            if char == "\\":
                i += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif text.startswith("${", i):
            depth += 1
            i += 1
        elif char == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise TemplateError(f"unterminated '${{' in {text!r}")


def parse_expression(source: str) -> Expr:
    if not source:
        raise TemplateError("empty expression '${}'")
    call = _CALL_RE.match(source)
    if call:
        name, argument = call.group(1), call.group(2).strip()
        if name not in FUNCTIONS:
            raise TemplateError(
                f"unknown function {name!r}; available: {', '.join(f + '()' for f in FUNCTIONS)}"
            )
        string = _STRING_RE.match(argument)
        if string:
            literal = string.group(1).replace('\\"', '"').replace("\\\\", "\\")
            return Call(name, tuple(parse(literal)))
        if _REF_RE.match(argument):
            return Call(name, Ref(tuple(argument.split("."))))
        raise TemplateError(f'{name}() takes one argument, a "quoted string" or a reference')
    if _REF_RE.match(source):
        return Ref(tuple(source.split(".")))
    raise TemplateError(f"cannot parse expression {source!r}")


def references(parts: list[Part]) -> list[Ref]:
    """Every reference in a parsed template, including those inside function arguments."""
    found: list[Ref] = []
    for part in parts:
        if isinstance(part, Ref):
            found.append(part)
        elif isinstance(part, Call):
            argument = part.argument
            found.extend([argument] if isinstance(argument, Ref) else references(list(argument)))
    return found


def has_template(text: str) -> bool:
    return "${" in text
