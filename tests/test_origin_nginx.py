"""`origin check` and `origin config` against a real nginx on loopback.

nginx runs in the foreground (`daemon off; master_process off;`) with its own prefix, pid file
and temporary directories, and is stopped in the fixture's teardown. Without nginx these tests
are skipped with the reason, except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from certgen import Issued, make_ca, make_leaf
from click.testing import CliRunner

from planner import origin
from planner.cli import main
from planner.origin import Verdict

pytestmark = pytest.mark.slow

HOST = "origin.example.test"
# Logged after the listening sockets are open (ngx_os_status follows ngx_init_cycle).
READY = re.compile(r"\[notice\] \d+#\d+: nginx/\d")
SSL_ERROR = "HTTP 400 (The SSL certificate error)"
NO_CERTIFICATE = "HTTP 400 (No required SSL certificate was sent)"

CONFIG = """\
daemon off;
master_process off;
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
        ssl_certificate {prefix}/server.crt.pem;
        ssl_certificate_key {prefix}/server.key.pem;
        {client_auth}
        location / {{ return 200 "origin ok\\n"; }}
    }}
}}
"""


@pytest.fixture(scope="module")
def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found:
        return found
    reason = "nginx is not installed (apt-get install -y nginx)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must install it")
    pytest.skip(reason)


class _Log:
    """Drains nginx's stderr in a thread; `ready` is set once it listens, or when it exits."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line)
            if READY.search(line):
                self.ready.set()
        self.ready.set()

    @property
    def text(self) -> str:
        return "".join(self.lines)


@dataclass
class Nginx:
    process: subprocess.Popen[str]
    log: _Log
    port: int

    def url(self, host: str = HOST) -> str:
        return f"https://{host}:{self.port}/"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.thread.join(timeout=10)
        assert self.process.stderr is not None
        self.process.stderr.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


StartNginx = Callable[[str], Nginx]


@pytest.fixture
def nginx(nginx_binary: str, tmp_path: Path) -> Iterator[StartNginx]:
    """Start nginx with `client_auth` directives in its TLS server block."""
    server = make_leaf(HOST, sans=(HOST,))
    running: list[Nginx] = []

    def start(client_auth: str) -> Nginx:
        prefix = tmp_path / f"nginx-{len(running)}"
        prefix.mkdir()
        (prefix / "server.crt.pem").write_text(server.cert_pem)
        (prefix / "server.key.pem").write_text(server.key_pem)
        (prefix / "server.key.pem").chmod(0o600)
        for _ in range(3):  # another process may take the free port before nginx binds it
            port = _free_port()
            conf = prefix / "nginx.conf"
            text = CONFIG.format(prefix=prefix, port=port, host=HOST, client_auth=client_auth)
            conf.write_text(text)
            command = [nginx_binary, "-p", str(prefix), "-c", str(conf), "-e", "stderr"]
            process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
            assert process.stderr is not None
            instance = Nginx(process, _Log(process.stderr), port)
            running.append(instance)
            instance.log.ready.wait(timeout=15)
            if process.poll() is None and instance.log.ready.is_set():
                return instance
            instance.stop()
            if "Address already in use" not in instance.log.text:
                break
        pytest.fail(f"nginx did not start:\n{instance.log.text}")

    yield start
    for instance in running:
        if instance.process.poll() is None:
            instance.stop()


@dataclass(frozen=True)
class Pki:
    ca: Issued
    client: Issued
    other_ca: Issued
    directory: Path

    def file(self, name: str, issued: Issued) -> Path:
        path = self.directory / name
        path.write_text(issued.cert_pem)
        return path


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = make_ca("Origin Pull CA")
    directory = tmp_path / "pki"
    directory.mkdir()
    return Pki(ca, make_leaf("cloudflare client", issuer=ca), make_ca("Other CA"), directory)


def check(server: Nginx, client: Issued | None) -> origin.OriginResult:
    return origin.check_origin(
        server.url(),
        resolve="127.0.0.1",
        client_cert_pem=client.cert_pem if client else None,
        client_key_pem=client.key_pem if client else None,
        timeout=10,
    )


def details(result: origin.OriginResult) -> list[str]:
    return [f"{probe.outcome}: {probe.detail}" for probe in result.probes]


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
    out = tmp_path / "global-origin"
    made = CliRunner().invoke(
        main, ["--chdir", str(tmp_path), "origin", "config", "--server", "nginx", "--out", str(out)]
    )
    assert made.exit_code == 0, made.output
    result = check(nginx(f"include {out / 'aop-origin-nginx.conf'};"), None)
    assert result.verdict is Verdict.PARTIALLY_VERIFIED
    assert details(result) == [f"refused: {NO_CERTIFICATE}", f"refused: {SSL_ERROR}"]


def test_snippet_from_origin_config_loaded_as_is_is_enforced(
    nginx: StartNginx, pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "client.crt.pem").write_text(pki.client.cert_pem)
    (config / "client.key.pem").write_text(pki.client.key_pem)
    (config / "main.aop.json").write_text(
        '{"resource": {"aop_zone_certificate": {"origin": {"zone": "example.test", '
        '"certificate": "${file(\\"client.crt.pem\\")}", '
        '"private_key": "${file(\\"client.key.pem\\")}"}}}}'
    )
    ca, out = pki.file("ca.pem", pki.ca), tmp_path / "origin"
    runner = CliRunner()
    base = ["--chdir", str(config), "origin"]
    made = runner.invoke(
        main, [*base, "config", "--server", "nginx", "--ca", str(ca), "--out", str(out)]
    )
    assert made.exit_code == 0, made.output
    server = nginx(f"include {out / 'aop-origin-nginx.conf'};")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    checked = runner.invoke(main, [*base, "check", server.url(), "--resolve", f"{HOST}:127.0.0.1"])
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
