"""When to try a failed delivery again: exponential backoff with full jitter, then give up.

Attempt n's delay is uniform in [0, min(cap, base * factor ** (n - 1))] ("full jitter"), so
senders that failed together (a partner outage) spread their retries out instead of returning in
lock-step. Some answers are permanent: resending the same bytes would get the same answer, so
the entry goes DEAD at once instead of using up its attempts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random

RETRYABLE_CLIENT_ERRORS = frozenset({401, 408, 409, 425, 429})
"""4xx answers worth retrying: 401 (credentials are resolved afresh for every attempt, so a
rotated token or refreshed OAuth2 access token can fix it), 408 timeout, 409 and 425 (a peer not
ready yet, PROTOCOL.md §8.3), 429 rate limit. Every other 4xx is permanent."""

PERMANENT_SERVER_ERRORS = frozenset({501})
"""501: the peer does not implement this (e.g. no common OSCP version); every other 5xx may pass."""

_MAX_EXPONENT = 64
"""Large enough that any sane cap is reached first, small enough that the power never overflows."""


def is_permanent(status: int | None) -> bool:
    """True when retrying cannot help: a refusing 4xx other than the retryable ones, or 501.

    No answer at all (status None), 3xx and other 5xx are transient.
    """
    if status is None:
        return False
    if 400 <= status < 500:
        return status not in RETRYABLE_CLIENT_ERRORS
    return status in PERMANENT_SERVER_ERRORS


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff parameters; the defaults give up after 12 attempts, about 10 minutes on average."""

    base_seconds: float = 1.0
    factor: float = 2.0
    cap_seconds: float = 300.0
    max_attempts: int = 12

    def __post_init__(self) -> None:
        if self.base_seconds <= 0 or self.factor < 1 or self.cap_seconds < self.base_seconds:
            raise ValueError("need base > 0, factor >= 1 and cap >= base")
        if self.max_attempts < 1:
            raise ValueError("need at least one attempt")

    def ceiling(self, attempt: int) -> timedelta:
        """The longest wait after failed attempt number `attempt` (1-based)."""
        if attempt < 1:
            raise ValueError("attempts are numbered from 1")
        exponent = min(attempt - 1, _MAX_EXPONENT)
        return timedelta(seconds=min(self.cap_seconds, self.base_seconds * self.factor**exponent))

    def delay(self, attempt: int, rng: Random) -> timedelta:
        """A full-jitter wait after failed attempt number `attempt`: uniform in [0, ceiling]."""
        return timedelta(seconds=rng.uniform(0, self.ceiling(attempt).total_seconds()))

    def next_attempt_at(
        self, attempt: int, status: int | None, now: datetime, rng: Random
    ) -> datetime | None:
        """When to try again after failed attempt `attempt` answered `status`; None to give up."""
        if attempt >= self.max_attempts or is_permanent(status):
            return None
        return now + self.delay(attempt, rng)
