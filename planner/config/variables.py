"""Variable values: `--var` > `--var-file` > `AOP_VAR_<NAME>` > `default`."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.config.source import json_path, parse_json, read_text, strip_comments
from planner.errors import Diagnostic

ENV_PREFIX = "AOP_VAR_"


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


MISSING: Any = _Sentinel("MISSING")
# A value given but unusable: reported once, at the variable; its uses stay quiet.
INVALID: Any = _Sentinel("INVALID")


@dataclass(frozen=True)
class VariableInputs:
    """Values given from outside the configuration."""

    cli: Mapping[str, str] = field(default_factory=dict)
    files: Sequence[Path] = ()
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Variable:
    name: str
    value: Any  # MISSING when nothing gave it a value, INVALID when it was wrong
    sensitive: bool
    file: str


def parse_cli_vars(pairs: Sequence[str]) -> dict[str, str]:
    """`NAME=VALUE` strings from `--var`; raises ValueError naming a malformed one."""
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            # Never echo the text after '=': it may be a secret.
            raise ValueError(f"--var {name.strip() or '=...'!r}: expected NAME=VALUE")
        values[name.strip()] = value
    return values


def _convert(text: str, declared: str) -> Any:
    """Text from the command line or environment, as the declared type."""
    if declared == "bool":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ValueError("expected true or false")
    # The messages below never include `text`: the variable may be sensitive.
    if declared == "number":
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            raise ValueError("expected a number") from None
    if declared in ("list", "map"):
        try:
            value = json.loads(text)
        except ValueError:
            raise ValueError(f"expected a JSON {declared}") from None
        if not isinstance(value, list if declared == "list" else dict):
            raise ValueError(f"expected a JSON {declared}")
        return value
    return text


_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "bool": bool,
    "number": (int, float),
    "list": list,
    "map": dict,
}


def _check_type(value: Any, declared: str) -> str | None:
    expected = _TYPES.get(declared)
    if expected is None or value in (MISSING, INVALID):
        return None
    if isinstance(value, bool) and declared == "number":
        return "expected a number"
    return None if isinstance(value, expected) else f"expected a {declared}"


def _file_values(
    paths: Sequence[Path], declared: Collection[str]
) -> tuple[dict[str, Any], list[Diagnostic]]:
    values: dict[str, Any] = {}
    diagnostics: list[Diagnostic] = []
    for path in paths:
        try:
            data, problems = parse_json(read_text(path), str(path))
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            diagnostics.append(Diagnostic(str(path), "", f"cannot read variable file: {reason}"))
            continue
        if not problems and not isinstance(data, dict):
            problems = [Diagnostic(str(path), "$", "a variable file must hold a JSON object")]
        diagnostics.extend(problems)
        if not problems:
            data = strip_comments(data)  # `//` keys are comments here too
            diagnostics += [
                Diagnostic(str(path), json_path(name), f"variable {name!r} is not declared")
                for name in sorted(set(data) - set(declared))
            ]
            values.update(data)
    return values, diagnostics


def resolve(
    declared: Mapping[str, tuple[str, Mapping[str, Any]]], inputs: VariableInputs
) -> tuple[dict[str, Variable], list[Diagnostic]]:
    """Values of the declared variables (`declared` maps name -> (file, block))."""
    from_files, diagnostics = _file_values(inputs.files, declared)
    for name in sorted(set(inputs.cli) - set(declared)):
        diagnostics.append(Diagnostic("--var", name, f"variable {name!r} is not declared"))
    variables = {}
    for name, (file, block) in declared.items():
        kind = block.get("type", "any")
        path = json_path("variable", name)
        origin, value, text = _winner(name, block, f"{file}: {path}.default", inputs, from_files)
        try:
            if text is not None:
                value = _convert(text, kind)
        except ValueError as exc:
            diagnostics.append(Diagnostic(file, path, f"value from {origin}: {exc}"))
            value = INVALID
        problem = _check_type(value, kind)
        if problem:
            diagnostics.append(Diagnostic(file, path, f"value from {origin}: {problem}"))
            value = INVALID
        variables[name] = Variable(name, value, bool(block.get("sensitive", False)), file)
    return variables, diagnostics


def _winner(
    name: str,
    block: Mapping[str, Any],
    default_origin: str,
    inputs: VariableInputs,
    from_files: Mapping[str, Any],
) -> tuple[str, Any, str | None]:
    """(origin, value, text still to convert) of the source with the highest precedence; only
    the winner is converted, so a bad lower-precedence value does not hide a good one."""
    if name in inputs.cli:
        return f"--var {name}", MISSING, inputs.cli[name]
    if name in from_files:
        return "--var-file", from_files[name], None
    env_name = ENV_PREFIX + name
    if env_name in inputs.env:
        return f"environment {env_name}", MISSING, inputs.env[env_name]
    return default_origin, block.get("default", MISSING), None
