"""Benchmark scales and the aopctl configurations generated for them.

A scale is `ZONESxHOSTNAMES` (hostnames per zone). Each zone gets an `aop_ssl_mode` (mode
`full`), and its hostnames are split over as few hostname certificates as Cloudflare allows (at
most 100 hostnames per certificate, at most 10 certificates per zone), each with one
`aop_hostname_binding`. Every certificate exists in two releases; the variable `release` picks
one, so `apply --var release=2` rotates every certificate.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOSTNAMES_PER_CERTIFICATE = 100  # Cloudflare's limit for one hostname certificate
CERTIFICATES_PER_ZONE = 10  # Cloudflare's limit of hostname certificates in one zone
RELEASES = ("1", "2")
LAYOUTS = ("certificate", "hostname")
DEFAULT_SCALES = ("1x10", "1x100", "1x1000", "10x20", "100x20")


@dataclass(frozen=True)
class Scale:
    zones: int
    hostnames_per_zone: int

    @classmethod
    def parse(cls, text: str) -> Scale:
        zones, sep, hostnames = text.lower().partition("x")
        if not sep or not zones.isdigit() or not hostnames.isdigit():
            raise ValueError(f"scale must look like ZONESxHOSTNAMES (e.g. 10x20), not {text!r}")
        scale = cls(int(zones), int(hostnames))
        if scale.zones < 1 or scale.hostnames_per_zone < 1:
            raise ValueError(f"scale {text!r} needs at least one zone and one hostname")
        if scale.certificates_per_zone > CERTIFICATES_PER_ZONE:
            limit = CERTIFICATES_PER_ZONE * HOSTNAMES_PER_CERTIFICATE
            raise ValueError(f"scale {text!r}: Cloudflare allows {limit} hostnames per zone")
        return scale

    def __str__(self) -> str:
        return f"{self.zones}x{self.hostnames_per_zone}"

    @property
    def certificates_per_zone(self) -> int:
        return math.ceil(self.hostnames_per_zone / HOSTNAMES_PER_CERTIFICATE)

    @property
    def hostnames(self) -> int:
        return self.zones * self.hostnames_per_zone

    @property
    def certificates(self) -> int:
        return self.zones * self.certificates_per_zone

    @property
    def can_rotate(self) -> bool:
        """A zero-downtime rotation uploads before it deletes: it needs a free certificate slot."""
        return self.certificates_per_zone < CERTIFICATES_PER_ZONE

    def zone_names(self, prefix: str = "z") -> list[str]:
        """aopctl's zones use prefix `z`, the baseline's `b`: both start from empty zones."""
        return [f"{prefix}{index:03d}.bench.example" for index in range(self.zones)]


@dataclass(frozen=True)
class Certificate:
    """One hostname certificate of the benchmark and the hostnames bound to it."""

    zone_index: int
    index: int
    zone: str
    hostnames: tuple[str, ...]

    @property
    def name(self) -> str:
        """The resource name; also names the PEM files, which both tools share."""
        return f"z{self.zone_index:03d}_c{self.index}"

    def pem_path(self, release: str, suffix: str) -> str:
        return f"certs/{self.name}-{release}.{suffix}.pem"


def certificates(scale: Scale, prefix: str = "z") -> list[Certificate]:
    found = []
    for zone_index, zone in enumerate(scale.zone_names(prefix)):
        hostnames = [f"h{n:04d}.{zone}" for n in range(scale.hostnames_per_zone)]
        for index in range(scale.certificates_per_zone):
            start = index * HOSTNAMES_PER_CERTIFICATE
            chunk = tuple(hostnames[start : start + HOSTNAMES_PER_CERTIFICATE])
            found.append(Certificate(zone_index, index, zone, chunk))
    return found


def _self_signed(common_name: str) -> tuple[bytes, bytes]:
    """A leaf certificate and its PKCS#8 key; EC P-256 because it is instant to generate."""
    # Imported here: the baseline process imports this module and must not pay for it.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600)
    path.write_bytes(data)


def _file(path: str) -> str:
    return '${file("' + path + '")}'


def _binding_groups(cert: Certificate, layout: str) -> list[tuple[str, tuple[str, ...]]]:
    """One binding per certificate (as `aopctl generate` writes), or one per hostname."""
    if layout == "certificate":
        return [(cert.name, cert.hostnames)]
    return [(f"{cert.name}_h{n:03d}", (hostname,)) for n, hostname in enumerate(cert.hostnames)]


def _resources(scale: Scale, certs: list[Certificate], layout: str) -> dict[str, dict[str, Any]]:
    ssl_modes = {
        f"z{index:03d}": {"zone": zone, "mode": "full"}
        for index, zone in enumerate(scale.zone_names())
    }
    hostname_certificates = {
        cert.name: {
            "zone": cert.zone,
            "certificate": _file(cert.pem_path("${var.release}", "crt")),
            "private_key": _file(cert.pem_path("${var.release}", "key")),
        }
        for cert in certs
    }
    bindings = {
        name: {
            "zone": cert.zone,
            "hostnames": list(hostnames),
            "certificate_id": f"${{aop_hostname_certificate.{cert.name}.id}}",
            "enabled": True,
        }
        for cert in certs
        for name, hostnames in _binding_groups(cert, layout)
    }
    return {
        "aop_ssl_mode": ssl_modes,
        "aop_hostname_certificate": hostname_certificates,
        "aop_hostname_binding": bindings,
    }


def write_configuration(
    directory: Path, scale: Scale, layout: str = "certificate"
) -> list[Certificate]:
    """Write `main.aop.json` and every certificate of both releases into `directory`.

    `layout`: `certificate` binds each certificate's hostnames with one binding, `hostname`
    writes one binding per hostname (the shape of one-resource-per-object configurations).
    """
    certs = certificates(scale)
    (directory / "certs").mkdir(parents=True, exist_ok=True)
    for cert in certs:
        for release in RELEASES:
            cert_pem, key_pem = _self_signed(f"{cert.name}-{release}.{cert.zone}")
            (directory / cert.pem_path(release, "crt")).write_bytes(cert_pem)
            _write_private(directory / cert.pem_path(release, "key"), key_pem)
    document = {
        "//": f"Generated by benchmarks/scenarios.py for scale {scale}; rotate with release=2.",
        "variable": {"release": {"type": "string", "default": RELEASES[0]}},
        "resource": _resources(scale, certs, layout),
    }
    (directory / "main.aop.json").write_text(json.dumps(document, indent=1) + "\n")
    return certs
