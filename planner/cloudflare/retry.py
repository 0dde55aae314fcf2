"""Retry policy: which failures are worth another attempt, and how long to wait before it.

Failures fall into three kinds, and the difference matters for requests that are not idempotent
(certificate uploads):

- *not sent*: the request never reached Cloudflare (connect error or timeout, no free
  connection) or was refused unprocessed (429). Any request may be repeated.
- *ambiguous*: the request was sent and the answer is unknown or a 5xx (read timeout, connection
  reset, response lost). Cloudflare may have acted on it. Idempotent requests are repeated; an
  upload is first checked for by fingerprint (see `CloudflareClient`).
- *final*: anything else (4xx, bad URL, protocol misuse); repeating would not help.

Back-off is exponential with jitter, bounded by `max_attempts` and by `max_elapsed` seconds for
the whole operation. Clock, sleep and randomness are injectable so tests need not wait.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

# The request provably did not leave the client, so repeating it cannot duplicate anything.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
# The request (or part of it) was sent and no complete answer came back.
AMBIGUOUS_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry; one policy is shared by all threads."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_elapsed: float = 120.0
    jitter: float = 0.25
    max_upload_attempts: int = 3
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    rand: Callable[[], float] = field(default=random.random, repr=False)

    def backoff(self, failures: int) -> float:
        """Delay after the `failures`-th failure: base × 2^(n-1), capped, ± jitter."""
        delay = min(self.max_delay, self.base_delay * 2.0 ** max(0, failures - 1))
        return delay * (1 + self.jitter * (2 * self.rand() - 1))

    def delay_for(self, failures: int, retry_after: float | None = None) -> float:
        """Back-off, but never less than the server's Retry-After (plus jitter to de-sync)."""
        delay = self.backoff(failures)
        if retry_after is not None:
            delay = max(delay, retry_after * (1 + self.jitter * self.rand()))
        return delay


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
