"""Typed, frozen results of the Cloudflare AOP API, parsed leniently.

Cloudflare adds fields over time and omits optional ones, so parsing ignores unknown fields and
turns missing or malformed optional fields into None. Only identity fields (`id`, `hostname`,
`name`) are required: without them a result cannot be used, and that is an ApiError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from planner.errors import ApiError

JsonObject = Mapping[str, object]

# Python 3.11's fromisoformat accepts at most 6 fractional digits; Cloudflare sometimes sends 9.
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_datetime(value: object) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime (UTC when no offset is given), else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _str(data: JsonObject, key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _bool(data: JsonObject, key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


def _required_str(data: JsonObject, key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ApiError(f"unexpected Cloudflare response: {what} without a {key!r}")
    return value


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    status: str | None = None

    @classmethod
    def from_api(cls, data: JsonObject) -> Zone:
        return cls(
            id=_required_str(data, "id", "zone"),
            name=_required_str(data, "name", "zone"),
            status=_str(data, "status"),
        )


@dataclass(frozen=True)
class Setting:
    """A zone setting such as `ssl` or `tls_client_auth`.

    aopctl manages only string-valued settings; any other JSON value is kept as its JSON text.
    """

    id: str
    value: str
    editable: bool | None = None
    modified_on: datetime | None = None

    @classmethod
    def from_api(cls, data: JsonObject) -> Setting:
        value = data.get("value")
        return cls(
            id=_required_str(data, "id", "zone setting"),
            value=value if isinstance(value, str) else json.dumps(value),
            editable=_bool(data, "editable"),
            modified_on=parse_datetime(data.get("modified_on")),
        )


@dataclass(frozen=True)
class Certificate:
    """What both kinds of AOP client certificate carry."""

    id: str
    certificate: str | None = field(default=None, repr=False)
    status: str | None = None
    expires_on: datetime | None = None
    issuer: str | None = None
    signature: str | None = None
    serial_number: str | None = None  # documented for hostname certificates only
    uploaded_on: datetime | None = None

    @staticmethod
    def common_fields(data: JsonObject, what: str) -> dict[str, Any]:
        return {
            "id": _required_str(data, "id", what),
            "certificate": _str(data, "certificate"),
            "status": _str(data, "status"),
            "expires_on": parse_datetime(data.get("expires_on")),
            "issuer": _str(data, "issuer"),
            "signature": _str(data, "signature"),
            "serial_number": _str(data, "serial_number"),
            "uploaded_on": parse_datetime(data.get("uploaded_on")),
        }


@dataclass(frozen=True)
class ZoneCertificate(Certificate):
    """A zone-level AOP client certificate (`zone-authenticated-origin-pull`)."""

    enabled: bool | None = None

    @classmethod
    def from_api(cls, data: JsonObject) -> ZoneCertificate:
        return cls(**cls.common_fields(data, "zone certificate"), enabled=_bool(data, "enabled"))


@dataclass(frozen=True)
class HostnameCertificate(Certificate):
    """A per-hostname AOP client certificate (`certificateObject-2`)."""

    @classmethod
    def from_api(cls, data: JsonObject) -> HostnameCertificate:
        return cls(**cls.common_fields(data, "hostname certificate"))


@dataclass(frozen=True)
class HostnameAssociation:
    """A hostname bound to a hostname certificate; `enabled` None means the binding is void."""

    hostname: str
    cert_id: str | None = None
    enabled: bool | None = None
    status: str | None = None
    cert_status: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_api(cls, data: JsonObject) -> HostnameAssociation:
        return cls(
            hostname=_required_str(data, "hostname", "hostname association"),
            cert_id=_str(data, "cert_id"),
            enabled=_bool(data, "enabled"),
            status=_str(data, "status"),
            cert_status=_str(data, "cert_status"),
            created_at=parse_datetime(data.get("created_at")),
            updated_at=parse_datetime(data.get("updated_at")),
        )


@dataclass(frozen=True)
class AssociationUpdate:
    """One `config` item of PUT .../hostnames: enabled True/False, or None to void the binding."""

    hostname: str
    cert_id: str
    enabled: bool | None

    def to_api(self) -> dict[str, object]:
        # The extract marks nothing required; Cloudflare needs all three keys (notes §13.8).
        return {"hostname": self.hostname, "cert_id": self.cert_id, "enabled": self.enabled}
