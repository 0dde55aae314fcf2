"""Hand-built Plans shared by the render tests, and the guarantees every format must keep.

The other test_render_*.py modules import the builders from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from planner.model import UNKNOWN, Address
from planner.plan_model import Action, AttributeDiff, Change, Drift, Operation, Plan
from planner.render import render_json, render_markdown, render_text

SECRET = "-----BEGIN PRIVATE KEY-----SECRETBYTES"
ZONE = "example.com"
ZONE_ID = "023e105f4ecef8ad9ca31a8372d0c353"
LINEAGE = "8e7c6a41-3d0f-4a55-9c1e-5b2f7d9a0c11"

APP_CERT = Address("aop_hostname_certificate", "app")
APP_BINDING = Address("aop_hostname_binding", "app")
ZONE_CERT = Address("aop_zone_certificate", "main")
SSL_MODE = Address("aop_ssl_mode", "main")
GLOBAL = Address("aop_global", "main")
OLD_BINDING = Address("aop_hostname_binding", "legacy")

RENDERERS: dict[str, Callable[[Plan], str]] = {
    "text": lambda plan: render_text(plan, color=False),
    "text-color": lambda plan: render_text(plan, color=True),
    "json": render_json,
    "markdown": render_markdown,
}


def diff(name: str, before: object, after: object, **flags: bool) -> AttributeDiff:
    return AttributeDiff(name, before, after, **flags)


def cert_create(address: Address = APP_CERT) -> Change:
    return Change(
        address,
        Action.CREATE,
        ZONE,
        ZONE_ID,
        "",
        (
            diff("fingerprint_sha256", None, "ab12cd"),
            diff("id", None, UNKNOWN),
            diff("private_key", None, SECRET, sensitive=True),
            diff("zone", None, ZONE),
        ),
    )


def binding_update() -> Change:
    return Change(
        APP_BINDING,
        Action.UPDATE,
        ZONE,
        ZONE_ID,
        "re-point api.example.com",
        (
            diff("certificate_id", "old-cert", UNKNOWN),
            diff("enabled", True, True),
            diff(
                "hostnames",
                ["api.example.com", "app.example.com", "www.example.com"],
                ["app.example.com", "new.example.com", "www.example.com"],
            ),
            diff("zone", ZONE, ZONE),
        ),
        remote_id="app.example.com",
    )


def cert_replace() -> Change:
    return Change(
        ZONE_CERT,
        Action.REPLACE,
        ZONE,
        ZONE_ID,
        "the certificate changed (compared by SHA-256 fingerprint)",
        (
            diff("fingerprint_sha256", "aaaa", "bbbb", forces_replacement=True),
            diff("id", "cert-1", UNKNOWN),
            diff("private_key", SECRET, SECRET, sensitive=True),
            diff("zone", ZONE, ZONE),
        ),
        remote_id="cert-1",
    )


def deposed_delete() -> Change:
    return Change(
        APP_CERT,
        Action.DELETE,
        ZONE,
        ZONE_ID,
        "the certificate it replaced is still uploaded",
        remote_id="cert-0",
        deposed=True,
    )


def binding_delete() -> Change:
    return Change(
        OLD_BINDING,
        Action.DELETE,
        ZONE,
        ZONE_ID,
        "it is no longer in the configuration",
        (diff("enabled", True, None), diff("hostnames", ["old.example.com"], None)),
        remote_id="old.example.com",
    )


def ssl_forget() -> Change:
    return Change(
        SSL_MODE,
        Action.FORGET,
        ZONE,
        ZONE_ID,
        "the SSL mode stays as it is at Cloudflare",
        (diff("mode", "full", None), diff("zone", ZONE, None)),
    )


def global_import() -> Change:
    return Change(
        GLOBAL,
        Action.IMPORT,
        ZONE,
        ZONE_ID,
        "Cloudflare already has this value: recorded without a change",
        (diff("enabled", None, True), diff("zone", None, ZONE)),
    )


def cert_wait() -> Change:
    return Change(
        Address("aop_hostname_certificate", "pending"),
        Action.WAIT,
        ZONE,
        ZONE_ID,
        "status pending_deployment",
        (diff("id", "cert-9", "cert-9"), diff("zone", ZONE, ZONE)),
        remote_id="cert-9",
    )


def binding_drift() -> Drift:
    return Drift(
        APP_BINDING,
        "changed",
        ZONE,
        "app.example.com",
        (diff("certificate_id", "cert-1", "cert-x"),),
    )


def cert_drift_deleted() -> Drift:
    return Drift(ZONE_CERT, "deleted", ZONE, "cert-1")


def operations() -> tuple[Operation, ...]:
    upload = "POST /zones/{zone}/origin_tls_client_auth/hostnames/certificates"
    return (
        Operation(APP_CERT, "write", upload),
        Operation(APP_CERT, "wait", "until the certificate is active"),
        Operation(APP_BINDING, "write", "PUT /zones/{zone}/origin_tls_client_auth/hostnames"),
    )


def every_action_plan() -> Plan:
    """One change of every action, drift of both kinds, notes and API calls."""
    return Plan(
        changes=(
            cert_create(),
            binding_update(),
            cert_replace(),
            deposed_delete(),
            binding_delete(),
            ssl_forget(),
            global_import(),
            cert_wait(),
        ),
        drift=(binding_drift(), cert_drift_deleted()),
        notes=("aop_hostname_certificate.app expires in 12 days",),
        operations=operations(),
        lineage=LINEAGE,
        serial=7,
        options={"targets": [], "replace": ["aop_zone_certificate.main"]},
    )


def rotation_plan() -> Plan:
    """Upload the new certificate, re-point the hostnames, delete the superseded one."""
    return Plan(
        changes=(cert_create(), binding_update(), deposed_delete()),
        operations=operations(),
        lineage=LINEAGE,
        serial=3,
    )


# -- guarantees of every format -----------------------------------------------------------------


def _leaky_plans() -> dict[str, Plan]:
    """Plans where a key could slip out: flagged, unflagged, inside lists and free text."""
    unflagged_key = Change(  # private_key is sensitive by the resource schema
        APP_CERT, Action.UPDATE, ZONE, ZONE_ID, "", (diff("private_key", SECRET, SECRET + "2"),)
    )
    key_in_wrong_attribute = Change(
        GLOBAL,
        Action.UPDATE,
        ZONE,
        ZONE_ID,
        "",
        (diff("enabled", "x", SECRET), diff("hostnames", [], ["a.example.com", SECRET])),
    )
    key_in_text = Plan(
        changes=(replace(cert_create(), reason=f"key {SECRET}\nmore"),),
        notes=(f"note {SECRET}",),
        operations=(Operation(APP_CERT, "write", f"POST {SECRET}"),),
    )
    drift_with_key = Drift(APP_CERT, "changed", ZONE, None, (diff("private_key", SECRET, None),))
    return {
        "every-action": every_action_plan(),
        "unflagged-key": Plan(changes=(unflagged_key,)),
        "key-in-wrong-attribute": Plan(changes=(key_in_wrong_attribute,)),
        "key-in-text": key_in_text,
        "drift-with-key": Plan(changes=(), drift=(drift_with_key,), mode="refresh-only"),
    }


@pytest.mark.parametrize("plan_name", sorted(_leaky_plans()))
@pytest.mark.parametrize("format_name", sorted(RENDERERS))
def test_a_private_key_appears_in_no_rendering(format_name: str, plan_name: str) -> None:
    output = RENDERERS[format_name](_leaky_plans()[plan_name])
    assert "SECRETBYTES" not in output
    assert "PRIVATE KEY" not in output


@pytest.mark.parametrize("format_name", sorted(RENDERERS))
def test_sensitive_attributes_are_shown_as_sensitive(format_name: str) -> None:
    output = RENDERERS[format_name](_leaky_plans()["unflagged-key"])
    expected = '"sensitive": true' if format_name == "json" else "(sensitive value)"
    assert expected in output


@pytest.mark.parametrize("format_name", sorted(RENDERERS))
def test_rendering_twice_gives_the_same_bytes(format_name: str) -> None:
    render = RENDERERS[format_name]
    assert render(every_action_plan()) == render(every_action_plan())


@pytest.mark.parametrize("format_name", sorted(RENDERERS))
def test_input_dict_order_does_not_change_the_output(format_name: str) -> None:
    plan = every_action_plan()
    reordered = replace(plan, options=dict(reversed(list(plan.options.items()))))
    assert list(reordered.options) != list(plan.options)
    assert RENDERERS[format_name](reordered) == RENDERERS[format_name](plan)


@pytest.mark.parametrize("format_name", ["text", "text-color", "markdown"])
def test_attribute_order_does_not_change_human_output(format_name: str) -> None:
    plan = rotation_plan()
    shuffled = replace(
        plan,
        changes=tuple(
            replace(change, attributes=tuple(reversed(change.attributes)))
            for change in plan.changes
        ),
    )
    assert RENDERERS[format_name](shuffled) == RENDERERS[format_name](plan)
