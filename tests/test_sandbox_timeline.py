"""The timeline records every change; the zero-downtime checker finds violations in it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from certgen import make_leaf
from conftest import BASE_URL, TOKEN_HEADERS, FakeClock
from openapi_check import OpenApiChecker, ValidatingTransport

from planner.sandbox import Sandbox

DEPLOY, DELETE = 10.0, 4.0


@pytest.fixture
def slow(clock: FakeClock) -> Sandbox:
    """A sandbox where deployments and deletions take time on the fake clock."""
    return Sandbox(clock=clock, sleep=clock.sleep, deploy_delay=DEPLOY, delete_delay=DELETE)


@pytest.fixture
def api(slow: Sandbox, openapi: OpenApiChecker) -> Iterator[httpx.Client]:
    transport = ValidatingTransport(slow.transport(), openapi)
    with httpx.Client(transport=transport, base_url=BASE_URL, headers=TOKEN_HEADERS) as client:
        yield client


def aop(sandbox: Sandbox, suffix: str = "") -> str:
    return f"/zones/{sandbox.zone_id('example.com')}/origin_tls_client_auth{suffix}"


def upload(api: httpx.Client, path: str, cn: str) -> str:
    leaf = make_leaf(cn)
    body = {"certificate": leaf.cert_pem, "private_key": leaf.key_pem}
    cert_id: str = api.post(path, json=body).json()["result"]["id"]
    return cert_id


def bind(api: httpx.Client, sandbox: Sandbox, hostname: str, cert_id: str, enabled: Any) -> None:
    config = [{"hostname": hostname, "cert_id": cert_id, "enabled": enabled}]
    assert api.put(aop(sandbox, "/hostnames"), json={"config": config}).status_code == 200


def test_rotation_in_the_documented_order_keeps_the_invariant(
    api: httpx.Client, slow: Sandbox, clock: FakeClock
) -> None:
    certs = aop(slow, "/hostnames/certificates")
    old = upload(api, certs, "v1.example.com")
    clock.advance(DEPLOY)
    bind(api, slow, "app.example.com", old, True)
    new = upload(api, certs, "v2.example.com")
    clock.advance(DEPLOY)  # wait until the new certificate is active
    bind(api, slow, "app.example.com", new, True)  # re-point: replaces the association
    assert api.delete(f"{certs}/{old}").status_code == 200
    clock.advance(2 * DELETE)
    assert slow.check_zero_downtime() == []


def test_binding_a_certificate_that_is_still_deploying_is_caught(
    api: httpx.Client, slow: Sandbox, clock: FakeClock
) -> None:
    certs = aop(slow, "/hostnames/certificates")
    old = upload(api, certs, "v1.example.com")
    clock.advance(DEPLOY)
    bind(api, slow, "app.example.com", old, True)
    new = upload(api, certs, "v2.example.com")
    clock.advance(DEPLOY / 2)
    bind(api, slow, "app.example.com", new, True)  # too early: pending_deployment
    violations = slow.check_zero_downtime()
    assert len(violations) == 1
    assert f"app.example.com enabled on certificate {new} (pending_deployment)" in violations[0]
    assert violations[0].startswith("2026-01-01T00:00:15")


def test_a_binding_disabled_while_deploying_is_fine(api: httpx.Client, slow: Sandbox) -> None:
    cert = upload(api, aop(slow, "/hostnames/certificates"), "v1.example.com")
    bind(api, slow, "app.example.com", cert, False)
    assert slow.check_zero_downtime() == []


def test_deleting_the_only_active_zone_certificate_is_caught(
    api: httpx.Client, slow: Sandbox, clock: FakeClock
) -> None:
    api.put(aop(slow, "/settings"), json={"enabled": True})
    old = upload(api, aop(slow), "zone-v1.example.com")
    clock.advance(DEPLOY)
    upload(api, aop(slow), "zone-v2.example.com")
    api.delete(aop(slow, f"/{old}"))  # the new one is not active yet
    violations = slow.check_zero_downtime()
    assert len(violations) == 1 and f"zone-level certificate {old} deleted" in violations[0]


def test_zone_certificate_rotation_after_activation_is_fine(
    api: httpx.Client, slow: Sandbox, clock: FakeClock
) -> None:
    api.put(aop(slow, "/settings"), json={"enabled": True})
    old = upload(api, aop(slow), "zone-v1.example.com")
    clock.advance(DEPLOY)
    upload(api, aop(slow), "zone-v2.example.com")
    clock.advance(DEPLOY)
    api.delete(aop(slow, f"/{old}"))
    assert slow.check_zero_downtime() == []


def test_a_certificate_deleted_under_a_binding_is_caught(clock: FakeClock) -> None:
    # The API refuses this (1409); seeding plays a dashboard user who forced it through.
    sandbox = Sandbox(clock=clock, deploy_delay=DEPLOY, delete_delay=DELETE)
    cert = sandbox.seed_hostname_certificate("example.com", make_leaf("v1.example.com").cert_pem)
    sandbox.seed_association("example.com", "app.example.com", cert, True)
    sandbox.seed_deletion("example.com", cert)
    violations = sandbox.check_zero_downtime()
    assert any(
        f"certificate {cert} deleted while bound to app.example.com" in v for v in violations
    )
    assert any("(pending_deletion)" in v for v in violations)


def test_timeline_records_every_change(api: httpx.Client, slow: Sandbox, clock: FakeClock):
    certs = aop(slow, "/hostnames/certificates")
    cert = upload(api, certs, "v1.example.com")
    clock.advance(DEPLOY)
    bind(api, slow, "app.example.com", cert, True)
    bind(api, slow, "app.example.com", cert, False)
    bind(api, slow, "app.example.com", cert, None)
    api.delete(f"{certs}/{cert}")
    clock.advance(DELETE)
    slow.set_setting("example.com", "tls_client_auth", "on")
    events = [(e.time - slow.timeline[0].time, e.kind, e.data.get("status")) for e in slow.timeline]
    assert events == [
        (0.0, "certificate_uploaded", None),
        (0.0, "certificate_status", "initializing"),
        (5.0, "certificate_status", "pending_deployment"),
        (10.0, "certificate_status", "active"),
        (10.0, "association_set", None),
        (10.0, "association_set", None),
        (10.0, "association_removed", None),
        (10.0, "certificate_deleted", None),
        (10.0, "certificate_status", "pending_deletion"),
        (14.0, "certificate_status", "deleted"),
        (14.0, "setting_changed", None),
    ]
    changes = [e.data for e in slow.timeline if e.kind.startswith("association")]
    assert [(d.get("old_enabled"), d.get("enabled")) for d in changes] == [
        (None, True),
        (True, False),
        (False, None),
    ]
    assert all(e.data.get("old_cert_id", cert) == cert for e in slow.timeline[5:7])
    assert slow.timeline[-1].data == {"old": "off", "new": "on", "source": "dashboard"}


def test_seeding_acts_like_the_dashboard(clock: FakeClock) -> None:
    sandbox = Sandbox(clock=clock, deploy_delay=DEPLOY)
    pending = sandbox.seed_hostname_certificate(
        "example.com", make_leaf("p.example.com").cert_pem, status="pending_deployment"
    )
    assert sandbox.account.certificates[pending].status_at(clock()) == "pending_deployment"
    clock.advance(DEPLOY)
    assert sandbox.account.certificates[pending].status_at(clock()) == "active"
    gone = sandbox.seed_zone_certificate(
        "example.com", make_leaf("z.example.com").cert_pem, status="deleted"
    )
    assert sandbox.account.certificates[gone].status_at(clock()) == "deleted"
    sandbox.seed_association("example.com", "App.example.com", pending, True)
    sandbox.set_setting("example.com", "aop_zone_enabled", True)
    assert sandbox.requests == [] and sandbox.write_count() == 0
    assert {e.data["source"] for e in sandbox.timeline if "source" in e.data} == {"dashboard"}
    with pytest.raises(ValueError):
        sandbox.set_setting("example.com", "ssl", "sometimes")
    with pytest.raises(ValueError):
        sandbox.seed_hostname_certificate("example.com", make_leaf("q").cert_pem, status="odd")
    with pytest.raises(KeyError):
        sandbox.zone_id("example.org")
