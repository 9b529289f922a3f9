"""An outbound publication, its states, and what each dispatch of it comes to (plain Python).

    PENDING --2xx--------------------------------> DELIVERED
       |  \\--failed, retries left--> RETRYING --2xx--> DELIVERED
       |                                 |  \\--failed, retries left--> RETRYING (again)
       +--failed: permanent or last attempt------+--> DEAD
       +--past expires_at (checked before sending)+--> EXPIRED
       +--destination no longer resolves---------+--> CANCELLED

The entry is written before anything is sent and changes only through these transitions; the
X-Request-ID is chosen once, at enqueue, and every attempt sends the same one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from random import Random
from typing import Any

from depotgrid.manage.outbox.retry import RetryPolicy


class OutboxState(StrEnum):
    PENDING = "PENDING"
    """Persisted, never attempted."""
    RETRYING = "RETRYING"
    """At least one attempt failed; the next is due at `next_attempt_at`."""
    DELIVERED = "DELIVERED"
    """The destination answered 2xx (OSCP: 204)."""
    DEAD = "DEAD"
    """Given up: a permanent refusal, or the last allowed attempt failed."""
    EXPIRED = "EXPIRED"
    """Its deadline passed before it was delivered; it was not sent again."""
    CANCELLED = "CANCELLED"
    """Its destination no longer resolves (deleted or disabled); it was not sent."""


FINAL = frozenset(
    {OutboxState.DELIVERED, OutboxState.DEAD, OutboxState.EXPIRED, OutboxState.CANCELLED}
)
DUE_STATES = (OutboxState.PENDING, OutboxState.RETRYING)


@dataclass(frozen=True)
class Attempt:
    """One try at sending an entry, as the attempts table keeps it."""

    entry_id: str
    number: int
    """1 for the first attempt."""
    started_at: datetime
    duration_ms: int
    status: int | None
    """The HTTP status; None when no answer arrived (refused, timed out, not resolvable)."""
    error: str | None
    response_excerpt: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Outcome:
    """What one dispatch came to: the state it left the entry in, the attempt made, if any."""

    state: OutboxState
    attempt: Attempt | None = None
    reason: str | None = None
    """Why the entry failed or stopped, for people: the attempt's error or the final reason."""

    @property
    def final(self) -> bool:
        return self.state in FINAL


@dataclass(frozen=True)
class OutboxEntry:
    id: str
    destination_id: str
    message_type: str
    """The OSCP schema title, e.g. `Heartbeat`."""
    path: str
    """The endpoint, relative to the destination's base URL, e.g. `heartbeat`."""
    body: dict[str, Any]
    request_id: str
    correlation_id: str | None
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    expires_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def after_attempt(
        self, attempt: Attempt, policy: RetryPolicy, rng: Random, now: datetime
    ) -> Settlement:
        """DELIVERED on 2xx; otherwise RETRYING at the policy's next time, or DEAD."""
        counted = replace(
            self, attempts=attempt.number, last_status=attempt.status, last_error=attempt.error
        )
        if attempt.ok:
            delivered = replace(counted, state=OutboxState.DELIVERED, delivered_at=now)
            return Settlement(delivered, Outcome(OutboxState.DELIVERED, attempt))
        retry_at = policy.next_attempt_at(attempt.number, attempt.status, now, rng)
        if retry_at is None:
            return Settlement(
                replace(counted, state=OutboxState.DEAD),
                Outcome(OutboxState.DEAD, attempt, attempt.error),
            )
        if self.expires_at is not None:
            # Retrying after the deadline is pointless; come back at the deadline to expire it.
            retry_at = min(retry_at, self.expires_at)
        retrying = replace(counted, state=OutboxState.RETRYING, next_attempt_at=retry_at)
        return Settlement(retrying, Outcome(OutboxState.RETRYING, attempt, attempt.error))

    def expire(self) -> Settlement:
        assert self.expires_at is not None
        reason = f"not delivered before it expired at {self.expires_at.isoformat()}"
        return self._stopped(OutboxState.EXPIRED, reason)

    def cancel(self) -> Settlement:
        reason = f"destination {self.destination_id} no longer resolves (deleted or disabled)"
        return self._stopped(OutboxState.CANCELLED, reason)

    def _stopped(self, state: OutboxState, reason: str) -> Settlement:
        return Settlement(
            replace(self, state=state, last_error=reason), Outcome(state, None, reason)
        )


@dataclass(frozen=True)
class Settlement:
    """An entry after one dispatch, with the outcome the handlers are told about."""

    entry: OutboxEntry
    outcome: Outcome
