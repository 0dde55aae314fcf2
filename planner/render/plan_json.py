"""Plan ↔ JSON: the canonical, documented form of a plan (schemas/plan.schema.json).

Named plan_json.py, not json.py, so that it never shadows the standard library's `json`.

Encoding rules (also written in the schema):
- An attribute value is null, a string, a boolean, a number, a list of values, or the marker
  `{"unknown": true}` for UNKNOWN ("(known after apply)"). Lists and tuples both become lists.
- A sensitive attribute is written with `"sensitive": true` and both values null: its value is
  never serialised, so it comes back as None. Every other part of a plan round-trips exactly:
  `plan_from_dict(plan_to_dict(plan)) == plan` (with lists, not tuples, inside values).
- Options hold JSON-native values only (strings, numbers, booleans, null, lists, objects).

This module also owns the two secret guards every renderer uses: `is_sensitive()` and
`redact()`, so text, JSON and Markdown hide exactly the same things.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, Final

import jsonschema

from planner.keytext import HIDDEN, hide_private_keys, holds_private_key
from planner.model import RESOURCE_TYPES, UNKNOWN, Address
from planner.plan_model import Action, AttributeDiff, Change, Drift, Operation, Plan

FORMAT_VERSION: Final = "1"
SCHEMA_NAME: Final = "plan.schema.json"
SENSITIVE_TEXT: Final = HIDDEN
_UNKNOWN_MARKER: Final = {"unknown": True}


# -- secret guards ------------------------------------------------------------------------------


def _holds_private_key(value: Any) -> bool:
    if isinstance(value, str):
        return holds_private_key(value)
    if isinstance(value, list | tuple):
        return any(_holds_private_key(item) for item in value)
    return False


def is_sensitive(address: Address, diff: AttributeDiff) -> bool:
    """Whether a diff's values must be hidden.

    Beyond the diff's own flag, the resource type's schema and the values themselves are
    checked: a private key must never be printed even if a caller forgot to flag it.
    """
    if diff.sensitive:
        return True
    resource_type = RESOURCE_TYPES.get(address.type)
    declared = resource_type.attribute(diff.name) if resource_type else None
    if declared is not None and declared.sensitive:
        return True
    return _holds_private_key(diff.before) or _holds_private_key(diff.after)


def redact(text: str) -> str:
    """Free text (reasons, notes, API call descriptions) with any PEM private key hidden."""
    return hide_private_keys(text)


# -- values -------------------------------------------------------------------------------------


def _encode_value(value: Any) -> Any:
    if value is UNKNOWN:
        return dict(_UNKNOWN_MARKER)
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_encode_value(item) for item in value]
    # The value itself is never quoted: it could be secret.
    raise TypeError(f"a plan cannot hold a value of type {type(value).__name__}")


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        return UNKNOWN  # the schema admits no other object
    if isinstance(value, list):
        return [_decode_value(item) for item in value]
    return value


def _json_native(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_json_native(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _json_native(item) for key, item in value.items()}
    raise TypeError(f"plan options must be JSON values, not {type(value).__name__}")


# -- plan → dict --------------------------------------------------------------------------------


def attribute_to_dict(address: Address, diff: AttributeDiff) -> dict[str, Any]:
    sensitive = is_sensitive(address, diff)
    return {
        "name": diff.name,
        "before": None if sensitive else _encode_value(diff.before),
        "after": None if sensitive else _encode_value(diff.after),
        "sensitive": sensitive,
        "forces_replacement": diff.forces_replacement,
    }


def _attributes_to_list(
    address: Address, attributes: tuple[AttributeDiff, ...]
) -> list[dict[str, Any]]:
    return [attribute_to_dict(address, diff) for diff in attributes]


def _change_to_dict(change: Change) -> dict[str, Any]:
    return {
        "address": str(change.address),
        "action": change.action.value,
        "zone": change.zone,
        "zone_id": change.zone_id,
        "reason": redact(change.reason),
        "remote_id": change.remote_id,
        "deposed": change.deposed,
        "attributes": _attributes_to_list(change.address, change.attributes),
    }


def _drift_to_dict(drift: Drift) -> dict[str, Any]:
    return {
        "address": str(drift.address),
        "kind": drift.kind,
        "zone": drift.zone,
        "remote_id": drift.remote_id,
        "attributes": _attributes_to_list(drift.address, drift.attributes),
    }


def _operation_to_dict(operation: Operation) -> dict[str, Any]:
    return {
        "address": str(operation.address),
        "kind": operation.kind,
        "description": redact(operation.description),
    }


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-ready data, following schemas/plan.schema.json."""
    summary = plan.summary
    return {
        "format_version": FORMAT_VERSION,
        "mode": plan.mode,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "summary": {
            "add": summary.add,
            "change": summary.change,
            "destroy": summary.destroy,
            "import": summary.imported,
        },
        "changes": [_change_to_dict(change) for change in plan.changes],
        "drift": [_drift_to_dict(drift) for drift in plan.drift],
        "notes": [redact(note) for note in plan.notes],
        "operations": [_operation_to_dict(operation) for operation in plan.operations],
        "options": _json_native(plan.options),
    }


def canonical_json(data: Any) -> str:
    """Byte-stable JSON: sorted keys, two-space indent, ASCII only, trailing newline."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=True, allow_nan=False) + "\n"


def render_json(plan: Plan) -> str:
    return canonical_json(plan_to_dict(plan))


# -- dict → plan --------------------------------------------------------------------------------


@cache
def load_plan_schema() -> dict[str, Any]:
    text = resources.files("schemas").joinpath(SCHEMA_NAME).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_plan_dict(data: Any) -> None:
    """Raise ValueError naming the first place where `data` departs from the plan schema.

    The message names the JSON path and the failed rule, never the offending value (which
    could be a key pasted into a hand-edited plan file).
    """
    validator = jsonschema.Draft202012Validator(load_plan_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        raise ValueError(f"not a valid aopctl plan: {error.json_path}: fails {error.validator!r}")


def attribute_from_dict(data: dict[str, Any]) -> AttributeDiff:
    return AttributeDiff(
        name=data["name"],
        before=_decode_value(data["before"]),
        after=_decode_value(data["after"]),
        sensitive=data["sensitive"],
        forces_replacement=data["forces_replacement"],
    )


def _attributes_from_list(items: list[dict[str, Any]]) -> tuple[AttributeDiff, ...]:
    return tuple(attribute_from_dict(item) for item in items)


def _change_from_dict(data: dict[str, Any]) -> Change:
    return Change(
        address=Address.parse(data["address"]),
        action=Action(data["action"]),
        zone=data["zone"],
        zone_id=data["zone_id"],
        reason=data["reason"],
        attributes=_attributes_from_list(data["attributes"]),
        remote_id=data["remote_id"],
        deposed=data["deposed"],
    )


def _drift_from_dict(data: dict[str, Any]) -> Drift:
    return Drift(
        address=Address.parse(data["address"]),
        kind=data["kind"],
        zone=data["zone"],
        remote_id=data["remote_id"],
        attributes=_attributes_from_list(data["attributes"]),
    )


def _operation_from_dict(data: dict[str, Any]) -> Operation:
    return Operation(Address.parse(data["address"]), data["kind"], data["description"])


def plan_from_dict(data: Any) -> Plan:
    """The Plan that `plan_to_dict` wrote; ValueError if `data` does not follow the schema.

    `summary` is derived from the changes and is not read back; the saved-plan keys
    (`checksum`, `live`, ...) are ignored here.
    """
    validate_plan_dict(data)
    return Plan(
        changes=tuple(_change_from_dict(item) for item in data["changes"]),
        drift=tuple(_drift_from_dict(item) for item in data["drift"]),
        notes=tuple(data["notes"]),
        operations=tuple(_operation_from_dict(item) for item in data["operations"]),
        lineage=data["lineage"],
        serial=data["serial"],
        mode=data["mode"],
        options=data["options"],
    )
