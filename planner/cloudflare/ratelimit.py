"""A client-side, thread-safe token bucket that keeps aopctl under Cloudflare's API rate limit.

Cloudflare allows 1200 requests per 5 minutes per user and answers every request over it with
429 for the next five minutes (notes §7-8). Getting locked out mid-apply is far worse than going
a little slower, so the bucket is sized for the worst case: with a budget B = limit × (1 - margin)
split into a burst b and a refill rate (B - b) / window, no window of `window` seconds - sliding
or fixed - ever sees more than B requests leave the client.

Cloudflare also reports what is left (`Ratelimit: "default";r=<remaining>;t=<reset seconds>`).
Other tools spend the same quota, so `observe()` lowers the bucket to what the server says
remains, minus the requests still in flight (sent, maybe not yet counted) and a reserve of half
the margin, and pauses until the reset when nothing is left. Half the margin, because the
bucket alone keeps our own traffic a whole margin below the quota: only foreign traffic (or a
server quota smaller than configured) makes the header slow us down. A 429 pauses every thread
for its `Retry-After`.

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
_MIN_WAIT = 0.001
_EPSILON = 1e-9


@dataclass(frozen=True)
class ServerQuota:
    """What one `Ratelimit` header says: requests remaining, seconds until the window resets."""

    remaining: int
    reset: float


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
        self._in_flight = 0

    def acquire(self) -> float:
        """Block until a request may be sent; returns the seconds spent waiting.

        Every acquire must be followed by one `release()` once the answer (or failure) is in;
        `slot()` pairs them.
        """
        waited = 0.0
        while True:
            with self._lock:
                wait = self._take_or_wait(self._clock())
                if wait <= 0:
                    self._in_flight += 1
                    return waited
            # At least a millisecond: a shorter wait may not move a coarse (or fake) clock at all.
            wait = max(wait, _MIN_WAIT)
            self._sleep(wait)
            waited += wait

    def release(self) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    @contextmanager
    def slot(self) -> Iterator[float]:
        """`with limiter.slot():` around one request; yields the seconds waited."""
        waited = self.acquire()
        try:
            yield waited
        finally:
            self.release()

    def _take_or_wait(self, now: float) -> float:
        self._refill(now)
        if now < self._paused_until:
            return self._paused_until - now
        if self._tokens >= 1 - _EPSILON:  # float refill may stop a hair short of a whole token
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        self._updated = now

    def pause(self, seconds: float) -> None:
        """Stop every sender for `seconds` (the server said so, e.g. with Retry-After)."""
        with self._lock:
            self._pause_locked(self._clock(), seconds)

    def _pause_locked(self, now: float, seconds: float) -> None:
        self._refill(now)
        self._paused_until = max(self._paused_until, now + max(0.0, seconds))
        self._tokens = min(self._tokens, 0.0)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Slow down when the server reports that few requests remain in its window."""
        quota = parse_ratelimit(headers.get("ratelimit"))
        if quota is None:
            return
        server_limit = parse_policy_quota(headers.get("ratelimit-policy")) or self.limit
        reserve = max(1, math.ceil(self.margin / 2 * server_limit))
        with self._lock:
            now = self._clock()
            others_in_flight = max(0, self._in_flight - 1)  # the observed request is counted
            usable = quota.remaining - reserve - others_in_flight
            if usable <= 0:
                # No reset time given: wait a second rather than not at all.
                self._pause_locked(now, quota.reset or 1.0)
                return
            self._refill(now)
            self._tokens = min(self._tokens, float(usable))

    @property
    def paused_until(self) -> float:
        with self._lock:
            return self._paused_until
