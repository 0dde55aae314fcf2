"""Core values shared by every layer: addresses, resource types and their attributes.

Everything here is frozen so that plans built from these values are stable and hashable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

NAME_PATTERN: Final = r"[a-z_][a-z0-9_-]*"
_ADDRESS_RE: Final = re.compile(rf"^([a-z_]+)\.({NAME_PATTERN})$")
ZONE_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, order=True)
class Address:
    type: str
    name: str

    def __str__(self) -> str:
        return f"{self.type}.{self.name}"

    @classmethod
    def parse(cls, text: str) -> Address:
        match = _ADDRESS_RE.match(text)
        if not match or match.group(1) not in RESOURCE_TYPES:
            raise ValueError(f"{text!r} is not a resource address (TYPE.NAME)")
        return cls(match.group(1), match.group(2))


class _Unknown:
    """A value only the API will know (an id, a status) until the resource is applied."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(known after apply)"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()


class Kind(Enum):
    """The JSON kinds an attribute may hold once templates are evaluated."""

    STRING = "string"
    BOOL = "bool"
    LIST_OF_STRINGS = "list of strings"

    def holds(self, value: Any) -> bool:
        if self is Kind.LIST_OF_STRINGS:
            return isinstance(value, list) and all(isinstance(item, str) for item in value)
        return isinstance(value, bool if self is Kind.BOOL else str)


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: Kind
    required: bool = False
    sensitive: bool = False
    forces_replacement: bool = False
    choices: tuple[str, ...] = ()
    default: Any = None


@dataclass(frozen=True)
class ResourceType:
    name: str
    attributes: tuple[Attribute, ...]
    computed: tuple[str, ...] = ()
    is_certificate: bool = False
    description: str = ""

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)

    @property
    def attribute_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes)

    def has(self, name: str) -> bool:
        return name in self.attribute_names or name in self.computed


_ZONE = Attribute("zone", Kind.STRING, required=True, forces_replacement=True)
_CERT_COMPUTED = (
    "id",
    "status",
    "expires_on",
    "issuer",
    "serial_number",
    "signature",
    "uploaded_on",
    "fingerprint_sha256",
)
_CERT_ATTRIBUTES = (
    _ZONE,
    Attribute("certificate", Kind.STRING, required=True, forces_replacement=True),
    Attribute("private_key", Kind.STRING, sensitive=True),
)

RESOURCE_TYPES: Final[Mapping[str, ResourceType]] = {
    t.name: t
    for t in (
        ResourceType(
            "aop_ssl_mode",
            (_ZONE, Attribute("mode", Kind.STRING, required=True, choices=("full", "strict"))),
            description="the zone's SSL/TLS encryption mode (AOP needs full or strict)",
        ),
        ResourceType(
            "aop_global",
            (_ZONE, Attribute("enabled", Kind.BOOL, required=True)),
            description="global AOP with Cloudflare's shared certificate (tls_client_auth)",
        ),
        ResourceType(
            "aop_zone_certificate",
            _CERT_ATTRIBUTES,
            computed=_CERT_COMPUTED,
            is_certificate=True,
            description="a zone-level client certificate",
        ),
        ResourceType(
            "aop_zone_settings",
            (_ZONE, Attribute("enabled", Kind.BOOL, required=True)),
            description="turns zone-level AOP with a custom certificate on or off",
        ),
        ResourceType(
            "aop_hostname_certificate",
            _CERT_ATTRIBUTES,
            computed=_CERT_COMPUTED,
            is_certificate=True,
            description="a per-hostname client certificate (leaf only, at most 10 per zone)",
        ),
        ResourceType(
            "aop_hostname_binding",
            (
                _ZONE,
                Attribute("hostnames", Kind.LIST_OF_STRINGS, required=True),
                Attribute("certificate_id", Kind.STRING, required=True),
                Attribute("enabled", Kind.BOOL, default=True),
            ),
            description="binds hostnames to a hostname certificate (at most 100 per certificate)",
        ),
    )
}

META_ARGUMENTS: Final = ("depends_on", "lifecycle")
MAX_HOSTNAME_CERTIFICATES_PER_ZONE: Final = 10
MAX_HOSTNAMES_PER_CERTIFICATE: Final = 100
# The zone settings (one value per zone), each with the part of a zone's refresh that reads it.
SETTING_OF: Final[Mapping[str, str]] = {
    "aop_ssl_mode": "ssl",
    "aop_global": "tls_client_auth",
    "aop_zone_settings": "zone_aop",
}


@dataclass(frozen=True)
class ResourceConfig:
    """One resource as the configuration wants it, templates evaluated.

    `attributes` may hold UNKNOWN where a value depends on another resource not yet applied.
    The private key is not here: it stays in the configuration's secret store until uploaded.
    """

    address: Address
    attributes: Mapping[str, Any]
    file: str
    dependencies: tuple[Address, ...] = ()
    sensitive: frozenset[str] = field(default_factory=frozenset)
    prevent_destroy: bool = False

    @property
    def type(self) -> ResourceType:
        return RESOURCE_TYPES[self.address.type]

    @property
    def zone(self) -> Any:
        return self.attributes.get("zone")
