"""The simulated account: zones, certificates, associations, and what happened to them.

Statuses are not stored, they are computed from timestamps: a certificate keeps a list of
phases `(start, status, seq)` written when it is uploaded or deleted, and `status_at(t)` is the last
phase that has started. A persisted sandbox therefore progresses between separate processes and
tests advance a fake clock instead of sleeping.

Lifecycle of a certificate uploaded at `t` (deploy delay `d`, deletion delay `dd`):

    t: initializing   t + d/2: pending_deployment   t + d: active (or deployment_timed_out)
    DELETE at u: pending_deletion   u + dd: deleted (or deletion_timed_out)

A deleted certificate stays visible (listed, GET answers it with status `deleted`) for one more
deletion delay, then it is purged: lists omit it and GET answers 404. With zero delays (tests)
it disappears as soon as it is deleted. A `deletion_timed_out` certificate stays visible and
can be deleted again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

CertKind = Literal["zone", "hostname"]
# (start time, status, seq of the timeline event that scheduled it)
Phase = tuple[float, str, int]

STATUSES = (
    "initializing",
    "pending_deployment",
    "pending_deletion",
    "active",
    "deleted",
    "deployment_timed_out",
    "deletion_timed_out",
)
DEPLOYMENT = ("initializing", "pending_deployment", "active")
SETTINGS = {"ssl": ("off", "flexible", "full", "strict"), "tls_client_auth": ("on", "off")}


def zone_id_for(name: str) -> str:
    """Zone ids are 32 hex characters; derived from the name so they are stable across runs."""
    return hashlib.sha256(f"aopctl-sandbox-zone:{name}".encode()).hexdigest()[:32]


@dataclass
class Setting:
    value: str
    modified_on: float | None = None


@dataclass
class Zone:
    id: str
    name: str
    created_on: float
    settings: dict[str, Setting]
    aop_enabled: bool = False  # zone-level AOP: PUT /origin_tls_client_auth/settings

    @classmethod
    def new(cls, name: str, now: float) -> Zone:
        # Both defaults are "off" in the 2026 spec (ssl: `zones_ssl_value.default`).
        settings = {key: Setting("off") for key in SETTINGS}
        return cls(zone_id_for(name), name, now, settings)


@dataclass
class Certificate:
    id: str
    zone_id: str
    kind: CertKind
    pem: str
    fingerprint_sha256: str
    issuer: str
    signature: str
    serial_number: str
    expires_on: str
    uploaded_on: float
    phases: list[Phase] = field(default_factory=list)
    purge_at: float | None = None

    def status_at(self, moment: float, seq: int | None = None) -> str | None:
        """The status at `moment`, or None before the certificate existed.

        With `seq`, phases scheduled by timeline events after `seq` are ignored, which orders
        changes made within one instant (a frozen test clock) as they happened.
        """
        current = None
        for start, status, origin in self.phases:
            if start <= moment and (seq is None or origin <= seq):
                current = status
        return current

    def updated_at(self, moment: float) -> float:
        started = [start for start, _, _ in self.phases if start <= moment]
        return max(started, default=self.uploaded_on)

    def visible_at(self, moment: float) -> bool:
        return self.purge_at is None or moment < self.purge_at

    def deleted(self, moment: float) -> bool:
        """True once DELETE was accepted (pending_deletion or later)."""
        return self.status_at(moment) in ("pending_deletion", "deleted", "deletion_timed_out")


@dataclass
class Association:
    zone_id: str
    hostname: str
    cert_id: str
    enabled: bool
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class TimelineEvent:
    """One state change. `kind` is one of:

    certificate_uploaded  subject=cert id; data: kind, fingerprint_sha256, source
    certificate_status    subject=cert id; data: kind, status (derived from the phases)
    certificate_deleted   subject=cert id; data: kind, source (DELETE accepted)
    association_set       subject=hostname; data: old_cert_id, cert_id, old_enabled, enabled
    association_removed   subject=hostname; data: old_cert_id, old_enabled
    setting_changed       subject=setting id (`ssl`, `tls_client_auth`, `aop_zone_enabled`);
                          data: old, new
    """

    time: float
    seq: int
    kind: str
    zone: str
    subject: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class RecordedRequest:
    """A request as the sandbox received it. The private key is redacted; no headers kept.

    `status` is None when no answer was sent (dropped connection).
    """

    method: str
    path: str
    query: dict[str, str]
    body: Any
    time: float
    status: int | None = None


@dataclass
class Account:
    """Everything the sandbox remembers; serialisable to JSON."""

    zones: dict[str, Zone] = field(default_factory=dict)
    certificates: dict[str, Certificate] = field(default_factory=dict)
    associations: dict[str, Association] = field(default_factory=dict)  # key: zone_id/hostname
    events: list[TimelineEvent] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    rate_window: tuple[float, int] | None = None  # (window start, requests counted)
    seq: int = 0

    def add_zone(self, name: str, now: float) -> Zone:
        zone = Zone.new(name, now)
        return self.zones.setdefault(zone.id, zone)

    def record(self, time: float, kind: str, zone: Zone, subject: str, /, **data: Any) -> int:
        """Append a timeline event; returns its sequence number."""
        self.seq += 1
        self.events.append(TimelineEvent(time, self.seq, kind, zone.name, subject, data))
        return self.seq

    def certs_in(self, zone_id: str, kind: CertKind) -> list[Certificate]:
        return [c for c in self.certificates.values() if c.zone_id == zone_id and c.kind == kind]

    def associations_in(self, zone_id: str) -> list[Association]:
        return sorted(
            (a for a in self.associations.values() if a.zone_id == zone_id),
            key=lambda a: a.hostname,
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (dicts, lists, strings, numbers), as it is stored on disk."""
        zones = [
            {**vars(zone), "settings": {k: vars(v) for k, v in zone.settings.items()}}
            for zone in self.zones.values()
        ]
        return {
            "zones": zones,
            "certificates": [
                {**vars(cert), "phases": [list(phase) for phase in cert.phases]}
                for cert in self.certificates.values()
            ],
            "associations": [vars(assoc) for assoc in self.associations.values()],
            "events": [vars(event) for event in self.events],
            "requests": [vars(request) for request in self.requests],
            "rate_window": list(self.rate_window) if self.rate_window else None,
            "seq": self.seq,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Account:
        zones = [_zone_from_json(item) for item in data["zones"]]
        certs = [_cert_from_json(item) for item in data["certificates"]]
        assocs = [Association(**item) for item in data["associations"]]
        window = data.get("rate_window")
        return cls(
            zones={zone.id: zone for zone in zones},
            certificates={cert.id: cert for cert in certs},
            associations={association_key(a.zone_id, a.hostname): a for a in assocs},
            events=[TimelineEvent(**item) for item in data["events"]],
            requests=[RecordedRequest(**item) for item in data["requests"]],
            rate_window=(window[0], window[1]) if window else None,
            seq=data["seq"],
        )


def association_key(zone_id: str, hostname: str) -> str:
    return f"{zone_id}/{hostname}"


def _zone_from_json(item: dict[str, Any]) -> Zone:
    settings = {key: Setting(**value) for key, value in item["settings"].items()}
    return Zone(**{**item, "settings": settings})


def _cert_from_json(item: dict[str, Any]) -> Certificate:
    phases = [(start, status, seq) for start, status, seq in item["phases"]]
    return Certificate(**{**item, "phases": phases})
