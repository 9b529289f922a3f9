"""An entry's transitions after an attempt, at its deadline, and when its destination is gone."""

from datetime import UTC, datetime, timedelta
from random import Random

from depotgrid.manage.outbox.model import Attempt, OutboxEntry, OutboxState
from depotgrid.manage.outbox.retry import RetryPolicy

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
POLICY = RetryPolicy(base_seconds=10, factor=2, cap_seconds=600, max_attempts=3)


class Top(Random):
    def uniform(self, a: float, b: float) -> float:
        return b


def _entry(**changes: object) -> OutboxEntry:
    values: dict[str, object] = {
        "id": "e1",
        "destination_id": "cfg-1",
        "message_type": "Heartbeat",
        "path": "heartbeat",
        "body": {"offline_mode_at": "2026-05-01T12:05:00Z"},
        "request_id": "r1",
        "correlation_id": None,
        "state": OutboxState.PENDING,
        "attempts": 0,
        "next_attempt_at": T0,
        "expires_at": None,
        "created_at": T0,
    } | changes
    return OutboxEntry(**values)  # type: ignore[arg-type]


def _attempt(number: int, status: int | None, error: str | None = None) -> Attempt:
    return Attempt("e1", number, T0, 12, status, error, None)


def test_2xx_delivers() -> None:
    settled = _entry().after_attempt(_attempt(1, 204), POLICY, Top(), T0)
    assert settled.entry.state is OutboxState.DELIVERED
    assert settled.entry.delivered_at == T0
    assert (settled.entry.attempts, settled.entry.last_status) == (1, 204)
    assert settled.outcome.final and settled.outcome.attempt == _attempt(1, 204)


def test_a_failure_with_attempts_left_retries_after_the_backoff() -> None:
    settled = _entry().after_attempt(_attempt(1, 503, "HTTP 503: busy"), POLICY, Top(), T0)
    assert settled.entry.state is OutboxState.RETRYING
    assert settled.entry.next_attempt_at == T0 + timedelta(seconds=10)
    assert settled.entry.last_error == "HTTP 503: busy"
    assert not settled.outcome.final and settled.outcome.reason == "HTTP 503: busy"


def test_the_last_attempt_failing_is_dead() -> None:
    entry = _entry(state=OutboxState.RETRYING, attempts=2)
    settled = entry.after_attempt(_attempt(3, None, "ConnectError"), POLICY, Top(), T0)
    assert settled.entry.state is OutboxState.DEAD
    assert settled.entry.attempts == 3 and settled.outcome.final


def test_a_permanent_refusal_is_dead_at_once() -> None:
    settled = _entry().after_attempt(_attempt(1, 422, "HTTP 422: bad"), POLICY, Top(), T0)
    assert settled.entry.state is OutboxState.DEAD


def test_a_retry_never_waits_past_the_deadline() -> None:
    entry = _entry(expires_at=T0 + timedelta(seconds=4))
    settled = entry.after_attempt(_attempt(1, 500), POLICY, Top(), T0)
    assert settled.entry.next_attempt_at == T0 + timedelta(seconds=4)
    assert not settled.entry.is_expired(T0 + timedelta(seconds=3))
    assert settled.entry.is_expired(T0 + timedelta(seconds=4))


def test_expiry_and_cancellation_say_why_and_attempt_nothing() -> None:
    expired = _entry(expires_at=T0).expire()
    assert expired.entry.state is OutboxState.EXPIRED and expired.outcome.attempt is None
    assert (
        expired.entry.last_error == "not delivered before it expired at 2026-05-01T12:00:00+00:00"
    )
    cancelled = _entry().cancel()
    assert cancelled.entry.state is OutboxState.CANCELLED and cancelled.outcome.final
    assert cancelled.outcome.reason == (
        "destination cfg-1 no longer resolves (deleted or disabled)"
    )
