"""The file-backed sandbox (`--sandbox`), its settings, and `aopctl sandbox serve`."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from certgen import make_leaf
from conftest import BASE_URL, TOKEN_HEADERS, FakeClock

from planner.sandbox import (
    Sandbox,
    SandboxConfigError,
    default_path,
    env_settings,
    open_persistent,
    zone_id_for,
)

ZONE = zone_id_for("example.com")
CERTS = f"/zones/{ZONE}/origin_tls_client_auth/hostnames/certificates"
HOSTNAMES = f"/zones/{ZONE}/origin_tls_client_auth/hostnames"


def test_two_instances_on_one_file_share_the_account(tmp_path: Path, clock: FakeClock) -> None:
    path = default_path(tmp_path)
    options = {"clock": clock, "deploy_delay": 10.0, "rate_limit": None}
    writer, reader = open_persistent(path, **options), open_persistent(path, **options)
    leaf = make_leaf("a.example.com")
    with httpx.Client(
        transport=writer.transport(), base_url=BASE_URL, headers=TOKEN_HEADERS
    ) as api:
        body = {"certificate": leaf.cert_pem, "private_key": leaf.key_pem}
        cert_id = api.post(CERTS, json=body).json()["result"]["id"]
    with httpx.Client(
        transport=reader.transport(), base_url=BASE_URL, headers=TOKEN_HEADERS
    ) as api:
        assert api.get(f"{CERTS}/{cert_id}").json()["result"]["status"] == "initializing"
        clock.advance(10)  # statuses are computed from the clock: they progress between runs
        assert api.get(f"{CERTS}/{cert_id}").json()["result"]["status"] == "active"
    stored = reader.snapshot()
    assert [e.kind for e in stored.timeline][:2] == ["certificate_uploaded", "certificate_status"]
    assert reader.write_count() == 1 and len(stored.requests) == 3
    text = path.read_text()
    assert leaf.key_pem.splitlines()[1] not in text  # the private key never reaches the file
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"


def test_json_round_trip_keeps_everything(sandbox: Sandbox, clock: FakeClock) -> None:
    cert = sandbox.seed_hostname_certificate("example.com", make_leaf("a.example.com").cert_pem)
    sandbox.seed_association("example.com", "app.example.com", cert, True)
    sandbox.set_setting("example.net", "ssl", "full")
    sandbox.faults.add("server_error", method="POST", times=3)
    sandbox.revoke("old-token")
    sandbox.handle("GET", "/client/v4/zones", {}, {"Authorization": "Bearer t"}, b"")
    saved = json.loads(json.dumps(sandbox.to_json()))
    restored = Sandbox.from_json(saved, clock=clock)
    assert restored.to_json() == saved
    assert restored.check_zero_downtime() == [] and len(restored.timeline) == len(sandbox.timeline)
    assert Sandbox.from_json(saved, clock=clock, deploy_delay=5.0).config.deploy_delay == 5.0


def test_zones_from_the_environment_are_added_to_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.json"
    with open_persistent(path, zones=["example.com"]).edit() as stored:
        assert stored.zone_names() == ["example.com"]
    with open_persistent(path, zones=["example.com", "b.org"]).edit() as stored:
        assert stored.zone_names() == ["b.org", "example.com"]


def test_a_damaged_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.json"
    path.write_text("{not json")
    with pytest.raises(SandboxConfigError, match="not a sandbox file"):
        open_persistent(path).snapshot()


def test_environment_settings() -> None:
    settings = env_settings({"AOPCTL_SANDBOX_ZONES": "a.com, B.org,,example.com"})
    assert settings == {
        "zones": ["example.com", "example.net", "a.com", "b.org"],
        "deploy_delay": 2.0,
        "delete_delay": 1.0,
        "rate_limit": (1200, 300.0),
    }
    quick = env_settings(
        {
            "AOPCTL_SANDBOX_DEPLOY_DELAY": "0.5",
            "AOPCTL_SANDBOX_DELETE_DELAY": "0",
            "AOPCTL_SANDBOX_RATE_LIMIT": "off",
        }
    )
    assert (quick["deploy_delay"], quick["delete_delay"], quick["rate_limit"]) == (0.5, 0.0, None)
    assert Sandbox.from_env({"AOPCTL_SANDBOX_ZONES": "c.io"}).zone_names() == [
        "c.io",
        "example.com",
        "example.net",
    ]
    for bad in (
        {"AOPCTL_SANDBOX_DEPLOY_DELAY": "soon"},
        {"AOPCTL_SANDBOX_DELETE_DELAY": "-1"},
        {"AOPCTL_SANDBOX_RATE_LIMIT": "lots"},
        {"AOPCTL_SANDBOX_RATE_LIMIT": "0/10"},
        {"AOPCTL_SANDBOX_ZONES": "not a zone"},
    ):
        with pytest.raises(SandboxConfigError):
            env_settings(bad)


def _hammer(path: str, prefix: str, cert_id: str, count: int, start: Any) -> None:
    """Runs in a child process: `count` PUTs, each through its own load -> handle -> save."""
    store = open_persistent(Path(path), deploy_delay=0.0, rate_limit=None)
    with httpx.Client(transport=store.transport(), base_url=BASE_URL, headers=TOKEN_HEADERS) as api:
        start.wait()  # both processes write at the same time
        for i in range(count):
            item = {"hostname": f"{prefix}{i}.example.com", "cert_id": cert_id, "enabled": True}
            answer = api.put(HOSTNAMES, json={"config": [item]})
            assert answer.status_code == 200, answer.text


@pytest.mark.slow
def test_two_processes_writing_one_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / ".aopctl" / "sandbox.json"
    store = open_persistent(path, deploy_delay=0.0, rate_limit=None)
    with store.edit() as sandbox:
        cert = sandbox.seed_hostname_certificate("example.com", make_leaf("a.example.com").cert_pem)
    context = multiprocessing.get_context("spawn")
    count, start = 20, context.Barrier(2)
    workers = [
        context.Process(target=_hammer, args=(str(path), prefix, cert, count, start))
        for prefix in ("left", "right")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    final = store.snapshot()
    hosts = {a.hostname for a in final.account.associations.values()}
    assert len(hosts) == 2 * count
    assert final.write_count() == 2 * count
    assert len([e for e in final.timeline if e.kind == "association_set"]) == 2 * count


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_command_prints_the_url_and_stops_cleanly(tmp_path: Path, stop: int) -> None:
    data = tmp_path / "sandbox.json"
    env = {**os.environ, "AOPCTL_SANDBOX_ZONES": "a.org"}
    command = [
        sys.executable,
        "-c",
        "from planner.cli import main; main()",
        "sandbox",
        "serve",
        "--port",
        "0",
        "--data",
        str(data),
        "--deploy-delay",
        "0",
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as server:
        assert server.stdout is not None and server.stderr is not None
        first = server.stdout.readline().strip()
        prefix = "Sandbox API listening on http://127.0.0.1:"
        assert first.startswith(prefix) and first.endswith("/client/v4"), first
        url = first.removeprefix("Sandbox API listening on ")
        with httpx.Client(base_url=url, headers=TOKEN_HEADERS, timeout=10) as api:
            zones = api.get("/zones", params={"name": "a.org"}).json()["result"]
            assert [z["id"] for z in zones] == [zone_id_for("a.org")]
            assert api.get("/zones").status_code == 200
        server.send_signal(stop)
        assert server.wait(timeout=10) == 0
        assert "Traceback" not in server.stderr.read()
    stored = json.loads(data.read_text())
    assert len(stored["account"]["requests"]) == 2
