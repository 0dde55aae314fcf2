"""planner.render.plan_json: canonical JSON, exact round trip, and the published schema."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_render_plans import (
    APP_BINDING,
    APP_CERT,
    SECRET,
    ZONE,
    binding_update,
    cert_create,
    diff,
    every_action_plan,
    rotation_plan,
)

from planner.model import UNKNOWN
from planner.plan_model import Action, AttributeDiff, Change, Plan
from planner.render import (
    canonical_json,
    load_plan_schema,
    plan_from_dict,
    plan_to_dict,
    render_json,
    validate_plan_dict,
)

TOP_LEVEL = {
    "format_version",
    "mode",
    "lineage",
    "serial",
    "summary",
    "changes",
    "drift",
    "notes",
    "operations",
    "options",
}


def without_secrets(plan: Plan) -> Plan:
    """The plan as a round trip returns it: sensitive values become None."""

    def clean(attributes: tuple[AttributeDiff, ...]) -> tuple[AttributeDiff, ...]:
        return tuple(
            replace(a, before=None, after=None) if a.name == "private_key" else a
            for a in attributes
        )

    return replace(
        plan,
        changes=tuple(replace(c, attributes=clean(c.attributes)) for c in plan.changes),
        drift=tuple(replace(d, attributes=clean(d.attributes)) for d in plan.drift),
    )


def validator() -> Any:
    return jsonschema.Draft202012Validator(load_plan_schema())


# -- shape and canonical form -------------------------------------------------------------------


def test_top_level_keys_and_summary() -> None:
    data = plan_to_dict(every_action_plan())
    assert set(data) == TOP_LEVEL
    assert data["format_version"] == "1"
    assert data["summary"] == {"add": 2, "change": 1, "destroy": 4, "import": 1}
    assert [c["action"] for c in data["changes"]] == [
        "create", "update", "replace", "delete", "delete", "forget", "import", "wait",
    ]  # fmt: skip


def test_render_json_is_canonical() -> None:
    plan = every_action_plan()
    output = render_json(plan)
    assert output.endswith("}\n")
    assert output.isascii()
    assert json.loads(output) == plan_to_dict(plan)
    assert output == json.dumps(json.loads(output), sort_keys=True, indent=2) + "\n"
    assert canonical_json(plan_to_dict(plan)) == output


def test_unknown_is_a_marker_object_also_inside_lists() -> None:
    change = Change(
        APP_BINDING, Action.UPDATE, ZONE, None, "", (diff("hostnames", ["a"], ["a", UNKNOWN]),)
    )
    attribute = plan_to_dict(Plan(changes=(change,)))["changes"][0]["attributes"][0]
    assert attribute["after"] == ["a", {"unknown": True}]


def test_sensitive_values_are_null_and_flagged() -> None:
    attributes = plan_to_dict(Plan(changes=(cert_create(),)))["changes"][0]["attributes"]
    key = next(a for a in attributes if a["name"] == "private_key")
    assert key == {
        "name": "private_key",
        "before": None,
        "after": None,
        "sensitive": True,
        "forces_replacement": False,
    }


# -- round trip ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "plan",
    [
        Plan(changes=()),
        Plan(changes=(binding_update(),), mode="destroy", serial=2, lineage="abc"),
        without_secrets(rotation_plan()),
        without_secrets(every_action_plan()),
    ],
)
def test_round_trip_is_exact(plan: Plan) -> None:
    assert plan_from_dict(plan_to_dict(plan)) == plan
    assert plan_from_dict(json.loads(render_json(plan))) == plan


def test_round_trip_drops_only_the_sensitive_values() -> None:
    plan = every_action_plan()
    restored = plan_from_dict(json.loads(render_json(plan)))
    assert restored == without_secrets(plan)
    assert render_json(restored) == render_json(plan)


_scalars = st.none() | st.booleans() | st.integers() | st.text() | st.just(UNKNOWN)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=10)


@given(before=_values, after=_values, forces=st.booleans())
def test_any_attribute_value_round_trips(before: Any, after: Any, forces: bool) -> None:
    change = Change(
        APP_BINDING,
        Action.UPDATE,
        ZONE,
        None,
        "",
        (AttributeDiff("hostnames", before, after, forces_replacement=forces),),
    )
    plan = Plan(changes=(change,))
    assert plan_from_dict(json.loads(render_json(plan))) == plan


def test_values_that_json_cannot_hold_are_refused_without_quoting_them() -> None:
    change = Change(APP_CERT, Action.UPDATE, ZONE, None, "", (diff("id", None, {"secret-ish"}),))
    with pytest.raises(TypeError) as caught:
        plan_to_dict(Plan(changes=(change,)))
    assert "secret-ish" not in str(caught.value)
    with pytest.raises(TypeError):
        plan_to_dict(Plan(changes=(), options={"targets": [APP_CERT]}))


# -- schema -------------------------------------------------------------------------------------


def test_schema_is_valid_2020_12_and_documented() -> None:
    schema = load_plan_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["required"]) == TOP_LEVEL
    assert all("description" in schema["properties"][key] for key in TOP_LEVEL - {"changes"})


def test_schema_enums_match_the_model() -> None:
    action = load_plan_schema()["$defs"]["change"]["properties"]["action"]["enum"]
    assert action == [a.value for a in Action]


@pytest.mark.parametrize(
    "plan",
    [every_action_plan(), rotation_plan(), Plan(changes=()), Plan(changes=(), mode="refresh-only")],
)
def test_rendered_plans_validate(plan: Plan) -> None:
    validator().validate(json.loads(render_json(plan)))


def test_saved_plan_keys_are_allowed() -> None:
    data = plan_to_dict(rotation_plan())
    data.update(
        config_digest="sha256:abc",
        live={"cert-0": "sha256:def"},
        checksum="sha256:123",
        aopctl_version="0.1.0",
        created_at="2026-12-03T12:00:00Z",
    )
    validator().validate(data)
    assert plan_from_dict(data) == without_secrets(rotation_plan())


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("live",), {"cert-0": 3}),
        (("unexpected",), 1),
        (("format_version",), "2"),
        (("mode",), "apply"),
        (("changes", 0, "action"), "upsert"),
        (("changes", 0, "attributes", 0, "after"), {"unknown": False}),
    ],
)
def test_invalid_documents_are_refused(path: tuple[str | int, ...], value: object) -> None:
    data = plan_to_dict(rotation_plan())
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(ValueError, match="not a valid aopctl plan"):
        plan_from_dict(data)


def test_a_key_smuggled_into_a_sensitive_attribute_is_refused_without_echoing_it() -> None:
    data = plan_to_dict(Plan(changes=(cert_create(),)))
    key = next(a for a in data["changes"][0]["attributes"] if a["name"] == "private_key")
    key["after"] = SECRET
    with pytest.raises(ValueError) as caught:
        validate_plan_dict(data)
    assert "SECRETBYTES" not in str(caught.value)
    assert "private" not in str(caught.value).lower()
