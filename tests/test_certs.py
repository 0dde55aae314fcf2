"""planner.certs: normalisation, parsing, key matching, checks, over real and generated PEMs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from certgen import make_ca, make_leaf
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import assume, example, given
from hypothesis import strategies as st

from planner import certs
from planner.certs import (
    CertificateInfo,
    check_certificate,
    describe,
    fingerprint_sha256,
    key_matches,
    normalize_pem,
    parse_certificate,
    parse_pem,
    parse_private_key,
    read_pem_file,
)
from planner.errors import CertificateError

PEM_DIR = Path(__file__).parent / "data" / "pem"
LE = "le-terraform-cfapi-net-expired-2020"
DOCS = "docs-example-internet-widgits"
LE_FINGERPRINT = "b56dee0882560e37baf71fb88d3430b4ba04350de4ad61848ee216bb6201474c"
DOCS_FINGERPRINT = "ec46227f9a1b73e5227367afb38cc60530207cd41b95ef098fd91c87582c025b"
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def read(name: str) -> str:
    return read_pem_file(PEM_DIR / name)


def assert_no_key_material(text: str, key_pem: str) -> None:
    """No run of 8+ base64 characters from the key's body appears in `text`."""
    body = "".join(line for line in key_pem.splitlines() if not line.startswith("-----"))
    body = re.sub(r"\s|\\n", "", body)
    for token in re.findall(r"[A-Za-z0-9+/=]{8,}", text):
        for start in range(len(token) - 7):
            assert token[start : start + 8] not in body, "key material leaked"


# --- real vectors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fingerprint", "chain_length"),
    [
        (f"{LE}.crt.pem", LE_FINGERPRINT, 1),
        (f"{LE}.no-trailing-newline.crt.pem", LE_FINGERPRINT, 1),
        (f"{LE}.crt.hcl-escaped.txt", LE_FINGERPRINT, 1),
        (f"{LE}.crlf.crt.pem", LE_FINGERPRINT, 1),
        (f"{LE}.chain.crt.pem", LE_FINGERPRINT, 2),
        (f"{LE}.cert-and-key.pem", LE_FINGERPRINT, 1),
        (f"{DOCS}-ca-true-expired-2016.crt.pem", DOCS_FINGERPRINT, 1),
        (f"{DOCS}.INDENTED-as-in-heredoc.crt.pem", DOCS_FINGERPRINT, 1),
    ],
)
def test_every_shape_of_a_real_certificate_parses_to_the_same_leaf(
    name: str, fingerprint: str, chain_length: int
) -> None:
    info = parse_certificate(read(name))
    assert info.fingerprint_sha256 == fingerprint  # checked against `openssl x509 -fingerprint`
    assert info.chain_length == chain_length
    canonical = (
        f"{LE}.crt.pem" if fingerprint == LE_FINGERPRINT else f"{DOCS}-ca-true-expired-2016.crt.pem"
    )
    assert info.pem == read(canonical)  # the leaf only, in OpenSSL's canonical layout


def test_lets_encrypt_leaf_fields_match_what_cloudflare_reports() -> None:
    info = parse_certificate(read(f"{LE}.crt.pem"))
    # serial_number and issuer exactly as in tests recorded from the Cloudflare API
    assert info.serial_number == "315058594055281896516801703885827625507384"
    assert info.issuer == "CN=Let's Encrypt Authority X3,O=Let's Encrypt,C=US"
    assert info.subject == "CN=terraform.cfapi.net"
    assert info.sans == ("terraform.cfapi.net",)
    assert info.not_after == datetime(2020, 9, 23, 21, 3, 47, tzinfo=UTC)
    assert (info.key_type, info.key_size) == ("EC P-384", 384)
    assert info.signature_algorithm == "SHA256WithRSA"
    assert info.is_ca is False


def test_docs_example_is_a_ca_with_an_rsa_key() -> None:
    info = parse_certificate(read(f"{DOCS}-ca-true-expired-2016.crt.pem"))
    assert info.is_ca is True
    assert (info.key_type, info.key_size) == ("RSA", 2048)
    assert info.sans == ()
    assert info.serial_number == str(0xC1C0C1F5D9E7F3D6)


@pytest.mark.parametrize(
    ("key_name", "cert_name", "key_type"),
    [
        (f"{DOCS}-rsa2048.key.pem", f"{DOCS}-ca-true-expired-2016.crt.pem", "RSA"),
        (f"{DOCS}.INDENTED-as-in-heredoc.key.pem", f"{DOCS}-ca-true-expired-2016.crt.pem", "RSA"),
        (f"{LE}.key.pem", f"{LE}.crt.pem", "EC P-384"),
        (f"{LE}.cert-and-key.pem", f"{LE}.crt.pem", "EC P-384"),
        ("ec-p256-with-parameters.key.pem", "ec-p256-with-parameters.crt.pem", "EC P-256"),
    ],
)
def test_real_keys_match_their_certificates(key_name: str, cert_name: str, key_type: str) -> None:
    key = parse_private_key(read(key_name))
    assert key.key_type == key_type
    assert key_matches(parse_certificate(read(cert_name)), key)


def test_real_keys_do_not_match_other_certificates() -> None:
    rsa_key = parse_private_key(read(f"{DOCS}-rsa2048.key.pem"))
    ec_key = parse_private_key(read(f"{LE}.key.pem"))
    assert not key_matches(parse_certificate(read(f"{LE}.crt.pem")), rsa_key)
    assert not key_matches(parse_certificate(read(f"{DOCS}-ca-true-expired-2016.crt.pem")), ec_key)


def test_stray_ec_parameters_block_is_dropped() -> None:
    text = read("ec-p256-with-parameters.key.pem")
    assert "EC PARAMETERS" in text
    assert normalize_pem(text).startswith("-----BEGIN EC PRIVATE KEY-----\n")
    assert normalize_pem(text).count("-----BEGIN") == 1


# --- errors ------------------------------------------------------------------------------------


DER_CERT_HINT = "looks like DER (binary), not PEM; convert it with `openssl x509 -inform der"
DER_KEY_HINT = "looks like DER (binary), not PEM; convert it with `openssl pkey -inform der"
ENCRYPTED = "encrypted private keys are not supported; decrypt it with `openssl pkey"
KEY_NOT_CERT = "this is a private key, not a certificate"


@pytest.mark.parametrize(
    ("name", "parse", "message"),
    [
        (f"{LE}.crt.der", parse_certificate, DER_CERT_HINT),
        (f"{LE}.key.der", parse_private_key, DER_KEY_HINT),
        (f"{LE}.key.pem", parse_certificate, KEY_NOT_CERT),
        (f"{DOCS}-rsa2048.key.pem", parse_certificate, KEY_NOT_CERT),
        (f"{LE}.crt.pem", parse_private_key, "this is a certificate, not a private key"),
        ("bad-encrypted-pkcs8.key.pem", parse_private_key, ENCRYPTED),
        ("bad-encrypted-traditional.key.pem", parse_private_key, ENCRYPTED),
        (
            "bad-csr.pem",
            parse_certificate,
            "expected a CERTIFICATE block, found CERTIFICATE REQUEST",
        ),
        ("bad-garbage.txt", parse_certificate, "not PEM: no -----BEGIN ...----- line found"),
        ("bad-empty.pem", parse_certificate, "empty input"),
        ("bad-empty.pem", parse_private_key, "empty input"),
        ("bad-corrupt-base64.crt.pem", parse_certificate, "corrupt base64 in the CERTIFICATE"),
        (
            "bad-truncated-no-end.crt.pem",
            parse_certificate,
            "has no -----END CERTIFICATE----- line",
        ),
        ("bad-truncated-body.crt.pem", parse_certificate, "not a valid X.509 certificate"),
        ("bad-truncated-body.key.pem", parse_private_key, "EC PRIVATE KEY block is not a valid"),
    ],
)
def test_each_bad_file_gets_one_clear_message(
    name: str, parse: Callable[[str], object], message: str
) -> None:
    with pytest.raises(CertificateError) as caught:
        parse(read(name))
    assert message in caught.value.message
    assert_no_key_material(caught.value.message, read(name))


def _corrupt_key_body(pem: str) -> str:
    lines = pem.splitlines()
    lines[2] = "!" + lines[2][1:]
    return "\n".join(lines)


def _block(label: str, body: str) -> str:
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty input"),
        (_block("EC PARAMETERS", "BggqhkjOPQMBBw=="), "found EC PARAMETERS"),
        (_block("OPENSSH PRIVATE KEY", "b3BlbnNzaA=="), "OpenSSH key format is not supported"),
        ("MIIB" * 40, "looks like base64 without its -----BEGIN"),
        ("\x89PNG\r\n\x1a\n\x00\x00", "binary data, not PEM text"),
    ],
)
def test_inline_error_inputs(text: str, message: str) -> None:
    with pytest.raises(CertificateError, match=re.escape(message)):
        parse_private_key(text)


def test_two_private_keys_in_one_input_are_refused() -> None:
    text = make_leaf("a").key_pem + make_leaf("b").key_pem
    with pytest.raises(CertificateError, match="found 2 private keys"):
        parse_private_key(text)


@pytest.mark.parametrize("traditional", [False, True])
def test_corrupt_key_errors_never_carry_key_material(traditional: bool) -> None:
    issued = make_leaf("leak.example.com", key_type="rsa")
    pem = issued.key_pem_traditional if traditional else issued.key_pem
    broken = _corrupt_key_body(pem)
    with pytest.raises(CertificateError) as caught:
        parse_private_key(broken)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert_no_key_material(str(caught.value), broken)


def test_a_key_where_a_certificate_belongs_does_not_echo_the_key() -> None:
    issued = make_leaf("swap.example.com")
    with pytest.raises(CertificateError) as caught:
        parse_certificate(issued.key_pem)
    assert_no_key_material(str(caught.value), issued.key_pem)


# --- keys from certgen (PKCS#8, PKCS#1, SEC1) ---------------------------------------------------


@pytest.mark.parametrize("key_type", ["ec", "rsa"])
@pytest.mark.parametrize("traditional", [False, True])
def test_generated_keys_match_in_every_encoding(key_type: str, traditional: bool) -> None:
    issued = make_leaf("k.example.com", key_type=key_type)  # type: ignore[arg-type]
    pem = issued.key_pem_traditional if traditional else issued.key_pem
    key = parse_private_key(pem)
    assert key_matches(parse_certificate(issued.cert_pem), key)
    assert key.key_type == ("RSA" if key_type == "rsa" else "EC P-256")
    assert_no_key_material(repr(key), pem)


def test_keys_of_the_same_type_do_not_match_each_other() -> None:
    first, second = make_leaf("one"), make_leaf("two")
    assert not key_matches(parse_certificate(first.cert_pem), parse_private_key(second.key_pem))


def test_ed25519_certificate_and_key() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "ed.example.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, None)
    )
    info = parse_certificate(cert.public_bytes(serialization.Encoding.PEM).decode())
    assert (info.key_type, info.signature_algorithm, info.serial_number) == (
        "Ed25519",
        "Ed25519",
        "7",
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    assert key_matches(info, parse_private_key(key_pem))


def test_ecdsa_sha384_signature_name() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "p384")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA384())
    )
    info = parse_certificate(cert.public_bytes(serialization.Encoding.PEM).decode())
    assert info.signature_algorithm == "ECDSAWithSHA384"


def test_certgen_issues_what_it_says() -> None:
    ca = make_ca("Issuing CA", key_type="rsa")
    leaf = make_leaf("app.example.com", sans=("app.example.com", "api.example.com"), issuer=ca)
    info = parse_certificate(leaf.cert_pem)
    assert info.fingerprint_sha256 == leaf.fingerprint_sha256 == fingerprint_sha256(leaf.cert_pem)
    assert info.issuer == "CN=Issuing CA"
    assert info.sans == ("app.example.com", "api.example.com")
    assert info.signature_algorithm == "SHA256WithRSA"
    assert parse_certificate(ca.cert_pem).is_ca and not info.is_ca
    assert parse_certificate(make_leaf("old", expired=True).cert_pem).is_expired(datetime.now(UTC))


# --- checks ------------------------------------------------------------------------------------


def _cert_expiring(after: timedelta, *, ca: bool = False) -> CertificateInfo:
    """A certificate whose not_after is NOW + after (to the second)."""
    days = 400
    start = NOW + after - timedelta(days=days)
    return parse_certificate(
        make_leaf("c.example.com", not_before=start, days=days, ca=ca).cert_pem
    )


def test_days_left_rounds_down_and_goes_negative() -> None:
    assert _cert_expiring(timedelta(days=10, hours=23)).days_left(NOW) == 10
    assert _cert_expiring(timedelta(hours=1)).days_left(NOW) == 0
    assert _cert_expiring(-timedelta(hours=1)).days_left(NOW) == -1


def test_a_healthy_leaf_has_no_problems() -> None:
    assert check_certificate(_cert_expiring(timedelta(days=90)), leaf_required=True, now=NOW) == []


def test_expired_is_an_error_that_says_when() -> None:
    problems = check_certificate(_cert_expiring(-timedelta(days=3)), leaf_required=False, now=NOW)
    assert problems == [("error", "certificate expired on 2026-11-30 (3 days ago)")]


def test_expiring_soon_is_a_warning_with_days_and_date() -> None:
    cert = _cert_expiring(timedelta(days=12, hours=2))
    assert check_certificate(cert, leaf_required=True, now=NOW) == [
        ("warning", "certificate expires in 12 days (2026-12-15)")
    ]
    assert check_certificate(cert, leaf_required=True, now=NOW, warn_days=7) == []


def test_ca_is_an_error_only_where_a_leaf_is_required() -> None:
    cert = _cert_expiring(timedelta(days=90), ca=True)
    [(severity, message)] = check_certificate(cert, leaf_required=True, now=NOW)
    assert severity == "error" and "CA:TRUE" in message and "1412" in message
    assert check_certificate(cert, leaf_required=False, now=NOW) == []


def test_real_docs_example_fails_twice_for_a_hostname() -> None:
    info = parse_certificate(read(f"{DOCS}.INDENTED-as-in-heredoc.crt.pem"))
    severities = [severity for severity, _ in check_certificate(info, leaf_required=True, now=NOW)]
    assert severities == ["error", "error"]


def test_not_yet_valid_is_a_warning() -> None:
    future = parse_certificate(make_leaf("f", not_before=NOW + timedelta(days=2)).cert_pem)
    [(severity, message)] = check_certificate(future, leaf_required=True, now=NOW)
    assert severity == "warning" and "not valid before" in message


def test_describe_is_json_ready() -> None:
    info = parse_certificate(read(f"{LE}.crt.pem"))
    described = json.loads(json.dumps(describe(info, NOW)))
    assert described["fingerprint_sha256"] == LE_FINGERPRINT
    assert described["not_after"] == "2020-09-23T21:03:47Z"
    assert described["expired"] is True and described["days_left"] < 0
    assert described["sans"] == ["terraform.cfapi.net"]


# --- file reading ------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig"])
def test_windows_encodings_are_read(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "cert.pem"
    path.write_text(read(f"{LE}.crt.pem"), encoding=encoding)
    assert fingerprint_sha256(read_pem_file(path)) == LE_FINGERPRINT


def test_parse_pem_tells_certificates_from_keys() -> None:
    assert isinstance(parse_pem(read(f"{LE}.cert-and-key.pem")), CertificateInfo)
    assert isinstance(parse_pem(read(f"{LE}.key.pem")), certs.PrivateKeyInfo)


# --- properties --------------------------------------------------------------------------------

CANONICAL = [
    read(f"{LE}.crt.pem"),
    read(f"{DOCS}-ca-true-expired-2016.crt.pem"),
    read(f"{LE}.key.pem"),
    read(f"{DOCS}-rsa2048.key.pem"),
    read(f"{LE}.crt.pem") + read(f"{DOCS}-ca-true-expired-2016.crt.pem"),
]
EC_PARAMS = "-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\n"


@st.composite
def mangled(draw: st.DrawFn) -> tuple[str, str]:
    """(canonical PEM, a version of it as users paste it)."""
    canonical = draw(st.sampled_from(CANONICAL))
    text = canonical
    if "EC PRIVATE KEY" in text and draw(st.booleans()):
        text = EC_PARAMS + text
    width = draw(st.integers(min_value=1, max_value=120))
    text = re.sub(
        r"(?m)^[A-Za-z0-9+/=]+\n(?:[A-Za-z0-9+/=]+\n)*",
        lambda m: "\n".join(re.findall(f".{{1,{width}}}", m.group().replace("\n", ""))) + "\n",
        text,
    )
    lines = text.splitlines()
    indent = draw(st.text(alphabet=" \t", max_size=8))
    trailing = draw(st.text(alphabet=" \t", max_size=3))
    lines = [indent + line + trailing for line in lines]
    if draw(st.booleans()):
        text = "\\n".join(lines)  # one escaped line, as in JSON/HCL
    else:
        text = draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    if draw(st.booleans()):
        text += "\n"
    before = draw(st.text(alphabet=" \t\n", max_size=5))
    after = draw(st.text(alphabet=" \t\n", max_size=5))
    return canonical, before + text + after


@given(mangled())
def test_normalize_undoes_any_mangling(case: tuple[str, str]) -> None:
    canonical, text = case
    assert normalize_pem(text) == canonical
    if "CERTIFICATE" in canonical:
        assert fingerprint_sha256(text) == fingerprint_sha256(canonical)


@given(mangled())
def test_normalize_is_idempotent_on_pasted_input(case: tuple[str, str]) -> None:
    once = normalize_pem(case[1])
    assert normalize_pem(once) == once


# Pieces that mean something to the parser, mixed with anything else.
PEM_TOKENS = ["MIIB", "Ab0+/=", ":", ": ", "Proc-Type: 4,ENCRYPTED", "\n", "\r\n", "\r", " ", "\t"]
PEM_TOKENS += ["\\n", "\\", "n", "-----", "BEGIN ", "END ", "\ufeff", "\x85"]
PEMISH = st.lists(st.sampled_from(PEM_TOKENS) | st.text(max_size=3), max_size=60).map("".join)


@given(
    before=st.text(max_size=20),
    label=st.from_regex(r"[A-Z0-9]{1,8}( [A-Z0-9]{1,8}){0,2}", fullmatch=True),
    body=PEMISH,
    after=st.text(max_size=20),
)
# A backslash and an "n" that become adjacent only once whitespace is removed.
@example(before="", label="X", body="\\ n", after="")
def test_normalize_is_idempotent_on_anything_that_looks_like_pem(
    before: str, label: str, body: str, after: str
) -> None:
    try:
        once = normalize_pem(f"{before}-----BEGIN {label}-----{body}-----END {label}-----{after}")
    except CertificateError:
        assume(False)
        return
    assert normalize_pem(once) == once


def test_a_key_from_a_combined_file_is_uploaded_alone() -> None:
    # Users keep certificate and key in one file; the key attribute must carry the key only,
    # the block that was checked, not the certificate before it.
    issued = make_leaf("combined.example.com")
    combined = issued.cert_pem + "\r\n" + issued.key_pem

    normalised = certs.normalize_private_key(combined)

    assert re.findall(r"-----BEGIN ([A-Z ]+)-----", normalised) == ["PRIVATE KEY"]
    assert certs.parse_private_key(normalised) == certs.parse_private_key(issued.key_pem)


def test_a_bundle_with_the_ca_first_is_named_as_out_of_order() -> None:
    # Not "the key does not match": the key matches the leaf, which simply is not first.
    ca = make_ca("Bundle CA")
    leaf = make_leaf("bundle.example.com", issuer=ca)
    with pytest.raises(CertificateError, match="wrong order: it starts with a CA"):
        certs.parse_certificate(ca.cert_pem + leaf.cert_pem)
    assert certs.parse_certificate(leaf.cert_pem + ca.cert_pem).chain_length == 2
    assert certs.parse_certificate(ca.cert_pem).is_ca  # a CA alone is for zone-level AOP
