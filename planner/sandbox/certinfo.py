"""Certificate parsing the way Cloudflare's API does it, with `cryptography`.

The sandbox plays Cloudflare, so it must not share aopctl's own certificate code (`planner.certs`):
a mistake there would otherwise be invisible. Like the real API it is lenient about whitespace
(CRLF, indentation, blank lines, a missing final newline) and returns the certificate as a
normalised PEM block.

Names follow the real answers recorded in `tests/data` rather than the spec's example: the
issuer is an RFC 4514 string (`CN=...,O=...,C=US`) and the signature algorithm uses Go's
`x509.SignatureAlgorithm` names (`SHA256-RSA`, `ECDSA-SHA384`), which is what Cloudflare sends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import SignatureAlgorithmOID as Sig

_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)

_GO_SIGNATURE_NAMES = {
    Sig.RSA_WITH_MD5: "MD5-RSA",
    Sig.RSA_WITH_SHA1: "SHA1-RSA",
    Sig.RSA_WITH_SHA224: "SHA224-RSA",
    Sig.RSA_WITH_SHA256: "SHA256-RSA",
    Sig.RSA_WITH_SHA384: "SHA384-RSA",
    Sig.RSA_WITH_SHA512: "SHA512-RSA",
    Sig.ECDSA_WITH_SHA1: "ECDSA-SHA1",
    Sig.ECDSA_WITH_SHA224: "ECDSA-SHA224",
    Sig.ECDSA_WITH_SHA256: "ECDSA-SHA256",
    Sig.ECDSA_WITH_SHA384: "ECDSA-SHA384",
    Sig.ECDSA_WITH_SHA512: "ECDSA-SHA512",
    Sig.DSA_WITH_SHA1: "DSA-SHA1",
    Sig.DSA_WITH_SHA256: "DSA-SHA256",
    Sig.ED25519: "Ed25519",
}


class PemError(ValueError):
    """The PEM text cannot be used. Messages never quote the input."""


@dataclass(frozen=True)
class CertInfo:
    """What Cloudflare reports about an uploaded certificate."""

    pem: str
    fingerprint_sha256: str
    issuer: str
    signature: str
    serial_number: str
    expires_on: dt.datetime
    is_ca: bool
    public_key_der: bytes


def _blocks(text: str) -> list[tuple[str, str]]:
    """PEM blocks as (label, normalised block), ignoring indentation and line endings."""
    lines = [line.strip() for line in text.replace("\r", "\n").split("\n")]
    joined = "\n".join(line for line in lines if line)
    found = []
    for match in _BLOCK.finditer(joined):
        body = "".join(match.group(2).split())
        wrapped = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        label = match.group(1)
        found.append((label, f"-----BEGIN {label}-----\n{wrapped}\n-----END {label}-----\n"))
    return found


def _signature_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    if oid == Sig.RSASSA_PSS:
        digest = cert.signature_hash_algorithm
        return f"{digest.name.upper()}-RSAPSS" if digest else "RSAPSS"
    return _GO_SIGNATURE_NAMES.get(oid, oid.dotted_string)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def parse_certificate(text: str) -> CertInfo:
    """The first CERTIFICATE block of `text` (a leaf comes first in a bundle)."""
    blocks = [pem for label, pem in _blocks(text) if label == "CERTIFICATE"]
    if not blocks:
        raise PemError("no PEM certificate block found")
    try:
        cert = x509.load_pem_x509_certificate(blocks[0].encode())
        public_key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise PemError("the certificate cannot be parsed") from exc
    der = cert.public_bytes(serialization.Encoding.DER)
    return CertInfo(
        pem=blocks[0],
        fingerprint_sha256=hashlib.sha256(der).hexdigest(),
        issuer=cert.issuer.rfc4514_string(),
        signature=_signature_name(cert),
        serial_number=str(cert.serial_number),
        expires_on=cert.not_valid_after_utc,
        is_ca=_is_ca(cert),
        public_key_der=_spki(public_key),
    )


def _spki(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def private_key_spki(text: str) -> bytes:
    """The public half of the first private key block, as DER SubjectPublicKeyInfo.

    Accepts PKCS#8, PKCS#1 and SEC1 keys, with a stray `EC PARAMETERS` block before them.
    Errors never include key material: the exception chain is cut on purpose.
    """
    blocks = [pem for label, pem in _blocks(text) if label.endswith("PRIVATE KEY")]
    if not blocks:
        raise PemError("no PEM private key block found")
    try:
        key = serialization.load_pem_private_key(blocks[0].encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise PemError("the private key cannot be parsed (encrypted or malformed)") from None
    return _spki(key.public_key())
