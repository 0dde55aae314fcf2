"""Validation of configuration files against `schemas/config.schema.json`, in words people use."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from planner.config.source import SourceFile, json_path
from planner.errors import Diagnostic
from planner.model import NAME_PATTERN

_TYPE_NAMES = {
    "string": "a string",
    "boolean": "a boolean",
    "object": "an object",
    "array": "a list",
    "number": "a number",
    "integer": "an integer",
}


def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("schemas").joinpath(name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _validator() -> Any:
    return jsonschema.Draft202012Validator(load_schema("config.schema.json"))


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _what(path: list[str | int]) -> str:
    if len(path) == 1:
        return "top-level block"
    if path[:1] == ["resource"]:
        return {2: "resource type", 3: "resource name"}.get(len(path), "attribute")
    return "key"


def _unknown_keys(error: Any) -> Iterator[tuple[list[str | int], str]]:
    allowed = sorted(k for k in error.schema.get("properties", {}) if k != "//")
    path = list(error.absolute_path)
    for key in sorted(set(error.instance) - set(error.schema.get("properties", {}))):
        kind = _what([*path, key])
        yield [*path, key], f"unknown {kind} {key!r}{did_you_mean(key, allowed)}"


def _describe(error: Any) -> Iterator[tuple[list[str | int], str]]:
    path = list(error.absolute_path)
    keyword = error.validator
    if "propertyNames" in error.relative_schema_path:
        # jsonschema reports a bad key at its parent object; point at the key itself.
        yield (
            [*path, error.instance],
            f"invalid name {error.instance!r}: names match {NAME_PATTERN}",
        )
    elif keyword == "additionalProperties":
        yield from _unknown_keys(error)
    elif keyword == "required":
        missing = error.message.split("'")[1]
        yield path, f"missing required attribute {missing!r}"
    elif keyword == "type":
        yield path, f"must be {_TYPE_NAMES.get(error.validator_value, error.validator_value)}"
    elif keyword in ("anyOf", "oneOf"):
        yield path, f"must be {error.schema.get('x-expected', 'a valid value')}"
    elif keyword == "enum":
        yield path, "must be one of " + ", ".join(json.dumps(v) for v in error.validator_value)
    elif keyword == "pattern" and path and path[-2:-1] == ["depends_on"]:
        yield path, f"{error.instance!r} is not a resource address (TYPE.NAME)"
    else:
        yield path, error.message


def validate_file(source: SourceFile) -> list[tuple[tuple[str | int, ...], Diagnostic]]:
    """Every schema problem in the file, with the location of the value at fault."""
    problems = []
    for error in _validator().iter_errors(source.data):
        for path, message in _describe(error):
            problems.append((tuple(path), Diagnostic(source.name, json_path(*path), message)))
    return problems
