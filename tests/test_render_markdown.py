"""planner.render.markdown: a deterministic pull-request comment."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from test_render_plans import (
    binding_drift,
    cert_create,
    every_action_plan,
    operations,
    rotation_plan,
)

from planner.plan_model import Operation, Plan
from planner.render import render_change, render_markdown

GOLDEN = Path(__file__).parent / "data" / "render"
DETAILS = re.compile(
    r"<details><summary>(.*?)</summary>\n\n```diff\n(.*?)\n```\n\n</details>", re.S
)


def test_markdown_matches_golden() -> None:
    expected = (GOLDEN / "rotation.md").read_text(encoding="utf-8")
    assert render_markdown(rotation_plan()) == expected


def test_summary_tables_come_before_the_details() -> None:
    output = render_markdown(every_action_plan())
    assert output.startswith(
        "## aopctl plan\n\n**Plan: 1 to import, 2 to add, 1 to change, 4 to destroy.**\n"
    )
    counts = output.index("| action   |   count |")
    resources = output.index("| action   | address")
    assert counts < resources < output.index("<details>")
    assert "| destroy  |       4 |" in output
    assert "| forget   | `aop_ssl_mode.main` " in output


def test_details_hold_the_plain_text_rendering_with_symbols_moved_for_diff_colouring() -> None:
    plan = every_action_plan()
    blocks = DETAILS.findall(render_markdown(plan))
    assert [summary for summary, _ in blocks] == [
        "aop_hostname_certificate.app — create",
        "aop_hostname_binding.app — update",
        "aop_zone_certificate.main — replace",
        "aop_hostname_certificate.app (deposed object cert-0) — destroy",
        "aop_hostname_binding.legacy — destroy",
        "aop_ssl_mode.main — forget",
        "aop_global.main — import",
        "aop_hostname_certificate.pending — wait",
    ]
    for (_, body), change in zip(blocks, plan.changes, strict=True):
        assert "\x1b" not in body
        restored = re.sub(r"^([+-])( +) ", r"\2\1 ", body, flags=re.M)
        assert restored == render_change(change)
    assert "+       id                 = (known after apply)" in blocks[0][1]


def test_drift_notes_and_api_calls_have_their_sections() -> None:
    output = render_markdown(every_action_plan())
    drift = output.index("### Objects have changed outside of aopctl")
    assert "| changed | `aop_hostname_binding.app`  | example.com |" in output
    assert output.index("### Notes") > drift
    assert "- aop_hostname_certificate.app expires in 12 days" in output
    assert "1. write `aop_hostname_certificate.app`: `POST /zones/{zone}/" in output
    assert output.index("### API calls") > output.index("### Notes")


def test_empty_and_refresh_only_plans() -> None:
    assert render_markdown(Plan(changes=())) == (
        "## aopctl plan\n\n**No changes. Your infrastructure matches the configuration.**\n\n"
        "| action   |   count |\n|----------|---------|\n| import   |       0 |\n"
        "| add      |       0 |\n| change   |       0 |\n| destroy  |       0 |\n"
    )
    refresh = render_markdown(Plan(changes=(), drift=(binding_drift(),), mode="refresh-only"))
    assert refresh.startswith("## aopctl plan (refresh-only)\n\n**This is a refresh-only plan")
    assert "### Changes" not in refresh
    assert "Unless" not in refresh


def test_untrusted_text_cannot_break_tables_fences_or_html() -> None:
    change = replace(cert_create(), reason="a | b <script> ``` c")
    plan = Plan(
        changes=(change,),
        notes=("<b>bold</b>",),
        operations=(Operation(change.address, "write", "weird `tick` ```"),),
    )
    output = render_markdown(plan)
    assert "a \\| b &lt;script&gt; ``` c" in output
    assert "- &lt;b&gt;bold&lt;/b&gt;" in output
    assert "````diff\n" in output  # the fence outgrows the backticks of the reason
    outside_fences = re.sub(r"````diff\n.*?\n````\n", "", output, flags=re.S)
    assert "<script>" not in outside_fences
    assert "<script>" in output  # verbatim, but inside the fence
    assert "```` weird `tick` ``` ````" in output


def test_markdown_is_deterministic() -> None:
    plan = Plan(changes=(cert_create(),), operations=operations())
    assert render_markdown(plan) == render_markdown(plan)
