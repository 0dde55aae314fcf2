"""`aopctl cert inspect` through the real click entry point."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from certgen import Issued, make_ca, make_leaf
from click.testing import CliRunner, Result

from planner.cli import main

PEM_DIR = Path(__file__).parent / "data" / "pem"
LE_CERT = "le-terraform-cfapi-net-expired-2020.crt.pem"
DOCS_CA = "docs-example-internet-widgits-ca-true-expired-2016.crt.pem"


def inspect(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["cert", "inspect", *map(str, args)])


def key_chunks(key_pem: str) -> list[str]:
    """Every 16-character slice of the key's base64 body."""
    body = "".join(line for line in key_pem.splitlines() if not line.startswith("-----"))
    return [body[i : i + 16] for i in range(0, len(body) - 15, 8)]


@pytest.fixture
def app(tmp_path: Path) -> tuple[Issued, Path, Path]:
    issued = make_leaf(
        "app.example.com", sans=("app.example.com", "api.example.com"), issuer=make_ca("Example CA")
    )
    cert, key = tmp_path / "app.crt.pem", tmp_path / "app.key.pem"
    cert.write_text(issued.cert_pem)
    key.write_text(issued.key_pem)
    return issued, cert, key


def test_text_output_describes_certificate_and_key(app: tuple[Issued, Path, Path]) -> None:
    issued, cert, key = app
    result = inspect(cert, key)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert str(cert) in out and str(key) in out
    assert issued.fingerprint_sha256 in out
    assert "CN=app.example.com" in out and "CN=Example CA" in out
    assert "app.example.com, api.example.com" in out
    assert str(issued.cert.serial_number) in out
    assert re.search(r"not after: +\d{4}-\d\d-\d\d .*\((364|365) days left\)", out)
    assert re.search(r"key: +EC P-256 \(256 bits\)", out)
    assert re.search(r"ca: +no", out)
    assert re.search(r"private key: +EC P-256 \(256 bits\), contents not shown", out)
    # the certificate's and the key's public-key fingerprints are printed, and they agree
    public = re.findall(r"public key sha256: +([0-9a-f]{64})", out)
    assert len(public) == 2 and public[0] == public[1]


@pytest.mark.parametrize("traditional", [False, True])
def test_key_bytes_never_appear_in_any_output(tmp_path: Path, traditional: bool) -> None:
    issued = make_leaf("k.example.com", key_type="rsa")
    pem = issued.key_pem_traditional if traditional else issued.key_pem
    key = tmp_path / "k.key.pem"
    key.write_text(pem)
    broken = tmp_path / "broken.key.pem"
    broken.write_text(pem.replace(pem.splitlines()[3], "!" * 64))
    for args in ([key], ["--json", key], [broken], ["--json", broken, key]):
        result = inspect(*args)
        everything = result.stdout + result.stderr
        leaked = [chunk for chunk in key_chunks(pem) if chunk in everything]
        assert leaked == [], f"key material in output of {args}"
    assert inspect(key).exit_code == 0 and inspect(broken).exit_code == 1


def test_json_output_is_a_list_of_descriptions(app: tuple[Issued, Path, Path]) -> None:
    issued, cert, key = app
    result = inspect("--json", cert, key)
    assert result.exit_code == 0, result.stderr
    described = json.loads(result.stdout)
    assert [(d["file"], d["kind"]) for d in described] == [
        (str(cert), "certificate"),
        (str(key), "private_key"),
    ]
    first, second = described
    assert first["fingerprint_sha256"] == issued.fingerprint_sha256
    assert first["serial_number"] == str(issued.cert.serial_number)
    assert first["sans"] == ["app.example.com", "api.example.com"]
    assert first["is_ca"] is False and first["expired"] is False
    assert second == {
        "file": str(key),
        "kind": "private_key",
        "key_type": "EC P-256",
        "key_size": 256,
        "public_key_sha256": first["public_key_sha256"],
    }


def test_real_expired_ca_certificate() -> None:
    result = inspect(PEM_DIR / DOCS_CA)
    assert result.exit_code == 0
    assert re.search(r"2016-11-22 16:43:01 UTC \(EXPIRED \d+ days ago\)", result.stdout)
    assert re.search(r"ca: +yes \(CA:TRUE\)", result.stdout)
    assert re.search(r"key: +RSA \(2048 bits\)", result.stdout)


def test_chain_reports_the_extra_certificates() -> None:
    result = inspect(PEM_DIR / "le-terraform-cfapi-net-expired-2020.chain.crt.pem")
    assert result.exit_code == 0
    assert "CN=terraform.cfapi.net" in result.stdout
    assert "1 more certificate after the leaf" in result.stdout


def test_one_bad_file_is_an_error_line_and_exit_1() -> None:
    der = PEM_DIR / "le-terraform-cfapi-net-expired-2020.crt.der"
    result = inspect(der)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {der}: looks like DER (binary), not PEM")


def test_every_bad_file_is_reported_and_good_ones_still_printed(tmp_path: Path) -> None:
    encrypted = tmp_path / "enc.key.pem"
    shutil.copy(PEM_DIR / "bad-encrypted-pkcs8.key.pem", encrypted)
    missing = tmp_path / "missing.pem"
    garbage = PEM_DIR / "bad-garbage.txt"
    result = inspect(encrypted, PEM_DIR / LE_CERT, missing, garbage)
    assert result.exit_code == 1
    assert "CN=terraform.cfapi.net" in result.stdout
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: 3 files are not usable"
    assert lines[1] == f"  {encrypted}: " + (
        "encrypted private keys are not supported; decrypt it with "
        "`openssl pkey -in FILE -out FILE.decrypted.pem`"
    )
    assert lines[2].startswith(f"  {missing}: cannot read:")
    assert lines[3] == f"  {garbage}: not PEM: no -----BEGIN ...----- line found"


def test_json_with_a_bad_file_prints_the_good_ones_and_fails() -> None:
    result = inspect("--json", PEM_DIR / LE_CERT, PEM_DIR / "bad-csr.pem")
    assert result.exit_code == 1
    assert [d["file"] for d in json.loads(result.stdout)] == [str(PEM_DIR / LE_CERT)]
    assert "found CERTIFICATE REQUEST" in result.stderr


def test_no_file_is_a_usage_error() -> None:
    result = inspect()
    assert result.exit_code == 1
    assert "Missing argument" in result.stderr
