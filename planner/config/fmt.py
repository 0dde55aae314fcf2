"""Canonical form of `*.aop.json` files: fixed key order, two-space indentation, final newline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from planner.model import META_ARGUMENTS, RESOURCE_TYPES

TOP_LEVEL = ("//", "variable", "locals", "resource", "output", "aopctl")
VARIABLE_KEYS = ("//", "type", "description", "default", "sensitive")
OUTPUT_KEYS = ("//", "description", "value", "sensitive")
STATE_KEYS = ("//", "backend", "path", "schema", "workspace")


def _ordered(data: dict[str, Any], first: Sequence[str]) -> dict[str, Any]:
    """Keys in `first` in that order, then the rest sorted."""
    known = [k for k in first if k in data]
    rest = sorted(k for k in data if k not in first)
    return {k: data[k] for k in [*known, *rest]}


def _named(data: Any, body_keys: Sequence[str] | None) -> Any:
    if not isinstance(data, dict):
        return data
    ordered = _ordered(data, ("//",))
    if body_keys is None:
        return ordered
    return {k: _ordered(v, body_keys) if isinstance(v, dict) else v for k, v in ordered.items()}


def _resources(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    out = {}
    for type_name, named in _ordered(data, ("//", *RESOURCE_TYPES)).items():
        resource_type = RESOURCE_TYPES.get(type_name)
        keys = ("//", *(resource_type.attribute_names if resource_type else ()), *META_ARGUMENTS)
        out[type_name] = _named(named, keys) if type_name != "//" else named
    return out


def canonical(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    out = _ordered(data, TOP_LEVEL)
    if "variable" in out:
        out["variable"] = _named(out["variable"], VARIABLE_KEYS)
    if "locals" in out:
        out["locals"] = _named(out["locals"], None)
    if "resource" in out:
        out["resource"] = _resources(out["resource"])
    if "output" in out:
        out["output"] = _named(out["output"], OUTPUT_KEYS)
    aopctl = out.get("aopctl")
    if isinstance(aopctl, dict) and isinstance(aopctl.get("state"), dict):
        out["aopctl"] = {**aopctl, "state": _ordered(aopctl["state"], STATE_KEYS)}
    return out


def format_text(data: Any) -> str:
    return json.dumps(canonical(data), indent=2, ensure_ascii=False) + "\n"
