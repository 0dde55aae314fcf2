"""planner.render.drift: the JSON contract (schema, round trip), text and Markdown, secrets."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from typing import Any

import jsonschema
import pytest
from certgen import make_leaf

from planner.drift import (
    CATEGORIES,
    Category,
    DriftReport,
    Finding,
    IgnoreRule,
    Suppressed,
    ZoneReport,
)
from planner.model import UNKNOWN
from planner.plan_model import AttributeDiff
from planner.render import (
    drift_report_from_dict,
    drift_report_to_dict,
    load_drift_schema,
    render_drift_json,
    render_drift_markdown,
    render_drift_text,
    validate_drift_dict,
)

COM, NET = "a" * 32, "b" * 32
CERT_ID = "2458ce5a-0c35-4c7f-82c7-8e9487d3ff60"
RULE = IgnoreRule(
    Category.UNMANAGED, "team | B", date(2030, 1, 1), remote_id="x.example.com", where="$.ignore[0]"
)
EXPIRED_RULE = IgnoreRule(
    Category.CHANGED, "trial", date(2020, 1, 1), address="aop_global.main", where="$.ignore[1]"
)


def finding(category: Category, **fields: Any) -> Finding:
    base: dict[str, Any] = {
        "category": category,
        "zone": "example.com",
        "zone_id": COM,
        "resource_type": "aop_hostname_certificate",
        "address": "aop_hostname_certificate.app",
        "remote_id": CERT_ID,
        "message": f"{category.value} message",
    }
    return Finding(**{**base, **fields})


FINDINGS = (
    finding(
        Category.CHANGED,
        resource_type="aop_ssl_mode",
        address="aop_ssl_mode.com",
        remote_id=COM,
        attributes=(AttributeDiff("mode", "full", "flexible"),),
    ),
    finding(Category.DELETED, facts={"last_known": {"id": CERT_ID, "status": "active"}}),
    finding(
        Category.UNMANAGED,
        resource_type="aop_hostname_binding",
        address=None,
        remote_id="x.example.com",
        message="bound to certificate c (enabled), not managed | by aopctl",
        facts={
            "hostname": "x.example.com",
            "certificate_id": "c",
            "enabled": True,
            "status": "active",
        },
    ),
    finding(
        Category.PENDING,
        address="aop_hostname_certificate.next",
        remote_id=None,
        attributes=(
            AttributeDiff("id", None, UNKNOWN),
            AttributeDiff("hostnames", ["a.example.com"], ["a.example.com", "b.example.com"]),
            AttributeDiff("private_key", None, None, sensitive=True),
        ),
        facts={"action": "create", "reason": ""},
    ),
    finding(
        Category.EXPIRING,
        zone="example.net",
        zone_id=NET,
        facts={
            "expires_on": "2026-01-10T00:00:00+00:00",
            "days_remaining": 9,
            "expired": False,
            "status": "active",
        },
    ),
    finding(
        Category.FAILED,
        zone="example.net",
        zone_id=NET,
        facts={"status": "deployment_timed_out", "hostnames": ["shop.example.net"]},
    ),
)
SUPPRESSED = finding(
    Category.UNMANAGED,
    address=None,
    facts={"status": "active", "expires_on": None, "issuer": None, "fingerprint_sha256": "ab" * 32},
)
REPORT = DriftReport(
    generated_at=datetime(2026, 1, 1, 3, 17, tzinfo=UTC),
    expiry_days=30,
    lineage="3498769e-ad0e-4b08-9eae-650172d9762f",
    serial=7,
    zones=(ZoneReport("example.com", COM, 3, 5), ZoneReport("example.net", NET, 2, 2)),
    findings=FINDINGS,
    suppressed=(Suppressed(SUPPRESSED, RULE),),
    expired_ignores=(EXPIRED_RULE,),
    problems=("aop_hostname_certificate.app has lifecycle.prevent_destroy set",),
)
CLEAN = DriftReport(
    generated_at=datetime(2026, 1, 1, tzinfo=UTC),
    expiry_days=30,
    lineage="l",
    serial=1,
    zones=(ZoneReport("example.com", COM, 0, 0),),
    findings=(),
)


# -- JSON ---------------------------------------------------------------------------------------


def test_json_follows_the_schema_and_is_byte_stable() -> None:
    data = json.loads(render_drift_json(REPORT))
    validate_drift_dict(data)
    assert render_drift_json(REPORT) == render_drift_json(REPORT)
    assert data["summary"] == {
        "changed": 1,
        "deleted": 1,
        "unmanaged": 1,
        "pending": 1,
        "expiring": 1,
        "failed": 1,
        "total": 6,
        "suppressed": 1,
    }
    assert [z["findings"] for z in data["zones"]] == [4, 2]
    assert data["zones"][0]["coverage"] == {"managed": 3, "total": 5}
    assert all(
        {"zone", "address", "remote_id", "category", "details"} <= set(f) for f in data["findings"]
    )


def test_json_round_trips() -> None:
    assert drift_report_from_dict(json.loads(render_drift_json(REPORT))) == REPORT
    assert drift_report_from_dict(drift_report_to_dict(CLEAN)) == CLEAN


def test_the_schema_is_valid_and_versioned() -> None:
    schema = load_drift_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["format_version"] == {
        "description": "Version of this document's format.",
        "const": "1",
    }


@pytest.mark.parametrize(
    ("index", "details"),
    [
        (0, {}),  # changed needs attributes
        (1, {"attributes": []}),  # deleted holds last_known
        (4, {"status": "active", "hostnames": []}),  # expiring facts, not failed ones
        (5, {"status": "active", "hostnames": []}),  # failed: a timed-out status only
    ],
)
def test_the_schema_checks_details_per_category(index: int, details: dict[str, Any]) -> None:
    data = copy.deepcopy(drift_report_to_dict(REPORT))
    data["findings"][index]["details"] = details
    with pytest.raises(ValueError, match=r"\$\.findings\[\d\]"):
        validate_drift_dict(data)


def test_a_newer_format_is_refused() -> None:
    data = drift_report_to_dict(CLEAN) | {"format_version": "2"}
    with pytest.raises(ValueError, match="format_version"):
        drift_report_from_dict(data)


# -- text ---------------------------------------------------------------------------------------


def test_text_lists_findings_per_zone_with_coverage() -> None:
    text = render_drift_text(REPORT, color=False)
    assert text.startswith("aopctl drift: 6 findings in 2 zones\n")
    assert (
        f"Zone example.com ({COM}): 4 findings; AOP objects managed by aopctl: 3 of 5 (60%)"
    ) in text
    assert "  changed    aop_ssl_mode.com: changed message\n" in text
    assert '               ~ mode = "full" -> "flexible"' in text
    assert f"  deleted    aop_hostname_certificate.app (id {CERT_ID}): deleted message" in text
    assert "  unmanaged  hostname x.example.com: bound to certificate c" in text
    assert "               + id = (known after apply)" in text
    assert "               + private_key = (sensitive value)" not in text  # None -> None: hidden
    assert '~ hostnames = ["a.example.com"] -> ["a.example.com", "b.example.com"]' in text
    assert "Suppressed by aopctl.ignore.json:" in text and "team | B (until 2030-01-01)" in text
    assert "$.ignore[1]  changed aop_global.main: trial (expired 2020-01-01)" in text
    assert "apply would refuse the pending changes" in text
    assert text.endswith(
        "Drift: 1 changed, 1 deleted, 1 unmanaged, 1 pending, 1 expiring, 1 failed.\n"
        "The check fails: findings in changed, deleted, unmanaged, pending, expiring, failed "
        "(--fail-on).\n"
    )
    assert "\x1b[" not in text
    assert "\x1b[33mchanged  \x1b[0m" in render_drift_text(REPORT, color=True)


def test_text_of_a_clean_report_and_of_a_passing_check() -> None:
    text = render_drift_text(CLEAN, color=False)
    assert "aopctl drift: No drift" in text and "0 of 0" in text
    assert text.endswith("The check passes.\n")
    partial = render_drift_text(REPORT, color=False, fail_on={Category.PENDING})
    assert partial.endswith("The check fails: findings in pending (--fail-on).\n")
    none = render_drift_text(REPORT, color=False, fail_on=set())
    assert none.endswith("no findings in the categories named by --fail-on.\n")


# -- Markdown -----------------------------------------------------------------------------------


def test_markdown_starts_with_the_summary_table() -> None:
    markdown = render_drift_markdown(REPORT, fail_on={Category.CHANGED})
    lines = markdown.splitlines()
    assert lines[0] == "## aopctl drift" and lines[2].startswith("| category")
    rows = {line.split("|")[1].strip(): line for line in lines[4:10]}
    assert set(rows) == set(CATEGORIES) - {Category.ORIGIN}  # origins were not checked
    assert rows["changed"].split("|")[3].strip() == "yes"
    assert rows["deleted"].split("|")[3].strip() == "no"
    assert "not managed \\| by aopctl" in markdown  # a pipe cannot break the table
    assert "team \\| B" in markdown
    assert '- mode = "full"\n+ mode = "flexible"' in markdown
    assert "### Expired rules in `aopctl.ignore.json`" in markdown
    assert markdown.index("### Findings") < markdown.index("### Suppressed")


def test_markdown_of_a_clean_report() -> None:
    markdown = render_drift_markdown(CLEAN)
    assert "**No drift: Cloudflare matches the state" in markdown
    assert "### Findings" not in markdown


# -- secrets ------------------------------------------------------------------------------------


def test_a_private_key_never_reaches_any_format() -> None:
    key = make_leaf("leak.example.com").key_pem
    body = key.splitlines()[1]
    leaky = finding(
        Category.PENDING,
        attributes=(AttributeDiff("certificate", None, key),),  # not flagged sensitive
        message=f"reason quoting {key}",
        facts={"action": "create", "reason": "r"},
    )
    report = DriftReport(
        generated_at=datetime(2026, 1, 1, tzinfo=UTC),
        expiry_days=30,
        lineage="l",
        serial=1,
        zones=(ZoneReport("example.com", COM, 0, 0),),
        findings=(leaky,),
    )
    outputs = [
        render_drift_json(report),
        render_drift_text(report, color=False),
        render_drift_markdown(report),
    ]
    for output in outputs:
        assert body not in output and "PRIVATE KEY" not in output
    data = json.loads(outputs[0])
    assert data["findings"][0]["details"]["attributes"][0]["sensitive"] is True
