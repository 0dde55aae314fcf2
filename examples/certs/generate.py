"""Regenerate the example certificates and keys in this directory.

    python examples/certs/generate.py

EXAMPLE MATERIAL ONLY: the private keys are public, never use them in production.
Hostname certificates use EC P-256 keys and the zone certificate an RSA 2048 key, so the
examples exercise both key types. Everything is valid for 10 years from generation.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = Path(__file__).resolve().parent
VALIDITY = dt.timedelta(days=3652)
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "aopctl examples"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _builder(subject: x509.Name, issuer: x509.Name, key: PrivateKey) -> x509.CertificateBuilder:
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + VALIDITY)
    )


def make_ca() -> tuple[x509.Certificate, PrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("aopctl example CA")
    cert = (
        _builder(name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_client(
    ca: tuple[x509.Certificate, PrivateKey], cn: str, key: PrivateKey, sans: list[str]
) -> x509.Certificate:
    """A leaf (CA:FALSE) client certificate, as Cloudflare presents it to the origin."""
    ca_cert, ca_key = ca
    builder = (
        _builder(_name(cn), ca_cert.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in sans]), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256())


def write(stem: str, cert: x509.Certificate, key: PrivateKey | None = None) -> None:
    (HERE / f"{stem}.crt.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        (HERE / f"{stem}.key.pem").write_bytes(pem)


def main() -> None:
    ca = make_ca()
    write("example-ca", ca[0])  # its key is thrown away: nothing more is ever signed
    zone_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write("zone-client-2026", make_client(ca, "aopctl example zone client", zone_key, []), zone_key)
    for stem, cn, sans in [
        ("app-2026", "app.example.com", ["app.example.com", "api.example.com"]),
        ("app-2027", "app.example.com", ["app.example.com", "api.example.com"]),
        ("shop-2026", "shop.example.net", ["shop.example.net"]),
    ]:
        key = ec.generate_private_key(ec.SECP256R1())
        write(stem, make_client(ca, cn, key, sans), key)


if __name__ == "__main__":
    main()
