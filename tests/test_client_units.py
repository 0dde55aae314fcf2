"""Cloudflare client building blocks: credentials, rate limiter, retry policy, redaction, parsing.

The limiter runs on a fake clock whose `sleep` advances time, so these tests never wait.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.cloudflare import (
    CloudflareClient,
    Credentials,
    HostnameAssociation,
    RateLimiter,
    RetryPolicy,
    ServerQuota,
    Setting,
    ZoneCertificate,
    parse_ratelimit,
    parse_retry_after,
)
from planner.cloudflare.redact import scrub_text, secret_fragments, summarise_body
from planner.errors import ApiError, CredentialsError

TOKEN = "tok-0123456789abcdefghij"


class FakeClock:
    """Monotonic time that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += max(0.0, seconds)


def _limiter(clock: FakeClock, limit: int = 100, window: float = 10.0, **kw: object) -> RateLimiter:
    return RateLimiter(limit, window, clock=clock, sleep=clock.sleep, **kw)  # type: ignore[arg-type]


def _max_in_window(times: list[float], window: float) -> int:
    """The most timestamps inside any half-open interval of length `window`."""
    best, recent = 0, deque[float]()
    for moment in times:
        recent.append(moment)
        while recent[0] <= moment - window:
            recent.popleft()
        best = max(best, len(recent))
    return best


# --- credentials -------------------------------------------------------------------------------


def test_token_credentials_send_bearer_and_never_show_the_token() -> None:
    credentials = Credentials.from_env({"CLOUDFLARE_API_TOKEN": TOKEN})
    assert credentials.headers() == {"Authorization": f"Bearer {TOKEN}"}
    assert credentials.describe() == "API token (CLOUDFLARE_API_TOKEN)"
    assert TOKEN not in repr(credentials)


def test_key_credentials_send_email_and_key() -> None:
    env = {"CLOUDFLARE_EMAIL": "ops@example.com", "CLOUDFLARE_API_KEY": "k" * 37}
    credentials = Credentials.from_env(env)
    assert credentials.headers() == {"X-Auth-Email": "ops@example.com", "X-Auth-Key": "k" * 37}
    assert "CLOUDFLARE_API_KEY" in credentials.describe()
    assert "k" * 37 not in repr(credentials) + credentials.describe()


def test_a_token_wins_over_a_key_pair() -> None:
    env = {"CLOUDFLARE_API_TOKEN": TOKEN, "CLOUDFLARE_EMAIL": "a@b.c", "CLOUDFLARE_API_KEY": "x"}
    assert Credentials.from_env(env).kind == "token"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "set CLOUDFLARE_API_TOKEN (recommended), or both CLOUDFLARE_EMAIL and CLOUDFLARE_"),
        ({"CLOUDFLARE_API_TOKEN": "  "}, "no Cloudflare credentials"),
        ({"CLOUDFLARE_EMAIL": "a@b.c"}, "CLOUDFLARE_EMAIL is set but CLOUDFLARE_API_KEY is not"),
        (
            {"CLOUDFLARE_API_KEY": "secret-key"},
            "CLOUDFLARE_API_KEY is set but CLOUDFLARE_EMAIL is not",
        ),
    ],
)
def test_missing_credentials_name_the_variables(env: dict[str, str], expected: str) -> None:
    with pytest.raises(CredentialsError) as caught:
        Credentials.from_env(env)
    assert expected in str(caught.value)
    assert "secret-key" not in str(caught.value)


def test_client_from_env_reads_the_base_url_and_refuses_a_bad_one() -> None:
    env = {"CLOUDFLARE_API_TOKEN": TOKEN, "CLOUDFLARE_BASE_URL": "http://127.0.0.1:9/client/v4/"}
    with CloudflareClient.from_env(env) as client:
        assert client.base_url == "http://127.0.0.1:9/client/v4"
        assert TOKEN not in repr(client)
    with pytest.raises(Exception, match="must start with http"):
        CloudflareClient.from_env({**env, "CLOUDFLARE_BASE_URL": "ftp://x"})


# --- rate limiter --------------------------------------------------------------------------------


def test_limiter_keeps_every_window_under_the_budget() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, limit=100, window=10.0)  # budget 90 with the 10 % margin
    times = []
    for _ in range(300):
        limiter.acquire()
        times.append(clock())
    assert limiter.budget == 90
    assert _max_in_window(times, 10.0) <= 90
    # ... and it is not needlessly slow: 300 requests take about 300 / 8.1 per second.
    assert clock() - 1000.0 < 300 / ((90 - 9) / 10.0) + 1


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(2, 400),
    window=st.floats(0.5, 300.0),
    margin=st.floats(0.0, 0.5),
    burst=st.none() | st.integers(1, 400),
    gaps=st.lists(st.floats(0.0, 50.0), min_size=1, max_size=200),
)
def test_limiter_window_bound_holds_for_any_arrival_pattern(
    limit: int, window: float, margin: float, burst: int | None, gaps: list[float]
) -> None:
    clock = FakeClock()
    limiter = _limiter(clock, limit=limit, window=window, margin=margin, burst=burst)
    times = []
    for gap in gaps:
        clock.sleep(gap)
        limiter.acquire()
        times.append(clock())
    assert _max_in_window(times, window) <= max(limiter.budget, 2)


def test_limiter_pauses_when_the_server_says_few_remain() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, limit=1200, window=300.0)
    policy = {"ratelimit-policy": '"default";q=1200;w=300'}
    limiter.observe({"ratelimit": '"default";r=500;t=40', **policy})
    with limiter.slot() as waited:
        assert waited == 0.0  # plenty left: no wait
    # Under the reserve (half the 10 % margin: 60 of 1200): wait for the server's reset.
    limiter.observe({"ratelimit": '"default";r=60;t=40', **policy})
    with limiter.slot() as waited:
        assert waited == pytest.approx(40.0)


def test_limiter_counts_requests_in_flight_against_what_remains() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, limit=1200, window=300.0)  # tuned for more than the server has
    quota = {"ratelimit": '"default";r=9;t=2', "ratelimit-policy": '"default";q=30;w=3'}
    held = [limiter.slot() for _ in range(4)]
    assert [slot.__enter__() for slot in held] == [0.0] * 4
    # 9 remain, 2 are the reserve (5 % of 30), 3 other requests may not be counted yet: 4 left.
    limiter.observe(quota)
    for slot in held:
        slot.__exit__(None, None, None)
    waits = [limiter.acquire() for _ in range(5)]
    assert waits[:4] == [0.0] * 4
    assert waits[4] > 0


def test_limiter_pause_stops_all_threads() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.pause(7.5)
    assert limiter.paused_until == pytest.approx(1007.5)
    assert limiter.acquire() == pytest.approx(7.5)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('"default";r=50;t=30', ServerQuota(50, 30.0)),
        ('"default";r=50;t=30, "burst";r=3;t=5', ServerQuota(3, 5.0)),
        ("default;r=7", ServerQuota(7, 0.0)),
        ("garbage", None),
        (None, None),
    ],
)
def test_ratelimit_header_parsing(header: str | None, expected: ServerQuota | None) -> None:
    assert parse_ratelimit(header) == expected


def test_rejects_a_nonsense_limit() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, 10.0)


# --- retry policy --------------------------------------------------------------------------------


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    low = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=0.25, rand=lambda: 0.0)
    high = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=0.25, rand=lambda: 1.0)
    assert [low.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.75, 1.5, 3.0, 6.0, 6.0]
    assert [high.backoff(n) for n in (1, 2, 3, 4, 5)] == [1.25, 2.5, 5.0, 10.0, 10.0]


def test_retry_after_is_a_floor_for_the_delay() -> None:
    policy = RetryPolicy(base_delay=0.5, jitter=0.2, rand=lambda: 0.5)
    assert policy.delay_for(1, retry_after=10.0) == pytest.approx(11.0)
    assert policy.delay_for(1, retry_after=None) == pytest.approx(0.5)


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=42), usegmt=True), now) == 42
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --- redaction -----------------------------------------------------------------------------------

KEY_PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRETSECRETSECRET\n"
    "-----END PRIVATE KEY-----\n"
)


def test_body_summary_redacts_private_keys_at_any_depth() -> None:
    body = {"config": [{"private_key": KEY_PEM, "certificate": "-----BEGIN CERTIFICATE-----\nAAA"}]}
    text = summarise_body(body)
    assert "SECRET" not in text
    assert '"private_key":"<redacted>"' in text
    assert "<PEM CERTIFICATE" in text


def test_scrub_removes_key_blocks_and_echoed_fragments() -> None:
    echoed = "bad key: MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRETSECRETSECRET"
    assert "SECRET" not in scrub_text(f"oops {KEY_PEM} oops")
    assert "SECRET" not in scrub_text(echoed, secret_fragments(KEY_PEM))
    assert "SECRET" not in summarise_body(f"<html>{KEY_PEM}</html>")


# --- lenient parsing -----------------------------------------------------------------------------


def test_results_ignore_unknown_fields_and_tolerate_missing_ones() -> None:
    cert = ZoneCertificate.from_api(
        {"id": "c1", "status": "active", "expires_on": "2100-01-01T00:00:00.123456789Z", "x": 1}
    )
    assert cert == ZoneCertificate(
        id="c1", status="active", expires_on=datetime(2100, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    )
    association = HostnameAssociation.from_api({"hostname": "a.example.com", "enabled": None})
    assert association.enabled is None and association.cert_id is None
    assert (
        Setting.from_api({"id": "ssl", "value": "full", "modified_on": "yesterday"}).modified_on
        is None
    )


def test_a_result_without_identity_is_an_api_error() -> None:
    with pytest.raises(ApiError, match="without a 'id'"):
        ZoneCertificate.from_api({"status": "active"})
