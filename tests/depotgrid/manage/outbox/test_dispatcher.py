"""One dispatch round at a time, on a manual clock, against a real local HTTP receiver: headers,
retries with one X-Request-ID, every attempt recorded, DEAD, EXPIRED, CANCELLED, handlers."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from random import Random
from typing import Any

from depotgrid.common.clock import ManualClock
from depotgrid.manage.events.store import NewEvent
from depotgrid.manage.outbox.destinations import Destination
from depotgrid.manage.outbox.dispatcher import Dispatcher
from depotgrid.manage.outbox.handlers import OutcomeHandlers
from depotgrid.manage.outbox.model import OutboxEntry, OutboxState, Outcome
from depotgrid.manage.outbox.retry import RetryPolicy
from depotgrid.manage.unit_of_work import UnitOfWork, UnitOfWorkFactory
from tests.conftest import free_port
from tests.depotgrid.manage.outbox.conftest import T0
from tests.depotgrid.manage.outbox.helpers import (
    DESTINATION,
    TOKEN,
    Resolver,
    enqueue_heartbeats,
    only,
    publications,
)
from tests.depotgrid.manage.outbox.sink import Sink, always, failing_first, running

LATER = timedelta(minutes=10)
"""Longer than any backoff of the test policies."""


def _dispatcher(uows: UnitOfWorkFactory, resolver: Any, **options: Any) -> Dispatcher:
    options.setdefault("policy", RetryPolicy(base_seconds=1, cap_seconds=60, max_attempts=5))
    return Dispatcher(uows, resolver, rng=Random(3), timeout_seconds=5, **options)


def _rounds(dispatcher: Dispatcher, clock: ManualClock, count: int) -> list[int]:
    """Run `count` rounds, moving the clock past any backoff after each; the claims per round."""

    async def go() -> list[int]:
        claimed = []
        async with dispatcher:
            for _ in range(count):
                claimed.append(await dispatcher.run_once())
                clock.advance(LATER)
        return claimed

    return asyncio.run(go())


def test_headers_are_sent_and_the_request_id_is_the_same_on_every_retry(
    timed: UnitOfWorkFactory, clock: ManualClock
) -> None:
    sink = Sink(failing_first(2))
    [entry] = enqueue_heartbeats(timed, 1, correlation_id="their-request")
    with running(sink) as url:
        resolver = Resolver.to(url, **{"X-Partner-Tenant": "depot-north"})
        assert _rounds(_dispatcher(timed, resolver), clock, 4) == [1, 1, 1, 0]
    assert sink.request_ids() == [entry.request_id] * 3
    for received in sink.received:
        assert (received.method, received.path) == ("POST", "/oscp/cp/2.0/heartbeat")
        assert received.headers["content-type"] == "application/json"
        assert received.headers["authorization"] == f"Token {TOKEN}"
        assert received.headers["x-correlation-id"] == "their-request"
        assert received.headers["x-oscp-configuration-id"] == DESTINATION
        assert received.headers["x-partner-tenant"] == "depot-north"
        assert received.json() == entry.body
    published = only(timed)
    assert published.entry.state is OutboxState.DELIVERED
    assert published.entry.delivered_at == T0 + 2 * LATER
    assert published.entry.last_status == 204 and published.entry.last_error is None
    tried = published.attempts
    assert [(a.number, a.status) for a in tried] == [(1, 500), (2, 500), (3, 204)]
    assert [a.started_at for a in tried] == [T0, T0 + LATER, T0 + 2 * LATER]
    assert tried[0].error == "HTTP 500: sink says 500"
    assert tried[0].response_excerpt == '{"message": "sink says 500"}'
    assert tried[2].error is None and tried[2].response_excerpt is None
    assert all(a.duration_ms >= 0 for a in tried)


def test_a_failed_entry_waits_for_its_backoff(timed: UnitOfWorkFactory, clock: ManualClock) -> None:
    enqueue_heartbeats(timed, 1)
    with running(Sink(always(503))) as url:
        dispatcher = _dispatcher(timed, Resolver.to(url))

        async def go() -> list[int]:
            async with dispatcher:
                first = await dispatcher.run_once()
                too_soon = await dispatcher.run_once()
                clock.advance(only(timed).entry.next_attempt_at - clock.now())
                return [first, too_soon, await dispatcher.run_once()]

        assert asyncio.run(go()) == [1, 0, 1]
    assert only(timed).entry.state is OutboxState.RETRYING


def test_dead_after_the_last_attempt_with_every_attempt_recorded(
    timed: UnitOfWorkFactory, clock: ManualClock
) -> None:
    sink = Sink(always(503))
    enqueue_heartbeats(timed, 1)
    with running(sink) as url:
        assert _rounds(_dispatcher(timed, Resolver.to(url)), clock, 7) == [1, 1, 1, 1, 1, 0, 0]
    published = only(timed)
    assert published.entry.state is OutboxState.DEAD
    assert published.entry.attempts == 5 and published.entry.last_status == 503
    assert [a.number for a in published.attempts] == [1, 2, 3, 4, 5]
    assert {a.status for a in published.attempts} == {503}
    assert len(sink.received) == 5


def test_a_permanent_refusal_is_dead_after_one_attempt(
    timed: UnitOfWorkFactory, clock: ManualClock
) -> None:
    enqueue_heartbeats(timed, 1)
    with running(Sink(always(422))) as url:
        assert _rounds(_dispatcher(timed, Resolver.to(url)), clock, 2) == [1, 0]
    published = only(timed)
    assert published.entry.state is OutboxState.DEAD
    assert [a.status for a in published.attempts] == [422]


def test_an_entry_past_its_deadline_expires_without_being_sent(
    timed: UnitOfWorkFactory, clock: ManualClock
) -> None:
    sink = Sink()
    enqueue_heartbeats(timed, 1, expires_at=T0 + timedelta(seconds=30))
    clock.advance(timedelta(seconds=30))
    with running(sink) as url:
        assert _rounds(_dispatcher(timed, Resolver.to(url)), clock, 2) == [1, 0]
    assert sink.received == []
    published = only(timed)
    assert published.entry.state is OutboxState.EXPIRED
    assert published.attempts == ()
    assert published.entry.last_error == (
        "not delivered before it expired at 2026-05-01T12:00:30+00:00"
    )


def test_a_retry_that_would_come_after_the_deadline_expires_at_the_deadline(
    timed: UnitOfWorkFactory, clock: ManualClock
) -> None:
    sink = Sink(always(500))
    deadline = T0 + timedelta(seconds=2)
    enqueue_heartbeats(timed, 1, expires_at=deadline)
    slow = RetryPolicy(base_seconds=100, cap_seconds=100)
    with running(sink) as url:
        assert _rounds(_dispatcher(timed, Resolver.to(url), policy=slow), clock, 2) == [1, 1]
    assert len(sink.received) == 1
    published = only(timed)
    assert published.entry.state is OutboxState.EXPIRED
    assert [a.status for a in published.attempts] == [500]


def test_entries_for_a_destination_that_no_longer_resolves_are_cancelled(
    timed: UnitOfWorkFactory, clock: ManualClock
) -> None:
    sink = Sink()
    enqueue_heartbeats(timed, 3)
    with running(sink):
        resolver = Resolver({})
        assert _rounds(_dispatcher(timed, resolver), clock, 1) == [3]
    assert sink.received == []
    assert resolver.calls == [DESTINATION]  # once per claimed batch, not once per entry
    for published in publications(timed):
        assert published.entry.state is OutboxState.CANCELLED
        assert published.attempts == ()
        assert published.entry.last_error == (
            f"destination {DESTINATION} no longer resolves (deleted or disabled)"
        )


def test_an_unreachable_destination_is_a_failed_attempt_without_status(
    timed: UnitOfWorkFactory, clock: ManualClock
) -> None:
    enqueue_heartbeats(timed, 1)
    closed = Resolver.to(f"http://127.0.0.1:{free_port()}/oscp/cp/2.0")
    assert _rounds(_dispatcher(timed, closed), clock, 1) == [1]
    published = only(timed)
    assert published.entry.state is OutboxState.RETRYING
    [attempt] = published.attempts
    assert attempt.status is None
    assert attempt.error is not None and attempt.error.startswith("ConnectError")


class BrokenResolver:
    async def resolve(self, destination_id: str) -> Destination | None:
        raise RuntimeError("token endpoint down")


def test_a_resolver_failure_is_a_failed_attempt_and_retried(
    timed: UnitOfWorkFactory, clock: ManualClock
) -> None:
    enqueue_heartbeats(timed, 1)
    assert _rounds(_dispatcher(timed, BrokenResolver()), clock, 1) == [1]
    published = only(timed)
    assert published.entry.state is OutboxState.RETRYING
    assert published.attempts[0].error == (
        "resolving the destination failed: RuntimeError: token endpoint down"
    )


def test_a_destination_may_override_the_path_of_an_endpoint(
    timed: UnitOfWorkFactory, clock: ManualClock
) -> None:
    sink = Sink()
    enqueue_heartbeats(timed, 1)
    with running(sink) as url:
        resolver = Resolver({DESTINATION: Destination(url, {}, paths={"heartbeat": "alt/beat"})})
        _rounds(_dispatcher(timed, resolver), clock, 1)
    assert [r.path for r in sink.received] == ["/oscp/cp/2.0/alt/beat"]
    assert "authorization" not in sink.received[0].headers


def _record_outcome(uow: UnitOfWork, entry: OutboxEntry, outcome: Outcome) -> None:
    stream = f"outbox-test-{entry.id}"
    uow.events.append(
        stream,
        uow.events.current_version(stream),
        [NewEvent("OutcomeSeen", {"state": outcome.state.value, "reason": outcome.reason})],
        actor="test",
        recorded_at=uow.clock.now(),
    )


def _seen(uows: UnitOfWorkFactory, entry: OutboxEntry) -> list[dict[str, Any]]:
    with uows.read() as uow:
        return [e.data for e in uow.events.read_stream(f"outbox-test-{entry.id}")]


def test_handlers_run_after_each_failed_attempt_and_the_final_outcome(
    timed: UnitOfWorkFactory, clock: ManualClock
) -> None:
    [entry] = enqueue_heartbeats(timed, 1)
    handlers: OutcomeHandlers = {"Heartbeat": [_record_outcome], "Register": [_explode]}
    with running(Sink(failing_first(1, 503))) as url:
        _rounds(_dispatcher(timed, Resolver.to(url), handlers=handlers), clock, 2)
    assert _seen(timed, entry) == [
        {"state": "RETRYING", "reason": "HTTP 503: sink says 503"},
        {"state": "DELIVERED", "reason": None},
    ]


def _explode(uow: UnitOfWork, entry: OutboxEntry, outcome: Outcome) -> None:
    _record_outcome(uow, entry, outcome)
    raise RuntimeError("handler bug")


def test_a_failing_handler_holds_back_only_its_own_entry_which_is_sent_again_later(
    timed: UnitOfWorkFactory, clock: ManualClock
) -> None:
    sink = Sink()
    fine, broken = enqueue_heartbeats(timed, 2)
    failing = {broken.id}

    def flaky(uow: UnitOfWork, entry: OutboxEntry, outcome: Outcome) -> None:
        if entry.id in failing:
            _explode(uow, entry, outcome)
        _record_outcome(uow, entry, outcome)

    async def go(dispatcher: Dispatcher) -> list[int]:
        async with dispatcher:
            first = await dispatcher.run_once()
            failing.clear()  # the bug is fixed and deployed
            too_soon = await dispatcher.run_once()
            clock.advance(timedelta(seconds=60))  # the default lease
            return [first, too_soon, await dispatcher.run_once()]

    with running(sink) as url:
        dispatcher = _dispatcher(timed, Resolver.to(url), handlers={"Heartbeat": [flaky]})
        assert asyncio.run(go(dispatcher)) == [2, 0, 1]
    assert {p.entry.state for p in publications(timed)} == {OutboxState.DELIVERED}
    assert sink.request_ids().count(fine.request_id) == 1
    assert sink.request_ids().count(broken.request_id) == 2
    assert _seen(timed, fine) == [{"state": "DELIVERED", "reason": None}]
    assert _seen(timed, broken) == [{"state": "DELIVERED", "reason": None}]
    [resent] = [p for p in publications(timed) if p.entry.id == broken.id]
    assert [a.number for a in resent.attempts] == [1]
