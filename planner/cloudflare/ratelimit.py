"""A client-side, thread-safe token bucket that keeps aopctl under Cloudflare's API rate limit.

Cloudflare allows 1200 requests per 5 minutes per user and answers every request over it with
429 for the next five minutes (notes §7-8). Getting locked out mid-apply is far worse than going
a little slower.

Without word from the server the bucket is sized for the worst case: with a budget
B = limit × (1 - margin) split into a burst b and a refill rate (B - b) / window, no window of
`window` seconds - sliding or fixed - ever sees more than B requests leave the client.

Cloudflare also reports what is left (`Ratelimit: "default";r=<remaining>;t=<reset seconds>`,
always sent). When an answer carries it, the bucket follows the server's own count instead,
raising as well as lowering: the tokens become r - reserve - our requests it may not have
counted yet, and they hold until the reported reset. This is safe because:

- r is the server's count, so it already includes every tool spending the same quota, and the
  reserve (the whole margin of the server's quota) leaves room for their requests counted after
  the answer we saw: with no foreign traffic we stop a full margin below the quota, as the bucket
  alone would.
- Answers from concurrent threads arrive out of order, and an older one reports a higher r. So
  each request carries a ticket, and its answer is charged with every request of ours that may
  be missing from its r: those sent after it, and those still unanswered when it was sent (a
  request answered before ours was sent was surely counted before ours). However stale, an
  answer thus never lets more of our requests go than its r allows; other tools' requests
  counted since are what the reserve is for.
- Nothing refills while the count holds. Past the reset, without fresh word, the bucket refills
  at its own rate from what was left, capped at the burst: never more than the server granted.
  A spent count (r at or under the reserve) therefore waits for the reset.

A new client knows nothing of what earlier commands or other tools spent until its first
answers arrive: the requests already in flight by then (the refresh's parallelism, 8) may eat
into the reserve, and meet 429s when fewer than that many were left; a 429 pauses everything
(below).

Without the header (a proxy strips it) the bucket alone applies. A 429 pauses every thread for
its `Retry-After`, whatever the count says.

A wait of `notice_after` seconds or more (a spent count waiting for its reset, a 429's pause) is
announced once through `on_long_wait`, so a command that stops for minutes says why.

Clock and sleep are injectable so tests can drive the bucket without waiting.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

DEFAULT_LIMIT = 1200
DEFAULT_WINDOW = 300.0
DEFAULT_MARGIN = 0.1
DEFAULT_NOTICE_AFTER = 5.0
_MIN_WAIT = 0.001
_EPSILON = 1e-9


@dataclass(frozen=True)
class ServerQuota:
    """What one `Ratelimit` header says: requests remaining, seconds until the window resets."""

    remaining: int
    reset: float


@dataclass(frozen=True)
class Ticket:
    """Leave to send one request, and what its answer's count may be missing."""

    waited: float  # seconds spent waiting for it
    number: int  # how many requests the limiter had let go, this one included
    unanswered_before: int  # requests sent earlier and still unanswered when this one went


def _structured_items(header: str) -> list[dict[str, str]]:
    """Parse an RFC 8941-style list such as `"default";r=50;t=30, "burst";r=9;t=5`."""
    items = []
    for member in header.split(","):
        parts = [part.strip() for part in member.split(";")]
        params = {"": parts[0].strip('"')}
        for part in parts[1:]:
            key, _, value = part.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        items.append(params)
    return items


def parse_ratelimit(header: str | None) -> ServerQuota | None:
    """The most constraining policy in a `Ratelimit` header, or None when absent/unreadable."""
    quotas = []
    for item in _structured_items(header or ""):
        try:
            quotas.append(ServerQuota(int(item["r"]), float(item.get("t", "0"))))
        except (KeyError, ValueError):
            continue
    return min(quotas, key=lambda quota: quota.remaining, default=None)


def parse_policy_quota(header: str | None) -> int | None:
    """The smallest quota `q` in a `Ratelimit-Policy` header, or None."""
    quotas = []
    for item in _structured_items(header or ""):
        try:
            quotas.append(int(item["q"]))
        except (KeyError, ValueError):
            continue
    return min(quotas, default=None)


class RateLimiter:
    """A token bucket shared by every thread that sends requests through one client."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window: float = DEFAULT_WINDOW,
        *,
        margin: float = DEFAULT_MARGIN,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_long_wait: Callable[[float], None] | None = None,
        notice_after: float | None = None,
    ) -> None:
        if limit < 1 or window <= 0 or not 0 <= margin < 1:
            raise ValueError("rate limit needs limit >= 1, window > 0 and 0 <= margin < 1")
        self.limit = limit
        self.window = window
        self.margin = margin
        self.budget = max(1, math.floor(limit * (1 - margin)))
        # burst + rate × window == budget; a budget of 1 cannot be split and allows 2 per window.
        wanted = burst if burst is not None else self.budget // 10
        self.burst = max(1, min(wanted, self.budget - 1))
        self.rate = max(self.budget - self.burst, 1) / window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._updated = clock()
        self._paused_until = 0.0
        self._count_until = -math.inf  # the server's count sets the tokens until then
        self._sent = 0
        self._in_flight = 0
        self._on_long_wait = on_long_wait
        self._notice_after = DEFAULT_NOTICE_AFTER if notice_after is None else notice_after
        self._announced_until = -math.inf

    def acquire(self) -> Ticket:
        """Block until a request may be sent; the ticket says how long that took.

        Every acquire must be followed by one `release()` once the answer (or failure) is in;
        `slot()` pairs them. Pass the ticket to `observe()` with the answer's headers.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                wait = self._take_or_wait(now)
                if wait <= 0:
                    self._sent += 1
                    ticket = Ticket(waited, self._sent, self._in_flight)
                    self._in_flight += 1
                    return ticket
                long_wait = self._long_wait_to_announce(now)
            if long_wait is not None and self._on_long_wait is not None:
                self._on_long_wait(long_wait)
            # At least a millisecond: a shorter wait may not move a coarse (or fake) clock at all.
            wait = max(wait, _MIN_WAIT)
            self._sleep(wait)
            waited += wait

    def release(self) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    @contextmanager
    def slot(self) -> Iterator[Ticket]:
        """`with limiter.slot() as ticket:` around one request."""
        ticket = self.acquire()
        try:
            yield ticket
        finally:
            self.release()

    def _take_or_wait(self, now: float) -> float:
        self._refill(now)
        if now < self._paused_until:
            return self._paused_until - now
        if self._tokens >= 1 - _EPSILON:  # float refill may stop a hair short of a whole token
            self._tokens -= 1
            return 0.0
        # While a spent count holds this only re-checks: an answer in flight may bring a new one.
        return (1 - self._tokens) / self.rate

    def _long_wait_to_announce(self, now: float) -> float | None:
        """Seconds until sending resumes, when that is long and not yet announced.

        A spent count re-checks in short steps (an answer in flight may bring a new count), so
        the wait is estimated from the pause or the count's reset, not from one step."""
        resume = max(self._paused_until, self._count_until, now)
        resume += max(0.0, 1 - self._tokens) / self.rate
        if resume - now < self._notice_after or now < self._announced_until:
            return None
        self._announced_until = resume
        return resume - now

    def _refill(self, now: float) -> None:
        """Refill at the conservative rate, but not while the server's count holds."""
        if now < self._count_until:
            return
        since = max(self._updated, self._count_until)
        self._tokens = min(float(self.burst), self._tokens + max(0.0, now - since) * self.rate)
        self._updated = now

    def pause(self, seconds: float) -> None:
        """Stop every sender for `seconds` (the server said so, e.g. with Retry-After)."""
        with self._lock:
            now = self._clock()
            # A refusal proves the count wrong: after the pause the bucket alone refills.
            self._count_until = min(self._count_until, now)
            self._refill(now)
            self._paused_until = max(self._paused_until, now + max(0.0, seconds))
            self._tokens = min(self._tokens, 0.0)

    def observe(self, headers: Mapping[str, str], ticket: Ticket | None = None) -> None:
        """Follow the server's count of what remains, if the answer to `ticket` reports it.

        Without a ticket (an answer to no request of ours) every request in flight may be
        missing from the count.
        """
        quota = parse_ratelimit(headers.get("ratelimit"))
        if quota is None:
            return  # no count (a proxy stripped it): the bucket alone keeps the budget
        server_limit = parse_policy_quota(headers.get("ratelimit-policy")) or self.limit
        reserve = max(1, math.ceil(self.margin * server_limit))
        with self._lock:
            now = self._clock()
            usable = quota.remaining - reserve - self._maybe_uncounted(ticket)
            self._tokens = float(max(0, usable))
            # No reset given: hold the count a second, so a spent one still waits a little.
            self._count_until = now + (quota.reset or 1.0)
            self._updated = now

    def _maybe_uncounted(self, ticket: Ticket | None) -> int:
        """Our requests that may be missing from the count in the answer to `ticket`.

        A request answered before `ticket` went was counted before it; the ones still in
        flight then, or sent since, may not have been.
        """
        if ticket is None:
            return self._in_flight
        return ticket.unanswered_before + self._sent - ticket.number

    @property
    def paused_until(self) -> float:
        with self._lock:
            return self._paused_until
