"""`check_origin` and `origin check` against loopback TLS servers written with Python's `ssl`.

These servers refuse at the TLS layer (alerts), as Apache, HAProxy and Caddy do; nginx, which
answers HTTP 400 instead, is exercised for real in test_origin_nginx.py.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import ssl
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from certgen import Issued, make_ca, make_leaf
from click.testing import CliRunner, Result

from planner import origin
from planner.cli import main
from planner.errors import AopctlError, CertificateError
from planner.origin import Verdict

HOST = "origin.example.test"


class _Handler(socketserver.BaseRequestHandler):
    server: TlsServer

    def handle(self) -> None:
        try:
            with self.server.context.wrap_socket(self.request, server_side=True) as tls:
                tls.recv(65536)
                tls.sendall(self.server.answer)
        except OSError:
            pass  # a refused handshake: the alert was sent


class TlsServer(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext, answer: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = context
        self.answer = answer

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.server_address[1]}/"


# A TLS 1.3 server refuses after the client's handshake is done: its alert races the client's
# request, and a reset connection may swallow it.
CLOSED = "connection closed by the origin without a response"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
StartServer = Callable[..., TlsServer]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start a TLS origin: `verify` is ssl.CERT_NONE/OPTIONAL/REQUIRED, trusting `ca`."""
    identity = make_leaf(HOST, sans=(HOST,))
    (tmp_path / "server.pem").write_text(identity.cert_pem + identity.key_pem)
    servers: list[tuple[TlsServer, threading.Thread]] = []

    def start(verify: ssl.VerifyMode, ca: Issued | None = None, answer: bytes = OK) -> TlsServer:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp_path / "server.pem")
        context.verify_mode = verify
        if ca is not None:
            context.load_verify_locations(cadata=ca.cert_pem)
        server = TlsServer(context, answer)
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        servers.append((server, thread))
        return server

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def ca() -> Issued:
    return make_ca("Origin Pull CA")


@pytest.fixture
def client(ca: Issued) -> Issued:
    return make_leaf("cloudflare client", issuer=ca)


def check(url: str, client: Issued | None = None, timeout: float = 5.0) -> origin.OriginResult:
    return origin.check_origin(
        url,
        resolve="127.0.0.1",
        client_cert_pem=client.cert_pem if client else None,
        client_key_pem=client.key_pem if client else None,
        timeout=timeout,
    )


def outcomes(result: origin.OriginResult) -> list[str]:
    return [probe.outcome for probe in result.probes]


# --- verdicts ---------------------------------------------------------------------------------


def test_enforced_when_strangers_are_refused_and_ours_accepted(
    start_server: StartServer, ca: Issued, client: Issued
) -> None:
    server = start_server(ssl.CERT_REQUIRED, ca)
    result = check(server.url, client)
    assert result.verdict is Verdict.ENFORCED, result
    assert outcomes(result) == ["refused", "refused", "accepted"]
    assert result.probes[0].detail in {"TLS alert: certificate required", CLOSED}
    assert result.probes[1].detail in {"TLS alert: unknown ca", CLOSED}
    assert result.probes[2].detail == "HTTP 200"
    assert result.address == f"127.0.0.1:{server.server_address[1]}"
    assert result.hostname == HOST and result.ok


def test_global_aop_is_only_partially_verified(start_server: StartServer, ca: Issued) -> None:
    result = check(start_server(ssl.CERT_REQUIRED, ca).url)
    assert result.verdict is Verdict.PARTIALLY_VERIFIED
    assert outcomes(result) == ["refused", "refused"]
    assert "cannot present Cloudflare's shared certificate" in result.reason


def test_optional_client_certificates_are_not_enforced(
    start_server: StartServer, ca: Issued, client: Issued
) -> None:
    result = check(start_server(ssl.CERT_OPTIONAL, ca).url, client)
    assert result.verdict is Verdict.NOT_ENFORCED and not result.ok
    assert result.reason == "a connection with no client certificate got through (HTTP 200)"


def test_no_client_authentication_lets_everyone_through(
    start_server: StartServer, client: Issued
) -> None:
    result = check(start_server(ssl.CERT_NONE).url, client)
    assert result.verdict is Verdict.NOT_ENFORCED
    assert "no client certificate got through" in result.reason
    assert "a self-signed certificate got through" in result.reason


def test_an_origin_trusting_another_ca_refuses_ours(
    start_server: StartServer, client: Issued
) -> None:
    result = check(start_server(ssl.CERT_REQUIRED, make_ca("Other CA")).url, client)
    assert result.verdict is Verdict.CERTIFICATE_REFUSED
    assert outcomes(result) == ["refused", "refused", "refused"]
    assert "also refuses the configured certificate" in result.reason
    assert result.probes[2].detail in {"TLS alert: unknown ca", CLOSED}


def test_an_origin_that_closes_without_answering_refuses(
    start_server: StartServer, ca: Issued
) -> None:
    result = check(start_server(ssl.CERT_NONE, answer=b"").url)
    assert outcomes(result) == ["refused", "refused"]
    assert result.probes[0].detail == CLOSED


# --- failures are errors, never "enforced" -------------------------------------------------


def test_connection_refused(client: Issued) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    result = check(f"https://{HOST}:{port}/", client)
    assert result.verdict is Verdict.ERROR and not result.ok
    assert result.reason.startswith(f"connection refused by 127.0.0.1:{port}")
    assert len(result.probes) == 1  # no point retrying


def test_tls_handshake_timeout(client: Issued) -> None:
    # The kernel accepts the TCP connection; nothing ever speaks TLS.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        result = check(f"https://{HOST}:{silent.getsockname()[1]}/", client, timeout=0.2)
    assert result.verdict is Verdict.ERROR
    assert result.reason.startswith("TLS handshake timed out after 0.2s")


def test_plain_http_on_the_port_is_a_tls_error(start_server: StartServer, client: Issued) -> None:
    class Plain(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(4096)
            self.request.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    with socketserver.TCPServer(("127.0.0.1", 0), Plain) as plain:
        thread = threading.Thread(target=plain.handle_request)
        thread.start()
        result = check(f"https://{HOST}:{plain.server_address[1]}/", client)
        thread.join(timeout=10)
    assert result.verdict is Verdict.ERROR
    assert result.reason.startswith("TLS error:")


def test_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_host(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    result = origin.check_origin("https://nowhere.example/", timeout=1)
    assert result.verdict is Verdict.ERROR and result.address is None
    assert result.reason == "DNS lookup of nowhere.example failed: Name or service not known"


def test_a_cloudflare_edge_address_is_refused_without_connecting() -> None:
    result = origin.check_origin("https://app.example.com/", resolve="104.16.132.229")
    assert result.verdict is Verdict.ERROR and result.probes == ()
    assert "Cloudflare edge address" in result.reason
    assert "--resolve app.example.com:ORIGIN_IP" in result.reason
    assert origin.is_cloudflare_edge("2606:4700::6810:84e5")
    assert not origin.is_cloudflare_edge("203.0.113.10")


def test_exit_codes() -> None:
    def result(verdict: Verdict) -> origin.OriginResult:
        return origin.OriginResult("u", "h", None, verdict, "")

    assert origin.exit_code([result(Verdict.ENFORCED), result(Verdict.PARTIALLY_VERIFIED)]) == 0
    assert origin.exit_code([result(Verdict.ENFORCED), result(Verdict.ERROR)]) == 1
    assert origin.exit_code([result(Verdict.ERROR), result(Verdict.NOT_ENFORCED)]) == 2
    assert origin.exit_code([result(Verdict.CERTIFICATE_REFUSED)]) == 2


# --- inputs -----------------------------------------------------------------------------------


def test_urls_and_resolve_entries() -> None:
    target = origin.parse_origin_url("App.Example.com:8443/health?x=1")
    assert (target.hostname, target.port, target.path) == ("app.example.com", 8443, "/health?x=1")
    assert target.host_header == "app.example.com:8443"
    assert origin.parse_origin_url("https://[2001:db8::1]/").host_header == "[2001:db8::1]"
    for bad in (
        "http://app.example.com/",
        "https://:443/",
        "https://app.example.com:99999/",
        "https://app.example.com:0/",  # not 443 in disguise
        "https://[::1/",  # urlsplit's ValueError was an internal error
    ):
        with pytest.raises(AopctlError):
            origin.parse_origin_url(bad)
    assert origin.parse_resolve(
        ["App.example.com:203.0.113.10", "v6.example.com:[2001:db8::1]"]
    ) == {
        "app.example.com": "203.0.113.10",
        "v6.example.com": "2001:db8::1",
    }
    with pytest.raises(AopctlError, match="expected HOST:IP"):
        origin.parse_resolve(["app.example.com:origin.internal"])


def test_a_key_that_does_not_match_is_refused_before_connecting(client: Issued) -> None:
    stranger = make_leaf("someone else")
    with pytest.raises(CertificateError, match="does not match") as caught:
        origin.check_origin(
            "https://app.example.com/",
            resolve="127.0.0.1",
            client_cert_pem=client.cert_pem,
            client_key_pem=stranger.key_pem,
        )
    assert stranger.key_pem.splitlines()[1] not in str(caught.value)


def test_client_key_file_is_private_and_deleted(client: Issued) -> None:
    with origin.client_files(client.cert_pem, client.key_pem) as (_, key_file):
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
        assert key_file.read_text() == client.key_pem
    assert not key_file.exists() and not key_file.parent.exists()
    with (
        pytest.raises(RuntimeError),
        origin.client_files(client.cert_pem, client.key_pem) as (_, key),
    ):
        raise RuntimeError("boom")
    assert not key.exists()


# --- the command ------------------------------------------------------------------------------


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args])


def zone_config(directory: Path, client: Issued) -> Path:
    directory.mkdir()
    (directory / "client.crt.pem").write_text(client.cert_pem)
    (directory / "client.key.pem").write_text(client.key_pem)
    body = {
        "zone": "example.test",
        "certificate": '${file("client.crt.pem")}',
        "private_key": '${file("client.key.pem")}',
    }
    text = json.dumps({"resource": {"aop_zone_certificate": {"origin": body}}})
    (directory / "main.aop.json").write_text(text)
    return directory


def key_lines(issued: Issued) -> list[str]:
    return [line for line in issued.key_pem.splitlines() if not line.startswith("-----")]


def test_check_command_presents_the_configured_certificate_and_never_shows_its_key(
    start_server: StartServer,
    ca: Issued,
    client: Issued,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    config = zone_config(tmp_path / "config", client)
    good, optional = start_server(ssl.CERT_REQUIRED, ca), start_server(ssl.CERT_OPTIONAL, ca)
    other_url = optional.url.replace(HOST, "b.example.test")
    resolve = ["--resolve", f"{HOST}:127.0.0.1", "--resolve", "b.example.test:127.0.0.1"]
    result = run("--chdir", config, "origin", "check", good.url, other_url, *resolve)
    assert result.exit_code == 2, result.output
    assert f"{HOST} (127.0.0.1:{good.server_address[1]}): enforced" in result.stdout
    assert "b.example.test (127.0.0.1:" in result.stdout and "NOT ENFORCED" in result.stdout
    assert "zone-level certificate aop_zone_certificate.origin" in result.stdout
    assert "1 enforced, 1 not enforced" in result.stdout
    assert not any(line in result.output for line in key_lines(client))
    assert os.listdir(tmp_path / "tmp") == []  # the key files are gone


def test_check_command_without_configuration_is_global(
    start_server: StartServer, ca: Issued, tmp_path: Path
) -> None:
    server = start_server(ssl.CERT_REQUIRED, ca)
    args: list[str | Path] = [
        "--chdir",
        tmp_path,
        "origin",
        "check",
        server.url,
        "--resolve",
        f"{HOST}:127.0.0.1",
    ]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "partially verified" in result.stdout
    assert "global AOP, Cloudflare's shared certificate" in result.stdout


def test_check_command_errors(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    url = f"https://{HOST}:{port}/"
    refused = run("--chdir", tmp_path, "origin", "check", url, "--resolve", f"{HOST}:127.0.0.1")
    assert refused.exit_code == 1 and "ERROR" in refused.stdout
    typo = run("--chdir", tmp_path, "origin", "check", url, "--resolve", "orign.test:127.0.0.1")
    assert typo.exit_code == 1 and "no URL uses: orign.test" in typo.stderr
