"""planner.render.text: Terraform-style plan text, checked line by line and against goldens."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from test_render_plans import (
    APP_BINDING,
    APP_CERT,
    ZONE,
    ZONE_ID,
    binding_drift,
    binding_update,
    cert_create,
    cert_drift_deleted,
    cert_replace,
    cert_wait,
    deposed_delete,
    diff,
    every_action_plan,
    global_import,
    operations,
    rotation_plan,
    ssl_forget,
)

from planner.model import UNKNOWN, Address
from planner.plan_model import Action, AttributeDiff, Change, Plan
from planner.render import render_change, render_text

GOLDEN = Path(__file__).parent / "data" / "render"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def text(plan: Plan) -> str:
    return render_text(plan, color=False)


def block_of(change: Change) -> list[str]:
    return render_change(change).splitlines()


def update(*attributes: AttributeDiff, address: Address = APP_BINDING) -> list[str]:
    change = Change(address, Action.UPDATE, ZONE, ZONE_ID, "", attributes)
    return block_of(change)


# -- goldens ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "plan"),
    [
        ("rotation.txt", rotation_plan()),
        ("every-action.txt", every_action_plan()),
        ("empty.txt", Plan(changes=())),
    ],
)
def test_text_matches_golden(name: str, plan: Plan) -> None:
    assert text(plan) == (GOLDEN / name).read_text(encoding="utf-8")


# -- one header and resource symbol per action --------------------------------------------------


@pytest.mark.parametrize(
    ("change", "header", "resource_line"),
    [
        (replace(cert_create(), reason="new"), "will be created", '  + resource "aop_hostname'),
        (binding_update(), "will be updated in place", '  ~ resource "aop_hostname_binding"'),
        (cert_replace(), "must be replaced", '+/- resource "aop_zone_certificate" "main" {'),
        (deposed_delete(), "will be destroyed", '  - resource "aop_hostname_certificate"'),
        (global_import(), "will be imported", ' <= resource "aop_global" "main" {'),
        (ssl_forget(), "will be forgotten", '  - resource "aop_ssl_mode" "main" {'),
        (cert_wait(), "is still deploying: apply will wait until it is active", "  ~ resource"),
    ],
)
def test_each_action_has_its_header_and_symbol(
    change: Change, header: str, resource_line: str
) -> None:
    lines = block_of(change)
    assert lines[0].startswith(f"  # {change.address}")
    assert lines[0].endswith(header)
    assert lines[1] == f"  ({change.reason})"
    assert lines[2].startswith(resource_line)
    assert lines[-1] == "    }"


def test_created_attributes_are_added_aligned_and_unknown_until_apply() -> None:
    assert block_of(cert_create())[1:] == [
        '  + resource "aop_hostname_certificate" "app" {',
        '      + fingerprint_sha256 = "ab12cd"',
        "      + id                 = (known after apply)",
        "      + private_key        = (sensitive value)",
        '      + zone               = "example.com"',
        "    }",
    ]


def test_update_shows_changes_and_counts_the_unchanged() -> None:
    lines = update(
        diff("certificate_id", "old", "new"),
        diff("enabled", True, True),
        diff("zone", ZONE, ZONE),
        diff("added", None, "x"),
        diff("removed", "y", None),
    )
    assert lines[1:] == [
        '  ~ resource "aop_hostname_binding" "app" {',
        '      + added          = "x"',
        '      ~ certificate_id = "old" -> "new"',
        '      - removed        = "y" -> null',
        "        # (2 unchanged attributes hidden)",
        "    }",
    ]


def test_a_single_unchanged_attribute_is_counted_in_the_singular() -> None:
    assert "        # (1 unchanged attribute hidden)" in update(diff("zone", ZONE, ZONE))


def test_forces_replacement_is_marked_on_the_attribute() -> None:
    lines = block_of(cert_replace())
    assert '      ~ fingerprint_sha256 = "aaaa" -> "bbbb" # forces replacement' in lines
    assert '      ~ id                 = "cert-1" -> (known after apply)' in lines


def test_sensitive_change_never_shows_either_value() -> None:
    lines = update(diff("token", "before-value", "after-value", sensitive=True))
    assert "      ~ token = (sensitive value)" in lines
    assert not any('value"' in line for line in lines)


def test_list_changes_are_shown_per_item() -> None:
    lines = block_of(binding_update())
    start = lines.index("      ~ hostnames      = [")
    assert lines[start : start + 6] == [
        "      ~ hostnames      = [",
        '          - "api.example.com",',
        "            # (1 unchanged element hidden)",
        '          + "new.example.com",',
        "            # (1 unchanged element hidden)",
        "        ]",
    ]


def test_new_and_removed_lists_mark_every_item() -> None:
    created = Change(
        APP_BINDING, Action.CREATE, ZONE, None, "", (diff("hostnames", None, ["a.com", "b.com"]),)
    )
    assert block_of(created)[1:5] == [
        '  + resource "aop_hostname_binding" "app" {',
        "      + hostnames = [",
        '          + "a.com",',
        '          + "b.com",',
    ]
    removed = update(
        diff("hostnames", ["a.com"], None), diff("forced", ["b"], [], forces_replacement=True)
    )
    assert removed[1:] == [
        '  ~ resource "aop_hostname_binding" "app" {',
        "      ~ forced    = [ # forces replacement",
        '          - "b",',
        "        ]",
        "      - hostnames = [",
        '          - "a.com",',
        "        ] -> null",
        "    }",
    ]


def test_a_list_that_becomes_unknown_ends_with_known_after_apply() -> None:
    lines = update(diff("hostnames", ["a.com"], UNKNOWN))
    assert lines[2:5] == [
        "      ~ hostnames = [",
        '          - "a.com",',
        "        ] -> (known after apply)",
    ]


def test_unknown_list_items_and_scalars_becoming_lists() -> None:
    lines = update(diff("hostnames", "a.com", ["a.com", UNKNOWN]))
    assert lines[2:6] == [
        '      ~ hostnames = "a.com" -> [',
        '          + "a.com",',
        "          + (known after apply),",
        "        ]",
    ]


def test_multiline_strings_are_heredocs_with_a_line_diff() -> None:
    pem_before = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    pem_after = pem_before.replace("AAAA", "BBBB")
    lines = update(diff("certificate", pem_before, pem_after), address=APP_CERT)
    assert lines[2:7] == [
        "      ~ certificate = <<-EOT",
        "            # (1 unchanged line hidden)",
        "          - AAAA",
        "          + BBBB",
        "            # (1 unchanged line hidden)",
    ]
    assert lines[7] == "        EOT"


def test_import_and_forget_show_recorded_values_without_symbols() -> None:
    assert block_of(global_import())[3:5] == [
        "        enabled = true",
        '        zone    = "example.com"',
    ]
    assert block_of(ssl_forget())[3:5] == ['        mode = "full"', '        zone = "example.com"']


def test_deposed_object_is_named_by_its_id() -> None:
    lines = block_of(deposed_delete())
    assert lines[0] == "  # aop_hostname_certificate.app (deposed object cert-0) will be destroyed"
    assert '      - id = "cert-0" -> null' in lines


def test_reason_line_is_omitted_when_empty() -> None:
    assert block_of(cert_create())[1].startswith("  + resource")


# -- sections and footer ------------------------------------------------------------------------


def test_drift_section_comes_first_and_warns() -> None:
    output = text(Plan(changes=(binding_update(),), drift=(binding_drift(), cert_drift_deleted())))
    assert output.startswith("Objects have changed outside of aopctl\n")
    assert "  # aop_hostname_binding.app has changed\n" in output
    assert '      ~ certificate_id = "cert-1" -> "cert-x"\n' in output
    assert "  # aop_zone_certificate.main has been deleted\n" in output
    assert "\n\nUnless you have made equivalent changes to your configuration" in output
    assert output.index("Unless") < output.index("aopctl will perform the following actions:")
    assert output.endswith("Plan: 0 to add, 1 to change, 0 to destroy.\n")


def test_refresh_only_plan_with_drift_explains_instead_of_planning() -> None:
    output = text(Plan(changes=(), drift=(binding_drift(),), mode="refresh-only"))
    assert "Unless" not in output
    assert "Plan:" not in output
    assert "No changes" not in output
    assert output.endswith(
        "\n\nThis is a refresh-only plan, so aopctl will not take any actions to undo these. If"
        " you were expecting these changes then you can apply this plan to record the updated"
        " values in the aopctl state without changing any remote objects.\n"
    )


def test_empty_plans() -> None:
    assert text(Plan(changes=())) == "No changes. Your infrastructure matches the configuration.\n"
    assert text(Plan(changes=(), mode="refresh-only")).startswith("No changes.")
    assert (
        text(Plan(changes=(), mode="destroy")) == "No changes. No objects need to be destroyed.\n"
    )


@pytest.mark.parametrize(
    ("changes", "footer"),
    [
        ((cert_create(),), "Plan: 1 to add, 0 to change, 0 to destroy."),
        ((cert_replace(), deposed_delete()), "Plan: 1 to add, 0 to change, 2 to destroy."),
        (
            (global_import(), binding_update()),
            "Plan: 1 to import, 0 to add, 1 to change, 0 to destroy.",
        ),
        ((cert_wait(),), "Plan: 0 to add, 0 to change, 0 to destroy."),
    ],
)
def test_footer_counts_in_terraform_order(changes: tuple[Change, ...], footer: str) -> None:
    assert text(Plan(changes=changes)).endswith(f"\n\n{footer}\n")


def test_notes_and_api_calls() -> None:
    plan = Plan(
        changes=(cert_create(),),
        notes=("first note", "second\nspans two lines"),
        operations=operations(),
    )
    output = text(plan)
    assert "Note: first note\nNote: second\n      spans two lines\n" in output
    assert (
        "API calls:\n"
        "  1. write  aop_hostname_certificate.app  POST /zones/{zone}/origin_tls_client_auth/"
        "hostnames/certificates\n"
        "  2. wait   aop_hostname_certificate.app  until the certificate is active\n"
        "  3. write  aop_hostname_binding.app      PUT /zones/{zone}/origin_tls_client_auth/"
        "hostnames\n"
    ) in output


def test_legend_lists_only_the_symbols_used() -> None:
    output = text(Plan(changes=(cert_create(), deposed_delete())))
    assert (
        "Resource actions are indicated with the following symbols:\n  + create\n  - destroy\n\n"
    ) in output


# -- colour -------------------------------------------------------------------------------------


def test_no_escape_codes_without_colour() -> None:
    assert "\x1b" not in text(every_action_plan())


def test_colour_only_adds_escape_codes() -> None:
    plan = every_action_plan()
    coloured = render_text(plan, color=True)
    assert coloured != text(plan)
    assert ANSI.sub("", coloured) == text(plan)


@pytest.mark.parametrize(
    ("change", "painted"),
    [
        (cert_create(), "\x1b[32m+\x1b[0m resource"),  # green
        (binding_update(), "\x1b[33m~\x1b[0m resource"),  # yellow
        (deposed_delete(), "\x1b[31m-\x1b[0m resource"),  # red
        (global_import(), "\x1b[36m<=\x1b[0m resource"),  # cyan
        (cert_replace(), "\x1b[36m+/-\x1b[0m resource"),  # cyan
    ],
)
def test_colours_follow_terraform(change: Change, painted: str) -> None:
    assert painted in render_change(change, color=True)


def test_coloured_attribute_symbols() -> None:
    lines = render_change(replace(binding_update(), attributes=(diff("a", None, "x"),)), color=True)
    assert '      \x1b[32m+\x1b[0m a = "x"' in lines
