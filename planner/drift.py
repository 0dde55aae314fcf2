"""`aopctl drift`: what differs between configuration, state and Cloudflare, found read-only.

One `make_plan` run (through a read-only client, never applied, never saved) provides
everything: its refresh (list endpoints only) is the live view, its drift section is what
changed or vanished outside aopctl, and its changes are what apply would do. The findings come
in seven categories, per zone:

    changed    a managed object differs live from the state (attributes, old -> new)
    deleted    a managed object is gone live
    unmanaged  a live certificate or hostname association that no state entry owns
    pending    the configuration differs from the state: merged but never applied
    expiring   a live certificate expires within the window, or has expired (Cloudflare keeps
               expired certificates `active`, so the status alone says nothing)
    failed     a certificate Cloudflare left in deployment_timed_out / deletion_timed_out
    origin     (only with `--check-origins`) an origin of a bound hostname that lets strangers
               in, refuses the configured certificate, or could not be checked: the same
               TLS check as `aopctl origin check`, at the address given by `--resolve`

`pending` holds the plan's changes minus those that only undo drift already reported as
`changed` or `deleted`: a toggle in the dashboard is one finding, not two, and `--fail-on
pending` keeps its meaning "merged but not applied".

Findings can be acknowledged in `aopctl.ignore.json` (schemas/ignore.schema.json): a rule
suppresses matching findings until its `expires` date has passed; expired rules are reported.

This module never prints and never writes: the caller renders the DriftReport.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

import jsonschema

from planner.config import Configuration
from planner.errors import AopctlError, ConfigError, Diagnostic
from planner.live import GONE, LiveCertificate, LiveZone, Refresher
from planner.model import RESOURCE_TYPES, UNKNOWN, Address
from planner.origin import (
    OriginResult,
    Verdict,
    check_origin,
    client_credentials,
    identity_for_hostname,
)
from planner.plan import PlanOptions, make_plan
from planner.plan_model import Action, AttributeDiff, Change, Drift
from state import ResourceState, StateDocument

IGNORE_FILE: Final = "aopctl.ignore.json"
IGNORE_SCHEMA: Final = "ignore.schema.json"
DEFAULT_EXPIRY_DAYS: Final = 30
MAX_EXPIRY_DAYS: Final = 36500  # a century: any real certificate, and dates stay in range
FAILED_STATUSES: Final = ("deployment_timed_out", "deletion_timed_out")


class Category(StrEnum):
    CHANGED = "changed"
    DELETED = "deleted"
    UNMANAGED = "unmanaged"
    PENDING = "pending"
    EXPIRING = "expiring"
    FAILED = "failed"
    ORIGIN = "origin"


CATEGORIES: Final = tuple(Category)
# A report without `--check-origins` says nothing about origins, so it does not list them.
OFFLINE_CATEGORIES: Final = tuple(c for c in CATEGORIES if c is not Category.ORIGIN)
DEFAULT_ORIGIN_PORT: Final = 443
_ORDER: Final = {category: index for index, category in enumerate(CATEGORIES)}


@dataclass(frozen=True)
class Finding:
    """One thing the nightly check found.

    `address` is None for objects no state entry owns; `remote_id` is the certificate id, the
    zone id for zone settings, the hostname for an unmanaged association, or None for a
    binding. `facts` holds JSON values only (strings, numbers, booleans, null, lists, objects);
    `attributes` holds the old -> new values of `changed` and `pending` findings.
    """

    category: Category
    zone: str
    zone_id: str
    resource_type: str
    address: str | None
    remote_id: str | None
    message: str
    attributes: tuple[AttributeDiff, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def subject(self) -> str:
        """How people name the object: its address, else what and which it is."""
        if self.address:
            return self.address
        if self.resource_type == "aop_hostname_binding":
            return f"hostname {self.remote_id}"
        noun = "zone" if self.resource_type == "aop_zone_certificate" else "hostname"
        return f"{noun} certificate {self.remote_id}"

    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.zone, _ORDER[self.category], self.address or "~", self.remote_id or "")


@dataclass(frozen=True)
class IgnoreRule:
    """One entry of aopctl.ignore.json; `where` is its JSON path, for messages."""

    category: Category
    reason: str
    expires: date
    address: str | None = None
    remote_id: str | None = None
    where: str = ""

    def matches(self, finding: Finding) -> bool:
        return (
            finding.category == self.category
            and (self.address is None or self.address == finding.address)
            and (self.remote_id is None or self.remote_id == finding.remote_id)
        )

    def expired(self, today: date) -> bool:
        """A rule holds through its `expires` day (UTC) and fails again the day after."""
        return today > self.expires


@dataclass(frozen=True)
class Suppressed:
    finding: Finding
    rule: IgnoreRule


@dataclass(frozen=True)
class ZoneReport:
    """A managed zone and its coverage: AOP certificates and associations aopctl manages."""

    zone: str
    zone_id: str
    managed: int
    total: int


@dataclass(frozen=True)
class OriginOptions:
    """`--check-origins`: the origin address of each hostname (`--resolve`), port, timeout."""

    resolve: Mapping[str, str]
    port: int = DEFAULT_ORIGIN_PORT
    timeout: float = 10.0


@dataclass(frozen=True)
class OriginCheck:
    """Which bound hostnames `--check-origins` checked, and which it could not (no address)."""

    port: int
    checked: tuple[str, ...]
    unresolved: tuple[str, ...]


@dataclass(frozen=True)
class DriftReport:
    generated_at: datetime
    expiry_days: int
    lineage: str
    serial: int
    zones: tuple[ZoneReport, ...]
    findings: tuple[Finding, ...]
    suppressed: tuple[Suppressed, ...] = ()
    expired_ignores: tuple[IgnoreRule, ...] = ()
    problems: tuple[str, ...] = ()  # why apply would refuse the pending changes, if it would
    origin_check: OriginCheck | None = None  # None: origins were not checked

    @property
    def categories(self) -> tuple[Category, ...]:
        """The categories this report speaks for: `origin` only when origins were checked."""
        return CATEGORIES if self.origin_check is not None else OFFLINE_CATEGORIES

    def counts(self) -> dict[Category, int]:
        counts = dict.fromkeys(CATEGORIES, 0)
        for finding in self.findings:
            counts[finding.category] += 1
        return counts

    def zone_findings(self, zone_id: str) -> list[Finding]:
        return [finding for finding in self.findings if finding.zone_id == zone_id]

    def fails(self, fail_on: Collection[Category]) -> bool:
        """Whether a finding (not suppressed) falls in one of the `fail_on` categories."""
        return any(finding.category in fail_on for finding in self.findings)


def parse_categories(text: str) -> frozenset[Category]:
    """`all`, `none` or a comma-separated list of categories; ValueError names a bad one."""
    words = [word.strip().lower() for word in text.split(",") if word.strip()]
    if words == ["all"]:
        return frozenset(CATEGORIES)
    if words == ["none"]:
        return frozenset()
    choices = ", ".join(CATEGORIES)
    if not words or {"all", "none"} & set(words):
        raise ValueError(f"give all, none, or categories from: {choices}")
    unknown = [word for word in words if word not in CATEGORIES]
    if unknown:
        raise ValueError(f"unknown category {', '.join(map(repr, unknown))}: use {choices}")
    return frozenset(Category(word) for word in words)


# -- the check --------------------------------------------------------------------------------


def detect_drift(
    config: Configuration,
    state: StateDocument,
    refresher: Refresher,
    *,
    ignores: Sequence[IgnoreRule] = (),
    expiry_days: int = DEFAULT_EXPIRY_DAYS,
    now: datetime | None = None,
    origins: OriginOptions | None = None,
) -> DriftReport:
    """Plan against the state without applying or saving it, and sort what it found.

    With `origins`, also check the origin of each bound hostname that has an address there.
    """
    now = now or datetime.now(UTC)
    bound = _config_bindings(config, origins) if origins is not None else {}
    result = make_plan(config, state, refresher, PlanOptions(strict=False))
    zones = sorted(result.live.values(), key=lambda zone: (zone.name, zone.zone_id))
    ownership = _Ownership.of(state)
    names = {zone.zone_id: zone.name for zone in zones}
    findings = [
        *_drift_findings(result.plan.drift, state),
        *_pending_findings(result.plan.changes, state, names),
    ]
    for zone in zones:
        findings += _unmanaged_findings(zone, ownership)
        findings += _expiring_findings(zone, ownership, now, expiry_days)
        findings += _failed_findings(zone, ownership)
    origin_check = None
    if origins is not None:
        origin_check = OriginCheck(
            port=origins.port,
            checked=tuple(sorted(h for h in bound if h in origins.resolve)),
            unresolved=tuple(sorted(h for h in bound if h not in origins.resolve)),
        )
        findings += _origin_findings(config, bound, origins, zones)
    kept, suppressed, expired = _apply_ignores(findings, ignores, now.date())
    return DriftReport(
        generated_at=now,
        expiry_days=expiry_days,
        lineage=state.lineage,
        serial=state.serial,
        zones=tuple(_zone_report(zone, ownership) for zone in zones),
        findings=tuple(sorted(kept, key=Finding.sort_key)),
        suppressed=tuple(sorted(suppressed, key=lambda s: s.finding.sort_key())),
        expired_ignores=expired,
        problems=result.problems,
        origin_check=origin_check,
    )


# -- changed, deleted -------------------------------------------------------------------------


def _drift_findings(drift: Iterable[Drift], state: StateDocument) -> list[Finding]:
    findings = []
    for item in drift:
        prior = state.get(str(item.address))
        assert prior is not None  # drift is only computed for state entries
        if item.kind == "deleted":
            facts = {"last_known": dict(prior.attributes)}
            findings.append(
                _finding(Category.DELETED, prior, "deleted outside aopctl", facts=facts)
            )
        else:
            names = ", ".join(diff.name for diff in item.attributes)
            findings.append(
                _finding(
                    Category.CHANGED,
                    prior,
                    f"changed outside aopctl: {names}",
                    attributes=item.attributes,
                )
            )
    return findings


def _finding(
    category: Category,
    prior: ResourceState,
    message: str,
    *,
    attributes: tuple[AttributeDiff, ...] = (),
    facts: Mapping[str, Any] | None = None,
) -> Finding:
    return Finding(
        category=category,
        zone=prior.zone_name,
        zone_id=prior.zone_id,
        resource_type=prior.type,
        address=prior.address,
        remote_id=prior.remote_id,
        message=message,
        attributes=attributes,
        facts=facts or {},
    )


# -- pending ----------------------------------------------------------------------------------

_ACTION_PHRASE: Final = {
    Action.CREATE: "would be created",
    Action.UPDATE: "would be updated in place",
    Action.REPLACE: "would be replaced",
    Action.DELETE: "would be destroyed",
    Action.IMPORT: "would be imported",
    Action.FORGET: "would be forgotten",
    Action.WAIT: "is still deploying",
}


def _pending_findings(
    changes: Iterable[Change], state: StateDocument, zone_names: Mapping[str, str]
) -> list[Finding]:
    findings = []
    for change in changes:
        prior = state.get(str(change.address))
        if not config_differs(change, prior):
            continue
        phrase = _ACTION_PHRASE[change.action]
        message = f"not applied: {phrase}" + (f" ({change.reason})" if change.reason else "")
        zone_id = change.zone_id or ""  # always known: planning resolves every zone
        findings.append(
            Finding(
                category=Category.PENDING,
                zone=zone_names.get(zone_id, change.zone),
                zone_id=zone_id,
                resource_type=change.address.type,
                address=str(change.address),
                remote_id=change.remote_id,
                message=message,
                attributes=change.attributes,
                facts={"action": change.action.value, "reason": change.reason},
            )
        )
    return findings


def config_differs(change: Change, prior: ResourceState | None) -> bool:
    """Whether a planned change comes from the configuration rather than from drift.

    A change that only restores what the state records (re-creating a certificate deleted
    in the dashboard, turning a toggled setting back) is drift, reported once as such.
    """
    if prior is None or change.deposed or change.zone_id != prior.zone_id:
        return True  # new in the configuration, a rotation left unfinished, or a zone move
    if change.action in (Action.DELETE, Action.FORGET):
        return True  # removed from the configuration
    wanted = {diff.name: diff.after for diff in change.attributes}
    resource_type = RESOURCE_TYPES[change.address.type]
    if resource_type.is_certificate:  # certificates are compared by fingerprint, never text
        return wanted.get("fingerprint_sha256") != prior.fingerprints.get("certificate_sha256")
    return any(
        _differs(wanted[name], prior.attributes.get(name))
        for name in resource_type.attribute_names
        if name != "zone" and name in wanted
    )


def _differs(wanted: Any, recorded: Any) -> bool:
    if wanted is UNKNOWN:  # decided by another resource (a certificate being uploaded)
        return False
    if isinstance(wanted, list | tuple) and isinstance(recorded, list | tuple):
        return sorted(map(str, wanted)) != sorted(map(str, recorded))
    return bool(wanted != recorded)


# -- unmanaged, expiring, failed --------------------------------------------------------------


@dataclass(frozen=True)
class _Ownership:
    """Which live objects the state owns: certificate ids (incl. deposed) and hostnames."""

    certificates: Mapping[str, ResourceState]
    hostnames: Mapping[tuple[str, str], ResourceState]  # (zone id, hostname)

    @classmethod
    def of(cls, state: StateDocument) -> _Ownership:
        certificates: dict[str, ResourceState] = {}
        hostnames: dict[tuple[str, str], ResourceState] = {}
        for prior in state.resources:
            if RESOURCE_TYPES[prior.type].is_certificate:
                for cert_id in [prior.remote_id, *prior.attributes.get("deposed", [])]:
                    if isinstance(cert_id, str):
                        certificates[cert_id] = prior
            elif prior.type == "aop_hostname_binding":
                for hostname in prior.attributes.get("hostnames", []):
                    hostnames[(prior.zone_id, hostname)] = prior
        return cls(certificates, hostnames)


def _kind(cert: LiveCertificate, zone: LiveZone) -> str:
    return (
        "aop_zone_certificate" if cert.id in zone.zone_certificates else "aop_hostname_certificate"
    )


def _certificates(zone: LiveZone) -> list[LiveCertificate]:
    return sorted(
        (cert for cert in zone.all_certificates() if cert.status not in GONE),
        key=lambda cert: cert.id,
    )


def _bound_hostnames(zone: LiveZone) -> list[str]:
    return sorted(hostname for hostname in zone.associations if zone.bound(hostname))


def _certificate_finding(
    category: Category,
    zone: LiveZone,
    cert: LiveCertificate,
    ownership: _Ownership,
    message: str,
    facts: Mapping[str, Any],
) -> Finding:
    owner = ownership.certificates.get(cert.id)
    return Finding(
        category=category,
        zone=zone.name,
        zone_id=zone.zone_id,
        resource_type=owner.type if owner else _kind(cert, zone),
        address=owner.address if owner else None,
        remote_id=cert.id,
        message=message,
        facts=facts,
    )


def _expiry(cert: LiveCertificate) -> str | None:
    return cert.expires_on.isoformat() if cert.expires_on else None


def _unmanaged_findings(zone: LiveZone, ownership: _Ownership) -> list[Finding]:
    findings = []
    for cert in _certificates(zone):
        if cert.id in ownership.certificates:
            continue
        facts = {
            "status": cert.status,
            "expires_on": _expiry(cert),
            "issuer": cert.issuer,
            "fingerprint_sha256": zone.fingerprints.get(cert.id),
        }
        message = f"not managed by aopctl (status {cert.status})"
        findings.append(
            _certificate_finding(Category.UNMANAGED, zone, cert, ownership, message, facts)
        )
    for hostname in _bound_hostnames(zone):
        if (zone.zone_id, hostname) in ownership.hostnames:
            continue
        association = zone.associations[hostname]
        state = "enabled" if association.enabled else "disabled"
        findings.append(
            Finding(
                category=Category.UNMANAGED,
                zone=zone.name,
                zone_id=zone.zone_id,
                resource_type="aop_hostname_binding",
                address=None,
                remote_id=hostname,
                message=f"bound to certificate {association.cert_id} ({state}), "
                "not managed by aopctl",
                facts={
                    "hostname": hostname,
                    "certificate_id": association.cert_id,
                    "enabled": association.enabled,
                    "status": association.status,
                },
            )
        )
    return findings


def _expiring_findings(
    zone: LiveZone, ownership: _Ownership, now: datetime, expiry_days: int
) -> list[Finding]:
    findings = []
    horizon = now + timedelta(days=expiry_days)
    for cert in _certificates(zone):
        if cert.expires_on is None or cert.expires_on > horizon:
            continue
        days = (cert.expires_on - now) // timedelta(days=1)
        expired = cert.expires_on <= now
        day = cert.expires_on.date().isoformat()
        ago = (now - cert.expires_on) // timedelta(days=1)
        message = (
            f"expired on {day} ({ago} days ago), Cloudflare still reports it {cert.status}"
            if expired
            else f"expires on {day} (in {days} days)"
        )
        facts = {
            "expires_on": _expiry(cert),
            "days_remaining": days,
            "expired": expired,
            "status": cert.status,
        }
        findings.append(
            _certificate_finding(Category.EXPIRING, zone, cert, ownership, message, facts)
        )
    return findings


def _failed_findings(zone: LiveZone, ownership: _Ownership) -> list[Finding]:
    findings = []
    for cert in _certificates(zone):
        if cert.status not in FAILED_STATUSES:
            continue
        hostnames = [h for h in _bound_hostnames(zone) if zone.associations[h].cert_id == cert.id]
        message = f"Cloudflare reports {cert.status}"
        if hostnames:
            message += f" (bound to {', '.join(hostnames)})"
        facts = {"status": cert.status, "hostnames": hostnames}
        findings.append(
            _certificate_finding(Category.FAILED, zone, cert, ownership, message, facts)
        )
    return findings


def _zone_report(zone: LiveZone, ownership: _Ownership) -> ZoneReport:
    certificates = [cert.id for cert in _certificates(zone)]
    hostnames = _bound_hostnames(zone)
    managed = sum(1 for cert_id in certificates if cert_id in ownership.certificates)
    managed += sum(1 for h in hostnames if (zone.zone_id, h) in ownership.hostnames)
    return ZoneReport(zone.name, zone.zone_id, managed, len(certificates) + len(hostnames))


# -- origin ----------------------------------------------------------------------------------


def _config_bindings(config: Configuration, origins: OriginOptions) -> dict[str, Address]:
    """{hostname: binding} for each hostname an enabled binding of the configuration binds.

    The first binding wins, as in `identity_for_hostname`. Raises AopctlError when `--resolve`
    names a hostname no binding binds (a typo would otherwise go unchecked, silently).
    """
    bound: dict[str, Address] = {}
    for address, resource in config.resources.items():
        hostnames = resource.attributes.get("hostnames")
        if address.type != "aop_hostname_binding" or resource.attributes.get("enabled") is not True:
            continue
        for hostname in hostnames if isinstance(hostnames, list) else []:
            if isinstance(hostname, str):
                bound.setdefault(hostname, address)
    unknown = sorted(set(origins.resolve) - set(bound))
    if unknown:
        names = ", ".join(unknown)
        raise AopctlError(
            f"--resolve names hosts that no enabled aop_hostname_binding binds: {names}"
        )
    return bound


def _check_one(config: Configuration, hostname: str, options: OriginOptions) -> OriginResult:
    """`aopctl origin check https://HOSTNAME:PORT/ --resolve HOSTNAME:IP`, as a result.

    A client identity that cannot be presented (no private key) is an `error` verdict: drift
    reports it with the other findings instead of stopping.
    """
    url = f"https://{hostname}:{options.port}/"
    try:
        credentials = client_credentials(identity_for_hostname(config, hostname))
        return check_origin(
            url,
            resolve=options.resolve[hostname],
            client_cert_pem=credentials[0] if credentials else None,
            client_key_pem=credentials[1] if credentials else None,
            timeout=options.timeout,
        )
    except AopctlError as exc:  # messages name addresses and variables, never key material
        return OriginResult(url, hostname, None, Verdict.ERROR, str(exc))


def _zone_of(config: Configuration, binding: Address, zones: Sequence[LiveZone]) -> LiveZone | None:
    wanted = config.resources[binding].zone
    return next((z for z in zones if wanted in (z.name, z.zone_id)), None)


def _origin_findings(
    config: Configuration,
    bound: Mapping[str, Address],
    options: OriginOptions,
    zones: Sequence[LiveZone],
) -> list[Finding]:
    findings = []
    for hostname, binding in bound.items():
        if hostname not in options.resolve:
            continue
        result = _check_one(config, hostname, options)
        if result.ok:
            continue
        zone = _zone_of(config, binding, zones)
        where = result.address or options.resolve[hostname]
        findings.append(
            Finding(
                category=Category.ORIGIN,
                zone=zone.name if zone else str(config.resources[binding].zone),
                zone_id=zone.zone_id if zone else "",
                resource_type=binding.type,
                address=str(binding),
                remote_id=hostname,
                message=f"origin of {hostname} ({where}): {result.verdict.value}: {result.reason}",
                facts={
                    "hostname": hostname,
                    "url": result.url,
                    "origin_address": result.address,
                    "verdict": result.verdict.value,
                    "reason": result.reason,
                    "probes": [
                        {"presented": p.presented, "outcome": p.outcome, "detail": p.detail}
                        for p in result.probes
                    ],
                },
            )
        )
    return findings


# -- aopctl.ignore.json -----------------------------------------------------------------------


def _apply_ignores(
    findings: Iterable[Finding], rules: Sequence[IgnoreRule], today: date
) -> tuple[list[Finding], list[Suppressed], tuple[IgnoreRule, ...]]:
    live_rules = [rule for rule in rules if not rule.expired(today)]
    kept: list[Finding] = []
    suppressed: list[Suppressed] = []
    for finding in findings:
        rule = next((rule for rule in live_rules if rule.matches(finding)), None)
        if rule is None:
            kept.append(finding)
        else:
            suppressed.append(Suppressed(finding, rule))
    expired = tuple(rule for rule in rules if rule.expired(today))
    return kept, suppressed, expired


@cache
def load_ignore_schema() -> dict[str, Any]:
    text = resources.files("schemas").joinpath(IGNORE_SCHEMA).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_ignore_rules(directory: Path) -> tuple[IgnoreRule, ...]:
    """The rules of `directory`/aopctl.ignore.json (none without the file).

    Raises ConfigError listing every problem, each with the file and its JSON path.
    """
    path = directory / IGNORE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Diagnostic(IGNORE_FILE, "", f"cannot read the file: {exc}")]) from None
    return parse_ignore_rules(text)


def parse_ignore_rules(text: str, source: str = IGNORE_FILE) -> tuple[IgnoreRule, ...]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise ConfigError([Diagnostic(source, where, f"not valid JSON: {exc.msg}")]) from None
    validator = jsonschema.Draft202012Validator(
        load_ignore_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    problems = [
        Diagnostic(source, error.json_path, error.message) for error in validator.iter_errors(data)
    ]
    if problems:
        raise ConfigError(problems)
    return tuple(_rule(item, f"$.ignore[{index}]") for index, item in enumerate(data["ignore"]))


def _rule(item: Mapping[str, Any], where: str) -> IgnoreRule:
    return IgnoreRule(
        category=Category(item["category"]),
        reason=item["reason"],
        expires=date.fromisoformat(item["expires"]),
        address=item.get("address"),
        remote_id=item.get("remote_id"),
        where=where,
    )
