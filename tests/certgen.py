"""Test helpers that mint real certificates and keys with `cryptography`.

Import as `from certgen import make_ca, make_leaf, Issued` (pytest puts tests/ on sys.path).
EC P-256 keys are the default because they are instant; RSA keys are slow to generate, so a small
pool is created lazily and reused (tests that need distinct RSA keys get distinct pool entries).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from dataclasses import dataclass
from functools import cache
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

KeyType = Literal["ec", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

RSA_POOL_SIZE = 4
_rsa_counter = itertools.count()


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, as PEM text and as `cryptography` objects."""

    cert_pem: str
    key_pem: str  # PKCS#8, unencrypted
    key_pem_traditional: str  # PKCS#1 for RSA, SEC1 for EC
    fingerprint_sha256: str  # lowercase hex SHA-256 of the DER certificate
    cert: x509.Certificate
    key: PrivateKey

    def __repr__(self) -> str:  # keep key material out of assertion messages
        return f"Issued(subject={self.cert.subject.rfc4514_string()!r})"


@cache
def _rsa_key(index: int, bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def new_key(key_type: KeyType = "ec", rsa_bits: int = 2048) -> PrivateKey:
    """A fresh EC P-256 key, or the next RSA key from a small memoised pool."""
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return _rsa_key(next(_rsa_counter) % RSA_POOL_SIZE, rsa_bits)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key_pem(key: PrivateKey, fmt: serialization.PrivateFormat) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def make_leaf(
    cn: str,
    *,
    sans: tuple[str, ...] | list[str] = (),
    issuer: Issued | None = None,
    key_type: KeyType = "ec",
    rsa_bits: int = 2048,
    not_before: dt.datetime | None = None,
    days: int = 365,
    ca: bool = False,
    expired: bool = False,
) -> Issued:
    """A certificate for `cn`, signed by `issuer` (self-signed when None).

    `expired=True` moves the validity window into the past (ended a day ago) unless
    `not_before` is given explicitly.
    """
    key = new_key(key_type, rsa_bits)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    if not_before is None:
        not_before = now - dt.timedelta(days=days + 1) if expired else now - dt.timedelta(hours=1)
    signer_key: PrivateKey = issuer.key if issuer else key
    issuer_name = issuer.cert.subject if issuer else _name(cn)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in sans]), critical=False
        )
    cert = builder.sign(signer_key, hashes.SHA256())
    der = cert.public_bytes(serialization.Encoding.DER)
    traditional = serialization.PrivateFormat.TraditionalOpenSSL
    return Issued(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem=_key_pem(key, serialization.PrivateFormat.PKCS8),
        key_pem_traditional=_key_pem(key, traditional),
        fingerprint_sha256=hashlib.sha256(der).hexdigest(),
        cert=cert,
        key=key,
    )


def make_ca(cn: str = "Test CA", key_type: KeyType = "ec", days: int = 365) -> Issued:
    """A self-signed CA certificate (basicConstraints CA:TRUE)."""
    return make_leaf(cn, key_type=key_type, days=days, ca=True)
