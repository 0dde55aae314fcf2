"""Certificates and private keys: PEM normalisation, parsing, fingerprints, key match, expiry.

The only user of `cryptography` in the engine. Two certificates are the same when their DER
SHA-256 fingerprints are equal; PEM text is normalised before it is compared or sent.

Secrets: nothing here ever puts input text into a message or a repr. Errors name the PEM
block label (always `[A-Z0-9 ]`) at most, and private keys are reduced to their public-key
fingerprint as soon as they are parsed.

A PEM holding several certificates (leaf followed by its chain) is accepted: the first
certificate is the leaf, the others are ignored (`CertificateInfo.chain_length` counts them).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import SignatureAlgorithmOID

from planner.errors import CertificateError, Severity
from planner.textfile import decode_text

CERTIFICATE = "CERTIFICATE"
EC_PARAMETERS = "EC PARAMETERS"
ENCRYPTED_KEY = "ENCRYPTED PRIVATE KEY"
KEY_LABELS = frozenset({"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", ENCRYPTED_KEY})

DER_HINT_CERT = "convert it with `openssl x509 -inform der -in FILE -out FILE.pem`"
DER_HINT_KEY = "convert it with `openssl pkey -inform der -in FILE -out FILE.pem`"
DER_HINT_ANY = (
    "convert it with `openssl x509 -inform der` (certificate) or `openssl pkey -inform der` (key)"
)
ENCRYPTED_MESSAGE = (
    "encrypted private keys are not supported; decrypt it with "
    "`openssl pkey -in FILE -out FILE.decrypted.pem`"
)

_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9]+(?: [A-Z0-9]+)*)-----")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# RFC 1421 header ("Proc-Type: 4,ENCRYPTED"); the space after the colon means a body line, which
# normalisation strips of all whitespace, can never be mistaken for one.
_HEADER = re.compile(r"[A-Za-z0-9-]+:\s+\S")
_BASE64_ONLY = re.compile(r"[A-Za-z0-9+/=\s]+")
# Characters that never occur in PEM text but always do in DER read as text: C0 controls,
# U+FFFD from a lossy decode, lone surrogates from `surrogateescape`.
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\ufffd\ud800-\udfff]")


@dataclass(frozen=True)
class PemBlock:
    label: str
    headers: tuple[str, ...]  # RFC 1421 headers, e.g. "Proc-Type: 4,ENCRYPTED"
    body: str  # base64 with all whitespace removed (not validated)

    def render(self) -> str:
        lines = [f"-----BEGIN {self.label}-----", *self.headers]
        if self.headers:
            lines.append("")
        lines += [self.body[i : i + 64] for i in range(0, len(self.body), 64)]
        lines.append(f"-----END {self.label}-----")
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:  # the body may be a private key
        return f"PemBlock(label={self.label!r})"


# --- PEM structure -------------------------------------------------------------------------


def _unescape(text: str) -> str:
    """Undo a JSON/HCL-escaped single line ("...-----\\nMIIB...") and strip a byte-order mark.

    Only single-line input is unescaped: real PEM (and our output) always spans lines.
    """
    text = text.lstrip("\ufeff")
    if "\n" not in text.strip() and ("\\n" in text or "\\r" in text):
        text = text.replace("\\r", "\n").replace("\\n", "\n")
    return text


def _parse_block_body(label: str, body: str) -> PemBlock:
    lines = [line.strip() for line in _LINE_BREAK.split(body.strip())]
    headers: list[str] = []
    while lines and _HEADER.match(lines[0]):
        headers.append(lines.pop(0))
    return PemBlock(label, tuple(headers), "".join("".join(lines).split()))


def _no_blocks_error(text: str, der_hint: str) -> CertificateError:
    stripped = text.strip()
    if not stripped:
        return CertificateError("empty input: expected a PEM block")
    if _BINARY.search(stripped):
        if stripped.startswith("0"):  # DER starts with a SEQUENCE tag, 0x30 = "0"
            return CertificateError(f"looks like DER (binary), not PEM; {der_hint}")
        return CertificateError("binary data, not PEM text")
    if len(stripped) >= 64 and _BASE64_ONLY.fullmatch(stripped):  # a pasted body
        return CertificateError(
            "looks like base64 without its -----BEGIN ...----- / -----END ...----- lines"
        )
    return CertificateError("not PEM: no -----BEGIN ...----- line found")


def split_pem(text: str, *, der_hint: str = DER_HINT_ANY) -> list[PemBlock]:
    """The PEM blocks in `text`, in order; text between blocks is ignored (as OpenSSL does).

    An `EC PARAMETERS` block is dropped when anything else is present: `openssl ecparam
    -genkey` writes it before the key, and nothing downstream wants it.
    """
    text = _unescape(text)
    blocks: list[PemBlock] = []
    pos = 0
    while match := _BEGIN.search(text, pos):
        label = match.group(1)
        end_marker = f"-----END {label}-----"
        end = text.find(end_marker, match.end())
        if end < 0:
            raise CertificateError(f"{label} block has no -----END {label}----- line (truncated?)")
        blocks.append(_parse_block_body(label, text[match.end() : end]))
        pos = end + len(end_marker)
    if not blocks:
        raise _no_blocks_error(text, der_hint)
    kept = [block for block in blocks if block.label != EC_PARAMETERS]
    return kept or blocks


def normalize_pem(text: str) -> str:
    """Canonical PEM for what users paste; idempotent. Checks structure only, not content.

    Accepts CRLF, indented lines (heredocs), a missing final newline, a single line with
    literal `\\n` escapes, surrounding blank lines and text, and a stray `EC PARAMETERS`
    block. Returns each block as BEGIN line, 64-column base64, END line, each line ending
    in a newline. Raises CertificateError when there is no complete PEM block.
    """
    return "".join(block.render() for block in split_pem(text))


def read_pem_file(path: Path) -> str:
    """A PEM file's text; undecodable bytes are kept as surrogates so DER is recognised."""
    return decode_text(path.read_bytes(), errors="surrogateescape")


def _decode_body(block: PemBlock) -> bytes:
    try:
        return base64.b64decode(block.body, validate=True)
    except (binascii.Error, ValueError):
        raise CertificateError(f"corrupt base64 in the {block.label} block") from None


# --- keys ------------------------------------------------------------------------------------

PublicKey = (
    rsa.RSAPublicKey
    | ec.EllipticCurvePublicKey
    | ed25519.Ed25519PublicKey
    | ed448.Ed448PublicKey
    | dsa.DSAPublicKey
)

_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def _key_type(key: object) -> tuple[str, int]:
    """("RSA", 2048), ("EC P-256", 256), ("Ed25519", 256)..."""
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {_CURVE_NAMES.get(key.curve.name, key.curve.name)}", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__, 0


def _public_key_sha256(key: PublicKey) -> str:
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


@dataclass(frozen=True)
class PrivateKeyInfo:
    """What aopctl keeps of a private key: nothing secret."""

    public_key_sha256: str
    key_type: str
    key_size: int


def _pick_key_block(blocks: list[PemBlock]) -> PemBlock:
    keys = [block for block in blocks if block.label in KEY_LABELS]
    if not keys:
        if any(block.label == CERTIFICATE for block in blocks):
            raise CertificateError(
                "this is a certificate, not a private key (certificate and key swapped?)"
            )
        if any(block.label == "OPENSSH PRIVATE KEY" for block in blocks):
            raise CertificateError(
                "OpenSSH key format is not supported; convert it with "
                "`ssh-keygen -p -m PKCS8 -f FILE`"
            )
        raise CertificateError(f"expected a PRIVATE KEY block, found {blocks[0].label}")
    if len(keys) > 1:
        raise CertificateError(f"found {len(keys)} private keys; expected exactly one")
    key = keys[0]
    if key.label == ENCRYPTED_KEY or any("ENCRYPTED" in header for header in key.headers):
        raise CertificateError(ENCRYPTED_MESSAGE)
    return key


def normalize_private_key(text: str) -> str:
    """The key block alone, canonical: what is uploaded is what `parse_private_key` checks,
    even from a file that also holds the certificate."""
    return _pick_key_block(split_pem(text, der_hint=DER_HINT_KEY)).render()


def parse_private_key(text: str) -> PrivateKeyInfo:
    """Parse a PKCS#8, PKCS#1 (RSA) or SEC1 (EC, with or without EC PARAMETERS) key."""
    block = _pick_key_block(split_pem(text, der_hint=DER_HINT_KEY))
    _decode_body(block)  # a precise message for corrupt base64
    try:
        key = serialization.load_pem_private_key(block.render().encode(), password=None)
    except TypeError:  # cryptography's signal that a password is needed
        raise CertificateError(ENCRYPTED_MESSAGE) from None
    except (ValueError, UnsupportedAlgorithm):
        # `from None`: the cause would drag the library's view of the bytes into tracebacks.
        raise CertificateError(
            f"the {block.label} block is not a valid private key (corrupt or truncated)"
        ) from None
    public = key.public_key()
    if not isinstance(public, PublicKey):
        raise CertificateError(f"unsupported private key type {type(public).__name__}")
    key_type, key_size = _key_type(public)
    return PrivateKeyInfo(_public_key_sha256(public), key_type, key_size)


# --- certificates ----------------------------------------------------------------------------


def _signature_names() -> dict[x509.ObjectIdentifier, str]:
    names: dict[x509.ObjectIdentifier, str] = {
        SignatureAlgorithmOID.RSA_WITH_MD5: "MD5WithRSA",
        SignatureAlgorithmOID.ED25519: "Ed25519",
        SignatureAlgorithmOID.ED448: "Ed448",
    }
    for digest in ("SHA1", "SHA224", "SHA256", "SHA384", "SHA512"):
        names[getattr(SignatureAlgorithmOID, f"RSA_WITH_{digest}")] = f"{digest}WithRSA"
        names[getattr(SignatureAlgorithmOID, f"ECDSA_WITH_{digest}")] = f"ECDSAWith{digest}"
        names[getattr(SignatureAlgorithmOID, f"DSA_WITH_{digest}")] = f"DSAWith{digest}"
    return names


_SIGNATURE_NAMES = _signature_names()


def _signature_algorithm(cert: x509.Certificate) -> str:
    """Names in Cloudflare's style ("SHA256WithRSA", "ECDSAWithSHA384")."""
    oid = cert.signature_algorithm_oid
    if oid == SignatureAlgorithmOID.RSASSA_PSS:
        digest = cert.signature_hash_algorithm
        return f"{digest.name.upper() if digest else 'UNKNOWN'}WithRSA-PSS"
    return _SIGNATURE_NAMES.get(oid) or oid._name or oid.dotted_string


@dataclass(frozen=True)
class CertificateInfo:
    pem: str  # normalised, the leaf only
    fingerprint_sha256: str  # lowercase hex, no colons, of the DER certificate
    public_key_sha256: str  # of the SubjectPublicKeyInfo DER
    subject: str  # RFC 4514
    issuer: str
    sans: tuple[str, ...]  # DNS names
    serial_number: str  # decimal, as Cloudflare returns it
    not_before: datetime  # aware UTC
    not_after: datetime  # aware UTC
    key_type: str  # "RSA", "EC P-256", "Ed25519"...
    key_size: int
    is_ca: bool  # basicConstraints CA flag; absent means False
    signature_algorithm: str  # "SHA256WithRSA", "ECDSAWithSHA384"...
    chain_length: int = 1  # certificates in the input; only the first is used

    def days_left(self, now: datetime) -> int:
        """Whole days until expiry, rounded down; negative once expired."""
        return (self.not_after - now) // timedelta(days=1)

    def is_expired(self, now: datetime) -> bool:
        return now >= self.not_after


def _dns_names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    return tuple(ext.value.get_values_for_type(x509.DNSName))


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _pick_certificate_blocks(blocks: list[PemBlock]) -> list[PemBlock]:
    certs = [block for block in blocks if block.label == CERTIFICATE]
    if certs:
        return certs
    if any(block.label in KEY_LABELS for block in blocks):
        raise CertificateError(
            "this is a private key, not a certificate (certificate and key swapped?)"
        )
    raise CertificateError(f"expected a CERTIFICATE block, found {blocks[0].label}")


def _certificate_info(block: PemBlock, chain_length: int) -> CertificateInfo:
    der = _decode_body(block)
    cert = x509.load_der_x509_certificate(der)
    public = cert.public_key()
    if not isinstance(public, PublicKey):
        raise CertificateError(f"unsupported public key type {type(public).__name__}")
    key_type, key_size = _key_type(public)
    return CertificateInfo(
        pem=block.render(),
        fingerprint_sha256=hashlib.sha256(der).hexdigest(),
        public_key_sha256=_public_key_sha256(public),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=_dns_names(cert),
        serial_number=str(cert.serial_number),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_type=key_type,
        key_size=key_size,
        is_ca=_is_ca(cert),
        signature_algorithm=_signature_algorithm(cert),
        chain_length=chain_length,
    )


def parse_certificate(text: str) -> CertificateInfo:
    """Parse the leaf (first) certificate of a PEM; raises CertificateError."""
    blocks = _pick_certificate_blocks(split_pem(text, der_hint=DER_HINT_CERT))
    try:
        first = _certificate_info(blocks[0], len(blocks))
        if first.is_ca and any(not _certificate_info(b, 1).is_ca for b in blocks[1:]):
            raise CertificateError(
                "the bundle is in the wrong order: it starts with a CA and a leaf comes later; "
                "put the leaf certificate first (the first one is the one uploaded)"
            )
        return first
    except (ValueError, UnsupportedAlgorithm) as exc:  # also lazily parsed bad extensions
        raise CertificateError(
            "the CERTIFICATE block is not a valid X.509 certificate (corrupt or truncated)"
        ) from exc


def parse_pem(text: str) -> CertificateInfo | PrivateKeyInfo:
    """A certificate when the text holds one, otherwise a private key (for `cert inspect`)."""
    blocks = split_pem(text)
    if any(block.label == CERTIFICATE for block in blocks):
        return parse_certificate(text)
    if any(block.label in KEY_LABELS for block in blocks):
        return parse_private_key(text)
    raise CertificateError(f"expected a CERTIFICATE or PRIVATE KEY block, found {blocks[0].label}")


def fingerprint_sha256(pem_text: str) -> str:
    return parse_certificate(pem_text).fingerprint_sha256


def key_matches(cert: CertificateInfo, key: PrivateKeyInfo) -> bool:
    """True when the private key belongs to the certificate's public key (any key type)."""
    return cert.public_key_sha256 == key.public_key_sha256


# --- checks and reports ----------------------------------------------------------------------


def _date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def check_certificate(
    cert: CertificateInfo,
    *,
    leaf_required: bool,
    now: datetime,
    warn_days: int = 30,
    expired: Severity = "error",
) -> list[tuple[Severity, str]]:
    """Problems Cloudflare (or the origin) would hit with this certificate.

    `expired` is the severity of an expired certificate: a report about it (drift) must still run.
    """
    problems: list[tuple[Severity, str]] = []
    if cert.is_expired(now):
        ago = (now - cert.not_after).days
        problems.append(
            (expired, f"certificate expired on {_date(cert.not_after)} ({ago} days ago)")
        )
    elif cert.not_after - now <= timedelta(days=warn_days):
        days = cert.days_left(now)
        problems.append(
            ("warning", f"certificate expires in {days} days ({_date(cert.not_after)})")
        )
    if now < cert.not_before:
        problems.append(("warning", f"certificate is not valid before {_iso(cert.not_before)}"))
    if leaf_required and cert.is_ca:
        problems.append(
            (
                "error",
                "certificate is a CA (basicConstraints CA:TRUE); Cloudflare accepts only leaf "
                "certificates for per-hostname AOP (error 1412)",
            )
        )
    return problems


def describe(cert: CertificateInfo, now: datetime) -> dict[str, object]:
    """A JSON-able summary for `cert inspect --json`."""
    return {
        "kind": "certificate",
        "fingerprint_sha256": cert.fingerprint_sha256,
        "public_key_sha256": cert.public_key_sha256,
        "subject": cert.subject,
        "issuer": cert.issuer,
        "sans": list(cert.sans),
        "serial_number": cert.serial_number,
        "not_before": _iso(cert.not_before),
        "not_after": _iso(cert.not_after),
        "days_left": cert.days_left(now),
        "expired": cert.is_expired(now),
        "key_type": cert.key_type,
        "key_size": cert.key_size,
        "is_ca": cert.is_ca,
        "signature_algorithm": cert.signature_algorithm,
        "chain_length": cert.chain_length,
    }


def describe_key(key: PrivateKeyInfo) -> dict[str, object]:
    """A JSON-able summary of a private key: its type and public half only."""
    return {
        "kind": "private_key",
        "key_type": key.key_type,
        "key_size": key.key_size,
        "public_key_sha256": key.public_key_sha256,
    }
