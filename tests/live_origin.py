"""Real origin servers on loopback for the `origin` tests (nginx, Apache, HAProxy, Caddy).

Import as `from live_origin import ...` (pytest puts tests/ on sys.path). A server runs in the
foreground, in its own session, from files in a temporary directory. It is ready when it logs the
line it writes once its listening socket is open: its output is read as it comes, so nothing
polls or sleeps. `Servers.stop_all` in a fixture's teardown stops whatever is still running.
Without a server's binary its tests are skipped with the reason, except in CI (CI=true), where
that is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from certgen import Issued, make_ca, make_leaf
from click.testing import CliRunner, Result

from planner import origin
from planner.cli import main

HOST = "origin.example.test"
# Seconds to wait for a start or a stop; both take well under a second, even on a loaded machine.
PATIENCE = 15.0
_PORT_TAKEN = re.compile("address already in use", re.IGNORECASE)


def server_binary(name: str, package: str) -> str:
    """The path of `name`, or skip (fail in CI) the tests that need it."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if found:
        return found
    reason = f"{name} is not installed (apt-get install -y {package})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must install it")
    pytest.skip(reason)


class _Log:
    """Drains a server's output in a thread; `ready` is set once it listens, or when it exits."""

    def __init__(self, stream: IO[str], listening: re.Pattern[str]) -> None:
        self.lines: list[str] = []
        self.listening = False
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(stream, listening), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[str], listening: re.Pattern[str]) -> None:
        for line in stream:
            self.lines.append(line)
            if not self.listening and listening.search(line):
                self.listening = True
                self.ready.set()
        self.ready.set()

    @property
    def text(self) -> str:
        return "".join(self.lines)


@dataclass
class Server:
    process: subprocess.Popen[str]
    log: _Log
    port: int

    def url(self, host: str = HOST) -> str:
        return f"https://{host}:{self.port}/"

    def stop(self) -> None:
        """SIGTERM, which each server handles by stopping its workers too; else kill the group."""
        self.process.terminate()
        try:
            self.process.wait(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.thread.join(timeout=PATIENCE)
        assert self.process.stdout is not None
        self.process.stdout.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Writes the server's configuration for a port and returns the command that runs it.
Command = Callable[[int], list[str]]


class Servers:
    """Starts servers of one kind; the fixture's teardown calls `stop_all`."""

    def __init__(self, name: str, listening: re.Pattern[str]) -> None:
        self.name = name
        self.listening = listening
        self.running: list[Server] = []

    def start(self, command: Command, cwd: Path, env: Mapping[str, str] | None = None) -> Server:
        for _ in range(3):  # another process may take the free port before the server binds it
            port = free_port()
            process = subprocess.Popen(
                command(port),
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # its workers can be killed as a group
            )
            assert process.stdout is not None
            server = Server(process, _Log(process.stdout, self.listening), port)
            self.running.append(server)
            server.log.ready.wait(timeout=PATIENCE)
            if server.log.listening and process.poll() is None:
                return server
            server.stop()
            if not _PORT_TAKEN.search(server.log.text):
                break
        pytest.fail(f"{self.name} did not start:\n{server.log.text}")

    def stop_all(self) -> None:
        for server in self.running:
            if server.process.poll() is None:
                server.stop()


@dataclass(frozen=True)
class Pki:
    """The CA the origin trusts, the client certificate it signed, and a CA it does not trust."""

    ca: Issued
    client: Issued
    other_ca: Issued
    directory: Path

    @classmethod
    def make(cls, directory: Path) -> Pki:
        directory.mkdir()
        ca = make_ca("Origin Pull CA")
        return cls(ca, make_leaf("cloudflare client", issuer=ca), make_ca("Other CA"), directory)

    def file(self, name: str, issued: Issued) -> Path:
        path = self.directory / name
        path.write_text(issued.cert_pem)
        return path


def write_server_certificate(directory: Path) -> tuple[Path, Path]:
    """The origin's own TLS certificate and key for HOST: (certificate file, key file)."""
    server = make_leaf(HOST, sans=(HOST,))
    cert, key = directory / "server.crt.pem", directory / "server.key.pem"
    cert.write_text(server.cert_pem)
    key.touch(mode=0o600)
    key.write_text(server.key_pem)
    return cert, key


def check(server: Server, client: Issued | None) -> origin.OriginResult:
    return origin.check_origin(
        server.url(),
        resolve="127.0.0.1",
        client_cert_pem=client.cert_pem if client else None,
        client_key_pem=client.key_pem if client else None,
        timeout=10,
    )


def details(result: origin.OriginResult) -> list[str]:
    return [f"{probe.outcome}: {probe.detail}" for probe in result.probes]


def write_zone_configuration(directory: Path, client: Issued) -> Path:
    """A configuration whose only certificate is `client` (zone-level AOP)."""
    directory.mkdir()
    (directory / "client.crt.pem").write_text(client.cert_pem)
    (directory / "client.key.pem").write_text(client.key_pem)
    (directory / "main.aop.json").write_text(
        '{"resource": {"aop_zone_certificate": {"origin": {"zone": "example.test", '
        '"certificate": "${file(\\"client.crt.pem\\")}", '
        '"private_key": "${file(\\"client.key.pem\\")}"}}}}'
    )
    return directory


def origin_config(configuration: Path, server: str, out: Path, ca: Path | None = None) -> Path:
    """Run `aopctl origin config` and return the snippet it wrote."""
    arguments = ["--chdir", str(configuration), "origin", "config", "--server", server]
    if ca is not None:
        arguments += ["--ca", str(ca)]
    made = CliRunner().invoke(main, [*arguments, "--out", str(out)])
    assert made.exit_code == 0, made.output
    return out / origin.SNIPPET_FILES[server]


def origin_check(configuration: Path, server: Server) -> Result:
    """Run `aopctl origin check` against `server`, presenting the configuration's certificate."""
    arguments = ["--chdir", str(configuration), "origin", "check", server.url()]
    return CliRunner().invoke(main, [*arguments, "--resolve", f"{HOST}:127.0.0.1"])
