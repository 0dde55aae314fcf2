"""Builds `schemas/config.schema.json` from the resource table in `planner.model`.

The table is the single source of truth; a test checks the committed schema is up to date.
Regenerate with `python -m planner.config.schemagen > schemas/config.schema.json`.
"""

from __future__ import annotations

import json
from typing import Any

from planner.model import NAME_PATTERN, RESOURCE_TYPES, Attribute, Kind, ResourceType

TEMPLATE = {"type": "string", "pattern": r"^\$\{.*\}$"}
ADDRESS_PATTERN = rf"^({'|'.join(RESOURCE_TYPES)})\.{NAME_PATTERN}$"
COMMENT = {"description": "A comment: keys named // are ignored anywhere."}


def _attribute_schema(attribute: Attribute) -> dict[str, Any]:
    if attribute.kind is Kind.BOOL:
        return {
            "anyOf": [{"type": "boolean"}, {"$ref": "#/$defs/template"}],
            "x-expected": "a boolean (or a lone ${...} template)",
        }
    if attribute.kind is Kind.LIST_OF_STRINGS:
        items = {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 255},
            "minItems": 1,
            "maxItems": 100,
            "uniqueItems": True,
        }
        return {
            "anyOf": [items, {"$ref": "#/$defs/template"}],
            "x-expected": "a list of 1 to 100 distinct strings (or a lone ${...} template)",
        }
    if attribute.choices:
        return {
            "anyOf": [{"enum": list(attribute.choices)}, {"$ref": "#/$defs/template"}],
            "x-expected": "one of " + ", ".join(map(json.dumps, attribute.choices)),
        }
    return {"type": "string", "minLength": 1}


def _resource_schema(resource_type: ResourceType) -> dict[str, Any]:
    properties: dict[str, Any] = {"//": COMMENT}
    for attribute in resource_type.attributes:
        schema = _attribute_schema(attribute)
        if attribute.sensitive:
            schema["x-sensitive"] = True
        properties[attribute.name] = schema
    properties["depends_on"] = {
        "type": "array",
        "items": {"type": "string", "pattern": ADDRESS_PATTERN},
        "uniqueItems": True,
    }
    properties["lifecycle"] = {
        "type": "object",
        "properties": {"//": COMMENT, "prevent_destroy": {"type": "boolean"}},
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "description": resource_type.description,
        "properties": properties,
        "required": [a.name for a in resource_type.attributes if a.required],
        "additionalProperties": False,
    }


def _named(value_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "propertyNames": {"pattern": f"^(//|{NAME_PATTERN})$"},
        "additionalProperties": value_schema,
        "properties": {"//": COMMENT},
    }


def build() -> dict[str, Any]:
    resources = {name: _named({"$ref": f"#/$defs/{name}"}) for name in RESOURCE_TYPES}
    resources["//"] = COMMENT
    variable = {
        "type": "object",
        "properties": {
            "//": COMMENT,
            "type": {"enum": ["string", "number", "bool", "list", "map", "any"]},
            "default": {},
            "description": {"type": "string"},
            "sensitive": {"type": "boolean"},
        },
        "additionalProperties": False,
    }
    output = {
        "type": "object",
        "properties": {
            "//": COMMENT,
            "value": {},
            "description": {"type": "string"},
            "sensitive": {"type": "boolean"},
        },
        "required": ["value"],
        "additionalProperties": False,
    }
    state = {
        "type": "object",
        "properties": {
            "//": COMMENT,
            "backend": {"enum": ["local", "postgres"]},
            "path": {"type": "string", "minLength": 1},
            "schema": {"type": "string", "minLength": 1},
            "workspace": {"type": "string", "minLength": 1},
        },
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:aopctl:schema:config",
        "title": "aopctl configuration file (*.aop.json)",
        "type": "object",
        "properties": {
            "//": COMMENT,
            "variable": _named(variable),
            "locals": {"type": "object"},
            "resource": {
                "type": "object",
                "properties": resources,
                "additionalProperties": False,
            },
            "output": _named(output),
            "aopctl": {
                "type": "object",
                "properties": {"//": COMMENT, "state": state},
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
        "$defs": {
            "template": TEMPLATE,
            **{name: _resource_schema(t) for name, t in RESOURCE_TYPES.items()},
        },
    }


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


if __name__ == "__main__":
    print(render(), end="")
