"""Refresh: what Cloudflare holds now, read with list endpoints only.

Per managed zone: the SSL mode, the managed settings, both certificate lists and every page of
the association list (`status=all`). The request count grows with zones and pages, never with the
number of hostnames or certificates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from planner import certs
from planner.cloudflare.client import BASE_URL_HINT
from planner.cloudflare.types import (
    AssociationUpdate,
    HostnameAssociation,
    HostnameCertificate,
    Setting,
    Zone,
    ZoneCertificate,
)
from planner.errors import CertificateError, NotFoundError
from planner.model import ZONE_ID_RE

LiveCertificate = ZoneCertificate | HostnameCertificate
GONE = ("deleted", "pending_deletion")
# Terminal failures: such a certificate never serves (again); it is not a usable twin.
FAILED = ("deployment_timed_out", "deletion_timed_out")


class Api(Protocol):
    """The Cloudflare operations the engine uses (planner.cloudflare.CloudflareClient)."""

    def zone_by_name(self, name: str) -> Zone: ...
    def get_setting(self, zone_id: str, setting_id: str) -> Setting: ...
    def patch_setting(self, zone_id: str, setting_id: str, value: str) -> Setting: ...
    def list_zone_certificates(self, zone_id: str) -> list[ZoneCertificate]: ...
    def upload_zone_certificate(
        self, zone_id: str, certificate: str, private_key: str
    ) -> ZoneCertificate: ...
    def get_zone_certificate(self, zone_id: str, cert_id: str) -> ZoneCertificate: ...
    def delete_zone_certificate(self, zone_id: str, cert_id: str) -> ZoneCertificate | None: ...
    def get_zone_aop_enabled(self, zone_id: str) -> bool: ...
    def set_zone_aop_enabled(self, zone_id: str, enabled: bool) -> bool: ...
    def list_hostname_certificates(self, zone_id: str) -> list[HostnameCertificate]: ...
    def upload_hostname_certificate(
        self, zone_id: str, certificate: str, private_key: str
    ) -> HostnameCertificate: ...
    def get_hostname_certificate(self, zone_id: str, cert_id: str) -> HostnameCertificate: ...
    def delete_hostname_certificate(
        self, zone_id: str, cert_id: str
    ) -> HostnameCertificate | None: ...
    def put_hostname_associations(
        self, zone_id: str, updates: Sequence[AssociationUpdate]
    ) -> list[HostnameAssociation]: ...
    def list_hostname_associations(
        self, zone_id: str, status: str = "all", per_page: int = 1000
    ) -> list[HostnameAssociation]: ...


@dataclass
class LiveZone:
    """Everything AOP-related in one zone, as Cloudflare reports it."""

    zone_id: str
    name: str
    ssl: str | None = None
    tls_client_auth: str | None = None
    zone_aop_enabled: bool | None = None
    zone_certificates: dict[str, ZoneCertificate] = field(default_factory=dict)
    hostname_certificates: dict[str, HostnameCertificate] = field(default_factory=dict)
    associations: dict[str, HostnameAssociation] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)  # certificate id -> sha256

    def _table(self, kind: str) -> Mapping[str, LiveCertificate]:
        if kind == "aop_zone_certificate":
            return self.zone_certificates
        return self.hostname_certificates

    def certificate(self, kind: str, cert_id: str | None) -> LiveCertificate | None:
        found = self._table(kind).get(cert_id or "")
        return found if found is not None and found.status not in GONE else None

    def find_by_fingerprint(self, kind: str, fingerprint: str) -> LiveCertificate | None:
        """A usable live certificate with this fingerprint (active ones first)."""
        matches = [
            c
            for c in self._table(kind).values()
            if self.fingerprints.get(c.id) == fingerprint and c.status not in (*GONE, *FAILED)
        ]
        return sorted(matches, key=lambda c: (c.status != "active", c.id))[0] if matches else None

    def failed_uploads(self, kind: str, fingerprint: str) -> tuple[str, ...]:
        """Ids of uploads of this certificate that ended in `deployment_timed_out`."""
        return tuple(
            sorted(
                c.id
                for c in self._table(kind).values()
                if self.fingerprints.get(c.id) == fingerprint and c.status == "deployment_timed_out"
            )
        )

    def all_certificates(self) -> list[LiveCertificate]:
        return [*self.zone_certificates.values(), *self.hostname_certificates.values()]

    def bound(self, hostname: str) -> HostnameAssociation | None:
        """The hostname's association, unless it is void or being removed."""
        association = self.associations.get(hostname)
        if association is None or association.enabled is None or association.status in GONE:
            return None
        return association


@dataclass(frozen=True)
class Needs:
    """What to read in one zone."""

    settings: frozenset[str] = frozenset()  # "ssl", "tls_client_auth", "zone_aop"


def _fingerprint(pem: str | None) -> str | None:
    if not pem:
        return None
    try:
        return certs.fingerprint_sha256(pem)
    except CertificateError:
        return None


class Refresher:
    def __init__(self, api: Api, parallelism: int = 8) -> None:
        self.api = api
        self.parallelism = parallelism
        self._zones: dict[str, Zone] = {}

    def remember(self, zones: Iterable[tuple[str, str]]) -> None:
        """Zone (name, id) pairs the state recorded: those names need no lookup. (Were such a
        zone deleted and added again, the state's resources in it would fail to refresh anyway.)"""
        for name, zone_id in zones:
            if not ZONE_ID_RE.match(name):
                self._zones.setdefault(name, Zone(zone_id, name))

    def resolve_zones(self, zones: Iterable[str]) -> dict[str, tuple[str, str]]:
        """(zone id, zone name) per zone written as a name or an id. Each name is looked up once,
        the lookups concurrently (one request per name: `/zones` filters by one name)."""
        zones = list(zones)
        unknown = sorted({z for z in zones if not ZONE_ID_RE.match(z)} - self._zones.keys())
        with ThreadPoolExecutor(max_workers=self.parallelism) as pool:
            self._zones.update(zip(unknown, pool.map(self._lookup, unknown), strict=True))
        return {zone: self._resolved(zone) for zone in zones}

    def _lookup(self, name: str) -> Zone:
        try:
            return self.api.zone_by_name(name)
        except NotFoundError as exc:
            if exc.status is not None:  # Cloudflare lists no zones as 200 []: not this API
                hint = "" if BASE_URL_HINT in str(exc) else f" ({BASE_URL_HINT})"
                raise NotFoundError(f"{exc}: the zone list itself was not found{hint}") from None
            raise NotFoundError(
                f"zone {name!r} does not exist or the credentials cannot see it"
            ) from None

    def _resolved(self, zone: str) -> tuple[str, str]:
        if ZONE_ID_RE.match(zone):
            return zone, zone
        return self._zones[zone].id, self._zones[zone].name

    def refresh(self, zones: Mapping[str, Needs]) -> dict[str, LiveZone]:
        """Read every zone in `zones` (keyed by zone id): all reads of all zones run
        concurrently on one bounded pool (the client's rate limiter paces them)."""
        with ThreadPoolExecutor(max_workers=self.parallelism) as pool:
            reads = {
                zone_id: {name: pool.submit(read) for name, read in self._reads(zone_id, n).items()}
                for zone_id, n in sorted(zones.items())
            }
            return {
                zone_id: self._zone(zone_id, {name: f.result() for name, f in futures.items()})
                for zone_id, futures in reads.items()
            }

    def _reads(self, zone_id: str, needs: Needs) -> dict[str, Callable[[], Any]]:
        api = self.api
        reads: dict[str, Callable[[], Any]] = {
            "ssl": lambda: api.get_setting(zone_id, "ssl").value,
            "zone_certificates": lambda: api.list_zone_certificates(zone_id),
            "hostname_certificates": lambda: api.list_hostname_certificates(zone_id),
            "associations": lambda: api.list_hostname_associations(zone_id, status="all"),
        }
        if "tls_client_auth" in needs.settings:
            reads["tls_client_auth"] = lambda: api.get_setting(zone_id, "tls_client_auth").value
        if "zone_aop" in needs.settings:
            reads["zone_aop_enabled"] = lambda: api.get_zone_aop_enabled(zone_id)
        return reads

    def _zone(self, zone_id: str, results: Mapping[str, Any]) -> LiveZone:
        live = LiveZone(
            zone_id,
            self._name_of(zone_id),
            ssl=results["ssl"],
            tls_client_auth=results.get("tls_client_auth"),
            zone_aop_enabled=results.get("zone_aop_enabled"),
            zone_certificates={c.id: c for c in results["zone_certificates"]},
            hostname_certificates={c.id: c for c in results["hostname_certificates"]},
            associations={a.hostname: a for a in results["associations"]},
        )
        for cert in live.all_certificates():
            fingerprint = _fingerprint(cert.certificate)
            if fingerprint:
                live.fingerprints[cert.id] = fingerprint
        return live

    def _name_of(self, zone_id: str) -> str:
        return next((z.name for z in self._zones.values() if z.id == zone_id), zone_id)


def certificate_attributes(cert: LiveCertificate, fingerprint: str | None) -> dict[str, Any]:
    """A live certificate's attributes as the state and the plan record them."""
    return {
        "id": cert.id,
        "status": cert.status,
        "expires_on": cert.expires_on.isoformat() if cert.expires_on else None,
        "issuer": cert.issuer,
        "serial_number": cert.serial_number,
        "signature": cert.signature,
        "uploaded_on": cert.uploaded_on.isoformat() if cert.uploaded_on else None,
        "fingerprint_sha256": fingerprint,
    }
