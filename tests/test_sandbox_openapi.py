"""The extract-based checker accepts what Cloudflare really sends and rejects what it must not."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_check import OpenApiChecker, SchemaViolation, ValidatingTransport

DATA = Path(__file__).parent / "data" / "sandbox"
ZONE = "023e105f4ecef8ad9ca31a8372d0c353"
CERT = "2458ce5a-0c35-4c7f-82c7-8e9487d3ff60"
AOP = f"/client/v4/zones/{ZONE}/origin_tls_client_auth"
ITEM = {"hostname": "a.example.com", "cert_id": CERT}  # `enabled` added per case
FAILURE = {
    "success": False,
    "errors": [{"code": 1000, "message": "x"}],
    "messages": [],
    "result": None,
}


def recorded(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def test_real_recorded_answers_validate(openapi: OpenApiChecker) -> None:
    listing = recorded("GET_zones_ZONE_origin_tls_client_auth_list.json")
    assert openapi.response_errors("GET", AOP, 200, listing) == []
    detail = recorded("GET_zones_ZONE_origin_tls_client_auth_hostnames_HOSTNAME.json")
    assert openapi.response_errors("GET", f"{AOP}/hostnames/app.example.com", 200, detail) == []


def test_literal_segments_win_over_parameters(openapi: OpenApiChecker) -> None:
    def operation(method: str, path: str) -> str:
        op = openapi.find(method, path)
        return op.spec["operationId"] if op else "none"

    assert operation("GET", f"{AOP}/hostnames/certificates").endswith("list-certificates")
    assert operation("GET", f"{AOP}/hostnames/app.example.com").endswith(
        "get-the-hostname-status-for-client-authentication"
    )
    assert operation("GET", f"{AOP}/settings").endswith("get-enablement-setting-for-zone")
    assert operation("GET", f"{AOP}/{CERT}").endswith("get-certificate-details")
    assert operation("POST", f"{AOP}/settings") == "none"


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda r: r["result"][0].update(status="expired"), "'expired' is not one of"),
        (lambda r: r["result"][0].update(id=CERT + "0"), "is too long"),
        (lambda r: r["result"][0].update(uploaded_on="yesterday"), "is not a 'date-time'"),
        (lambda r: r["result"][0].update(serial_number=315058594), "is not of type 'string'"),
        (lambda r: r.pop("messages"), "'messages' is a required property"),
        (lambda r: r["result_info"].update(page="1"), "is not of type 'number'"),
    ],
)
def test_bad_answers_are_caught(openapi: OpenApiChecker, mutate: Any, fragment: str) -> None:
    answer = recorded("GET_zones_ZONE_origin_tls_client_auth_list.json")
    mutate(answer)
    with pytest.raises(SchemaViolation, match=fragment):
        openapi.validate_response("GET", f"{AOP}/hostnames/certificates", 200, answer)


def test_error_answers_use_the_failure_envelope(openapi: OpenApiChecker) -> None:
    path = f"{AOP}/hostnames/certificates"
    assert openapi.response_errors("POST", path, 400, FAILURE) == []
    assert openapi.response_errors("GET", "/client/v4/zones", 403, FAILURE) == []
    assert openapi.response_errors("POST", path, 400, {**FAILURE, "errors": []}) != []
    assert openapi.response_errors("POST", path, 400, {**FAILURE, "success": True}) != []
    throttled = {**FAILURE, "errors": [{"code": 971, "message": "Please wait"}]}
    assert openapi.response_errors("GET", path, 429, throttled) == []
    assert openapi.response_errors("GET", path, 400, throttled) != []
    assert openapi.response_errors("GET", path, 503, None) == []  # an HTML edge page
    assert openapi.response_errors("GET", "/client/v4/nowhere", 404, FAILURE) == []
    assert openapi.response_errors("GET", "/client/v4/nowhere", 200, FAILURE) != []


@pytest.mark.parametrize(
    ("method", "path", "body", "valid"),
    [
        ("PATCH", f"/zones/{ZONE}/settings/ssl", {"value": "strict"}, True),
        ("PATCH", f"/zones/{ZONE}/settings/ssl", {"value": "on"}, False),
        ("PATCH", f"/zones/{ZONE}/settings/tls_client_auth", {"value": "on"}, True),
        ("PATCH", f"/zones/{ZONE}/settings/tls_client_auth", {"value": "on", "x": 1}, False),
        ("PATCH", f"/zones/{ZONE}/settings/always_online", {"value": "on"}, False),
        ("GET", f"{AOP}/hostnames?status=active,pending_deployment&per_page=50", None, True),
        ("GET", f"{AOP}/hostnames?status=all&page=2", None, True),
        ("GET", f"{AOP}/hostnames?status=bogus", None, False),
        ("GET", f"{AOP}/hostnames?per_page=2.5", None, False),
        ("GET", f"{AOP}/hostnames?per_page=1001", None, False),
        ("GET", f"{AOP}/hostnames/certificates?per_page=5", None, False),
        ("GET", "/zones?name=example.com&per_page=50", None, True),
        ("GET", "/zones?per_page=4", None, False),
        ("DELETE", f"{AOP}/{CERT}", None, True),
        ("DELETE", f"{AOP}/{CERT}", {}, True),
        ("DELETE", f"{AOP}/{CERT}", {"force": True}, False),
        ("GET", f"/zones/{ZONE[:-1]}/origin_tls_client_auth", None, False),
        ("GET", f"{AOP}/hostnames/certificates/{CERT[:-1]}", None, False),
        ("PUT", f"{AOP}/settings", {"enabled": True}, True),
        ("PUT", f"{AOP}/settings", None, False),
        (
            "PUT",
            f"{AOP}/hostnames",
            {"config": [{"hostname": "a.example.com", "cert_id": CERT, "enabled": None}]},
            True,
        ),
        (
            "PUT",
            f"{AOP}/hostnames",
            {"config": [{"hostname": "a.example.com", "cert_id": CERT}]},
            False,
        ),
        (
            "PUT",
            f"{AOP}/hostnames",
            {"config": [{"hostname": "a.example.com", "cert_id": CERT, "enabled": "yes"}]},
            False,
        ),
        ("POST", f"{AOP}/hostnames/certificates", {"certificate": "PEM"}, False),
        ("GET", "/zones/whatever/dns_records", None, False),
    ],
)
def test_requests(openapi: OpenApiChecker, method: str, path: str, body: Any, valid: bool) -> None:
    errors = openapi.request_errors(method, path, body)
    assert (errors == []) is valid, errors


def test_messages_never_show_a_private_key(openapi: OpenApiChecker) -> None:
    body = {"certificate": "PEM", "private_key": ["-----BEGIN PRIVATE KEY-----\nSECRET"]}
    errors = openapi.request_errors("POST", f"{AOP}/hostnames/certificates", body)
    assert errors and all("SECRET" not in error for error in errors)


def test_transport_keeps_violations_that_the_caller_swallowed(openapi: OpenApiChecker) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"success": True, "errors": [], "messages": [], "result": [{"status": "expired"}]},
        )

    transport = ValidatingTransport(httpx.MockTransport(handler), openapi)
    with httpx.Client(transport=transport, base_url="https://api.cloudflare.com/client/v4") as api:
        with contextlib.suppress(SchemaViolation):  # code under test that catches everything
            api.get(f"/zones/{ZONE}/origin_tls_client_auth")
        with pytest.raises(SchemaViolation, match="not declared"):
            api.get(f"/zones/{ZONE}/origin_tls_client_auth", params={"page": 1})
    assert len(transport.violations) == 2
