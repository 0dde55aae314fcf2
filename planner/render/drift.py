"""DriftReport → text, JSON or Markdown. Like the plan renderers: strings out, never printing.

- `render_drift_text(report, color=..., fail_on=...)`: for the terminal, one block per zone.
- `render_drift_json(report)` / `drift_report_to_dict` / `drift_report_from_dict`: the stable
  form documented by schemas/drift.schema.json, byte-stable for the same report.
- `render_drift_markdown(report, fail_on=...)`: a CI job summary or issue; summary table first.

Attribute values go through the plan's secret guard (`is_sensitive`, `redact`), so a drift
report hides exactly what a plan hides.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any, Final

import jsonschema

from planner.drift import (
    CATEGORIES,
    IGNORE_FILE,
    Category,
    DriftReport,
    Finding,
    IgnoreRule,
    OriginCheck,
    Suppressed,
    ZoneReport,
)
from planner.model import RESOURCE_TYPES, UNKNOWN, Address
from planner.plan_model import AttributeDiff
from planner.render.markdown import diff_fence, md_cell, md_code, md_table
from planner.render.plan_json import (
    SENSITIVE_TEXT,
    attribute_from_dict,
    attribute_to_dict,
    canonical_json,
    is_sensitive,
    redact,
)
from planner.wording import plural

DRIFT_FORMAT_VERSION: Final = "1"
DRIFT_SCHEMA_NAME: Final = "drift.schema.json"

_ANSI: Final = {"bold": "1", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}
_COLOUR: Final = {
    Category.CHANGED: "yellow",
    Category.DELETED: "red",
    Category.UNMANAGED: "cyan",
    Category.PENDING: "yellow",
    Category.EXPIRING: "yellow",
    Category.FAILED: "red",
    Category.ORIGIN: "red",
}


def _address_of(finding: Finding) -> Address:
    """The address the secret guard checks (it only looks at the type)."""
    name = finding.address.partition(".")[2] if finding.address else "unmanaged"
    return Address(finding.resource_type, name)


# -- JSON ---------------------------------------------------------------------------------------


def _finding_to_dict(finding: Finding) -> dict[str, Any]:
    details = dict(finding.facts)
    if finding.category in (Category.CHANGED, Category.PENDING):
        address = _address_of(finding)
        details["attributes"] = [attribute_to_dict(address, d) for d in finding.attributes]
    return {
        "category": finding.category.value,
        "zone": finding.zone,
        "zone_id": finding.zone_id,
        "resource_type": finding.resource_type,
        "address": finding.address,
        "remote_id": finding.remote_id,
        "message": redact(finding.message),
        "details": details,
    }


def _rule_to_dict(rule: IgnoreRule) -> dict[str, Any]:
    return {
        "category": rule.category.value,
        "address": rule.address,
        "remote_id": rule.remote_id,
        "reason": rule.reason,
        "expires": rule.expires.isoformat(),
        "where": rule.where,
    }


def _zone_to_dict(zone: ZoneReport, findings: int) -> dict[str, Any]:
    return {
        "zone": zone.zone,
        "zone_id": zone.zone_id,
        "coverage": {"managed": zone.managed, "total": zone.total},
        "findings": findings,
    }


def drift_report_to_dict(report: DriftReport) -> dict[str, Any]:
    """The report as JSON-ready data, following schemas/drift.schema.json."""
    counts = report.counts()
    summary: dict[str, int] = {category.value: counts[category] for category in report.categories}
    summary.update(total=len(report.findings), suppressed=len(report.suppressed))
    data: dict[str, Any] = {
        "format_version": DRIFT_FORMAT_VERSION,
        "generated_at": report.generated_at.isoformat(timespec="seconds"),
        "expiry_days": report.expiry_days,
        "state": {"lineage": report.lineage, "serial": report.serial},
        "summary": summary,
        "zones": [
            _zone_to_dict(zone, len(report.zone_findings(zone.zone_id))) for zone in report.zones
        ],
        "findings": [_finding_to_dict(finding) for finding in report.findings],
        "suppressed": [
            {"finding": _finding_to_dict(item.finding), "ignore": _rule_to_dict(item.rule)}
            for item in report.suppressed
        ],
        "expired_ignores": [_rule_to_dict(rule) for rule in report.expired_ignores],
        "problems": [redact(problem) for problem in report.problems],
    }
    if report.origin_check is not None:  # absent, not null: reports without it stay unchanged
        check = report.origin_check
        data["origin_check"] = {
            "port": check.port,
            "checked": list(check.checked),
            "unresolved": list(check.unresolved),
        }
    return data


def render_drift_json(report: DriftReport) -> str:
    return canonical_json(drift_report_to_dict(report))


@cache
def load_drift_schema() -> dict[str, Any]:
    text = resources.files("schemas").joinpath(DRIFT_SCHEMA_NAME).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_drift_dict(data: Any) -> None:
    """Raise ValueError naming the first place where `data` departs from the drift schema."""
    validator = jsonschema.Draft202012Validator(
        load_drift_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        raise ValueError(f"not a valid aopctl drift report: {error.json_path}: {error.message}")


def _finding_from_dict(data: Mapping[str, Any]) -> Finding:
    facts = {k: v for k, v in data["details"].items() if k != "attributes"}
    attributes = tuple(attribute_from_dict(a) for a in data["details"].get("attributes", []))
    return Finding(
        category=Category(data["category"]),
        zone=data["zone"],
        zone_id=data["zone_id"],
        resource_type=data["resource_type"],
        address=data["address"],
        remote_id=data["remote_id"],
        message=data["message"],
        attributes=attributes,
        facts=facts,
    )


def _rule_from_dict(data: Mapping[str, Any]) -> IgnoreRule:
    return IgnoreRule(
        category=Category(data["category"]),
        reason=data["reason"],
        expires=date.fromisoformat(data["expires"]),
        address=data["address"],
        remote_id=data["remote_id"],
        where=data["where"],
    )


def drift_report_from_dict(data: Any) -> DriftReport:
    """The DriftReport that `drift_report_to_dict` wrote; ValueError if `data` is not one.

    Sensitive attribute values were never written, so they come back as None.
    """
    validate_drift_dict(data)
    check = data.get("origin_check")
    zones = tuple(
        ZoneReport(z["zone"], z["zone_id"], z["coverage"]["managed"], z["coverage"]["total"])
        for z in data["zones"]
    )
    return DriftReport(
        generated_at=datetime.fromisoformat(data["generated_at"]),
        expiry_days=data["expiry_days"],
        lineage=data["state"]["lineage"],
        serial=data["state"]["serial"],
        zones=zones,
        findings=tuple(_finding_from_dict(item) for item in data["findings"]),
        suppressed=tuple(
            Suppressed(_finding_from_dict(item["finding"]), _rule_from_dict(item["ignore"]))
            for item in data["suppressed"]
        ),
        expired_ignores=tuple(_rule_from_dict(item) for item in data["expired_ignores"]),
        problems=tuple(data["problems"]),
        origin_check=(
            OriginCheck(check["port"], tuple(check["checked"]), tuple(check["unresolved"]))
            if check is not None
            else None
        ),
    )


# -- shared wording -----------------------------------------------------------------------------


def _coverage_text(zone: ZoneReport) -> str:
    """`3 of 4 (75%)`: live AOP certificates and associations that aopctl manages."""
    if zone.total == 0:
        return "0 of 0"
    return f"{zone.managed} of {zone.total} ({100 * zone.managed // zone.total}%)"


def _headline(report: DriftReport) -> str:
    """`5 findings in 2 zones` or the all-clear sentence."""
    if not report.findings:
        return (
            "No drift: Cloudflare matches the state, the configuration is applied, and no "
            f"certificate expires within {report.expiry_days} days."
        )
    zones = len({finding.zone_id for finding in report.findings})
    return f"{plural(len(report.findings), 'finding')} in {plural(zones, 'zone')}"


def _counts_line(report: DriftReport) -> str:
    counts = report.counts()
    return ", ".join(f"{counts[category]} {category.value}" for category in report.categories)


def _verdict(report: DriftReport, fail_on: Collection[Category]) -> str:
    counts = report.counts()
    failing = [
        category.value for category in report.categories if counts[category] and category in fail_on
    ]
    if failing:
        return f"The check fails: findings in {', '.join(failing)} (--fail-on)."
    if report.findings:
        return "The check passes: no findings in the categories named by --fail-on."
    return "The check passes."


def _value(value: Any) -> str:
    if value is UNKNOWN:
        return "(known after apply)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _attribute_lines(finding: Finding) -> list[tuple[str, str]]:
    """(symbol, `name = before -> after`) for each attribute that differs; secrets hidden."""
    address = _address_of(finding)
    lines = []
    for diff in sorted(finding.attributes, key=lambda d: d.name):
        if diff.before == diff.after:
            continue
        symbol, text = _attribute(diff, is_sensitive(address, diff))
        lines.append((symbol, f"{diff.name} = {text}"))
    return lines


def _attribute(diff: AttributeDiff, sensitive: bool) -> tuple[str, str]:
    def shown(value: Any) -> str:
        return SENSITIVE_TEXT if sensitive else _value(value)

    if diff.before is None:
        return "+", shown(diff.after)
    if diff.after is None:
        return "-", f"{shown(diff.before)} -> null"
    return "~", f"{shown(diff.before)} -> {shown(diff.after)}"


def _remote(finding: Finding) -> str:
    """` (id X)` for a managed certificate; other remote ids are in the subject or the zone."""
    resource_type = RESOURCE_TYPES.get(finding.resource_type)
    if finding.address and finding.remote_id and resource_type and resource_type.is_certificate:
        return f" (id {finding.remote_id})"
    return ""


def _rule_subject(rule: IgnoreRule) -> str:
    parts = [rule.address or "", f"remote id {rule.remote_id}" if rule.remote_id else ""]
    return " ".join(part for part in parts if part)


# -- text ---------------------------------------------------------------------------------------


def _paint(text: str, color: bool, *styles: str) -> str:
    codes = ";".join(_ANSI[style] for style in styles)
    return f"\x1b[{codes}m{text}\x1b[0m" if color and codes and text else text


def _probe_lines(finding: Finding) -> list[str]:
    """An origin finding's TLS connections: what was presented, how the origin answered."""
    probes = finding.facts.get("probes", []) if finding.category is Category.ORIGIN else []
    return [f"{p['presented']}: {p['outcome']} ({p['detail']})" for p in probes]


def _finding_text(finding: Finding, color: bool) -> list[str]:
    label = _paint(f"{finding.category.value:<9}", color, _COLOUR[finding.category])
    head = f"  {label}  {finding.subject}{_remote(finding)}: {redact(finding.message)}"
    details = [f"{symbol} {text}" for symbol, text in _attribute_lines(finding)]
    return [head] + [f"{' ' * 15}{line}" for line in details + _probe_lines(finding)]


def _zone_text(report: DriftReport, zone: ZoneReport, color: bool) -> str:
    findings = report.zone_findings(zone.zone_id)
    title = _paint(f"Zone {zone.zone}", color, "bold")
    lines = [
        f"{title} ({zone.zone_id}): {plural(len(findings), 'finding')}; "
        f"AOP objects managed by aopctl: {_coverage_text(zone)}"
    ]
    for finding in findings:
        lines += _finding_text(finding, color)
    return "\n".join(lines)


def _suppressed_text(items: tuple[Suppressed, ...], color: bool) -> str:
    lines = [_paint(f"Suppressed by {IGNORE_FILE}:", color, "bold")]
    for item in items:
        finding, rule = item.finding, item.rule
        lines.append(
            f"  {finding.category.value:<9}  {finding.zone}  {finding.subject}: "
            f"{rule.reason} (until {rule.expires.isoformat()})"
        )
    return "\n".join(lines)


def _expired_text(rules: tuple[IgnoreRule, ...], color: bool) -> str:
    title = f"Expired rules in {IGNORE_FILE} (they suppress nothing any more):"
    lines = [_paint(title, color, "bold", "yellow")]
    for rule in rules:
        lines.append(
            f"  {rule.where}  {rule.category.value} {_rule_subject(rule)}: {rule.reason} "
            f"(expired {rule.expires.isoformat()})"
        )
    return "\n".join(lines)


def _origin_lines(check: OriginCheck) -> list[str]:
    """Which origins --check-origins checked (on which port), and which it could not."""
    checked = ", ".join(check.checked) or "none"
    lines = [f"origins checked on port {check.port}: {checked}"]
    if check.unresolved:
        lines.append(f"not checked (no --resolve address): {', '.join(check.unresolved)}")
    return lines


def _problems_text(problems: tuple[str, ...], color: bool) -> str:
    lines = [_paint("Note:", color, "bold") + " apply would refuse the pending changes:"]
    return "\n".join(lines + [f"  - {redact(problem)}" for problem in problems])


def render_drift_text(
    report: DriftReport, *, color: bool, fail_on: Collection[Category] = CATEGORIES
) -> str:
    """The whole report as a terminal shows it; `color` adds ANSI escape codes."""
    paragraphs = [
        _paint(f"aopctl drift: {_headline(report)}", color, "bold")
        + f"\n(certificates expiring within {report.expiry_days} days count as expiring)"
    ]
    paragraphs += [_zone_text(report, zone, color) for zone in report.zones]
    if report.suppressed:
        paragraphs.append(_suppressed_text(report.suppressed, color))
    if report.expired_ignores:
        paragraphs.append(_expired_text(report.expired_ignores, color))
    if report.problems:
        paragraphs.append(_problems_text(report.problems, color))
    if report.origin_check is not None:
        lines = _origin_lines(report.origin_check)
        paragraphs.append("\n".join([_paint("Note:", color, "bold") + f" {lines[0]}", *lines[1:]]))
    footer = f"Drift: {_counts_line(report)}.\n{_verdict(report, fail_on)}"
    paragraphs.append(_paint(footer, color, "bold"))
    return "\n\n".join(paragraphs) + "\n"


# -- Markdown -----------------------------------------------------------------------------------


def _summary_table(report: DriftReport, fail_on: Collection[Category]) -> str:
    counts = report.counts()
    rows = [
        [category.value, str(counts[category]), "yes" if category in fail_on else "no"]
        for category in report.categories
    ]
    return md_table(["category", "findings", "fails the check"], rows, ("left", "right", "left"))


def _zones_table(report: DriftReport) -> str:
    rows = [
        [
            md_cell(zone.zone),
            md_code(zone.zone_id),
            str(len(report.zone_findings(zone.zone_id))),
            _coverage_text(zone),
        ]
        for zone in report.zones
    ]
    return md_table(["zone", "zone id", "findings", "managed by aopctl"], rows)


def _findings_table(findings: tuple[Finding, ...]) -> str:
    rows = [
        [
            finding.category.value,
            md_cell(finding.zone),
            md_code(finding.subject),
            md_code(finding.remote_id) if finding.remote_id else "",
            md_cell(finding.message),
        ]
        for finding in findings
    ]
    return md_table(["category", "zone", "object", "remote id", "details"], rows)


def _diff_block(finding: Finding) -> str | None:
    """A collapsed ```diff block of a finding's attributes, or None when it has none."""
    lines: list[str] = []
    for symbol, text in _attribute_lines(finding):
        name, _, values = text.partition(" = ")
        before, arrow, after = values.partition(" -> ")
        if symbol == "~" and arrow:  # before on a red line, after on a green one
            lines += [f"- {name} = {before}", f"+ {name} = {after}"]
        else:
            lines.append(f"{symbol} {text}")
    if not lines:
        return None
    summary = f"{md_cell(finding.subject)} — {finding.category.value}"
    fenced = diff_fence("\n".join(lines))
    return f"<details><summary>{summary}</summary>\n\n{fenced}\n\n</details>"


def _suppressed_table(items: tuple[Suppressed, ...]) -> str:
    rows = [
        [
            item.finding.category.value,
            md_cell(item.finding.zone),
            md_code(item.finding.subject),
            md_cell(item.rule.reason),
            item.rule.expires.isoformat(),
        ]
        for item in items
    ]
    return md_table(["category", "zone", "object", "reason", "until"], rows)


def _expired_table(rules: tuple[IgnoreRule, ...]) -> str:
    rows = [
        [
            md_code(rule.where),
            rule.category.value,
            md_cell(_rule_subject(rule)),
            md_cell(rule.reason),
            rule.expires.isoformat(),
        ]
        for rule in rules
    ]
    return md_table(["rule", "category", "matches", "reason", "expired"], rows)


def render_drift_markdown(
    report: DriftReport, *, fail_on: Collection[Category] = CATEGORIES
) -> str:
    """GitHub-flavoured Markdown; the summary table comes first, details collapse."""
    parts = [
        "## aopctl drift",
        _summary_table(report, fail_on),
        f"**{md_cell(_headline(report))}** {md_cell(_verdict(report, fail_on))}",
        "### Zones",
        _zones_table(report),
    ]
    if report.findings:
        parts += ["### Findings", _findings_table(report.findings)]
        parts += [block for f in report.findings if (block := _diff_block(f)) is not None]
    if report.suppressed:
        parts += [f"### Suppressed by `{IGNORE_FILE}`", _suppressed_table(report.suppressed)]
    if report.expired_ignores:
        parts += [
            f"### Expired rules in `{IGNORE_FILE}`",
            "They suppress nothing any more: renew them or fix the drift.",
            _expired_table(report.expired_ignores),
        ]
    if report.problems:
        parts += [
            "### Apply would refuse the pending changes",
            "\n".join(f"- {md_cell(problem)}" for problem in report.problems),
        ]
    if report.origin_check is not None:
        notes = _origin_lines(report.origin_check)
        parts += ["### Origins", "\n".join(f"- {md_cell(line)}" for line in notes)]
    parts.append(
        f"<sub>Generated {report.generated_at.isoformat(timespec='seconds')}; certificates "
        f"expiring within {report.expiry_days} days count as expiring.</sub>"
    )
    return "\n\n".join(parts) + "\n"
