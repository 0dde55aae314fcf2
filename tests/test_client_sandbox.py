"""CloudflareClient against the sandbox, in-process, with every exchange validated.

Every request and answer passes through `ValidatingTransport` (the extract, with the notes §13
workarounds). Retry and limiter waits run on the fake clock that also drives the sandbox, so
Retry-After, back-off and rate windows cost no real time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from certgen import make_leaf
from conftest import BASE_URL, FakeClock
from openapi_check import OpenApiChecker, ValidatingTransport

from planner.cloudflare import (
    AssociationUpdate,
    CloudflareClient,
    Credentials,
    RateLimiter,
    ReadOnlyError,
    RetryPolicy,
)
from planner.errors import (
    ApiError,
    AuthenticationError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from planner.sandbox import Sandbox

TOKEN = "sandbox-token-0123456789abcdef"
ClientFactory = Callable[..., CloudflareClient]


@pytest.fixture
def make_client(clock: FakeClock) -> Iterator[ClientFactory]:
    """Clients whose retries and rate limiter sleep on the fake clock."""
    clients: list[CloudflareClient] = []

    def factory(transport: httpx.BaseTransport, **kw: object) -> CloudflareClient:
        kw.setdefault("rate_limiter", RateLimiter(clock=clock, sleep=clock.sleep))
        kw.setdefault("retry", RetryPolicy(clock=clock, sleep=clock.sleep, rand=lambda: 0.5))
        kw.setdefault("base_url", BASE_URL)
        client = CloudflareClient(Credentials.from_token(TOKEN), transport=transport, **kw)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def cf(make_client: ClientFactory, validated_transport: ValidatingTransport) -> CloudflareClient:
    return make_client(validated_transport)


def hostname_certs(sandbox: Sandbox) -> list[str]:
    """Hostname certificates that exist and are not on their way out."""
    now = sandbox.clock()
    certificates = sandbox.account.certificates.values()
    return [c.id for c in certificates if c.kind == "hostname" and not c.deleted(now)]


def posts(sandbox: Sandbox) -> int:
    return sum(1 for request in sandbox.requests if request.method == "POST")


# --- every operation ---------------------------------------------------------------------------


def test_every_operation_round_trips_against_the_extract(
    cf: CloudflareClient, sandbox: Sandbox, validated_transport: ValidatingTransport
) -> None:
    zone = cf.zone_by_name("example.com")
    assert zone.id == sandbox.zone_id("example.com") and zone.name == "example.com"

    assert cf.get_setting(zone.id, "ssl").value == "off"
    assert cf.patch_setting(zone.id, "ssl", "strict").value == "strict"
    assert cf.patch_setting(zone.id, "tls_client_auth", "on").value == "on"
    assert cf.get_setting(zone.id, "tls_client_auth").value == "on"
    assert cf.set_zone_aop_enabled(zone.id, True) is True
    assert cf.get_zone_aop_enabled(zone.id) is True

    zone_leaf = make_leaf("origin.example.com")
    zone_cert = cf.upload_zone_certificate(zone.id, zone_leaf.cert_pem, zone_leaf.key_pem)
    assert zone_cert.status == "active" and zone_cert.expires_on is not None
    assert [c.id for c in cf.list_zone_certificates(zone.id)] == [zone_cert.id]
    assert cf.get_zone_certificate(zone.id, zone_cert.id).issuer == zone_cert.issuer

    leaf = make_leaf("app.example.com", sans=["app.example.com"])
    cert = cf.upload_hostname_certificate(zone.id, leaf.cert_pem, leaf.key_pem)
    assert cert.serial_number and cert.uploaded_on is not None
    assert [c.id for c in cf.list_hostname_certificates(zone.id)] == [cert.id]
    assert cf.get_hostname_certificate(zone.id, cert.id).id == cert.id

    bound = cf.put_hostname_associations(
        zone.id,
        [
            AssociationUpdate("app.example.com", cert.id, True),
            AssociationUpdate("api.example.com", cert.id, False),
        ],
    )
    assert {(a.hostname, a.cert_id, a.enabled) for a in bound} == {
        ("app.example.com", cert.id, True),
        ("api.example.com", cert.id, False),
    }
    detail = cf.get_hostname_association(zone.id, "app.example.com")
    assert (detail.cert_id, detail.enabled, detail.cert_status) == (cert.id, True, "active")
    listed = cf.list_hostname_associations(zone.id)
    assert sorted(a.hostname for a in listed) == ["api.example.com", "app.example.com"]

    voided = [AssociationUpdate(h, cert.id, None) for h in ("app.example.com", "api.example.com")]
    cf.put_hostname_associations(zone.id, voided)
    assert cf.list_hostname_associations(zone.id) == []
    assert cf.delete_hostname_certificate(zone.id, cert.id) is not None
    assert cf.set_zone_aop_enabled(zone.id, False) is False
    assert cf.delete_zone_certificate(zone.id, zone_cert.id) is not None
    assert all(c.deleted(sandbox.clock()) for c in sandbox.account.certificates.values())
    assert len(sandbox.account.certificates) == 2

    assert cf.stats.as_dict() == {
        "by_method": {"DELETE": 2, "GET": 11, "PATCH": 2, "POST": 2, "PUT": 4},
        "total": 21,
        "rate_limited": 0,
        "retries": 0,
    }
    assert validated_transport.exchanges == len(sandbox.requests) == 21


def test_an_empty_association_batch_sends_nothing(cf: CloudflareClient, sandbox: Sandbox) -> None:
    assert cf.put_hostname_associations(sandbox.zone_id("example.com"), []) == []
    assert sandbox.requests == []


# --- pagination ----------------------------------------------------------------------------------


def test_zones_are_followed_across_pages(
    make_client: ClientFactory, clock: FakeClock, openapi: OpenApiChecker
) -> None:
    names = [f"zone{i:03d}.example" for i in range(120)]
    sandbox = Sandbox(names, clock=clock, sleep=clock.sleep)
    cf = make_client(ValidatingTransport(sandbox.transport(), openapi))
    assert sorted(zone.name for zone in cf.list_zones()) == names
    pages = [(r.query["page"], r.query["per_page"]) for r in sandbox.requests]
    assert pages == [("1", "50"), ("2", "50"), ("3", "50")]
    assert cf.zone_by_name("ZONE042.example.").id == sandbox.zone_id("zone042.example")


def test_associations_are_followed_across_pages_with_status_all(
    cf: CloudflareClient, sandbox: Sandbox
) -> None:
    zone_id = sandbox.zone_id("example.com")
    active = sandbox.seed_hostname_certificate(zone_id, make_leaf("a.example.com").cert_pem)
    failed = sandbox.seed_hostname_certificate(
        zone_id, make_leaf("b.example.com").cert_pem, status="deployment_timed_out"
    )
    expected = {}
    for i in range(23):
        hostname, cert_id = f"h{i:02d}.example.com", (failed if i % 5 == 0 else active)
        sandbox.seed_association(zone_id, hostname, cert_id, enabled=i % 2 == 0)
        expected[hostname] = (cert_id, i % 2 == 0)

    listed = cf.list_hostname_associations(zone_id, per_page=10)

    assert {a.hostname: (a.cert_id, a.enabled) for a in listed} == expected
    assert {a.status for a in listed} == {"active", "deployment_timed_out"}
    pages = [(r.query["page"], r.query["status"]) for r in sandbox.requests]
    assert pages == [("1", "all"), ("2", "all"), ("3", "all")]


# --- errors --------------------------------------------------------------------------------------


def test_api_errors_are_typed_and_carry_cloudflare_codes(
    cf: CloudflareClient, sandbox: Sandbox
) -> None:
    zone_id = sandbox.zone_id("example.com")
    missing = "2458ce5a-0c35-4c7f-82c7-8e9487d3ff60"
    with pytest.raises(NotFoundError) as not_found:
        cf.get_hostname_certificate(zone_id, missing)
    assert not_found.value.status == 404 and not_found.value.codes == [1407]

    leaf, other = make_leaf("a.example.com"), make_leaf("b.example.com")
    with pytest.raises(ApiError) as mismatch:
        cf.upload_hostname_certificate(zone_id, leaf.cert_pem, other.key_pem)
    assert type(mismatch.value) is ApiError and mismatch.value.status == 400
    assert mismatch.value.codes == [1404]
    assert other.key_pem.splitlines()[1] not in str(mismatch.value)

    with pytest.raises(NotFoundError, match=r"'nowhere\.example' not found.*API token"):
        cf.zone_by_name("nowhere.example")


def test_rejected_credentials_say_which_credential_without_its_value(
    cf: CloudflareClient, sandbox: Sandbox
) -> None:
    sandbox.revoke(TOKEN)
    with pytest.raises(AuthenticationError) as caught:
        cf.list_zones()
    message = str(caught.value)
    assert "API token (CLOUDFLARE_API_TOKEN)" in message and "10000" in message
    assert TOKEN not in message and caught.value.status == 403


def test_retries_are_bounded_and_an_html_error_page_is_understood(
    cf: CloudflareClient, sandbox: Sandbox
) -> None:
    sandbox.faults.add("server_error", method="GET", times=None, status=502, html=True)
    with pytest.raises(ServerError) as caught:
        cf.get_zone_aop_enabled(sandbox.zone_id("example.com"))
    assert caught.value.status == 502
    assert "non-JSON response (text/html): 502 Bad gateway" in str(caught.value)
    assert len(sandbox.requests) == 5 and cf.stats.retries == 4


def test_a_retry_after_beyond_the_time_bound_fails_at_once(
    cf: CloudflareClient, sandbox: Sandbox
) -> None:
    sandbox.faults.add("rate_limited", times=None, retry_after=600)
    with pytest.raises(RateLimitedError, match="retry after 600s") as caught:
        cf.list_zones()
    assert caught.value.retry_after == 600 and caught.value.codes == [971]
    assert len(sandbox.requests) == 1 and cf.stats.rate_limited == 1


def test_an_upload_that_never_lands_is_retried_a_bounded_number_of_times(
    cf: CloudflareClient, sandbox: Sandbox
) -> None:
    sandbox.faults.add("server_error", method="POST", times=None, status=503)
    leaf = make_leaf("a.example.com")
    with pytest.raises(ServerError):
        cf.upload_hostname_certificate(sandbox.zone_id("example.com"), leaf.cert_pem, leaf.key_pem)
    assert posts(sandbox) == 3 and hostname_certs(sandbox) == []


def test_a_delete_whose_answer_was_lost_is_not_an_error_on_retry(
    cf: CloudflareClient, sandbox: Sandbox
) -> None:
    zone_id = sandbox.zone_id("example.com")
    cert_id = sandbox.seed_hostname_certificate(zone_id, make_leaf("a.example.com").cert_pem)
    sandbox.faults.add("lost_response", method="DELETE")
    assert cf.delete_hostname_certificate(zone_id, cert_id) is None
    assert hostname_certs(sandbox) == []
    assert [r.status for r in sandbox.requests if r.method == "DELETE"] == [None, 404]
    with pytest.raises(NotFoundError):  # a first-attempt 404 is still an error
        cf.delete_hostname_certificate(zone_id, cert_id)


# --- read-only mode ------------------------------------------------------------------------------


def test_read_only_client_refuses_writes_before_sending(
    make_client: ClientFactory, validated_transport: ValidatingTransport, sandbox: Sandbox
) -> None:
    cf = make_client(validated_transport, read_only=True)
    zone_id = sandbox.zone_id("example.com")
    leaf = make_leaf("a.example.com")
    writes: list[Callable[[], object]] = [
        lambda: cf.patch_setting(zone_id, "ssl", "full"),
        lambda: cf.set_zone_aop_enabled(zone_id, True),
        lambda: cf.upload_zone_certificate(zone_id, leaf.cert_pem, leaf.key_pem),
        lambda: cf.upload_hostname_certificate(zone_id, leaf.cert_pem, leaf.key_pem),
        lambda: cf.delete_hostname_certificate(zone_id, "2458ce5a-0c35-4c7f-82c7-8e9487d3ff60"),
        lambda: cf.put_hostname_associations(
            zone_id, [AssociationUpdate("a.example.com", "x", None)]
        ),
    ]
    for write in writes:
        with pytest.raises(ReadOnlyError, match="read-only"):
            write()
    assert sandbox.requests == [] and cf.stats.total == 0
    assert cf.get_setting(zone_id, "ssl").value == "off"  # reads still work


# --- debug logging -------------------------------------------------------------------------------


def test_debug_log_of_an_upload_holds_neither_the_key_nor_the_token(
    cf: CloudflareClient, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    leaf = make_leaf("a.example.com", key_type="rsa")
    sandbox.faults.add("server_error", method="POST", status=503)  # retries are logged too
    with caplog.at_level(logging.DEBUG, logger="aopctl.http"):
        cf.upload_hostname_certificate(sandbox.zone_id("example.com"), leaf.cert_pem, leaf.key_pem)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "-> POST" in text and "<- 200 POST" in text and "<- 503 POST" in text
    assert "'authorization': '<redacted>'" in text and '"private_key":"<redacted>"' in text
    assert TOKEN not in text
    key_lines = [line for line in leaf.key_pem.splitlines() if "-----" not in line]
    assert not [line for line in key_lines if line in text]
    assert "PRIVATE KEY" not in text


# --- the rate limit header on its own ------------------------------------------------------------


def test_the_servers_ratelimit_header_alone_avoids_a_lockout(
    make_client: ClientFactory, clock: FakeClock, openapi: OpenApiChecker
) -> None:
    """A client tuned for 1200/300 against a quota of 30 a minute: the header slows it down."""
    sandbox = Sandbox(rate_limit=(30, 60.0), clock=clock, sleep=clock.sleep)
    cf = make_client(ValidatingTransport(sandbox.transport(), openapi))
    zone_id = sandbox.zone_id("example.com")
    started = clock()
    for _ in range(100):
        cf.get_setting(zone_id, "ssl")
    assert cf.stats.rate_limited == 0
    assert 429 not in {request.status for request in sandbox.requests}
    assert clock() - started >= 3 * 60  # 100 requests at under 30 a minute


def test_a_fresh_sandbox_window_is_spent_without_the_limiter_waiting(
    make_client: ClientFactory,
    clock: FakeClock,
    sandbox: Sandbox,
    validated_transport: ValidatingTransport,
) -> None:
    """500 reads from 8 threads fit the 1200/300 window: the server's count lets them all go,
    where the bucket alone would stop after its burst of 108 and creep at 3.24 a second."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.sleep(seconds)

    cf = make_client(validated_transport, rate_limiter=RateLimiter(clock=clock, sleep=sleep))
    zone_id = sandbox.zone_id("example.com")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: cf.get_setting(zone_id, "ssl"), range(500)))
    assert waits == []
    assert cf.stats.total == 500 and cf.stats.rate_limited == 0
    assert 429 not in {request.status for request in sandbox.requests}


def test_a_nearly_spent_sandbox_window_makes_the_client_wait_not_fail(
    make_client: ClientFactory, clock: FakeClock, openapi: OpenApiChecker
) -> None:
    """Another tool has spent 95 of 100 a minute: the client waits for the reset, no 429."""
    sandbox = Sandbox(rate_limit=(100, 60.0), clock=clock, sleep=clock.sleep)
    transport = ValidatingTransport(sandbox.transport(), openapi)
    zone_id = sandbox.zone_id("example.com")
    with httpx.Client(
        transport=transport, base_url=BASE_URL, headers={"Authorization": "Bearer other-tool"}
    ) as other_tool:
        for _ in range(95):
            other_tool.get(f"/zones/{zone_id}/settings/ssl").raise_for_status()
    cf = make_client(transport, retry=RetryPolicy(max_attempts=1))  # a 429 would be an error
    started = clock()
    for _ in range(20):
        cf.get_setting(zone_id, "ssl")
    assert cf.stats.rate_limited == 0
    assert 429 not in {request.status for request in sandbox.requests}
    assert clock() >= started + 60  # waited for the sandbox's window to end
    assert not transport.violations


def test_cf_ray_id_is_kept_on_errors(cf: CloudflareClient, sandbox: Sandbox) -> None:
    with pytest.raises(ApiError) as caught:
        cf.get_zone_aop_enabled("0" * 32)  # well formed, no such zone
    ray = f"{len(sandbox.requests):016x}-SBX"  # the sandbox numbers its rays
    assert caught.value.ray_id == ray and caught.value.status == 404
    assert f"cf-ray {ray}" in str(caught.value)
