"""The Apache, HAProxy and Caddy snippets of `origin config`, loaded into the real servers.

Each server runs on loopback from a temporary directory (live_origin starts and stops it) with
the snippet as `origin config` wrote it, edited only where the snippet says to: Apache includes
it as is; HAProxy's frontend gets this test's address and certificate in place of the two
placeholders; Caddy's `tls` block gets the site's certificate ("move `client_auth` into it").
`origin check` must then find the origin enforced. Without a server's binary its tests are
skipped (failed in CI): `apt-get install -y apache2 haproxy caddy`.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from certgen import make_leaf
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

from planner.origin import Verdict

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Site:
    """What a server's configuration is made of: the snippet and the origin's own certificate."""

    root: Path  # the server's temporary directory
    snippet: Path
    cert: Path
    key: Path


# --- Apache -------------------------------------------------------------------------------------

APACHE_MODULES = "/usr/lib/apache2/modules"  # Debian's layout
APACHE_CONFIG = """\
ServerRoot {root}
DefaultRuntimeDir {root}
PidFile {root}/httpd.pid
ErrorLog /dev/stderr
LogLevel notice
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule socache_shmcb_module {modules}/mod_socache_shmcb.so
LoadModule ssl_module {modules}/mod_ssl.so
LoadModule status_module {modules}/mod_status.so
# Started as root, the worker drops to nobody (Apache refuses to serve as root).
User #65534
Group #65534
StartServers 1
ServerLimit 1
ThreadsPerChild 8
MinSpareThreads 1
MaxSpareThreads 8
MaxRequestWorkers 8
ServerName {host}
Listen 127.0.0.1:{port}
SSLSessionCache shmcb:{root}/ssl_scache(512000)
<VirtualHost 127.0.0.1:{port}>
    ServerName {host}
    SSLEngine on
    SSLCertificateFile {cert}
    SSLCertificateKeyFile {key}
    Include {snippet}
    # A 200 from memory: nobody could not read a document root in the test's private tmp_path.
    <Location />
        Require all granted
        SetHandler server-status
    </Location>
</VirtualHost>
"""


def _apache(binary: str, site: Site, port: int) -> list[str]:
    conf = site.root / "httpd.conf"
    conf.write_text(
        APACHE_CONFIG.format(
            root=site.root,
            modules=APACHE_MODULES,
            host=HOST,
            port=port,
            cert=site.cert,
            key=site.key,
            snippet=site.snippet,
        )
    )
    return [binary, "-d", str(site.root), "-f", str(conf), "-DFOREGROUND"]


# --- HAProxy ------------------------------------------------------------------------------------

HAPROXY_CONFIG = """\
global
    maxconn 64
    lua-load {root}/listening.lua
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
backend app
    http-request return status 200 content-type text/plain string "origin ok"
"""
# HAProxy logs nothing once it listens: a Lua task says so, as tasks first run in the event loop,
# after the listeners are bound. (Master-worker mode logs "Loading success." but then re-executes
# itself, and a SIGTERM in that moment kills the master without stopping its worker.)
HAPROXY_LISTENING = 'core.register_task(function() io.stderr:write("listening\\n") end)\n'
# What the snippet says to replace: the address and the origin's certificate.
HAPROXY_BIND = "bind :443 "
HAPROXY_CRT = "/etc/haproxy/certs/origin.pem"


def _haproxy(binary: str, site: Site, port: int) -> list[str]:
    frontend = site.snippet.read_text()
    assert HAPROXY_BIND in frontend and HAPROXY_CRT in frontend, frontend
    crt = site.root / "origin.pem"  # HAProxy wants the certificate and its key in one file
    crt.write_text(site.cert.read_text() + site.key.read_text())
    frontend = frontend.replace(HAPROXY_BIND, f"bind 127.0.0.1:{port} ")
    (site.root / "frontend.cfg").write_text(frontend.replace(HAPROXY_CRT, str(crt)))
    (site.root / "listening.lua").write_text(HAPROXY_LISTENING)
    (site.root / "haproxy.cfg").write_text(HAPROXY_CONFIG.format(root=site.root))
    files = ["-f", str(site.root / "haproxy.cfg"), "-f", str(site.root / "frontend.cfg")]
    return [binary, "-db", *files]


# --- Caddy --------------------------------------------------------------------------------------

CADDY_CONFIG = """\
{{
	admin off
	storage file_system {root}/storage
	servers {{
		protocols h1 h2 # TCP only: no HTTP/3 listener on UDP
	}}
}}
https://{host}:{port} {{
	bind 127.0.0.1
	import {snippet}
	respond "origin ok" 200
}}
"""


def _caddy(binary: str, site: Site, port: int) -> list[str]:
    text = site.snippet.read_text()
    assert text.count("\ntls {\n") == 1, text
    snippet = site.root / "tls.caddy"
    snippet.write_text(text.replace("\ntls {\n", f"\ntls {site.cert} {site.key} {{\n"))
    caddyfile = site.root / "Caddyfile"
    caddyfile.write_text(CADDY_CONFIG.format(root=site.root, host=HOST, port=port, snippet=snippet))
    return [binary, "run", "--config", str(caddyfile), "--adapter", "caddyfile"]


def _caddy_environment(root: Path) -> Mapping[str, str]:
    """Caddy autosaves its configuration under XDG_CONFIG_HOME: keep it in the test's tmp."""
    places = {"HOME": root, "XDG_CONFIG_HOME": root / "config", "XDG_DATA_HOME": root / "data"}
    return {**os.environ, **{name: str(path) for name, path in places.items()}}


# --- the servers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    name: str  # as `origin config --server` names it
    binary: str
    configure: Callable[[str, Site, int], list[str]]  # writes the files, returns the command
    listening: re.Pattern[str]  # logged once the listening socket is open
    refusals: tuple[str, str]  # how it refuses no certificate, and an untrusted one
    environment: Callable[[Path], Mapping[str, str] | None] = field(default=lambda root: None)


OPENSSL_REFUSALS = ("TLS alert: certificate required", "TLS alert: unknown ca")
KINDS = (
    Kind(
        name="apache",
        binary="apache2",
        configure=_apache,
        listening=re.compile(r"AH00489: .* resuming normal operations"),
        refusals=OPENSSL_REFUSALS,
    ),
    Kind(
        name="haproxy",
        binary="haproxy",
        configure=_haproxy,
        listening=re.compile(r"^listening$"),
        refusals=OPENSSL_REFUSALS,
    ),
    Kind(
        name="caddy",
        binary="caddy",
        configure=_caddy,
        listening=re.compile(r'"msg":"serving initial configuration"'),
        refusals=("TLS alert: bad certificate",) * 2,  # Go's crypto/tls says no more
        environment=_caddy_environment,
    ),
)

Start = Callable[[Path], Server]  # starts the server with a snippet


@pytest.fixture(params=KINDS, ids=[kind.name for kind in KINDS])
def kind(request: pytest.FixtureRequest) -> Kind:
    found: Kind = request.param
    return found


@pytest.fixture
def start(kind: Kind, tmp_path: Path) -> Iterator[Start]:
    binary = server_binary(kind.binary, kind.binary)
    cert, key = write_server_certificate(tmp_path)
    servers = Servers(kind.binary, kind.listening)

    def start(snippet: Path) -> Server:
        root = tmp_path / f"{kind.name}-{len(servers.running)}"
        root.mkdir()
        site = Site(root, snippet, cert, key)
        return servers.start(
            lambda port: kind.configure(binary, site, port), root, kind.environment(root)
        )

    yield start
    servers.stop_all()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki.make(tmp_path / "pki")


@pytest.fixture
def configuration(pki: Pki, tmp_path: Path) -> Path:
    """A configuration whose zone certificate `pki.client` is signed by `pki.ca`."""
    return write_zone_configuration(tmp_path / "config", pki.client)


def own_snippet(kind: Kind, configuration: Path, ca: Path) -> Path:
    return origin_config(configuration, kind.name, configuration.parent / "origin", ca)


def test_snippet_for_your_own_certificate_is_enforced(
    kind: Kind, start: Start, pki: Pki, configuration: Path
) -> None:
    server = start(own_snippet(kind, configuration, pki.file("ca.pem", pki.ca)))
    checked = origin_check(configuration, server)
    assert checked.exit_code == 0, checked.output
    assert f"{HOST} (127.0.0.1:{server.port}): enforced" in checked.stdout
    assert "zone-level certificate aop_zone_certificate.origin" in checked.stdout
    no_certificate, untrusted = kind.refusals
    assert details(check(server, pki.client)) == [
        f"refused: {no_certificate}",
        f"refused: {untrusted}",
        "accepted: HTTP 200",
    ]


def test_a_certificate_from_another_ca_is_refused(
    kind: Kind, start: Start, pki: Pki, configuration: Path
) -> None:
    server = start(own_snippet(kind, configuration, pki.file("ca.pem", pki.ca)))
    result = check(server, make_leaf("stranger", issuer=pki.other_ca))
    assert result.verdict is Verdict.CERTIFICATE_REFUSED, details(result)
    assert details(result)[-1] == f"refused: {kind.refusals[1]}"


def test_a_chain_through_an_intermediate_ca_is_enforced(
    kind: Kind, start: Start, pki: Pki, tmp_path: Path
) -> None:
    """The CA file lists the root first: a server reading only its first certificate fails."""
    intermediate = make_leaf("Intermediate CA", issuer=pki.ca, ca=True)
    client = make_leaf("cloudflare client", issuer=intermediate)
    chain = tmp_path / "chain.pem"
    chain.write_text(pki.ca.cert_pem + intermediate.cert_pem)
    configuration = write_zone_configuration(tmp_path / "chained", client)
    result = check(start(own_snippet(kind, configuration, chain)), client)
    assert result.verdict is Verdict.ENFORCED, details(result)


def test_global_snippet_is_partially_verified(kind: Kind, start: Start, tmp_path: Path) -> None:
    """Cloudflare's CA: nothing aopctl can present is accepted, so only refusals are checked."""
    server = start(origin_config(tmp_path, kind.name, tmp_path / "global-origin"))
    result = check(server, None)
    assert result.verdict is Verdict.PARTIALLY_VERIFIED, details(result)
    assert details(result) == [f"refused: {refusal}" for refusal in kind.refusals]


def test_stop_leaves_no_process_behind(kind: Kind, start: Start, tmp_path: Path) -> None:
    """Apache's and HAProxy's workers end with the process that started them."""
    server = start(origin_config(tmp_path, kind.name, tmp_path / "global-origin"))
    server.stop()
    assert server.process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(server.process.pid, 0)  # no process is left in its process group
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
