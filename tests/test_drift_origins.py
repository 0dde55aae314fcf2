"""`aopctl drift --check-origins`: the origin check of `origin check`, run for bound hostnames.

A small configuration (one per-hostname certificate signed by a test CA, bound to two
hostnames) is applied to the sandbox once; each test points `--resolve` for one hostname at a
loopback TLS server (test_origin_check's) and checks the report, the exit code, that drift
stayed read-only and that the client's private key appears nowhere.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from certgen import Issued, make_ca, make_leaf
from click.testing import CliRunner, Result
from engine_helpers import assert_no_key_material, key_fragments
from test_drift_cli import SANDBOX_ENV, STATE_FILE, VALIDATOR
from test_origin_check import OK, TlsServer

from planner.cli import main
from planner.sandbox import default_path, open_persistent

HOST = "origin.example.com"
UNRESOLVED = "other.example.com"
BINDING = "aop_hostname_binding.origin"
StartServer = Callable[[ssl.VerifyMode], int]


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca("Origin Pull CA")


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory, ca: Issued) -> Path:
    """The configuration applied to a fresh sandbox once; tests work on copies."""
    directory = tmp_path_factory.mktemp("applied") / "config"
    directory.mkdir()
    client = make_leaf("cloudflare client", issuer=ca)
    (directory / "client.crt.pem").write_text(client.cert_pem)
    (directory / "client.key.pem").write_text(client.key_pem)
    resources = {
        "aop_ssl_mode": {"com": {"zone": "example.com", "mode": "full"}},
        "aop_hostname_certificate": {
            "origin": {
                "zone": "example.com",
                "certificate": '${file("client.crt.pem")}',
                "private_key": '${file("client.key.pem")}',
            }
        },
        "aop_hostname_binding": {
            "origin": {
                "zone": "example.com",
                "hostnames": [HOST, UNRESOLVED],
                "certificate_id": "${aop_hostname_certificate.origin.id}",
                "enabled": True,
                "depends_on": ["aop_ssl_mode.com"],
            }
        },
    }
    (directory / "main.aop.json").write_text(json.dumps({"resource": resources}))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SANDBOX_ENV.items():
            patch.setenv(name, value)
        result = run(directory, "--sandbox", "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    return directory


@pytest.fixture
def workdir(applied: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in SANDBOX_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY", "CLOUDFLARE_EMAIL", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    target = tmp_path / "config"
    shutil.copytree(applied, target)
    return target


@pytest.fixture
def start_server(tmp_path: Path, ca: Issued) -> Iterator[StartServer]:
    """Start a loopback TLS origin verifying client certificates from `ca`; returns its port."""
    identity = make_leaf(HOST, sans=(HOST,))
    (tmp_path / "server.pem").write_text(identity.cert_pem + identity.key_pem)
    servers: list[tuple[TlsServer, threading.Thread]] = []

    def start(verify: ssl.VerifyMode) -> int:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp_path / "server.pem")
        context.verify_mode = verify
        context.load_verify_locations(cadata=ca.cert_pem)
        server = TlsServer(context, OK)
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        servers.append((server, thread))
        return int(server.server_address[1])

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def run(directory: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--chdir", str(directory), "--no-color", *args])


def drift(directory: Path, *args: str) -> Result:
    """`aopctl --sandbox drift ARGS`, checking it stayed read-only and kept the key out."""
    sandbox = open_persistent(default_path(directory))
    writes = sandbox.write_count()
    state = (directory / STATE_FILE).read_bytes()
    result = run(directory, "--sandbox", "drift", *args)
    assert sandbox.write_count() == writes, "drift sent a write request"
    assert (directory / STATE_FILE).read_bytes() == state, "drift changed the state file"
    keys = key_fragments(directory / "client.key.pem")
    assert_no_key_material(result.stdout + result.stderr, keys, "drift output")
    return result


def check_origins(directory: Path, port: int, *args: str) -> list[str]:
    return [
        "--check-origins",
        "--resolve",
        f"{HOST}:127.0.0.1",
        "--origin-port",
        str(port),
        "--origin-timeout",
        "5",
        *args,
    ]


def drift_json(directory: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = drift(directory, "--format", "json", *args)
    assert result.exit_code in (0, 2), result.output
    data = json.loads(result.stdout)
    assert not list(VALIDATOR.iter_errors(data))
    return result.exit_code, data


def origin_findings(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in data["findings"] if f["category"] == "origin"]


# -- verdicts --------------------------------------------------------------------------------


def test_an_enforcing_origin_is_no_finding(workdir: Path, start_server: StartServer) -> None:
    port = start_server(ssl.CERT_REQUIRED)
    code, data = drift_json(workdir, *check_origins(workdir, port))
    assert code == 0 and data["findings"] == []
    assert data["summary"]["origin"] == 0
    assert data["origin_check"] == {"port": port, "checked": [HOST], "unresolved": [UNRESOLVED]}
    text = drift(workdir, *check_origins(workdir, port))
    assert text.exit_code == 0, text.output
    assert f"origins checked on port {port}: {HOST}" in text.stdout
    assert f"not checked (no --resolve address): {UNRESOLVED}" in text.stdout
    assert "0 origin." in text.stdout


def test_an_origin_accepting_anyone_is_an_origin_finding(
    workdir: Path, start_server: StartServer
) -> None:
    port = start_server(ssl.CERT_NONE)
    code, data = drift_json(workdir, *check_origins(workdir, port))
    assert code == 2
    (finding,) = origin_findings(data)
    assert (finding["address"], finding["remote_id"]) == (BINDING, HOST)
    assert finding["zone"] == "example.com" and finding["resource_type"] == "aop_hostname_binding"
    details = finding["details"]
    assert details["verdict"] == "not enforced"
    assert details["origin_address"] == f"127.0.0.1:{port}"
    assert "no client certificate got through" in details["reason"]
    assert [p["outcome"] for p in details["probes"]] == ["accepted", "accepted", "accepted"]
    assert data["summary"]["origin"] == 1 and data["summary"]["total"] == 1

    text = drift(workdir, *check_origins(workdir, port))
    assert text.exit_code == 2
    assert f"origin     {BINDING}: origin of {HOST} (127.0.0.1:{port}): not enforced" in text.stdout
    assert "with no client certificate: accepted (HTTP 200)" in text.stdout
    assert "The check fails: findings in origin" in text.stdout
    assert drift(workdir, *check_origins(workdir, port, "--fail-on", "changed")).exit_code == 0


def test_an_unreachable_origin_is_an_error_finding(workdir: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    code, data = drift_json(workdir, *check_origins(workdir, port))
    assert code == 2
    (finding,) = origin_findings(data)
    assert finding["details"]["verdict"] == "error"
    assert finding["details"]["reason"].startswith("connection refused")


def test_a_report_keeps_its_origin_check(
    workdir: Path, start_server: StartServer, tmp_path: Path
) -> None:
    port = start_server(ssl.CERT_NONE)
    report = tmp_path / "drift.json"
    written = drift(
        workdir, *check_origins(workdir, port, "--format", "json", "--output", str(report))
    )
    assert written.exit_code == 2
    assert_no_key_material(report.read_text(), key_fragments(workdir / "client.key.pem"), "report")
    again = run(workdir, "drift", "--from-report", str(report), "--fail-on", "origin")
    assert again.exit_code == 2, again.output
    markdown = run(workdir, "drift", "--from-report", str(report), "--format", "markdown")
    rows = [line.split("|")[1:4] for line in markdown.stdout.splitlines() if "| origin " in line]
    assert [cell.strip() for cell in rows[0]] == ["origin", "1", "yes"]  # the summary table
    assert f"### Origins\n\n- origins checked on port {port}: {HOST}" in markdown.stdout


# -- without --check-origins, and usage errors ------------------------------------------------


def test_without_check_origins_the_report_says_nothing_about_origins(workdir: Path) -> None:
    code, data = drift_json(workdir)
    assert code == 0
    assert "origin" not in data["summary"] and "origin_check" not in data
    assert "origin" not in drift(workdir).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fail-on", "origin"], "--fail-on origin needs --check-origins"),
        (["--resolve", f"{HOST}:127.0.0.1"], "--resolve is for --check-origins"),
        (["--check-origins", "--resolve", "typo.example.com:127.0.0.1"], "typo.example.com"),
        (["--check-origins", "--resolve", f"{HOST}:not-an-ip"], "expected HOST:IP"),
    ],
)
def test_usage_errors_exit_1(workdir: Path, args: list[str], message: str) -> None:
    result = drift(workdir, *args)
    assert result.exit_code == 1
    assert message in result.output
