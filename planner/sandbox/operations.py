"""The 16 operations of notes §4, their routing, and the state changes behind them.

Every operation validates everything first and raises `ApiFailure` before it changes anything,
so a refused request leaves no trace in the account (a multi-entry `PUT /hostnames` is atomic).
The state-changing primitives (`create_certificate`, `set_association`, ...) are also used by
the seeding helpers, which act like the dashboard.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from planner.sandbox.certinfo import CertInfo, PemError, parse_certificate, private_key_spki
from planner.sandbox.faults import API_PREFIX, FaultInjector
from planner.sandbox.model import (
    SETTINGS,
    STATUSES,
    Account,
    Association,
    Certificate,
    CertKind,
    Zone,
    association_key,
)
from planner.sandbox.responses import (
    ApiFailure,
    bad_request,
    not_found,
    success,
    timestamp,
    whole_seconds,
)

HOSTNAME_CERT_LIMIT = 10
ASSOCIATIONS_PER_CERT = 100
ZONE_ID = re.compile(r"[0-9a-f]{32}")
CERT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HOSTNAME = re.compile(r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")
ACCOUNT = {"id": "5a2d8c61f0b14e7c9d3e2b1a0f9e8d7c", "name": "aopctl sandbox account"}
FREE_PLAN = {
    "id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
    "name": "Free Website",
    "price": 0,
    "currency": "USD",
    "frequency": "",
    "is_subscribed": False,
    "can_subscribe": False,
    "legacy_id": "free",
    "legacy_discount": False,
    "externally_managed": False,
}


@dataclass(frozen=True)
class Config:
    deploy_delay: float = 0.0
    delete_delay: float = 0.0
    rate_limit: tuple[int, float] | None = (1200, 300.0)


@dataclass(frozen=True)
class Call:
    """One routed request: `path` is relative to `/client/v4`, `params` come from the route."""

    method: str
    path: str
    query: Mapping[str, str]
    body: bytes
    params: Mapping[str, str]
    now: float

    def json_object(self) -> dict[str, Any]:
        try:
            data = json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise ApiFailure(400, 6007, "Malformed JSON in request body") from None
        if not isinstance(data, dict):
            raise bad_request("The request body must be a JSON object")
        return data


Result = tuple[int, dict[str, Any]]
Handler = Callable[["Operations", Call], Result]


class Operations:
    def __init__(self, account: Account, config: Config, faults: FaultInjector) -> None:
        self.account = account
        self.config = config
        self.faults = faults

    # ----- routing -------------------------------------------------------------------------

    def dispatch(self, call: Call) -> Result:
        for pattern, handlers in _ROUTES:
            match = pattern.fullmatch(call.path)
            if match is None:
                continue
            handler = handlers.get(call.method)
            if handler is None:
                raise ApiFailure(405, 7001, f"Method {call.method} not available for that URI.")
            routed = Call(
                call.method, call.path, call.query, call.body, match.groupdict(), call.now
            )
            return handler(self, routed)
        raise ApiFailure(404, 7000, "No route for that URI")

    # ----- lookups -------------------------------------------------------------------------

    def zone(self, call: Call) -> Zone:
        zone_id = call.params["zone_id"]
        if not ZONE_ID.fullmatch(zone_id):
            raise _bad_identifier(call)
        zone = self.account.zones.get(zone_id)
        if zone is None:
            raise not_found(1001, "Invalid zone identifier")
        return zone

    def certificate(self, call: Call, zone: Zone, kind: CertKind) -> Certificate:
        cert_id = call.params["certificate_id"]
        if not CERT_ID.fullmatch(cert_id):
            raise _bad_identifier(call)
        cert = self.account.certificates.get(cert_id)
        found = cert is not None and cert.zone_id == zone.id and cert.kind == kind
        if cert is None or not found or not cert.visible_at(call.now):
            raise not_found(1407, "Certificate not found")
        return cert

    def live_certs(self, zone: Zone, kind: CertKind, now: float) -> list[Certificate]:
        """Certificates neither purged nor deleted (pending_deletion and later excluded)."""
        certs = self.account.certs_in(zone.id, kind)
        return [c for c in certs if c.visible_at(now) and not c.deleted(now)]

    def visible_certs(self, zone: Zone, kind: CertKind, now: float) -> list[Certificate]:
        certs = self.account.certs_in(zone.id, kind)
        return sorted((c for c in certs if c.visible_at(now)), key=lambda c: c.uploaded_on)

    # ----- state changes (shared with the seeding helpers) ---------------------------------

    def create_certificate(
        self, zone: Zone, kind: CertKind, info: CertInfo, now: float, *, source: str, final: str
    ) -> Certificate:
        cert = Certificate(
            id=str(uuid.uuid4()),
            zone_id=zone.id,
            kind=kind,
            pem=info.pem,
            fingerprint_sha256=info.fingerprint_sha256,
            issuer=info.issuer,
            signature=info.signature,
            serial_number=info.serial_number,
            expires_on=whole_seconds(info.expires_on),
            uploaded_on=now,
        )
        seq = self.account.record(
            now,
            "certificate_uploaded",
            zone,
            cert.id,
            kind=kind,
            fingerprint_sha256=info.fingerprint_sha256,
            source=source,
        )
        delay = self.config.deploy_delay
        cert.phases = [
            (now, "initializing", seq),
            (now + delay / 2, "pending_deployment", seq),
            (now + delay, final, seq),
        ]
        self.account.certificates[cert.id] = cert
        return cert

    def delete_certificate(
        self, zone: Zone, cert: Certificate, now: float, *, final: str, source: str = "api"
    ) -> None:
        seq = self.account.record(
            now, "certificate_deleted", zone, cert.id, kind=cert.kind, source=source
        )
        delay = self.config.delete_delay
        kept = [phase for phase in cert.phases if phase[0] <= now]
        cert.phases = [*kept, (now, "pending_deletion", seq), (now + delay, final, seq)]
        cert.purge_at = now + 2 * delay if final == "deleted" else None

    def set_association(
        self, zone: Zone, hostname: str, cert_id: str, enabled: bool, now: float, source: str
    ) -> Association:
        key = association_key(zone.id, hostname)
        old = self.account.associations.get(key)
        if old and old.cert_id == cert_id and old.enabled == enabled:
            old.updated_at = now
            return old
        created = old.created_at if old else now
        new = Association(zone.id, hostname, cert_id, enabled, created, now)
        self.account.associations[key] = new
        self.account.record(
            now,
            "association_set",
            zone,
            hostname,
            old_cert_id=old.cert_id if old else None,
            cert_id=cert_id,
            old_enabled=old.enabled if old else None,
            enabled=enabled,
            source=source,
        )
        return new

    def remove_association(self, zone: Zone, hostname: str, now: float, source: str) -> None:
        old = self.account.associations.pop(association_key(zone.id, hostname), None)
        if old is not None:
            self.account.record(
                now,
                "association_removed",
                zone,
                hostname,
                old_cert_id=old.cert_id,
                old_enabled=old.enabled,
                source=source,
            )

    def change_setting(
        self, zone: Zone, setting_id: str, value: object, now: float, source: str
    ) -> None:
        if setting_id == "aop_zone_enabled":
            old: object = zone.aop_enabled
            zone.aop_enabled = bool(value)
        else:
            setting = zone.settings[setting_id]
            old, setting.value, setting.modified_on = setting.value, str(value), now
        if old != value:
            self.account.record(
                now, "setting_changed", zone, setting_id, old=old, new=value, source=source
            )

    # ----- zones and zone settings ---------------------------------------------------------

    def list_zones(self, call: Call) -> Result:
        page = _int_param(call.query, "page", 1, 1, None)
        per_page = _int_param(call.query, "per_page", 20, 5, 50)
        zones = sorted(self.account.zones.values(), key=lambda z: z.name)
        name_filter = call.query.get("name")
        if name_filter is not None:
            zones = [z for z in zones if _name_matches(z.name, name_filter)]
        if call.query.get("status") not in (None, "active"):
            zones = []
        shown, info = _paginate(zones, page, per_page)
        return 200, success([_render_zone(z) for z in shown], info)

    def get_setting(self, call: Call) -> Result:
        zone = self.zone(call)
        setting_id = _setting_id(call)
        return 200, success(_render_setting(zone, setting_id))

    def edit_setting(self, call: Call) -> Result:
        zone = self.zone(call)
        setting_id = _setting_id(call)
        body = call.json_object()
        value = body.get("value")
        if set(body) != {"value"} or value not in SETTINGS[setting_id]:
            raise ApiFailure(400, 1007, f"Invalid value for zone setting {setting_id}")
        self.change_setting(zone, setting_id, value, call.now, "api")
        return 200, success(_render_setting(zone, setting_id))

    # ----- zone-level AOP ------------------------------------------------------------------

    def list_zone_certs(self, call: Call) -> Result:
        zone = self.zone(call)
        certs = self.visible_certs(zone, "zone", call.now)
        rendered = [self.render_zone_cert(zone, c, call.now) for c in certs]
        return 200, success(rendered, _single_page(len(rendered)))

    def upload_zone_cert(self, call: Call) -> Result:
        zone = self.zone(call)
        cert = self._upload(call, zone, "zone")
        return 200, success(self.render_zone_cert(zone, cert, call.now))

    def get_zone_cert(self, call: Call) -> Result:
        zone = self.zone(call)
        cert = self.certificate(call, zone, "zone")
        return 200, success(self.render_zone_cert(zone, cert, call.now))

    def delete_zone_cert(self, call: Call) -> Result:
        zone = self.zone(call)
        cert = self.certificate(call, zone, "zone")
        self._delete(call, zone, cert)
        return 200, success(self.render_zone_cert(zone, cert, call.now))

    def get_aop_setting(self, call: Call) -> Result:
        zone = self.zone(call)
        return 200, success({"enabled": zone.aop_enabled})

    def put_aop_setting(self, call: Call) -> Result:
        zone = self.zone(call)
        body = call.json_object()
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            raise bad_request("enabled must be true or false")
        self.change_setting(zone, "aop_zone_enabled", enabled, call.now, "api")
        return 200, success({"enabled": zone.aop_enabled})

    # ----- per-hostname certificates -------------------------------------------------------

    def list_hostname_certs(self, call: Call) -> Result:
        zone = self.zone(call)
        certs = self.visible_certs(zone, "hostname", call.now)
        rendered = [render_hostname_cert(c, call.now) for c in certs]
        return 200, success(rendered, _single_page(len(rendered)))

    def upload_hostname_cert(self, call: Call) -> Result:
        zone = self.zone(call)
        cert = self._upload(call, zone, "hostname")
        return 200, success(render_hostname_cert(cert, call.now))

    def get_hostname_cert(self, call: Call) -> Result:
        zone = self.zone(call)
        cert = self.certificate(call, zone, "hostname")
        return 200, success(render_hostname_cert(cert, call.now))

    def delete_hostname_cert(self, call: Call) -> Result:
        zone = self.zone(call)
        cert = self.certificate(call, zone, "hostname")
        bound = [a.hostname for a in self.account.associations_in(zone.id) if a.cert_id == cert.id]
        if bound:
            raise ApiFailure(
                400,
                1409,
                f"Certificate is still associated with {len(bound)} hostname(s): "
                f"{', '.join(bound[:5])}. Invalidate them first (PUT enabled: null).",
            )
        self._delete(call, zone, cert)
        return 200, success(render_hostname_cert(cert, call.now))

    # ----- hostname associations -----------------------------------------------------------

    def list_associations(self, call: Call) -> Result:
        zone = self.zone(call)
        page = _int_param(call.query, "page", 1, 1, None)
        per_page = _int_param(call.query, "per_page", 50, 1, 1000)
        wanted = _status_filter(call.query.get("status", "active"))
        rows = [
            a
            for a in self.account.associations_in(zone.id)
            if wanted is None or self.association_status(a, call.now) in wanted
        ]
        shown, info = _paginate(rows, page, per_page)
        return 200, success([self._render_assoc_row(a, call.now) for a in shown], info)

    def get_association(self, call: Call) -> Result:
        zone = self.zone(call)
        hostname = call.params["hostname"].lower()
        assoc = self.account.associations.get(association_key(zone.id, hostname))
        if assoc is None:
            raise not_found(1410, f"No client certificate association for {hostname}")
        return 200, success(self.render_assoc_detail(assoc.hostname, assoc, call.now))

    def put_associations(self, call: Call) -> Result:
        zone = self.zone(call)
        items = _config_items(call.json_object(), zone)
        for hostname, cert_id, enabled in items:
            self._check_association(zone, hostname, cert_id, enabled, call.now)
        self._check_association_limit(zone, items)
        result = []
        for hostname, cert_id, enabled in items:
            if enabled is None:
                self.remove_association(zone, hostname, call.now, "api")
                result.append(self._render_voided(hostname, cert_id, call.now))
            else:
                assoc = self.set_association(zone, hostname, cert_id, enabled, call.now, "api")
                result.append(
                    {"id": cert_id, **self.render_assoc_detail(hostname, assoc, call.now)}
                )
        return 200, success(result)

    # ----- helpers -------------------------------------------------------------------------

    def _upload(self, call: Call, zone: Zone, kind: CertKind) -> Certificate:
        body = call.json_object()
        cert_text, key_text = body.get("certificate"), body.get("private_key")
        if not isinstance(cert_text, str) or not isinstance(key_text, str):
            raise bad_request("certificate and private_key are required strings")
        info = _parse_upload(cert_text, key_text, kind)
        live = self.live_certs(zone, kind, call.now)
        if any(c.fingerprint_sha256 == info.fingerprint_sha256 for c in live):
            raise ApiFailure(400, 1406, "This certificate has already been uploaded.")
        if kind == "hostname" and len(live) >= HOSTNAME_CERT_LIMIT:
            raise ApiFailure(
                400, 1405, f"A zone can have at most {HOSTNAME_CERT_LIMIT} hostname certificates."
            )
        fault = self.faults.take(("deployment_timed_out",), call.method, API_PREFIX + call.path)
        final = "deployment_timed_out" if fault else "active"
        return self.create_certificate(zone, kind, info, call.now, source="api", final=final)

    def _delete(self, call: Call, zone: Zone, cert: Certificate) -> None:
        if cert.deleted(call.now) and cert.status_at(call.now) != "deletion_timed_out":
            return  # already being deleted: answer its current state, change nothing
        fault = self.faults.take(("deletion_timed_out",), call.method, API_PREFIX + call.path)
        final = "deletion_timed_out" if fault else "deleted"
        self.delete_certificate(zone, cert, call.now, final=final)

    def _check_association(
        self, zone: Zone, hostname: str, cert_id: str, enabled: bool | None, now: float
    ) -> None:
        current = self.account.associations.get(association_key(zone.id, hostname))
        if enabled is None:
            if current is not None and current.cert_id != cert_id:
                raise ApiFailure(
                    400,
                    1411,
                    f"{hostname} is associated with certificate {current.cert_id}, not {cert_id}",
                )
            return
        cert = self.account.certificates.get(cert_id)
        usable = cert is not None and cert.zone_id == zone.id and cert.kind == "hostname"
        if cert is None or not usable or not cert.visible_at(now):
            raise not_found(1407, f"Certificate {cert_id} not found")
        if cert.deleted(now):
            raise ApiFailure(400, 1411, f"Certificate {cert_id} is being deleted")

    def _check_association_limit(
        self, zone: Zone, items: list[tuple[str, str, bool | None]]
    ) -> None:
        bound = {a.hostname: a.cert_id for a in self.account.associations_in(zone.id)}
        for hostname, cert_id, enabled in items:
            if enabled is None:
                bound.pop(hostname, None)
            else:
                bound[hostname] = cert_id
        for cert_id, count in Counter(bound.values()).items():
            if count > ASSOCIATIONS_PER_CERT:
                raise ApiFailure(
                    400,
                    1408,
                    f"Certificate {cert_id} would have {count} associations; "
                    f"at most {ASSOCIATIONS_PER_CERT} are allowed.",
                )

    def association_status(self, assoc: Association, now: float) -> str:
        """An association's status follows its certificate's."""
        cert = self.account.certificates.get(assoc.cert_id)
        status = cert.status_at(now) if cert else None
        return status or "deleted"

    def render_zone_cert(self, zone: Zone, cert: Certificate, now: float) -> dict[str, Any]:
        # `enabled` mirrors the zone-level AOP switch (notes §12.9 leaves it open).
        return {**render_hostname_cert(cert, now), "enabled": zone.aop_enabled}

    def render_assoc_detail(self, hostname: str, assoc: Association, now: float) -> dict[str, Any]:
        cert = self.account.certificates[assoc.cert_id]
        status = self.association_status(assoc, now)
        return {
            "hostname": hostname,
            "cert_id": cert.id,
            "enabled": assoc.enabled,
            "status": status,
            "cert_status": status,
            "created_at": timestamp(assoc.created_at),
            "updated_at": timestamp(assoc.updated_at),
            "cert_uploaded_on": timestamp(cert.uploaded_on),
            "cert_updated_at": timestamp(cert.updated_at(now)),
            "certificate": cert.pem,
            "expires_on": cert.expires_on,
            "issuer": cert.issuer,
            "serial_number": cert.serial_number,
            "signature": cert.signature,
        }

    def _render_voided(self, hostname: str, cert_id: str, now: float) -> dict[str, Any]:
        return {
            "id": cert_id,
            "hostname": hostname,
            "cert_id": cert_id,
            "enabled": None,
            "status": "deleted",
            "updated_at": timestamp(now),
        }

    def _render_assoc_row(self, assoc: Association, now: float) -> dict[str, Any]:
        return {
            "cert_id": assoc.cert_id,
            "created_at": timestamp(assoc.created_at),
            "enabled": assoc.enabled,
            "hostname": assoc.hostname,
            "status": self.association_status(assoc, now),
            "updated_at": timestamp(assoc.updated_at),
        }


def render_hostname_cert(cert: Certificate, now: float) -> dict[str, Any]:
    return {
        "id": cert.id,
        "certificate": cert.pem,
        "expires_on": cert.expires_on,
        "issuer": cert.issuer,
        "serial_number": cert.serial_number,
        "signature": cert.signature,
        "status": cert.status_at(now),
        "uploaded_on": timestamp(cert.uploaded_on),
    }


def _parse_upload(cert_text: str, key_text: str, kind: CertKind) -> CertInfo:
    try:
        info = parse_certificate(cert_text)
    except PemError as exc:
        raise ApiFailure(400, 1402, f"Invalid certificate: {exc}") from None
    try:
        key_public = private_key_spki(key_text)
    except PemError as exc:
        raise ApiFailure(400, 1403, f"Invalid private key: {exc}") from None
    if key_public != info.public_key_der:
        raise ApiFailure(400, 1404, "The private key does not match the certificate.")
    if kind == "hostname" and info.is_ca:
        raise ApiFailure(400, 1412, "Only leaf certificate is allowed.")
    return info


def _config_items(body: dict[str, Any], zone: Zone) -> list[tuple[str, str, bool | None]]:
    config = body.get("config")
    if not isinstance(config, list) or not config:
        raise bad_request("config must be a non-empty array")
    items = [_config_item(raw, index, zone) for index, raw in enumerate(config)]
    seen = Counter(hostname for hostname, _, _ in items)
    duplicates = sorted(h for h, n in seen.items() if n > 1)
    if duplicates:
        raise bad_request(f"config lists a hostname more than once: {', '.join(duplicates)}")
    return items


def _config_item(raw: object, index: int, zone: Zone) -> tuple[str, str, bool | None]:
    where = f"config[{index}]"
    if not isinstance(raw, dict) or not {"hostname", "cert_id", "enabled"} <= set(raw):
        raise bad_request(f"{where} needs hostname, cert_id and enabled")
    hostname, cert_id, enabled = raw["hostname"], raw["cert_id"], raw["enabled"]
    if not isinstance(hostname, str) or len(hostname) > 255:
        raise bad_request(f"{where}.hostname must be a string of at most 255 characters")
    hostname = hostname.lower()
    if not HOSTNAME.fullmatch(hostname):
        raise bad_request(f"{where}.hostname is not a valid hostname")
    if hostname != zone.name and not hostname.endswith("." + zone.name):
        raise ApiFailure(400, 1411, f"{hostname} is not in zone {zone.name}")
    if not isinstance(cert_id, str) or not CERT_ID.fullmatch(cert_id):
        raise bad_request(f"{where}.cert_id must be a certificate id")
    if enabled is not None and not isinstance(enabled, bool):
        raise bad_request(f"{where}.enabled must be true, false or null")
    return hostname, cert_id, enabled


def _bad_identifier(call: Call) -> ApiFailure:
    return ApiFailure(
        400,
        7003,
        f"Could not route to {API_PREFIX}{call.path}, perhaps your object identifier is invalid?",
    )


def _setting_id(call: Call) -> str:
    setting_id = call.params["setting_id"]
    if setting_id not in SETTINGS:
        raise ApiFailure(400, 1006, "Unrecognized zone setting name")
    return setting_id


def _render_setting(zone: Zone, setting_id: str) -> dict[str, Any]:
    setting = zone.settings[setting_id]
    modified = timestamp(setting.modified_on) if setting.modified_on is not None else None
    return {"id": setting_id, "value": setting.value, "editable": True, "modified_on": modified}


def _render_zone(zone: Zone) -> dict[str, Any]:
    created = timestamp(zone.created_on)
    return {
        "id": zone.id,
        "name": zone.name,
        "status": "active",
        "paused": False,
        "type": "full",
        "development_mode": 0,
        "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
        "original_name_servers": None,
        "original_registrar": None,
        "original_dnshost": None,
        "created_on": created,
        "modified_on": created,
        "activated_on": created,
        "meta": {
            "step": 2,
            "custom_certificate_quota": 0,
            "page_rule_quota": 3,
            "phishing_detected": False,
        },
        "owner": {"id": ACCOUNT["id"], "type": "user", "name": "sandbox@example.com"},
        "account": dict(ACCOUNT),
        "plan": FREE_PLAN,
    }


def _name_matches(name: str, query: str) -> bool:
    """The `/zones?name=` filter with its optional `operator:` prefix."""
    operator, _, operand = query.partition(":") if ":" in query else ("equal", "", query)
    case_sensitive = operator.endswith("_case_sensitive")
    operator = operator.removesuffix("_case_sensitive")
    subject, operand = (name, operand) if case_sensitive else (name.lower(), operand.lower())
    tests: dict[str, Callable[[], bool]] = {
        "equal": lambda: subject == operand,
        "not_equal": lambda: subject != operand,
        "starts_with": lambda: subject.startswith(operand),
        "ends_with": lambda: subject.endswith(operand),
        "contains": lambda: operand in subject,
    }
    test = tests.get(operator)
    if test is None:
        raise bad_request(f"Unknown name filter operator {operator!r}")
    return test()


def _int_param(
    query: Mapping[str, str], name: str, default: int, low: int, high: int | None
) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        upper = f" and at most {high}" if high is not None else ""
        raise bad_request(f"{name} must be an integer of at least {low}{upper}")
    return int(raw)


def _status_filter(raw: str) -> set[str] | None:
    values = {value.strip() for value in raw.split(",")}
    unknown = values - set(STATUSES) - {"all"}
    if unknown:
        raise bad_request(f"Unknown status filter: {', '.join(sorted(unknown))}")
    return None if "all" in values else values


def _paginate(items: list[Any], page: int, per_page: int) -> tuple[list[Any], dict[str, int]]:
    shown = items[(page - 1) * per_page : page * per_page]
    info = {
        "page": page,
        "per_page": per_page,
        "count": len(shown),
        "total_count": len(items),
        "total_pages": math.ceil(len(items) / per_page),
    }
    return shown, info


def _single_page(count: int) -> dict[str, int]:
    """Certificate lists are one page (notes §3); Cloudflare still sends `result_info`."""
    per_page = max(50, count)
    return {
        "page": 1,
        "per_page": per_page,
        "count": count,
        "total_count": count,
        "total_pages": 1,
    }


def _route(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template))


_AOP = "/zones/{zone_id}/origin_tls_client_auth"
# Literal segments come before parameters (`certificates` before `{hostname}`).
_ROUTES: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
    (_route("/zones"), {"GET": Operations.list_zones}),
    (
        _route("/zones/{zone_id}/settings/{setting_id}"),
        {"GET": Operations.get_setting, "PATCH": Operations.edit_setting},
    ),
    (_route(_AOP), {"GET": Operations.list_zone_certs, "POST": Operations.upload_zone_cert}),
    (
        _route(_AOP + "/settings"),
        {"GET": Operations.get_aop_setting, "PUT": Operations.put_aop_setting},
    ),
    (
        _route(_AOP + "/hostnames"),
        {"GET": Operations.list_associations, "PUT": Operations.put_associations},
    ),
    (
        _route(_AOP + "/hostnames/certificates"),
        {"GET": Operations.list_hostname_certs, "POST": Operations.upload_hostname_cert},
    ),
    (
        _route(_AOP + "/hostnames/certificates/{certificate_id}"),
        {"GET": Operations.get_hostname_cert, "DELETE": Operations.delete_hostname_cert},
    ),
    (_route(_AOP + "/hostnames/{hostname}"), {"GET": Operations.get_association}),
    (
        _route(_AOP + "/{certificate_id}"),
        {"GET": Operations.get_zone_cert, "DELETE": Operations.delete_zone_cert},
    ),
]
