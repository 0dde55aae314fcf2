"""`origin check` and `origin config` against a real nginx on loopback.

nginx (a master and one worker) runs in the foreground (`daemon off;`) with its own prefix, pid
file and temporary directories; live_origin starts it and the fixture's teardown stops it.
Without nginx these tests are skipped with the reason, except in CI (CI=true), where that is a
failure.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from live_origin import (
    HOST,
    Pki,
    Server,
    Servers,
    check,
    details,
    origin_check,
    origin_config,
    server_binary,
    write_server_certificate,
    write_zone_configuration,
)

from planner import origin
from planner.origin import Verdict

pytestmark = pytest.mark.slow

# Logged once the sockets listen and SIGTERM is handled. A single nginx process (master_process
# off) can miss a SIGTERM that arrives just before it waits for events, and never stop.
READY = re.compile(r"\[notice\] \d+#\d+: start worker process \d+")
SSL_ERROR = "HTTP 400 (The SSL certificate error)"
NO_CERTIFICATE = "HTTP 400 (No required SSL certificate was sent)"

CONFIG = """\
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log stderr notice;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {host};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        {client_auth}
        location / {{ return 200 "origin ok\\n"; }}
    }}
}}
"""


@pytest.fixture(scope="module")
def nginx_binary() -> str:
    return server_binary("nginx", "nginx")


StartNginx = Callable[[str], Server]


@pytest.fixture
def nginx(nginx_binary: str, tmp_path: Path) -> Iterator[StartNginx]:
    """Start nginx with `client_auth` directives in its TLS server block."""
    cert, key = write_server_certificate(tmp_path)
    servers = Servers("nginx", READY)

    def start(client_auth: str) -> Server:
        prefix = tmp_path / f"nginx-{len(servers.running)}"
        prefix.mkdir()

        def command(port: int) -> list[str]:
            conf = prefix / "nginx.conf"
            conf.write_text(
                CONFIG.format(
                    prefix=prefix, port=port, host=HOST, cert=cert, key=key, client_auth=client_auth
                )
            )
            return [nginx_binary, "-p", str(prefix), "-c", str(conf), "-e", "stderr"]

        return servers.start(command, cwd=prefix)

    yield start
    servers.stop_all()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki.make(tmp_path / "pki")


def test_verify_on_with_the_right_ca_is_enforced(nginx: StartNginx, pki: Pki) -> None:
    ca = pki.file("ca.pem", pki.ca)
    server = nginx(f"ssl_client_certificate {ca}; ssl_verify_client on;")
    result = check(server, pki.client)
    assert result.verdict is Verdict.ENFORCED, result
    assert details(result) == [
        f"refused: {NO_CERTIFICATE}",
        f"refused: {SSL_ERROR}",
        "accepted: HTTP 200",
    ]


def test_verify_optional_is_not_enforced(nginx: StartNginx, pki: Pki) -> None:
    ca = pki.file("ca.pem", pki.ca)
    server = nginx(f"ssl_client_certificate {ca}; ssl_verify_client optional;")
    result = check(server, pki.client)
    assert result.verdict is Verdict.NOT_ENFORCED
    assert result.reason == "a connection with no client certificate got through (HTTP 200)"
    assert details(result) == ["accepted: HTTP 200", f"refused: {SSL_ERROR}", "accepted: HTTP 200"]


def test_verify_off_is_not_enforced(nginx: StartNginx, pki: Pki) -> None:
    result = check(nginx("ssl_verify_client off;"), pki.client)
    assert result.verdict is Verdict.NOT_ENFORCED
    assert result.reason == (
        "a connection with no client certificate got through (HTTP 200); "
        "a connection with a self-signed certificate got through (HTTP 200)"
    )


def test_a_certificate_that_is_not_verified_is_not_enforced(nginx: StartNginx, pki: Pki) -> None:
    """`optional_no_ca` and a check for *some* certificate: any self-signed one passes."""
    server = nginx('ssl_verify_client optional_no_ca; if ($ssl_client_cert = "") { return 444; }')
    result = check(server, pki.client)
    assert result.verdict is Verdict.NOT_ENFORCED
    assert result.reason == "a connection with a self-signed certificate got through (HTTP 200)"
    assert result.probes[0].outcome == "refused"


def test_an_origin_trusting_another_ca_refuses_the_configured_certificate(
    nginx: StartNginx, pki: Pki
) -> None:
    other = pki.file("other.pem", pki.other_ca)
    result = check(nginx(f"ssl_client_certificate {other}; ssl_verify_client on;"), pki.client)
    assert result.verdict is Verdict.CERTIFICATE_REFUSED
    assert result.reason.startswith(
        f"the origin also refuses the configured certificate ({SSL_ERROR})"
    )
    assert origin.exit_code([result]) == 2


def test_global_snippet_from_origin_config_is_partially_verified(
    nginx: StartNginx, tmp_path: Path
) -> None:
    snippet = origin_config(tmp_path, "nginx", tmp_path / "global-origin")
    result = check(nginx(f"include {snippet};"), None)
    assert result.verdict is Verdict.PARTIALLY_VERIFIED
    assert details(result) == [f"refused: {NO_CERTIFICATE}", f"refused: {SSL_ERROR}"]


def test_snippet_from_origin_config_loaded_as_is_is_enforced(
    nginx: StartNginx, pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_zone_configuration(tmp_path / "config", pki.client)
    ca = pki.file("ca.pem", pki.ca)
    server = nginx(f"include {origin_config(config, 'nginx', tmp_path / 'origin', ca)};")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    checked = origin_check(config, server)
    assert checked.exit_code == 0, checked.output
    assert f"{HOST} (127.0.0.1:{server.port}): enforced" in checked.stdout
    assert "zone-level certificate aop_zone_certificate.origin" in checked.stdout
    key_lines = [line for line in pki.client.key_pem.splitlines() if "-----" not in line]
    assert not any(line in checked.output for line in key_lines)
    assert os.listdir(tmp_path / "tmp") == []  # the key file was deleted


def test_teardown_stops_nginx(nginx: StartNginx) -> None:
    server = nginx("ssl_verify_client off;")
    server.stop()
    assert server.process.returncode is not None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
