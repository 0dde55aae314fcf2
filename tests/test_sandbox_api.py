"""The sandbox answers like Cloudflare: every operation, its errors, statuses, paging, limits.

Every exchange goes through `ValidatingTransport`: answers must match the extract; requests too,
except in `raw_api`, which sends invalid requests on purpose to see how the sandbox refuses them.
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from certgen import Issued, make_ca, make_leaf
from conftest import BASE_URL, TOKEN_HEADERS, FakeClock
from openapi_check import OpenApiChecker, ValidatingTransport

from planner.sandbox import Sandbox

DATA = Path(__file__).parent / "data" / "sandbox"
UUID_LENGTH = 36


@pytest.fixture
def raw_api(sandbox: Sandbox, openapi: OpenApiChecker) -> Iterator[httpx.Client]:
    """Like `api`, but requests are not validated: answers still are."""
    transport = ValidatingTransport(sandbox.transport(), openapi, check_requests=False)
    with httpx.Client(transport=transport, base_url=BASE_URL, headers=TOKEN_HEADERS) as client:
        yield client
    assert not transport.violations


def client_for(sandbox: Sandbox, openapi: OpenApiChecker, **kw: Any) -> httpx.Client:
    transport = ValidatingTransport(sandbox.transport(), openapi, check_requests=False)
    return httpx.Client(transport=transport, base_url=BASE_URL, **kw)


def aop(sandbox: Sandbox, suffix: str = "", zone: str = "example.com") -> str:
    return f"/zones/{sandbox.zone_id(zone)}/origin_tls_client_auth{suffix}"


def upload_pem(api: httpx.Client, path: str, cert_pem: str, key_pem: str) -> dict[str, Any]:
    answer = api.post(path, json={"certificate": cert_pem, "private_key": key_pem})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["result"]
    return result


def upload(api: httpx.Client, path: str, issued: Issued) -> dict[str, Any]:
    return upload_pem(api, path, issued.cert_pem, issued.key_pem)


def bind(api: httpx.Client, sandbox: Sandbox, *items: tuple[str, str, bool | None]) -> Any:
    config = [{"hostname": h, "cert_id": c, "enabled": e} for h, c, e in items]
    return api.put(aop(sandbox, "/hostnames"), json={"config": config})


def error_of(answer: httpx.Response) -> tuple[int, int]:
    body = answer.json()
    assert body["success"] is False and body["result"] is None
    return answer.status_code, body["errors"][0]["code"]


# ----- zones and settings ----------------------------------------------------------------


def test_zones_are_found_by_name_with_32_hex_ids(api: httpx.Client, sandbox: Sandbox) -> None:
    answer = api.get("/zones", params={"name": "example.net"}).json()
    assert [z["name"] for z in answer["result"]] == ["example.net"]
    zone_id = answer["result"][0]["id"]
    assert zone_id == sandbox.zone_id("example.net")
    assert len(zone_id) == 32 and int(zone_id, 16) >= 0
    both = api.get("/zones", params={"name": "ends_with:.com"}).json()["result"]
    assert [z["name"] for z in both] == ["example.com"]


def test_zones_pagination_and_bounds(clock: FakeClock, openapi: OpenApiChecker) -> None:
    sandbox = Sandbox([f"zone{i:02}.com" for i in range(12)], clock=clock)
    with client_for(sandbox, openapi, headers=TOKEN_HEADERS) as api:
        last = api.get("/zones", params={"per_page": 5, "page": 3}).json()
        assert [z["name"] for z in last["result"]] == ["zone10.com", "zone11.com"]
        assert last["result_info"] == {
            "page": 3,
            "per_page": 5,
            "count": 2,
            "total_count": 12,
            "total_pages": 3,
        }
        assert api.get("/zones").json()["result_info"]["per_page"] == 20
        for bad in ({"per_page": 4}, {"per_page": 51}, {"page": 0}, {"page": "x"}):
            assert error_of(api.get("/zones", params=bad)) == (400, 1400)


def test_settings_read_and_change(api: httpx.Client, raw_api: httpx.Client, sandbox: Sandbox):
    path = f"/zones/{sandbox.zone_id('example.com')}/settings"
    ssl = api.get(f"{path}/ssl").json()["result"]
    assert ssl == {"id": "ssl", "value": "off", "editable": True, "modified_on": None}
    changed = api.patch(f"{path}/ssl", json={"value": "strict"}).json()["result"]
    assert changed["value"] == "strict" and changed["modified_on"].endswith("Z")
    assert api.get(f"{path}/tls_client_auth").json()["result"]["value"] == "off"
    api.patch(f"{path}/tls_client_auth", json={"value": "on"})
    assert api.get(f"{path}/tls_client_auth").json()["result"]["value"] == "on"
    assert error_of(raw_api.patch(f"{path}/ssl", json={"value": "bogus"})) == (400, 1007)
    assert error_of(raw_api.get(f"{path}/always_online")) == (400, 1006)
    changes = [(e.subject, e.data["old"], e.data["new"]) for e in sandbox.timeline]
    assert changes == [("ssl", "off", "strict"), ("tls_client_auth", "off", "on")]


def test_zone_level_enablement(api: httpx.Client, raw_api: httpx.Client, sandbox: Sandbox):
    assert api.get(aop(sandbox, "/settings")).json()["result"] == {"enabled": False}
    assert api.put(aop(sandbox, "/settings"), json={"enabled": True}).json()["result"] == {
        "enabled": True
    }
    assert error_of(raw_api.put(aop(sandbox, "/settings"), json={"enabled": "yes"})) == (400, 1400)
    assert api.get(aop(sandbox, "/settings")).json()["result"] == {"enabled": True}


# ----- certificates ----------------------------------------------------------------------


def test_certificate_is_described_as_cloudflare_does(api: httpx.Client, sandbox: Sandbox) -> None:
    cert = (DATA / "le-terraform-cfapi-net-expired-2020.crt.pem").read_text()
    key = (DATA / "le-terraform-cfapi-net-expired-2020.key.pem").read_text()
    result = upload_pem(api, aop(sandbox, "/hostnames/certificates"), cert, key)
    recorded = json.loads((DATA / "GET_zones_ZONE_origin_tls_client_auth_list.json").read_text())
    expected = recorded["result"][0]
    for field in ("certificate", "expires_on", "issuer", "serial_number", "signature"):
        assert result[field] == expected[field], field
    assert result["status"] == "active" and len(result["id"]) == UUID_LENGTH


def test_pem_whitespace_is_normalised_and_zone_level_accepts_a_ca(
    api: httpx.Client, sandbox: Sandbox
) -> None:
    cert = (DATA / "docs-example-internet-widgits.INDENTED-as-in-heredoc.crt.pem").read_text()
    key = (DATA / "docs-example-internet-widgits.INDENTED-as-in-heredoc.key.pem").read_text()
    crlf = {"certificate": cert.replace("\n", "\r\n"), "private_key": key}
    result = api.post(aop(sandbox), json=crlf).json()["result"]
    assert result["certificate"].startswith("-----BEGIN CERTIFICATE-----\nMIIDtTCC")
    assert result["certificate"].endswith("\n-----END CERTIFICATE-----\n")
    assert result["signature"] == "SHA256-RSA" and result["enabled"] is False
    listed = api.get(aop(sandbox)).json()
    assert [c["id"] for c in listed["result"]] == [result["id"]]
    assert api.get(aop(sandbox, f"/{result['id']}")).json()["result"] == result


def test_statuses_follow_the_clock(clock: FakeClock, openapi: OpenApiChecker) -> None:
    sandbox = Sandbox(clock=clock, deploy_delay=10, delete_delay=4)
    with client_for(sandbox, openapi, headers=TOKEN_HEADERS) as api:
        cert = upload(api, aop(sandbox, "/hostnames/certificates"), make_leaf("a.example.com"))
        one = aop(sandbox, f"/hostnames/certificates/{cert['id']}")
        seen = [cert["status"]]
        for step in (5, 5):
            clock.advance(step)
            seen.append(api.get(one).json()["result"]["status"])
        assert seen == ["initializing", "pending_deployment", "active"]
        assert api.delete(one).json()["result"]["status"] == "pending_deletion"
        clock.advance(4)
        assert api.get(one).json()["result"]["status"] == "deleted"
        listed = api.get(aop(sandbox, "/hostnames/certificates")).json()["result"]
        assert [c["status"] for c in listed] == ["deleted"]
        clock.advance(4)  # one more deletion delay: purged
        assert error_of(api.get(one)) == (404, 1407)
        assert api.get(aop(sandbox, "/hostnames/certificates")).json()["result"] == []


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("duplicate", (400, 1406)),
        ("ca", (400, 1412)),
        ("key_mismatch", (400, 1404)),
        ("bad_certificate", (400, 1402)),
        ("bad_key", (400, 1403)),
        ("missing_key", (400, 1400)),
        ("malformed_json", (400, 6007)),
    ],
)
def test_upload_refusals(
    case: str, expected: tuple[int, int], raw_api: httpx.Client, sandbox: Sandbox
) -> None:
    path = aop(sandbox, "/hostnames/certificates")
    leaf, other, ca = make_leaf("a.example.com"), make_leaf("b.example.com"), make_ca()
    upload(raw_api, path, leaf)
    garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    bodies: dict[str, Any] = {
        "duplicate": {"certificate": leaf.cert_pem, "private_key": leaf.key_pem},
        "ca": {"certificate": ca.cert_pem, "private_key": ca.key_pem},
        "key_mismatch": {"certificate": other.cert_pem, "private_key": leaf.key_pem},
        "bad_certificate": {"certificate": garbage, "private_key": other.key_pem},
        "bad_key": {"certificate": other.cert_pem, "private_key": "not a key"},
        "missing_key": {"certificate": other.cert_pem},
    }
    if case == "malformed_json":
        answer = raw_api.post(
            path, content=b"{not json", headers={"content-type": "application/json"}
        )
    else:
        answer = raw_api.post(path, json=bodies[case])
    assert error_of(answer) == expected
    assert "PRIVATE KEY" not in answer.text
    assert len(raw_api.get(path).json()["result"]) == 1  # nothing was added


def test_ten_hostname_certificates_per_zone(api: httpx.Client, sandbox: Sandbox) -> None:
    path = aop(sandbox, "/hostnames/certificates")
    ids = [upload(api, path, make_leaf(f"h{i}.example.com"))["id"] for i in range(10)]
    extra = make_leaf("x.example.com")
    refused = api.post(path, json={"certificate": extra.cert_pem, "private_key": extra.key_pem})
    assert error_of(refused) == (400, 1405)
    other_zone = aop(sandbox, "/hostnames/certificates", zone="example.net")
    upload(api, other_zone, make_leaf("x.example.net"))  # the limit is per zone
    api.delete(f"{path}/{ids[0]}")
    upload(api, path, extra)


# ----- associations ----------------------------------------------------------------------


def test_bind_list_get_disable_and_void(api: httpx.Client, sandbox: Sandbox) -> None:
    cert = upload(api, aop(sandbox, "/hostnames/certificates"), make_leaf("app.example.com"))
    answer = bind(
        api, sandbox, ("app.example.com", cert["id"], True), ("API.example.com", cert["id"], False)
    )
    rows = answer.json()["result"]
    assert [(r["hostname"], r["enabled"], r["status"]) for r in rows] == [
        ("app.example.com", True, "active"),
        ("api.example.com", False, "active"),
    ]
    listed = api.get(aop(sandbox, "/hostnames")).json()
    assert [(r["hostname"], r["cert_id"]) for r in listed["result"]] == [
        ("api.example.com", cert["id"]),
        ("app.example.com", cert["id"]),
    ]
    detail = api.get(aop(sandbox, "/hostnames/app.example.com")).json()["result"]
    assert detail["cert_status"] == "active" and detail["serial_number"] == cert["serial_number"]
    voided = bind(api, sandbox, ("api.example.com", cert["id"], None)).json()["result"]
    assert voided[0]["enabled"] is None
    assert error_of(api.get(aop(sandbox, "/hostnames/api.example.com"))) == (404, 1410)
    assert [r["hostname"] for r in api.get(aop(sandbox, "/hostnames")).json()["result"]] == [
        "app.example.com"
    ]


def test_put_for_a_bound_hostname_repoints_it(api: httpx.Client, sandbox: Sandbox) -> None:
    path = aop(sandbox, "/hostnames/certificates")
    old, new = (upload(api, path, make_leaf(f"{n}.example.com"))["id"] for n in ("old", "new"))
    bind(api, sandbox, ("app.example.com", old, True))
    bind(api, sandbox, ("app.example.com", new, True))
    rows = api.get(aop(sandbox, "/hostnames"), params={"status": "all"}).json()["result"]
    assert [(r["hostname"], r["cert_id"]) for r in rows] == [("app.example.com", new)]
    last = [e for e in sandbox.timeline if e.kind == "association_set"][-1]
    assert (last.data["old_cert_id"], last.data["cert_id"]) == (old, new)
    api.delete(f"{path}/{old}")  # nothing points at the old one any more
    assert sandbox.check_zero_downtime() == []


def test_status_filter_defaults_to_active(clock: FakeClock, openapi: OpenApiChecker) -> None:
    sandbox = Sandbox(clock=clock, deploy_delay=10)
    with client_for(sandbox, openapi, headers=TOKEN_HEADERS) as api:
        path = aop(sandbox, "/hostnames/certificates")
        ready = upload(api, path, make_leaf("ready.example.com"))["id"]
        clock.advance(10)
        fresh = upload(api, path, make_leaf("fresh.example.com"))["id"]
        clock.advance(6)
        bind(api, sandbox, ("a.example.com", ready, True), ("b.example.com", fresh, False))

        def listed(**params: str) -> list[tuple[str, str]]:
            rows = api.get(aop(sandbox, "/hostnames"), params=params).json()["result"]
            return [(r["hostname"], r["status"]) for r in rows]

        assert listed() == [("a.example.com", "active")]
        assert listed(status="pending_deployment") == [("b.example.com", "pending_deployment")]
        everything = [("a.example.com", "active"), ("b.example.com", "pending_deployment")]
        assert listed(status="active,pending_deployment") == everything
        assert listed(status="all") == everything
        assert error_of(api.get(aop(sandbox, "/hostnames"), params={"status": "bogus"})) == (
            400,
            1400,
        )


def test_association_list_pagination(api: httpx.Client, raw_api: httpx.Client, sandbox: Sandbox):
    cert = upload(api, aop(sandbox, "/hostnames/certificates"), make_leaf("a.example.com"))
    bind(api, sandbox, *((f"h{i}.example.com", cert["id"], True) for i in range(7)))
    page = api.get(aop(sandbox, "/hostnames"), params={"per_page": 3, "page": 3}).json()
    assert [r["hostname"] for r in page["result"]] == ["h6.example.com"]
    assert page["result_info"] == {
        "page": 3,
        "per_page": 3,
        "count": 1,
        "total_count": 7,
        "total_pages": 3,
    }
    assert api.get(aop(sandbox, "/hostnames")).json()["result_info"]["per_page"] == 50
    for bad in ({"per_page": 0}, {"per_page": 1001}, {"per_page": "2.5"}):
        assert error_of(raw_api.get(aop(sandbox, "/hostnames"), params=bad)) == (400, 1400)


def test_hundred_associations_per_certificate(api: httpx.Client, sandbox: Sandbox) -> None:
    cert = upload(api, aop(sandbox, "/hostnames/certificates"), make_leaf("a.example.com"))
    hosts = [(f"h{i:03}.example.com", cert["id"], True) for i in range(101)]
    assert bind(api, sandbox, *hosts[:100]).status_code == 200
    assert error_of(bind(api, sandbox, hosts[100])) == (400, 1408)
    rows = api.get(aop(sandbox, "/hostnames"), params={"per_page": 1000}).json()["result"]
    assert len(rows) == 100
    # Re-pointing one away makes room, in the same atomic PUT.
    other = upload(api, aop(sandbox, "/hostnames/certificates"), make_leaf("b.example.com"))
    moved = (hosts[0][0], other["id"], True)
    assert bind(api, sandbox, moved, hosts[100]).status_code == 200


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unknown_certificate", (404, 1407)),
        ("outside_zone", (400, 1411)),
        ("duplicate_hostname", (400, 1400)),
        ("void_with_other_certificate", (400, 1411)),
        ("missing_enabled", (400, 1400)),
        ("empty_config", (400, 1400)),
    ],
)
def test_put_refusals_change_nothing(
    case: str, expected: tuple[int, int], raw_api: httpx.Client, sandbox: Sandbox
) -> None:
    path = aop(sandbox, "/hostnames/certificates")
    first, second = (upload(raw_api, path, make_leaf(f"{n}.example.com"))["id"] for n in "ab")
    bind(raw_api, sandbox, ("app.example.com", first, True))
    good = {"hostname": "new.example.com", "cert_id": first, "enabled": True}
    configs: dict[str, list[Any]] = {
        "unknown_certificate": [
            good,
            {
                **good,
                "hostname": "x.example.com",
                "cert_id": "00000000-0000-4000-8000-000000000000",
            },
        ],
        "outside_zone": [good, {**good, "hostname": "app.example.org"}],
        "duplicate_hostname": [good, good],
        "void_with_other_certificate": [
            good,
            {"hostname": "app.example.com", "cert_id": second, "enabled": None},
        ],
        "missing_enabled": [good, {"hostname": "x.example.com", "cert_id": first}],
        "empty_config": [],
    }
    answer = raw_api.put(aop(sandbox, "/hostnames"), json={"config": configs[case]})
    assert error_of(answer) == expected
    rows = raw_api.get(aop(sandbox, "/hostnames"), params={"status": "all"}).json()["result"]
    assert [(r["hostname"], r["cert_id"]) for r in rows] == [("app.example.com", first)]


def test_delete_refused_while_hostnames_point_at_the_certificate(
    api: httpx.Client, sandbox: Sandbox
) -> None:
    cert = upload(api, aop(sandbox, "/hostnames/certificates"), make_leaf("a.example.com"))
    one = aop(sandbox, f"/hostnames/certificates/{cert['id']}")
    bind(api, sandbox, ("app.example.com", cert["id"], False))
    refused = api.delete(one)
    assert error_of(refused) == (400, 1409)
    assert "app.example.com" in refused.json()["errors"][0]["message"]
    bind(api, sandbox, ("app.example.com", cert["id"], None))
    assert api.delete(one).status_code == 200
    assert sandbox.check_zero_downtime() == []


# ----- identifiers, routes, authentication, rate limit -----------------------------------


def test_unknown_and_malformed_identifiers(raw_api: httpx.Client, sandbox: Sandbox) -> None:
    unknown_zone = "0" * 32
    cert_id = "00000000-0000-4000-8000-000000000000"
    cases = {
        f"/zones/{unknown_zone}/origin_tls_client_auth": (404, 1001),
        "/zones/example.com/origin_tls_client_auth": (400, 7003),
        aop(sandbox, f"/{cert_id}"): (404, 1407),
        aop(sandbox, "/hostnames/certificates/not-a-uuid"): (400, 7003),
        aop(sandbox, f"/hostnames/certificates/{cert_id}"): (404, 1407),
        aop(sandbox, "/hostnames/nobody.example.com"): (404, 1410),
        "/zones/nothing/here": (404, 7000),
    }
    for path, expected in cases.items():
        assert error_of(raw_api.get(path)) == expected, path
    assert error_of(raw_api.post("/zones")) == (405, 7001)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, (400, 9106)),
        ({"X-Auth-Email": "me@example.com"}, (400, 9106)),
        ({"Authorization": "Bearer "}, (403, 10000)),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, (403, 10000)),
        ({"Authorization": "Bearer revoked-token"}, (403, 10000)),
        ({"X-Auth-Email": "me@example.com", "X-Auth-Key": " "}, (403, 10000)),
        ({"Authorization": "Bearer any-token"}, (200, 0)),
        ({"X-Auth-Email": "me@example.com", "X-Auth-Key": "global-key"}, (200, 0)),
    ],
)
def test_authentication(
    headers: dict[str, str],
    expected: tuple[int, int],
    sandbox: Sandbox,
    openapi: OpenApiChecker,
) -> None:
    sandbox.revoke("revoked-token")
    with client_for(sandbox, openapi, headers=headers) as api:
        answer = api.get("/zones")
    if expected[0] == 200:
        assert answer.status_code == 200
    else:
        assert error_of(answer) == expected


def test_rate_limit_window(clock: FakeClock, openapi: OpenApiChecker) -> None:
    sandbox = Sandbox(clock=clock, rate_limit=(3, 10.0))
    with client_for(sandbox, openapi, headers=TOKEN_HEADERS) as api:
        remaining = []
        for _ in range(3):
            answer = api.get("/zones")
            assert answer.headers["ratelimit-policy"] == '"default";q=3;w=10'
            remaining.append(answer.headers["ratelimit"])
            clock.advance(1)
        assert remaining == ['"default";r=2;t=10', '"default";r=1;t=9', '"default";r=0;t=8']
        limited = api.get("/zones")
        assert error_of(limited) == (429, 971)
        assert limited.headers["retry-after"] == "7"
        assert "ratelimit" in limited.headers
        clock.advance(7)
        assert api.get("/zones").status_code == 200


def test_every_operation_of_the_extract_is_served(
    api: httpx.Client, sandbox: Sandbox, openapi: OpenApiChecker
) -> None:
    zone = sandbox.zone_id("example.com")
    cert = upload(api, aop(sandbox, "/hostnames/certificates"), make_leaf("a.example.com"))
    zone_cert = upload(api, aop(sandbox), make_leaf("zone.example.com"))
    calls = [
        ("GET", "/zones", None),
        ("GET", f"/zones/{zone}/settings/ssl", None),
        ("PATCH", f"/zones/{zone}/settings/ssl", {"value": "full"}),
        ("GET", aop(sandbox), None),
        ("GET", aop(sandbox, f"/{zone_cert['id']}"), None),
        ("DELETE", aop(sandbox, f"/{zone_cert['id']}"), None),
        ("GET", aop(sandbox, "/settings"), None),
        ("PUT", aop(sandbox, "/settings"), {"enabled": True}),
        ("GET", aop(sandbox, "/hostnames/certificates"), None),
        ("GET", aop(sandbox, f"/hostnames/certificates/{cert['id']}"), None),
        (
            "PUT",
            aop(sandbox, "/hostnames"),
            {"config": [{"hostname": "a.example.com", "cert_id": cert["id"], "enabled": True}]},
        ),
        ("GET", aop(sandbox, "/hostnames/a.example.com"), None),
        ("GET", aop(sandbox, "/hostnames"), None),
        (
            "PUT",
            aop(sandbox, "/hostnames"),
            {"config": [{"hostname": "a.example.com", "cert_id": cert["id"], "enabled": None}]},
        ),
        ("DELETE", aop(sandbox, f"/hostnames/certificates/{cert['id']}"), None),
    ]
    for method, path, body in calls:
        assert api.request(method, path, json=body).status_code == 200, (method, path)
    served = {(r.method, openapi.find(r.method, r.path).template) for r in sandbox.requests}  # type: ignore[union-attr]
    declared = {(op.method, op.template) for op in openapi.operations}
    assert served == declared and len(declared) == 16


def test_requests_are_recorded_without_private_keys(api: httpx.Client, sandbox: Sandbox) -> None:
    leaf = make_leaf("a.example.com")
    upload(api, aop(sandbox, "/hostnames/certificates"), leaf)
    api.get("/zones")
    recorded = sandbox.requests[0]
    assert recorded.method == "POST" and recorded.status == 200
    assert recorded.body["private_key"] == "(redacted)"
    assert leaf.key_pem not in json.dumps(sandbox.to_json())
    assert sandbox.write_count() == 1


def test_the_sandbox_depends_only_on_stdlib_httpx_and_cryptography() -> None:
    """It plays Cloudflare, so it must not share code with aopctl's client or certificates."""
    package = Path(__file__).parents[1] / "planner" / "sandbox"
    allowed = set(sys.stdlib_module_names) | {"httpx", "cryptography"}
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                inside = name == "planner.sandbox" or name.startswith("planner.sandbox.")
                assert inside or name.split(".")[0] in allowed, f"{source.name} imports {name}"
