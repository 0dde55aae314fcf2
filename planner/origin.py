"""The origin side of AOP: what the origin must trust, and proof that it refuses strangers.

AOP protects nothing unless the origin refuses TLS connections without a valid client
certificate. `origin config` writes the CA bundle the origin must trust and a snippet for its
server; `origin check` (and drift) connects to the origin directly and proves it refuses.
Nothing here prints. A private key only ever lives in memory and, for the moment
`load_cert_chain` reads it, in a mode-0600 file that is deleted at once.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import re
import socket
import ssl
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

from planner import __version__, certs
from planner.certs import CertificateInfo
from planner.config import Configuration, PrivateKey, certificate_reference
from planner.errors import AopctlError, CertificateError
from planner.model import ZONE_ID_RE, Address

# --- the CA bundle ----------------------------------------------------------------------------

CLOUDFLARE_CA_FILE = "cloudflare_origin_pull_ca.pem"
CLOUDFLARE_CA_NAME = "Cloudflare origin-pull CA"
EXPIRY_WARNING = timedelta(days=30)


def cloudflare_origin_pull_ca() -> str:
    """Cloudflare's origin-pull CA, which signs global AOP's shared certificate (package data)."""
    return resources.files("planner.data").joinpath(CLOUDFLARE_CA_FILE).read_text("ascii")


@dataclass(frozen=True)
class CaBundle:
    """The certificates an origin trusts for client certificates: nothing else, never a key."""

    name: str  # where it came from: CLOUDFLARE_CA_NAME or the --ca file
    pem: str  # normalised certificates only
    certificates: tuple[CertificateInfo, ...]
    verify_depth: int = 1  # CA certificates between the client certificate and the root
    warnings: tuple[str, ...] = ()

    @property
    def is_cloudflare(self) -> bool:
        return self.name == CLOUDFLARE_CA_NAME


def load_ca_bundle(text: str, name: str, *, now: datetime) -> CaBundle:
    """Parse a CA file: CERTIFICATE blocks only, each a CA that has not expired."""
    blocks = certs.split_pem(text, der_hint=certs.DER_HINT_CERT)
    if any(block.label in certs.KEY_LABELS for block in blocks):
        raise CertificateError(
            f"{name} contains a private key; the origin needs only the CA certificate"
        )
    cert_blocks = [block for block in blocks if block.label == certs.CERTIFICATE]
    if not cert_blocks:
        raise CertificateError(f"{name}: expected CERTIFICATE blocks, found {blocks[0].label}")
    infos = tuple(certs.parse_certificate(block.render()) for block in cert_blocks)
    warnings: list[str] = []
    for info in infos:
        if not info.is_ca:
            raise CertificateError(
                f"{name}: {info.subject} is not a CA (CA:FALSE); the origin must trust the CA "
                "that signed the client certificate, not the certificate itself"
            )
        for severity, message in certs.check_certificate(info, leaf_required=False, now=now):
            if severity == "error":
                raise CertificateError(f"{name}: {info.subject}: {message}")
            warnings.append(f"{name}: {info.subject}: {message}")
    pem = "".join(info.pem for info in infos)
    return CaBundle(name, pem, infos, warnings=tuple(warnings))


def cloudflare_ca_bundle(*, now: datetime) -> CaBundle:
    return load_ca_bundle(cloudflare_origin_pull_ca(), CLOUDFLARE_CA_NAME, now=now)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def chain_depth(bundle: CaBundle, client_pem: str) -> int:
    """How many certificates of `bundle` lead from the client certificate up to a root.

    Raises CertificateError when no certificate of the bundle signed it, or when the chain stops
    at an intermediate: OpenSSL-based servers (nginx, Apache, HAProxy) then refuse it.
    """
    cas = [x509.load_pem_x509_certificate(info.pem.encode()) for info in bundle.certificates]
    current = x509.load_pem_x509_certificate(certs.parse_certificate(client_pem).pem.encode())
    chain: list[x509.Certificate] = []
    while (issuer := next((ca for ca in cas if _issued_by(current, ca)), None)) is not None:
        chain.append(issuer)
        if _issued_by(issuer, issuer) or len(chain) > len(cas):
            return len(chain)
        current = issuer
    if not chain:
        subject = current.subject.rfc4514_string()
        issuer_name = current.issuer.rfc4514_string()
        raise CertificateError(
            f"{bundle.name} did not sign the client certificate {subject} (issued by "
            f"{issuer_name}); the origin would refuse Cloudflare's connections"
        )
    raise CertificateError(
        f"{bundle.name} has no root (self-signed) CA above {current.subject.rfc4514_string()}; "
        "add the root CA to the file, or the origin will refuse the client certificate"
    )


# --- what Cloudflare presents: resolved from the configuration --------------------------------

Mode = Literal["global", "zone", "hostname"]
CERTIFICATE_MODES: Mapping[str, Mode] = {
    "aop_zone_certificate": "zone",
    "aop_hostname_certificate": "hostname",
}
_FOR_TYPES = "aop_global, aop_zone_certificate, aop_hostname_certificate or aop_hostname_binding"


@dataclass(frozen=True)
class ClientIdentity:
    """The client certificate Cloudflare presents: its shared one (global AOP) or one of ours."""

    mode: Mode
    address: Address | None = None
    certificate: CertificateInfo | None = None
    private_key: PrivateKey | None = None

    @property
    def label(self) -> str:
        if self.mode == "global":
            return "global AOP, Cloudflare's shared certificate"
        kind = "zone-level" if self.mode == "zone" else "per-hostname"
        return f"{kind} certificate {self.address}"


GLOBAL = ClientIdentity("global")


def _certificate_identity(config: Configuration, address: Address) -> ClientIdentity:
    info = config.certificates.get(address)
    if info is None:
        raise AopctlError(f"{address} has no certificate known before apply")
    return ClientIdentity(
        CERTIFICATE_MODES[address.type], address, info, config.private_keys.get(address)
    )


def _bound_certificate(config: Configuration, binding: Address) -> Address:
    referred = certificate_reference(config.resources[binding])
    if referred is not None:
        return referred
    raise AopctlError(
        f"{binding} binds a certificate that is not declared in this configuration; "
        "name a certificate resource with --for"
    )


def identity_for_address(config: Configuration, text: str) -> ClientIdentity:
    """`--for ADDR`: what Cloudflare presents for that resource."""
    try:
        address = Address.parse(text)
    except ValueError as exc:
        raise AopctlError(f"--for: {exc}") from None
    if address not in config.resources:
        raise AopctlError(f"--for: {address} is not declared in the configuration")
    if address.type == "aop_global":
        return GLOBAL
    if address.type == "aop_hostname_binding":
        address = _bound_certificate(config, address)
    if address.type not in CERTIFICATE_MODES:
        raise AopctlError(f"--for: {address} is not one of {_FOR_TYPES}")
    return _certificate_identity(config, address)


def _in_zone(hostname: str, zone: object) -> bool:
    if not isinstance(zone, str):
        return False
    if ZONE_ID_RE.match(zone):
        return True  # a zone id: the name is unknown offline, so it may be this one
    return hostname == zone or hostname.endswith(f".{zone}")


def identity_for_hostname(config: Configuration | None, hostname: str) -> ClientIdentity:
    """What Cloudflare presents for `hostname`: per-hostname, then zone-level, then global."""
    if config is None:
        return GLOBAL
    for address, resource in config.resources.items():
        hostnames = resource.attributes.get("hostnames")
        if (
            address.type == "aop_hostname_binding"
            and resource.attributes.get("enabled") is True
            and isinstance(hostnames, list)
            and hostname in hostnames
        ):
            return _certificate_identity(config, _bound_certificate(config, address))
    zone_off = turned_off(config, "aop_zone_settings", hostname)
    zone_certificates = [
        address
        for address in config.certificates
        if address.type == "aop_zone_certificate"
        and _in_zone(hostname, config.resources[address].zone)
    ]
    if len(zone_certificates) > 1 and not zone_off:
        names = ", ".join(map(str, zone_certificates))
        raise AopctlError(f"several zone certificates may serve {hostname} ({names}); use --for")
    if zone_certificates and not zone_off:
        return _certificate_identity(config, zone_certificates[0])
    global_off = turned_off(config, "aop_global", hostname)
    if global_off:
        named = ", ".join(map(str, [*zone_off, *global_off]))
        raise AopctlError(
            f"Cloudflare presents no client certificate for {hostname}: no enabled binding "
            f"names it, and the configuration turns AOP off for its zone ({named}), so an "
            "origin that requires one would refuse Cloudflare too"
        )
    return GLOBAL


def turned_off(
    config: Configuration, resource_type: str, hostname: str | None = None
) -> list[Address]:
    """The `resource_type` resources the configuration sets disabled: of any zone, or of the
    hostname's zone (one given by id is not matched: offline, it may be any zone)."""
    return [
        address
        for address, resource in config.resources.items()
        if address.type == resource_type
        and resource.attributes.get("enabled") is False
        and (hostname is None or _in_named_zone(hostname, resource.zone))
    ]


def _in_named_zone(hostname: str, zone: object) -> bool:
    return isinstance(zone, str) and not ZONE_ID_RE.match(zone) and _in_zone(hostname, zone)


def identity_for_ca(config: Configuration | None) -> ClientIdentity:
    """`origin config --ca FILE` without `--for`: the configuration's only certificate."""
    declared = sorted(config.certificates) if config else []
    if len(declared) != 1 or config is None:
        found = ", ".join(map(str, declared)) or "none"
        raise AopctlError(
            "--ca is checked against the client certificate it must have signed: name it with "
            f"--for (certificates in the configuration: {found})"
        )
    return _certificate_identity(config, declared[0])


def origin_ca(identity: ClientIdentity, ca: tuple[str, str] | None, *, now: datetime) -> CaBundle:
    """The CA bundle an origin needs for `identity`; `ca` is (file name, text) from --ca."""
    if identity.mode == "global":
        if ca is not None:
            raise AopctlError(
                "global AOP presents Cloudflare's shared certificate, signed by Cloudflare's "
                "origin-pull CA; --ca applies only to your own certificates"
            )
        return cloudflare_ca_bundle(now=now)
    assert identity.certificate is not None
    if ca is None:
        raise AopctlError(
            f"{identity.address} is your own certificate: pass --ca FILE with the CA that "
            f"signed it ({identity.certificate.issuer})"
        )
    bundle = load_ca_bundle(ca[1], ca[0], now=now)
    return replace(bundle, verify_depth=chain_depth(bundle, identity.certificate.pem))


def client_credentials(identity: ClientIdentity) -> tuple[str, str] | None:
    """(certificate, key) PEM to present for `identity`; None for global AOP."""
    if identity.mode == "global":
        return None
    assert identity.certificate is not None
    key = identity.private_key.reveal() if identity.private_key else None
    if key is None:
        variable = identity.private_key.variable if identity.private_key else None
        how = f"set variable {variable!r}" if variable else "give it a private_key"
        raise AopctlError(
            f"{identity.address} has no private key: the check presents that certificate to "
            f"the origin, so {how}"
        )
    return identity.certificate.pem, key


# --- server snippets ----------------------------------------------------------------------

SERVERS = ("nginx", "apache", "haproxy", "caddy")
CA_BUNDLE_FILE = "aop-origin-ca.pem"
SNIPPET_FILES: Mapping[str, str] = {
    "nginx": "aop-origin-nginx.conf",
    "apache": "aop-origin-apache.conf",
    "haproxy": "aop-origin-haproxy.cfg",
    "caddy": "aop-origin.caddy",
}

_SHARED_CAVEAT = (
    "# Cloudflare's shared certificate proves only that a request came through Cloudflare, from\n"
    "# any customer's zone. Your own certificate (zone-level or per-hostname AOP) proves it came\n"
    "# from yours.\n"
)


def _path(path: Path) -> str:
    text = str(path)
    return f'"{text}"' if re.search(r"[\s\"';{}#]", text) else text


def _header(bundle: CaBundle, ca_path: Path) -> str:
    trusted = "\n".join(
        f"#   {info.subject}\n#     sha256 {info.fingerprint_sha256}, "
        f"expires {info.not_after:%Y-%m-%d}"
        for info in bundle.certificates
    )
    caveat = _SHARED_CAVEAT if bundle.is_cloudflare else ""
    return (
        f"# Authenticated Origin Pulls, written by aopctl {__version__}.\n"
        "# Refuses TLS connections unless the client certificate is signed by a CA of\n"
        f"# {ca_path}:\n"
        f"{trusted}\n{caveat}"
    )


def _nginx(bundle: CaBundle, ca: str, snippet: str) -> str:
    return (
        "# Include inside each `server` block (listen ... ssl) that Cloudflare connects to:\n"
        f"#     include {snippet};\n"
        f"ssl_client_certificate {ca};\n"
        "ssl_verify_client on;\n"
        f"ssl_verify_depth {bundle.verify_depth};\n"
    )


def _apache(bundle: CaBundle, ca: str, snippet: str) -> str:
    return (
        "# Include inside each <VirtualHost *:443> (mod_ssl) that Cloudflare connects to:\n"
        f"#     Include {snippet}\n"
        f"SSLCACertificateFile {ca}\n"
        "SSLVerifyClient require\n"
        f"SSLVerifyDepth {bundle.verify_depth}\n"
    )


def _haproxy(bundle: CaBundle, ca: str, snippet: str) -> str:
    return (
        "# HAProxy checks client certificates on the `bind` line: add\n"
        f"#     ca-file {ca} verify required\n"
        "# to the bind line of each frontend that Cloudflare connects to, for example:\n"
        "frontend aop_origin\n"
        "    mode http\n"
        "    # replace the crt path with your origin's certificate and key\n"
        f"    bind :443 ssl crt /etc/haproxy/certs/origin.pem ca-file {ca} verify required\n"
        "    # replace with your backend\n"
        "    default_backend app\n"
    )


def _der_base64(info: CertificateInfo) -> str:
    return "".join(line for line in info.pem.splitlines() if not line.startswith("-----"))


def _caddy(bundle: CaBundle, ca: str, snippet: str) -> str:
    # The certificates are inlined with `trusted_ca_cert`, which every Caddy 2 reads: Caddy 2.6
    # (Debian 12, Ubuntu 24.04) has no `trust_pool`, and its `trusted_ca_cert_file` reads only
    # the first certificate of a file.
    trusted = "".join(f"\t\ttrusted_ca_cert {_der_base64(info)}\n" for info in bundle.certificates)
    return (
        "# Import inside each site block that Cloudflare connects to:\n"
        f"#     import {snippet}\n"
        "# If the site block already has a `tls` directive, move `client_auth` into it.\n"
        f"# The CA certificates of {ca} are inlined: every Caddy 2 reads `trusted_ca_cert`.\n"
        f"# Caddy 2.8 and later call it deprecated; `trust_pool file {ca}` may replace them.\n"
        "tls {\n"
        "\tclient_auth {\n"
        "\t\tmode require_and_verify\n"
        f"{trusted}"
        "\t}\n"
        "}\n"
    )


_RENDERERS = {"nginx": _nginx, "apache": _apache, "haproxy": _haproxy, "caddy": _caddy}


def render_snippet(server: str, bundle: CaBundle, ca_path: Path, snippet_path: Path) -> str:
    """The configuration `server` needs to require a client certificate from `bundle`."""
    body = _RENDERERS[server](bundle, _path(ca_path), _path(snippet_path))
    return _header(bundle, ca_path) + body


@dataclass(frozen=True)
class OriginFiles:
    ca_path: Path
    snippet_path: Path


def write_origin_config(server: str, bundle: CaBundle, out_dir: Path) -> OriginFiles:
    """Write the CA bundle and the snippet into `out_dir`; the snippet names absolute paths."""
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    files = OriginFiles(out_dir / CA_BUNDLE_FILE, out_dir / SNIPPET_FILES[server])
    files.ca_path.write_text(bundle.pem, encoding="ascii")
    snippet = render_snippet(server, bundle, files.ca_path, files.snippet_path)
    files.snippet_path.write_text(snippet, encoding="utf-8")
    return files


# --- checking an origin ---------------------------------------------------------------------

# Cloudflare's edge (https://www.cloudflare.com/ips/): a check that lands there tests
# Cloudflare, which always answers, not the origin.
CLOUDFLARE_EDGE = tuple(
    ipaddress.ip_network(network)
    for network in (
        "173.245.48.0/20",
        "103.21.244.0/22",
        "103.22.200.0/22",
        "103.31.4.0/22",
        "141.101.64.0/18",
        "108.162.192.0/18",
        "190.93.240.0/20",
        "188.114.96.0/20",
        "197.234.240.0/22",
        "198.41.128.0/17",
        "162.158.0.0/15",
        "104.16.0.0/13",
        "104.24.0.0/14",
        "172.64.0.0/13",
        "131.0.72.0/22",
        "2400:cb00::/32",
        "2606:4700::/32",
        "2803:f800::/32",
        "2405:b500::/32",
        "2405:8100::/32",
        "2a06:98c0::/29",
        "2c0f:f248::/32",
    )
)

# TLS alerts a server sends when it refuses the client certificate (or its absence).
# handshake_failure is what TLS 1.2 OpenSSL servers send when no certificate is presented.
REFUSAL_ALERTS = frozenset(
    {
        "CERTIFICATE_REQUIRED",
        "BAD_CERTIFICATE",
        "UNSUPPORTED_CERTIFICATE",
        "CERTIFICATE_REVOKED",
        "CERTIFICATE_EXPIRED",
        "CERTIFICATE_UNKNOWN",
        "UNKNOWN_CA",
        "ACCESS_DENIED",
        "HANDSHAKE_FAILURE",
    }
)
# nginx completes the handshake and answers 400 "No required SSL certificate was sent" or
# "The SSL certificate error" (internally 496 / 495).
_NGINX_REFUSAL = re.compile(r"(?:\d{3} )?([^<>]*SSL certificate[^<>]*)")
_BODY_LIMIT = 4096

Outcome = Literal["accepted", "refused", "error"]
NO_CERTIFICATE = "with no client certificate"
SELF_SIGNED = "with a self-signed certificate"
CONFIGURED = "with the configured certificate"


class Verdict(StrEnum):
    ENFORCED = "enforced"
    NOT_ENFORCED = "not enforced"
    PARTIALLY_VERIFIED = "partially verified"
    CERTIFICATE_REFUSED = "configured certificate refused"
    ERROR = "error"


@dataclass(frozen=True)
class Probe:
    """One TLS connection: what it presented and how the origin answered."""

    presented: str  # NO_CERTIFICATE, SELF_SIGNED or CONFIGURED
    outcome: Outcome
    detail: str  # "HTTP 200", "TLS alert: certificate required", "timed out after 5s"...


@dataclass(frozen=True)
class OriginResult:
    url: str
    hostname: str
    address: str | None  # "IP:port" connected to; None when the name did not resolve
    verdict: Verdict
    reason: str  # one line for the user
    probes: tuple[Probe, ...] = ()

    @property
    def ok(self) -> bool:
        return self.verdict in (Verdict.ENFORCED, Verdict.PARTIALLY_VERIFIED)


def exit_code(results: Iterable[OriginResult]) -> int:
    """0 all enforced or partially verified; 2 any origin lets strangers in or refuses ours;
    otherwise 1 when a check could not be completed."""
    verdicts = {result.verdict for result in results}
    if verdicts & {Verdict.NOT_ENFORCED, Verdict.CERTIFICATE_REFUSED}:
        return 2
    return 1 if Verdict.ERROR in verdicts else 0


@dataclass(frozen=True)
class OriginUrl:
    url: str
    hostname: str
    port: int
    path: str
    host_header: str


def parse_origin_url(url: str) -> OriginUrl:
    """`https://host[:port][/path]`; a bare `host[:port]` means https."""
    try:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        port = 443 if parts.port is None else parts.port
    except ValueError as exc:  # an unclosed [IPv6 bracket, a port out of range...
        raise AopctlError(f"{url}: not a valid URL ({exc})") from None
    if parts.scheme != "https":
        raise AopctlError(f"{url}: the origin check needs an https:// URL")
    if port == 0:
        raise AopctlError(f"{url}: invalid port 0")
    hostname = (parts.hostname or "").rstrip(".")
    if not hostname:
        raise AopctlError(f"{url}: no hostname")
    shown = f"[{hostname}]" if ":" in hostname else hostname
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return OriginUrl(url, hostname, port, path, shown if port == 443 else f"{shown}:{port}")


def parse_resolve(entries: Iterable[str]) -> dict[str, str]:
    """`--resolve HOST:IP` entries (IPv6 may be bracketed) as {hostname: ip}."""
    resolved: dict[str, str] = {}
    for entry in entries:
        host, _, ip = entry.partition(":")
        ip = ip.strip().removeprefix("[").removesuffix("]")
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise AopctlError(
                f"--resolve {entry!r}: expected HOST:IP, e.g. app.example.com:203.0.113.10 "
                "(curl's HOST:PORT:IP takes the port from the URL here)"
            ) from None
        if not host:
            raise AopctlError(f"--resolve {entry!r}: no hostname")
        resolved[host.lower().rstrip(".")] = ip
    return resolved


def is_cloudflare_edge(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    return any(address in network for network in CLOUDFLARE_EDGE)


def throwaway_certificate() -> tuple[str, str]:
    """A fresh self-signed certificate and key that no origin should trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aopctl origin check (throwaway)")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    return cert.public_bytes(Encoding.PEM).decode(), key_pem


@contextmanager
def client_files(cert_pem: str, key_pem: str) -> Iterator[tuple[Path, Path]]:
    """The certificate and key as files, as `load_cert_chain` needs them.

    They live in a private temporary directory (0700); the key file is created 0600 before a
    byte is written, and both are deleted on exit, whatever happens.
    """
    with tempfile.TemporaryDirectory(prefix="aopctl-origin-") as directory:
        cert_file, key_file = Path(directory, "client.crt.pem"), Path(directory, "client.key.pem")
        cert_file.write_text(cert_pem, encoding="ascii")
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key_pem)
        yield cert_file, key_file


def client_context(credentials: tuple[str, str] | None) -> ssl.SSLContext:
    """A TLS client context presenting `credentials` (certificate, key), or nothing."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # The origin's own certificate is not under test (Full mode does not check it either).
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    if credentials is not None:
        with client_files(*credentials) as (cert_file, key_file):
            try:
                context.load_cert_chain(cert_file, key_file)
            except ssl.SSLError:
                raise CertificateError(
                    "the client certificate and key cannot be used for TLS"
                ) from None
    return context


def _check_pair(cert_pem: str, key_pem: str) -> None:
    if not certs.key_matches(certs.parse_certificate(cert_pem), certs.parse_private_key(key_pem)):
        raise CertificateError("the client private key does not match the client certificate")


def _alert(exc: ssl.SSLError) -> str | None:
    """ "CERTIFICATE_REQUIRED" for "TLSV13_ALERT_CERTIFICATE_REQUIRED"; None if not an alert."""
    _, found, alert = (exc.reason or "").partition("ALERT_")
    return alert if found else None


def _readable(code: str) -> str:
    return code.lower().replace("_", " ")


def _tls_error(exc: ssl.SSLError) -> str:
    return f"TLS error: {_readable(exc.reason) if exc.reason else exc}"


class _Attempt:
    """Classifies one probe's failures; `presented` and `timeout` are for the messages."""

    def __init__(self, presented: str, where: str, timeout: float) -> None:
        self.presented = presented
        self.where = where
        self.timeout = timeout

    def probe(self, outcome: Outcome, detail: str) -> Probe:
        return Probe(self.presented, outcome, detail)

    def connect_failed(self, exc: OSError) -> Probe:
        if isinstance(exc, TimeoutError):
            return self.probe(
                "error", f"timed out after {self.timeout:g}s connecting to {self.where}"
            )
        if isinstance(exc, ConnectionRefusedError):
            return self.probe("error", f"connection refused by {self.where}")
        return self.probe("error", f"cannot connect to {self.where}: {exc.strerror or exc}")

    def handshake_failed(self, exc: OSError) -> Probe:
        if isinstance(exc, TimeoutError):
            return self.probe("error", f"TLS handshake timed out after {self.timeout:g}s")
        if isinstance(exc, ssl.SSLError) and (alert := _alert(exc)) in REFUSAL_ALERTS:
            return self.probe("refused", f"TLS alert: {_readable(alert or '')}")
        if isinstance(exc, ssl.SSLEOFError | ConnectionResetError):
            return self.probe("error", "TLS error: the origin closed the connection mid-handshake")
        if isinstance(exc, ssl.SSLError):
            return self.probe("error", _tls_error(exc))
        return self.probe("error", f"TLS handshake failed: {exc.strerror or exc}")

    def exchange_failed(self, exc: OSError | http.client.HTTPException) -> Probe:
        """After the handshake: TLS 1.3 servers refuse the client certificate only now."""
        if isinstance(exc, TimeoutError):
            return self.probe("error", f"no HTTP response within {self.timeout:g}s")
        if isinstance(exc, ssl.SSLError) and (alert := _alert(exc)) in REFUSAL_ALERTS:
            return self.probe("refused", f"TLS alert: {_readable(alert or '')}")
        closed = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionError)
        if isinstance(exc, closed):  # includes http.client.RemoteDisconnected
            return self.probe("refused", "connection closed by the origin without a response")
        if isinstance(exc, ssl.SSLError):
            return self.probe("error", _tls_error(exc))
        if isinstance(exc, http.client.HTTPException):
            return self.probe("error", f"not an HTTP response ({type(exc).__name__})")
        return self.probe("error", f"connection failed: {exc.strerror or exc}")


def _request(target: OriginUrl) -> bytes:
    return (
        f"GET {target.path} HTTP/1.1\r\nHost: {target.host_header}\r\n"
        f"User-Agent: aopctl/{__version__} (origin check)\r\nAccept: */*\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii", errors="replace")


def _exchange(tls: ssl.SSLSocket, target: OriginUrl, attempt: _Attempt) -> Probe:
    tls.sendall(_request(target))
    response = http.client.HTTPResponse(tls)
    try:
        response.begin()
        body = response.read(_BODY_LIMIT).decode("latin-1")
    finally:
        response.close()
    status = response.status
    refusal = _NGINX_REFUSAL.search(body) if status == 400 else None
    if refusal:
        return attempt.probe("refused", f"HTTP 400 ({refusal.group(1).strip()})")
    if status in (495, 496):
        return attempt.probe("refused", f"HTTP {status} ({response.reason})")
    return attempt.probe("accepted", f"HTTP {status}")


def _probe(target: OriginUrl, ip: str, context: ssl.SSLContext, attempt: _Attempt) -> Probe:
    try:
        raw = socket.create_connection((ip, target.port), timeout=attempt.timeout)
    except OSError as exc:
        return attempt.connect_failed(exc)
    with raw:
        sni = None if _is_ip(target.hostname) else target.hostname
        try:
            tls = context.wrap_socket(raw, server_hostname=sni)
        except OSError as exc:  # ssl.SSLError is an OSError
            return attempt.handshake_failed(exc)
        with tls:
            try:
                return _exchange(tls, target, attempt)
            except (OSError, http.client.HTTPException) as exc:
                return attempt.exchange_failed(exc)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _address(target: OriginUrl, resolve: str | None) -> str:
    """The IP to connect to; raises OSError with a message when DNS fails."""
    if resolve is not None:
        return resolve
    if _is_ip(target.hostname):
        return target.hostname
    try:
        found = socket.getaddrinfo(target.hostname, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        detail = exc.strerror if isinstance(exc, socket.gaierror) else "invalid name"
        raise OSError(f"DNS lookup of {target.hostname} failed: {detail}") from None
    return str(found[0][4][0])


def _endpoint(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _verdict(probes: list[Probe], configured: bool) -> tuple[Verdict, str]:
    through = [p for p in probes if p.presented != CONFIGURED and p.outcome == "accepted"]
    if through:
        return Verdict.NOT_ENFORCED, "; ".join(
            f"a connection {p.presented} got through ({p.detail})" for p in through
        )
    failed = next((p for p in probes if p.outcome == "error"), None)
    if failed is not None:
        return Verdict.ERROR, f"{failed.detail} (connecting {failed.presented})"
    if not configured:
        return Verdict.PARTIALLY_VERIFIED, (
            "connections without a valid client certificate are refused; aopctl cannot "
            "present Cloudflare's shared certificate, so its acceptance is not checked"
        )
    own = probes[-1]
    if own.outcome == "refused":
        return Verdict.CERTIFICATE_REFUSED, (
            f"the origin also refuses the configured certificate ({own.detail}): it does not "
            "trust the CA that signed it, so Cloudflare's requests would fail"
        )
    return Verdict.ENFORCED, (
        "connections without a valid client certificate are refused and the configured "
        f"certificate is accepted ({own.detail})"
    )


def check_origin(
    url: str,
    *,
    resolve: str | None = None,
    client_cert_pem: str | None = None,
    client_key_pem: str | None = None,
    timeout: float = 10.0,
) -> OriginResult:
    """Connect to the origin directly over TLS three ways and say whether it enforces AOP.

    `resolve` is the origin's IP (skips DNS, as `curl --resolve`); without a client certificate
    (global AOP) only the refusals are checked. Network and TLS failures become an ERROR
    verdict; a bad URL or an unusable certificate/key raises AopctlError.
    """
    target = parse_origin_url(url)
    if (client_cert_pem is None) != (client_key_pem is None):
        raise ValueError("client_cert_pem and client_key_pem go together")
    configured = None
    if client_cert_pem is not None and client_key_pem is not None:
        _check_pair(client_cert_pem, client_key_pem)
        configured = (client_cert_pem, client_key_pem)

    def result(address: str | None, verdict: Verdict, reason: str, *probes: Probe) -> OriginResult:
        return OriginResult(url, target.hostname, address, verdict, reason, probes)

    try:
        ip = _address(target, resolve)
    except OSError as exc:
        return result(None, Verdict.ERROR, str(exc))
    where = _endpoint(ip, target.port)
    if is_cloudflare_edge(ip):
        return result(
            where,
            Verdict.ERROR,
            f"{ip} is a Cloudflare edge address, so this would test Cloudflare, not the origin; "
            f"pass --resolve {target.hostname}:ORIGIN_IP",
        )
    attempts: list[tuple[str, tuple[str, str] | None]] = [
        (NO_CERTIFICATE, None),
        (SELF_SIGNED, throwaway_certificate()),
    ]
    if configured:
        attempts.append((CONFIGURED, configured))
    probes: list[Probe] = []
    for presented, credentials in attempts:
        attempt = _Attempt(presented, where, timeout)
        probes.append(_probe(target, ip, client_context(credentials), attempt))
        if probes[-1].outcome == "error":
            break  # the next connections would fail the same way, each after a timeout
    verdict, reason = _verdict(probes, configured is not None)
    return result(where, verdict, reason, *probes)
