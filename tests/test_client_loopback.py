"""CloudflareClient over a real loopback socket: flaky networks, lost answers, the rate limit.

The sandbox serves HTTP on 127.0.0.1 (port 0) and misbehaves on purpose (429 bursts, 502/503,
TCP resets, stalls past the read timeout, answers lost after the commit). Every exchange is
validated against the extract. Retry waits run on a fake clock, so Retry-After costs no real
time; only the read timeouts and the rate-limit test take real (sub-second to seconds) time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from certgen import make_leaf
from conftest import FakeClock
from openapi_check import OpenApiChecker, ValidatingTransport

from planner.cloudflare import CloudflareClient, Credentials, RateLimiter, RetryPolicy
from planner.sandbox import Sandbox

pytestmark = pytest.mark.slow

READ_TIMEOUT = 0.3
UploadFn = Callable[[CloudflareClient, str, str, str], object]


@pytest.fixture
def live() -> Sandbox:
    return Sandbox()  # real clock: the socket, its stalls and its rate window are real


@pytest.fixture
def cf(live: Sandbox, clock: FakeClock, openapi: OpenApiChecker) -> Iterator[CloudflareClient]:
    """A client on a real socket; its back-off and limiter waits only move the fake clock."""
    transport = ValidatingTransport(httpx.HTTPTransport(), openapi)
    with (
        live.serve() as base_url,
        CloudflareClient(
            Credentials.from_token("loopback-token"),
            base_url=base_url,
            transport=transport,
            rate_limiter=RateLimiter(clock=clock, sleep=clock.sleep),
            retry=RetryPolicy(clock=clock, sleep=clock.sleep, rand=lambda: 0.5),
            timeout=READ_TIMEOUT,
        ) as client,
    ):
        yield client
    assert not transport.violations


def zone_id(sandbox: Sandbox) -> str:
    return sandbox.zone_id("example.com")


def live_certs(sandbox: Sandbox, kind: str) -> list[str]:
    now = sandbox.clock()
    certificates = sandbox.account.certificates.values()
    return [c.id for c in certificates if c.kind == kind and not c.deleted(now)]


def methods(sandbox: Sandbox, method: str) -> int:
    return sum(1 for request in sandbox.requests if request.method == method)


UPLOADS = {
    "hostname": (CloudflareClient.upload_hostname_certificate, "*/hostnames/certificates"),
    "zone": (CloudflareClient.upload_zone_certificate, "*/origin_tls_client_auth"),
}


def test_a_burst_of_429s_is_waited_out_as_retry_after_says(
    cf: CloudflareClient, live: Sandbox, clock: FakeClock
) -> None:
    live.faults.add("rate_limited", method="GET", path="/zones", times=3, retry_after=2)
    started = clock()
    zones = cf.list_zones()
    assert {zone.name for zone in zones} == {"example.com", "example.net"}
    assert cf.stats.rate_limited == 3 and cf.stats.by_method == {"GET": 4}
    assert [r.status for r in live.requests] == [429, 429, 429, 200]
    assert clock() - started >= 3 * 2  # each Retry-After: 2 was honoured


@pytest.mark.parametrize("kind", sorted(UPLOADS))
def test_a_429_on_upload_is_retried_without_a_duplicate(
    cf: CloudflareClient, live: Sandbox, kind: str
) -> None:
    upload, path = UPLOADS[kind]
    live.faults.add("rate_limited", method="POST", path=path, times=2, retry_after=1)
    leaf = make_leaf("a.example.com")
    upload(cf, zone_id(live), leaf.cert_pem, leaf.key_pem)
    assert len(live_certs(live, kind)) == 1 and methods(live, "POST") == 3
    assert methods(live, "GET") == 0  # a 429 is not ambiguous: no need to look


def test_502_and_503_on_an_idempotent_write_are_retried(
    cf: CloudflareClient, live: Sandbox
) -> None:
    live.faults.add("server_error", method="PATCH", status=502, html=True)
    live.faults.add("server_error", method="PATCH", status=503)
    assert cf.patch_setting(zone_id(live), "ssl", "full").value == "full"
    assert [r.status for r in live.requests] == [502, 503, 200]
    assert live.account.zones[zone_id(live)].settings["ssl"].value == "full"


@pytest.mark.parametrize("status", [502, 503])
def test_a_5xx_upload_is_checked_then_uploaded_again_once(
    cf: CloudflareClient, live: Sandbox, status: int
) -> None:
    live.faults.add("server_error", method="POST", status=status, html=status == 502)
    leaf = make_leaf("a.example.com")
    cert = cf.upload_hostname_certificate(zone_id(live), leaf.cert_pem, leaf.key_pem)
    assert live_certs(live, "hostname") == [cert.id]
    # POST (5xx, not processed) -> GET list (not there) -> POST again.
    assert [(r.method, r.status) for r in live.requests] == [
        ("POST", status),
        ("GET", 200),
        ("POST", 200),
    ]


def test_a_connection_reset_is_retried(cf: CloudflareClient, live: Sandbox) -> None:
    live.faults.add("connection_reset", method="GET", times=2)
    assert cf.get_setting(zone_id(live), "tls_client_auth").value == "off"
    assert cf.stats.by_method == {"GET": 3}


def test_a_connection_reset_during_upload_leaves_exactly_one_certificate(
    cf: CloudflareClient, live: Sandbox
) -> None:
    live.faults.add("connection_reset", method="POST")
    leaf = make_leaf("a.example.com")
    cert = cf.upload_zone_certificate(zone_id(live), leaf.cert_pem, leaf.key_pem)
    assert live_certs(live, "zone") == [cert.id]
    assert methods(live, "POST") == 2


def test_a_read_timeout_is_retried(cf: CloudflareClient, live: Sandbox) -> None:
    live.faults.add("read_timeout", method="GET", delay=5.0)
    assert cf.get_zone_aop_enabled(zone_id(live)) is False
    assert cf.stats.by_method == {"GET": 2} and cf.stats.retries == 1


@pytest.mark.parametrize("kind", sorted(UPLOADS))
def test_an_upload_that_timed_out_after_landing_is_adopted(
    cf: CloudflareClient, live: Sandbox, kind: str
) -> None:
    upload, path = UPLOADS[kind]
    live.faults.add("read_timeout", method="POST", path=path, delay=5.0, commit=True)
    leaf = make_leaf("a.example.com")
    cert = upload(cf, zone_id(live), leaf.cert_pem, leaf.key_pem)
    assert live_certs(live, kind) == [cert.id]  # type: ignore[attr-defined]
    assert methods(live, "POST") == 1


@pytest.mark.parametrize("kind", sorted(UPLOADS))
def test_a_lost_upload_response_does_not_duplicate_the_certificate(
    cf: CloudflareClient, live: Sandbox, kind: str
) -> None:
    upload, path = UPLOADS[kind]
    # An older certificate with the same key is there too: only the fingerprint decides.
    older = make_leaf("a.example.com")
    older_id = live.seed_zone_certificate if kind == "zone" else live.seed_hostname_certificate
    seeded = older_id(zone_id(live), older.cert_pem)
    live.faults.add("lost_response", method="POST", path=path)
    leaf = make_leaf("a.example.com")

    cert = upload(cf, zone_id(live), leaf.cert_pem, leaf.key_pem)

    landed = [c for c in live_certs(live, kind) if c != seeded]
    assert landed == [cert.id]  # type: ignore[attr-defined]
    assert live.account.certificates[cert.id].fingerprint_sha256 == leaf.fingerprint_sha256  # type: ignore[attr-defined]
    assert methods(live, "POST") == 1


def test_three_times_the_quota_through_several_threads_gets_no_429(openapi: OpenApiChecker) -> None:
    """90 requests against a quota of 30 a second, from 6 threads sharing one client."""
    sandbox = Sandbox(rate_limit=(30, 1.0))
    transport = ValidatingTransport(httpx.HTTPTransport(), openapi)
    with (
        sandbox.serve() as base_url,
        CloudflareClient(
            Credentials.from_token("loopback-token"),
            base_url=base_url,
            transport=transport,
            rate_limiter=RateLimiter(30, 1.0),
            retry=RetryPolicy(max_attempts=1),  # a 429 would surface as an error
        ) as cf,
    ):
        zone = sandbox.zone_id("example.com")
        reads = [
            cf.list_zones,
            lambda: cf.get_setting(zone, "ssl"),
            lambda: cf.get_zone_aop_enabled(zone),
        ]
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(lambda i: reads[i % 3](), range(90)))
    assert len(results) == 90 and not transport.violations
    assert cf.stats.total == 90 and cf.stats.rate_limited == 0
    assert [r.status for r in sandbox.requests].count(429) == 0
    assert len(sandbox.requests) == 90


def test_whole_stack_debug_log_of_a_flaky_upload_holds_no_secret(
    cf: CloudflareClient, live: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Every logger at DEBUG, httpx and httpcore included (the CLI quiets those two, a program
    using the client may not)."""
    live.faults.add("lost_response", method="POST")
    leaf = make_leaf("a.example.com", key_type="rsa")
    with (
        caplog.at_level(logging.DEBUG),
        caplog.at_level(logging.DEBUG, logger="httpcore"),
        caplog.at_level(logging.DEBUG, logger="httpx"),
    ):
        cf.upload_hostname_certificate(zone_id(live), leaf.cert_pem, leaf.key_pem)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert {"aopctl.http", "httpcore.http11"} <= {record.name for record in caplog.records}
    assert "RemoteProtocolError" in text and "loopback-token" not in text
    key_lines = [line for line in leaf.key_pem.splitlines() if "-----" not in line]
    assert not [line for line in key_lines if line in text]
