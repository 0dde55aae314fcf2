"""Each fault kind, in-process (httpx transport) and over a real loopback socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from certgen import make_leaf
from conftest import BASE_URL, TOKEN_HEADERS, FakeClock
from openapi_check import OpenApiChecker, ValidatingTransport

from planner.sandbox import Sandbox
from planner.sandbox.faults import Fault, FaultInjector, parse_fault_spec

CLIENT_TIMEOUT = 0.5


@pytest.fixture(params=["in_process", "loopback"])
def client(
    request: pytest.FixtureRequest, sandbox: Sandbox, openapi: OpenApiChecker
) -> Iterator[httpx.Client]:
    """A validated client on the sandbox, through the transport or through a socket."""
    options: dict[str, Any] = {"headers": TOKEN_HEADERS, "timeout": CLIENT_TIMEOUT}
    if request.param == "in_process":
        transport = ValidatingTransport(sandbox.transport(), openapi)
        with httpx.Client(transport=transport, base_url=BASE_URL, **options) as api:
            yield api
        return
    with sandbox.serve() as url:
        transport = ValidatingTransport(httpx.HTTPTransport(), openapi)
        with httpx.Client(transport=transport, base_url=url, **options) as api:
            yield api


def certs_path(sandbox: Sandbox) -> str:
    return f"/zones/{sandbox.zone_id('example.com')}/origin_tls_client_auth/hostnames/certificates"


def upload_body(cn: str = "a.example.com") -> dict[str, str]:
    leaf = make_leaf(cn)
    return {"certificate": leaf.cert_pem, "private_key": leaf.key_pem}


def listed(client: httpx.Client, sandbox: Sandbox) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = client.get(certs_path(sandbox)).json()["result"]
    return rows


def test_server_error_for_the_next_matching_requests(client: httpx.Client, sandbox: Sandbox):
    sandbox.faults.add(
        "server_error", method="POST", path="*/hostnames/certificates", times=2, status=503
    )
    assert client.get(certs_path(sandbox)).status_code == 200  # GET does not match
    statuses = [client.post(certs_path(sandbox), json=upload_body()).status_code for _ in "123"]
    assert statuses == [503, 503, 200]
    assert len(listed(client, sandbox)) == 1
    assert sandbox.faults.pending == []


def test_server_error_as_an_edge_html_page(client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.faults.add("server_error", status=502, html=True)
    answer = client.get("/zones")
    assert answer.status_code == 502
    assert answer.headers["content-type"] == "text/html"
    assert "502 Bad gateway" in answer.text


def test_rate_limited_with_retry_after(client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.faults.add("rate_limited", path="/zones", retry_after=7)
    answer = client.get("/zones")
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "7"
    assert answer.json()["errors"][0]["code"] == 971
    assert client.get("/zones").status_code == 200


def test_lost_response_after_commit(client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.faults.add("lost_response", method="POST")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(certs_path(sandbox), json=upload_body())
    assert [c["status"] for c in listed(client, sandbox)] == ["active"]  # it was committed
    assert sandbox.requests[0].status is None  # and never answered


def test_connection_reset_before_processing(client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.faults.add("connection_reset", method="POST")
    with pytest.raises(httpx.ReadError):
        client.post(certs_path(sandbox), json=upload_body())
    assert listed(client, sandbox) == []
    assert sandbox.write_count() == 1


@pytest.mark.parametrize("commit", [False, True])
def test_read_timeout(client: httpx.Client, sandbox: Sandbox, commit: bool) -> None:
    sandbox.faults.add("read_timeout", method="POST", delay=30, commit=commit)
    with pytest.raises(httpx.ReadTimeout):
        client.post(certs_path(sandbox), json=upload_body())
    assert len(listed(client, sandbox)) == (1 if commit else 0)


def test_latency(client: httpx.Client, sandbox: Sandbox, clock: FakeClock) -> None:
    sandbox.faults.add("latency", path="/zones", delay=0.2, times=None)
    fake_before, real_before = clock(), time.monotonic()
    for _ in range(2):
        assert client.get("/zones").status_code == 200
    waited = (clock() - fake_before) + (time.monotonic() - real_before)
    assert waited >= 0.4  # the fake clock moves in-process; real time passes over the socket
    assert len(sandbox.faults.pending) == 1  # times=None never runs out


def test_deployment_timed_out_for_the_next_upload(client: httpx.Client, sandbox: Sandbox):
    sandbox.faults.add("deployment_timed_out")
    first = client.post(certs_path(sandbox), json=upload_body("a.example.com")).json()["result"]
    second = client.post(certs_path(sandbox), json=upload_body("b.example.com")).json()["result"]
    assert (first["status"], second["status"]) == ("deployment_timed_out", "active")


def test_deletion_timed_out_then_retried(client: httpx.Client, sandbox: Sandbox) -> None:
    cert = client.post(certs_path(sandbox), json=upload_body()).json()["result"]
    one = f"{certs_path(sandbox)}/{cert['id']}"
    sandbox.faults.add("deletion_timed_out", method="DELETE")
    assert client.delete(one).json()["result"]["status"] == "deletion_timed_out"
    assert [c["status"] for c in listed(client, sandbox)] == ["deletion_timed_out"]
    assert client.delete(one).json()["result"]["status"] == "deleted"


def test_fault_matching_and_bookkeeping() -> None:
    faults = FaultInjector()
    with pytest.raises(ValueError, match="unknown fault kind"):
        faults.add("meteor")
    with pytest.raises(ValueError, match="5xx"):
        faults.add("server_error", status=404)
    faults.add("server_error", method="put", path="/zones/*/origin_tls_client_auth/hostnames")
    assert (
        faults.take(("server_error",), "GET", "/client/v4/zones/z/origin_tls_client_auth/hostnames")
        is None
    )
    taken = faults.take(
        ("server_error",), "PUT", "/client/v4/zones/z/origin_tls_client_auth/hostnames"
    )
    assert isinstance(taken, Fault) and faults.pending == []
    faults.add("read_timeout")
    assert faults.pending[0].delay == 30.0  # longer than any sensible client timeout
    restored = FaultInjector.from_json(faults.to_json())
    assert restored.pending == faults.pending
    faults.clear()
    assert faults.pending == []


def test_fault_specs_from_the_command_line() -> None:
    kind, params = parse_fault_spec(
        "server_error:method=post,path=*/certificates,times=2,status=502"
    )
    assert (kind, params) == (
        "server_error",
        {"method": "POST", "path": "*/certificates", "times": 2, "status": 502},
    )
    assert parse_fault_spec("latency:delay=0.5,times=always") == (
        "latency",
        {"delay": 0.5, "times": None},
    )
    for bad in ("meteor", "latency:speed=1", "latency:delay=soon"):
        with pytest.raises(ValueError):
            parse_fault_spec(bad)
