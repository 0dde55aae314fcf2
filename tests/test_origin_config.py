"""`origin config`: the shipped Cloudflare CA, CA bundles, what Cloudflare presents, snippets."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from certgen import Issued, make_ca, make_leaf
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from planner import origin
from planner.cli import main
from planner.config import load_configuration
from planner.errors import AopctlError, CertificateError

NOW = datetime(2026, 6, 1, tzinfo=UTC)
EXAMPLES = Path(__file__).parent.parent / "examples"
CLOUDFLARE_SHA256 = (
    "9A:1A:C2:B4:BE:15:F9:F2:7E:EE:20:A7:34:CB:A4:E9:"
    "89:8F:61:00:1B:3B:D7:C8:4B:69:B5:6A:3E:25:A2:B9"
)


# --- the shipped Cloudflare origin-pull CA ----------------------------------------------------


def test_shipped_cloudflare_ca_is_the_documented_certificate() -> None:
    pem = origin.cloudflare_origin_pull_ca()
    cert = x509.load_pem_x509_certificate(pem.encode())
    der = cert.public_bytes(Encoding.DER)
    assert hashlib.sha256(der).hexdigest() == CLOUDFLARE_SHA256.replace(":", "").lower()
    assert format(cert.serial_number, "X") == "5791BA9556C22E61"
    assert cert.not_valid_after_utc == datetime(2029, 11, 1, 17, 0, tzinfo=UTC)
    assert cert.subject.rfc4514_string() == (
        "CN=origin-pull.cloudflare.net,ST=California,L=San Francisco,OU=Origin Pull,"
        "O=CloudFlare\\, Inc.,C=US"
    )
    assert cert.subject == cert.issuer
    cert.verify_directly_issued_by(cert)  # self-signed


def test_cloudflare_bundle_is_a_ca_and_warns_before_it_expires() -> None:
    bundle = origin.cloudflare_ca_bundle(now=NOW)
    assert bundle.is_cloudflare and bundle.verify_depth == 1 and bundle.warnings == ()
    assert bundle.certificates[0].is_ca
    soon = origin.cloudflare_ca_bundle(now=datetime(2029, 10, 20, tzinfo=UTC))
    assert soon.warnings and "expires in 12 days" in soon.warnings[0]
    with pytest.raises(CertificateError, match="expired on 2029-11-01"):
        origin.cloudflare_ca_bundle(now=datetime(2029, 11, 2, tzinfo=UTC))


# --- CA bundles from --ca ---------------------------------------------------------------------


def test_ca_bundle_refuses_a_file_holding_a_private_key() -> None:
    ca = make_ca("Origin CA")
    with pytest.raises(CertificateError, match="contains a private key") as caught:
        origin.load_ca_bundle(ca.cert_pem + ca.key_pem, "ca.pem", now=NOW)
    assert ca.key_pem.splitlines()[1] not in str(caught.value)


def test_ca_bundle_refuses_a_leaf_and_an_expired_ca() -> None:
    with pytest.raises(CertificateError, match="is not a CA"):
        origin.load_ca_bundle(make_leaf("client").cert_pem, "leaf.pem", now=NOW)
    expired = make_leaf("Old CA", ca=True, expired=True)
    with pytest.raises(CertificateError, match="expired"):
        origin.load_ca_bundle(expired.cert_pem, "old.pem", now=datetime.now(UTC))


def test_chain_depth_direct_and_through_an_intermediate() -> None:
    root = make_ca("Root CA")
    intermediate = make_leaf("Intermediate CA", issuer=root, ca=True)
    direct = make_leaf("client-a", issuer=root)
    deep = make_leaf("client-b", issuer=intermediate)
    bundle = origin.load_ca_bundle(intermediate.cert_pem + root.cert_pem, "ca.pem", now=NOW)
    assert origin.chain_depth(bundle, direct.cert_pem) == 1
    assert origin.chain_depth(bundle, deep.cert_pem) == 2


def test_chain_depth_refuses_a_foreign_ca_and_a_missing_root() -> None:
    root = make_ca("Root CA")
    intermediate = make_leaf("Intermediate CA", issuer=root, ca=True)
    client = make_leaf("client", issuer=intermediate)
    other = origin.load_ca_bundle(make_ca("Other CA").cert_pem, "other.pem", now=NOW)
    with pytest.raises(CertificateError, match=r"other\.pem did not sign the client certificate"):
        origin.chain_depth(other, client.cert_pem)
    only_intermediate = origin.load_ca_bundle(intermediate.cert_pem, "mid.pem", now=NOW)
    with pytest.raises(CertificateError, match="no root"):
        origin.chain_depth(only_intermediate, client.cert_pem)


def test_a_ca_with_the_same_name_but_another_key_did_not_sign() -> None:
    real, impostor = make_ca("Same Name CA"), make_ca("Same Name CA")
    bundle = origin.load_ca_bundle(impostor.cert_pem, "impostor.pem", now=NOW)
    with pytest.raises(CertificateError, match="did not sign"):
        origin.chain_depth(bundle, make_leaf("client", issuer=real).cert_pem)


# --- what Cloudflare presents, from the configuration ----------------------------------------


def write_config(directory: Path, resources: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"resource": resources}, indent=2)
    (directory / "main.aop.json").write_text(text, encoding="utf-8")
    return directory


def certificate(
    directory: Path, name: str, issued: Issued, zone: str = "example.com"
) -> dict[str, str]:
    (directory / f"{name}.crt.pem").write_text(issued.cert_pem, encoding="utf-8")
    (directory / f"{name}.key.pem").write_text(issued.key_pem, encoding="utf-8")
    return {
        "zone": zone,
        "certificate": f'${{file("{name}.crt.pem")}}',
        "private_key": f'${{file("{name}.key.pem")}}',
    }


@pytest.fixture
def ca() -> Issued:
    return make_ca("Origin Pull CA")


@pytest.fixture
def mixed(tmp_path: Path, ca: Issued) -> Path:
    """Global AOP, a zone certificate for example.com and a per-hostname one for app."""
    directory = tmp_path / "config"
    directory.mkdir()
    zone = certificate(directory, "zone", make_leaf("zone client", issuer=ca))
    app = certificate(directory, "app", make_leaf("app client", issuer=ca))
    return write_config(
        directory,
        {
            "aop_global": {"main": {"zone": "example.com", "enabled": True}},
            "aop_zone_certificate": {"zone": zone},
            "aop_hostname_certificate": {"app": app},
            "aop_hostname_binding": {
                "app": {
                    "zone": "example.com",
                    "hostnames": ["app.example.com"],
                    "certificate_id": "${aop_hostname_certificate.app.id}",
                    "enabled": True,
                },
                "off": {
                    "zone": "example.com",
                    "hostnames": ["off.example.com"],
                    "certificate_id": "${aop_hostname_certificate.app.id}",
                    "enabled": False,
                },
            },
        },
    )


def test_identity_by_address(mixed: Path) -> None:
    config = load_configuration(mixed)
    assert origin.identity_for_address(config, "aop_global.main") == origin.GLOBAL
    zone = origin.identity_for_address(config, "aop_zone_certificate.zone")
    assert (zone.mode, str(zone.address)) == ("zone", "aop_zone_certificate.zone")
    bound = origin.identity_for_address(config, "aop_hostname_binding.app")
    assert (bound.mode, str(bound.address)) == ("hostname", "aop_hostname_certificate.app")
    assert bound.certificate is not None and "app client" in bound.certificate.subject
    for wrong, message in [
        ("aop_zone_certificate.nope", "not declared"),
        ("nonsense", "not a resource address"),
    ]:
        with pytest.raises(AopctlError, match=message):
            origin.identity_for_address(config, wrong)


def test_identity_by_hostname_follows_cloudflare_precedence(mixed: Path) -> None:
    config = load_configuration(mixed)
    assert str(origin.identity_for_hostname(config, "app.example.com").address) == (
        "aop_hostname_certificate.app"
    )
    # a disabled binding does not send its certificate: the zone-level one applies
    assert str(origin.identity_for_hostname(config, "off.example.com").address) == (
        "aop_zone_certificate.zone"
    )
    assert origin.identity_for_hostname(config, "www.example.org") == origin.GLOBAL
    assert origin.identity_for_hostname(None, "app.example.com") == origin.GLOBAL


def test_a_mode_the_configuration_turns_off_presents_nothing(mixed: Path) -> None:
    # Zone-level AOP off: its certificate is uploaded but not presented; global off as well:
    # Cloudflare presents nothing, which an origin requiring a certificate would refuse.
    config_file = mixed / "main.aop.json"
    document = json.loads(config_file.read_text())
    document["resource"]["aop_zone_settings"] = {"main": {"zone": "example.com", "enabled": False}}
    config_file.write_text(json.dumps(document))
    assert origin.identity_for_hostname(load_configuration(mixed), "www.example.com") == (
        origin.GLOBAL
    )

    document["resource"]["aop_global"]["main"]["enabled"] = False
    config_file.write_text(json.dumps(document))
    config = load_configuration(mixed)
    with pytest.raises(AopctlError, match="Cloudflare presents no client certificate") as raised:
        origin.identity_for_hostname(config, "www.example.com")
    assert "(aop_zone_settings.main, aop_global.main)" in raised.value.message
    assert origin.identity_for_hostname(config, "www.example.org") == origin.GLOBAL  # not its zone
    assert str(origin.identity_for_hostname(config, "app.example.com").address) == (
        "aop_hostname_certificate.app"
    )
    written = CliRunner().invoke(
        main,
        [
            "--chdir",
            str(mixed),
            "origin",
            "config",
            "--server",
            "nginx",
            "--out",
            str(mixed / "out"),
        ],
    )
    assert written.exit_code == 0, written.output
    assert "turns global AOP off (aop_global.main)" in written.stderr


def test_credentials_need_the_private_key(tmp_path: Path, ca: Issued) -> None:
    directory = tmp_path / "config"
    directory.mkdir()
    body = certificate(directory, "zone", make_leaf("zone client", issuer=ca))
    body["private_key"] = "${var.zone_key}"
    (directory / "vars.aop.json").write_text(
        json.dumps({"variable": {"zone_key": {"type": "string", "sensitive": True}}}), "utf-8"
    )
    config = load_configuration(write_config(directory, {"aop_zone_certificate": {"zone": body}}))
    identity = origin.identity_for_address(config, "aop_zone_certificate.zone")
    with pytest.raises(AopctlError, match="set variable 'zone_key'"):
        origin.client_credentials(identity)
    assert origin.client_credentials(origin.GLOBAL) is None


def test_origin_ca_rules(mixed: Path, ca: Issued) -> None:
    config = load_configuration(mixed)
    zone = origin.identity_for_address(config, "aop_zone_certificate.zone")
    with pytest.raises(AopctlError, match="pass --ca FILE"):
        origin.origin_ca(zone, None, now=NOW)
    with pytest.raises(AopctlError, match="--ca applies only to your own certificates"):
        origin.origin_ca(origin.GLOBAL, ("ca.pem", ca.cert_pem), now=NOW)
    bundle = origin.origin_ca(zone, ("ca.pem", ca.cert_pem), now=NOW)
    assert bundle.name == "ca.pem" and bundle.verify_depth == 1
    with pytest.raises(AopctlError, match="name it with --for"):
        origin.identity_for_ca(config)  # three certificates: which one?


# --- snippets -----------------------------------------------------------------------------

EXPECTED_DIRECTIVES = {
    "nginx": ["ssl_client_certificate {ca};", "ssl_verify_client on;", "ssl_verify_depth 2;"],
    "apache": ["SSLCACertificateFile {ca}", "SSLVerifyClient require", "SSLVerifyDepth 2"],
    "haproxy": ["ca-file {ca} verify required"],
    # Inlined: Caddy 2.6 has no `trust_pool`, and its `trusted_ca_cert_file` reads one certificate.
    "caddy": [
        "mode require_and_verify",
        "\t\ttrusted_ca_cert {intermediate}\n\t\ttrusted_ca_cert {root}\n",
    ],
}


def der_base64(issued: Issued) -> str:
    return base64.b64encode(issued.cert.public_bytes(Encoding.DER)).decode()


@pytest.mark.parametrize("server", origin.SERVERS)
def test_snippets_require_a_certificate_from_the_bundle(server: str, tmp_path: Path) -> None:
    root = make_ca("Root CA")
    intermediate = make_leaf("Intermediate CA", issuer=root, ca=True)
    bundle = origin.load_ca_bundle(intermediate.cert_pem + root.cert_pem, "ca.pem", now=NOW)
    bundle = origin.CaBundle(bundle.name, bundle.pem, bundle.certificates, verify_depth=2)
    files = origin.write_origin_config(server, bundle, tmp_path / "out")
    assert files.ca_path == (tmp_path / "out" / "aop-origin-ca.pem").resolve()
    written = x509.load_pem_x509_certificates(files.ca_path.read_bytes())
    assert written == [intermediate.cert, root.cert]
    snippet = files.snippet_path.read_text()
    bodies = {"intermediate": der_base64(intermediate), "root": der_base64(root)}
    for directive in EXPECTED_DIRECTIVES[server]:
        assert directive.format(ca=files.ca_path, **bodies) in snippet
    for info in bundle.certificates:
        assert info.fingerprint_sha256 in snippet
    assert "shared certificate" not in snippet  # the caveat is for Cloudflare's CA only


def test_paths_with_spaces_are_quoted(tmp_path: Path) -> None:
    bundle = origin.cloudflare_ca_bundle(now=NOW)
    files = origin.write_origin_config("nginx", bundle, tmp_path / "my origin")
    assert f'ssl_client_certificate "{files.ca_path}";' in files.snippet_path.read_text()


# --- the command ------------------------------------------------------------------------


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args])


def test_config_command_defaults_to_cloudflare_ca_without_a_configuration(tmp_path: Path) -> None:
    result = run(
        "--chdir", tmp_path, "origin", "config", "--server", "apache", "--out", tmp_path / "o"
    )
    assert result.exit_code == 0, result.output
    assert "Cloudflare origin-pull CA" in result.stdout
    written = (tmp_path / "o" / "aop-origin-ca.pem").read_text()
    assert written == origin.cloudflare_origin_pull_ca().strip() + "\n"
    snippet = (tmp_path / "o" / "aop-origin-apache.conf").read_text()
    assert "SSLVerifyClient require" in snippet and "shared certificate" in snippet


def test_config_command_warns_when_the_configuration_has_own_certificates(mixed: Path) -> None:
    result = run("--chdir", mixed, "origin", "config", "--server", "nginx", "--out", mixed / "o")
    assert result.exit_code == 0, result.output
    assert "Warning: the configuration declares your own certificates" in result.stderr


def test_config_command_checks_the_ca_signed_the_configured_certificate(
    mixed: Path, ca: Issued
) -> None:
    (mixed / "ca.pem").write_text(ca.cert_pem)
    (mixed / "other.pem").write_text(make_ca("Other CA").cert_pem)
    args: list[str | Path] = [
        "--chdir",
        mixed,
        "origin",
        "config",
        "--server",
        "caddy",
        "--for",
        "aop_hostname_binding.app",
    ]
    wrong = run(*args, "--ca", mixed / "other.pem", "--out", mixed / "bad")
    assert wrong.exit_code == 1
    assert "did not sign the client certificate CN=app client" in wrong.stderr
    assert not (mixed / "bad").exists()
    good = run(*args, "--ca", mixed / "ca.pem", "--out", mixed / "good")
    assert good.exit_code == 0, good.output
    assert "per-hostname certificate aop_hostname_certificate.app" in good.stdout
    assert (
        f"trusted_ca_cert {der_base64(ca)}\n" in (mixed / "good" / "aop-origin.caddy").read_text()
    )
    missing = run(*args, "--out", mixed / "x")
    assert missing.exit_code == 1 and "pass --ca FILE" in missing.stderr


def test_config_command_on_the_shipped_example(tmp_path: Path) -> None:
    """The command examples/origin/README.md shows."""
    out = tmp_path / "origin"
    result = run(
        "--chdir",
        EXAMPLES / "per-hostname",
        "origin",
        "config",
        "--server",
        "nginx",
        "--for",
        "aop_hostname_binding.app",
        "--ca",
        EXAMPLES / "certs" / "example-ca.crt.pem",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    assert "ssl_verify_client on;" in (out / "aop-origin-nginx.conf").read_text()
