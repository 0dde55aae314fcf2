"""Cloudflare client building blocks: credentials, rate limiter, retry policy, redaction, parsing.

The limiter runs on a fake clock whose `sleep` advances time, so these tests never wait.
"""

from __future__ import annotations

import contextlib
import math
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
from planner.cloudflare.ratelimit import Ticket
from planner.cloudflare.redact import scrub_text, secret_fragments, summarise_body
from planner.errors import AopctlError, ApiError, CredentialsError

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


POLICY_1200 = '"default";q=1200;w=300'


class FakeQuota:
    """Cloudflare's fixed-window count on the fake clock; `count()` is one request arriving."""

    def __init__(self, clock: FakeClock, quota: int, window: float) -> None:
        self.clock, self.quota, self.window = clock, quota, window
        self.start, self.used, self.most = -math.inf, 0, 0

    def count(self) -> dict[str, str]:
        """Count a request; the headers its answer carries."""
        now = self.clock()
        if now >= self.start + self.window:
            self.start, self.used = now, 0
        self.used += 1
        self.most = max(self.most, self.used)
        reset = max(1, math.ceil(self.start + self.window - now))
        return {
            "ratelimit": f'"default";r={max(0, self.quota - self.used)};t={reset}',
            "ratelimit-policy": f'"default";q={self.quota};w={math.ceil(self.window)}',
        }


def _send(limiter: RateLimiter, server: FakeQuota) -> Ticket:
    """One request at a time: wait, get counted, read the answer."""
    with limiter.slot() as ticket:
        limiter.observe(server.count(), ticket)
    return ticket


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


@pytest.mark.parametrize(
    ("variable", "pasted"),
    [
        ("CLOUDFLARE_API_TOKEN", "Y3J2a2xhc2RqZmxrYXNq\r\nexport"),  # two lines of a paste
        ("CLOUDFLARE_API_TOKEN", "Y3J2a2xhc2R\u2019jZmxrYXNq"),  # a smart quote
        ("CLOUDFLARE_API_KEY", "abcdef0123456789 abcdef0123456789"),
    ],
)
def test_a_credential_no_header_can_carry_is_refused_unseen(variable: str, pasted: str) -> None:
    # httpx would quote it, escapes and all, in an error that redaction cannot match.
    env = {"CLOUDFLARE_EMAIL": "ops@example.com", variable: pasted}
    with pytest.raises(CredentialsError) as caught:
        Credentials.from_env(env)
    assert f"{variable} holds a space, a line break or a non-ASCII character" in str(caught.value)
    assert not any(part in str(caught.value) for part in ("Y3J2", "abcdef0123"))


def test_client_from_env_reads_the_base_url_and_refuses_a_bad_one() -> None:
    env = {"CLOUDFLARE_API_TOKEN": TOKEN, "CLOUDFLARE_BASE_URL": "http://127.0.0.1:9/client/v4/"}
    with CloudflareClient.from_env(env) as client:
        assert client.base_url == "http://127.0.0.1:9/client/v4"
        assert TOKEN not in repr(client)
    for bad in ("ftp://x", "http://[::1/client/v4", "https://"):
        with pytest.raises(AopctlError, match="is not an http:// or https:// URL"):
            CloudflareClient.from_env({**env, "CLOUDFLARE_BASE_URL": bad})
    with pytest.raises(AopctlError, match="must not hold a user or password") as refused:
        CloudflareClient.from_env({**env, "CLOUDFLARE_BASE_URL": "https://u:proxypass99@x/"})
    assert "proxypass99" not in str(refused.value)


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


def test_the_header_missing_or_unreadable_changes_nothing() -> None:
    """A proxy that strips `Ratelimit` leaves the bucket's own guarantee in force."""
    stripped = [{}, {"ratelimit-policy": POLICY_1200}, {"ratelimit": "garbage"}]

    def send_times(observed: list[dict[str, str]]) -> list[float]:
        clock = FakeClock()
        limiter = _limiter(clock, limit=1200, window=300.0)
        times = []
        for index in range(1500):
            with limiter.slot() as ticket:
                times.append(clock())
                if observed:
                    limiter.observe(observed[index % len(observed)], ticket)
        return times

    times = send_times(stripped)
    assert times == send_times([])
    assert _max_in_window(times, 300.0) <= 1080


def test_a_fresh_server_window_is_spent_without_waiting() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, limit=1200, window=300.0)
    server = FakeQuota(clock, 1200, 300.0)
    assert all(_send(limiter, server).waited == 0.0 for _ in range(500))
    assert clock() == 1000.0  # the bucket alone would have needed (500 - 108) / 3.24 s
    # The count goes on to a reserve of the whole margin (120), then waits for the reset.
    while _send(limiter, server).waited == 0.0:
        pass
    assert server.most == 1200 - 120
    assert server.start >= 1300.0  # the next request waited for the reset
    assert all(_send(limiter, server).waited == 0.0 for _ in range(500))  # a new window


def test_the_server_count_lowers_the_bucket_and_a_spent_count_waits_for_the_reset() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, limit=1200, window=300.0)
    limiter.observe({"ratelimit": '"default";r=125;t=40', "ratelimit-policy": POLICY_1200})
    assert [limiter.acquire().waited for _ in range(5)] == [0.0] * 5  # 125 - a reserve of 120
    sixth = limiter.acquire().waited
    # Past the reset the bucket refills from what the count left (nothing), not a burst.
    assert sixth == pytest.approx(40.0 + 1 / limiter.rate)
    limiter.observe({"ratelimit": '"default";r=0;t=30', "ratelimit-policy": POLICY_1200})
    assert limiter.acquire().waited == pytest.approx(30.0 + 1 / limiter.rate)


def test_a_count_without_a_reset_time_holds_for_a_second() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, limit=1200, window=300.0)
    limiter.observe({"ratelimit": "default;r=0"})
    assert limiter.acquire().waited == pytest.approx(1.0 + 1 / limiter.rate)


def test_limiter_counts_requests_in_flight_against_what_remains() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, limit=1200, window=300.0)  # tuned for more than the server has
    quota = {"ratelimit": '"default";r=9;t=2', "ratelimit-policy": '"default";q=30;w=3'}
    held = [limiter.slot() for _ in range(4)]
    tickets = [slot.__enter__() for slot in held]
    assert [ticket.waited for ticket in tickets] == [0.0] * 4
    # 9 remain, 3 are the reserve (10 % of 30), 3 other requests may not be counted yet: 3 left.
    limiter.observe(quota, tickets[1])
    for slot in held:
        slot.__exit__(None, None, None)
    waits = [limiter.acquire().waited for _ in range(4)]
    assert waits[:3] == [0.0] * 3
    assert waits[3] > 0


def test_stale_answers_arriving_late_never_raise_the_count() -> None:
    """Five requests counted in order, answered newest first: the oldest answer, read last,
    reports 4 more remaining than the truth and is charged the 4 requests it may miss."""
    clock = FakeClock()
    limiter = _limiter(clock)  # 100 a window: a reserve of 10
    server = FakeQuota(clock, 100, 10.0)
    tickets = [limiter.acquire() for _ in range(5)]
    answers = [server.count() for _ in tickets]  # r = 99, 98, ..., 95
    for ticket, headers in reversed(list(zip(tickets, answers, strict=True))):
        limiter.observe(headers, ticket)
        limiter.release()
    free = 0
    while limiter.acquire().waited == 0.0:
        free += 1
    assert free == 95 - 10  # exactly what the newest count allows, no more


class _WouldWait(Exception):
    pass


def _refuse_to_wait(seconds: float) -> None:
    raise _WouldWait


@settings(max_examples=150, deadline=None)
@given(
    quota=st.integers(10, 1500),
    steps=st.lists(st.tuples(st.sampled_from(["send", "count", "answer"]), st.integers(0, 99))),
)
def test_answers_in_any_order_never_let_more_go_than_the_server_allows(
    quota: int, steps: list[tuple[str, int]]
) -> None:
    """Concurrent requests are counted and answered in any order; within one server window
    the limiter never lets more go than the quota less the reserve."""
    clock = FakeClock()  # never moves: the limiter refuses to wait instead
    limiter = RateLimiter(quota, 300.0, clock=clock, sleep=_refuse_to_wait)
    server = FakeQuota(clock, quota, 300.0)
    sent: list[Ticket] = []
    counted: list[tuple[Ticket, dict[str, str]]] = []
    # Then count whatever is left, and answer it newest first: the last answer read is stale.
    for action, pick in [*steps, *[("count", 0)] * len(steps), *[("answer", -1)] * len(steps)]:
        if action == "send":
            with contextlib.suppress(_WouldWait):
                sent.append(limiter.acquire())
        elif action == "count" and sent:
            counted.append((sent.pop(pick % len(sent)), server.count()))
        elif action == "answer" and counted:
            ticket, headers = counted.pop(pick % len(counted))
            limiter.observe(headers, ticket)
            limiter.release()
    with contextlib.suppress(_WouldWait):
        while True:
            limiter.acquire()
            server.count()
    assert server.most <= quota - math.ceil(quota * limiter.margin)


def test_a_retry_after_pause_holds_whatever_the_count_says() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, limit=1200, window=300.0)
    limiter.observe({"ratelimit": '"default";r=900;t=200', "ratelimit-policy": POLICY_1200})
    limiter.pause(7.5)
    assert limiter.paused_until == pytest.approx(1007.5)
    assert limiter.acquire().waited == pytest.approx(7.5)


def test_a_long_wait_is_announced_once_and_pacing_never() -> None:
    clock = FakeClock()
    announced: list[float] = []
    limiter = _limiter(clock, limit=1200, window=300.0, on_long_wait=announced.append)
    for _ in range(limiter.burst + 20):  # past the burst: the bucket paces, a fraction of a second
        limiter.acquire()
    assert announced == []

    # The server's count is spent for 290 s: one notice however often senders re-check.
    limiter.observe({"ratelimit": '"default";r=120;t=290', "ratelimit-policy": POLICY_1200})
    threads = [threading.Thread(target=limiter.acquire) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(announced) == 1
    assert 290 <= announced[0] < 291

    limiter.pause(30.0)  # a 429 later on is a new wait, announced again
    limiter.acquire()
    assert len(announced) == 2
    assert 30 <= announced[1] < 31


def test_limiter_pause_stops_all_threads() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.pause(7.5)
    assert limiter.paused_until == pytest.approx(1007.5)
    assert limiter.acquire().waited == pytest.approx(7.5)


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
