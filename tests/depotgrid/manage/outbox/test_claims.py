"""Claiming: a lease keeps an entry to one dispatcher until it ends; on PostgreSQL several
dispatchers share one table and never deliver the same entry twice."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta

import pytest

from depotgrid.common.clock import ManualClock
from depotgrid.manage.outbox.dispatcher import Dispatcher
from depotgrid.manage.outbox.model import OutboxState
from depotgrid.manage.outbox.repository import OutboxRepository
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from tests.depotgrid.manage.outbox.helpers import (
    Resolver,
    count_in,
    enqueue_heartbeats,
    publications,
)
from tests.depotgrid.manage.outbox.sink import Sink, running

LEASE = timedelta(seconds=60)


def _claim(uows: UnitOfWorkFactory, worker: str) -> list[str]:
    with uows.write() as uow:
        now = uow.clock.now()
        claimed = OutboxRepository(uow.connection).claim(
            worker=worker, now=now, until=now + LEASE, limit=10
        )
        uow.commit()
    return [entry.id for entry in claimed]


def test_a_leased_entry_is_nobody_elses_until_the_lease_ends(
    timed: UnitOfWorkFactory, clock: ManualClock
) -> None:
    [entry] = enqueue_heartbeats(timed, 1)
    assert _claim(timed, "a") == [entry.id]
    assert _claim(timed, "b") == []
    clock.advance(LEASE - timedelta(seconds=1))
    assert _claim(timed, "b") == []
    clock.advance(timedelta(seconds=1))
    assert _claim(timed, "b") == [entry.id]
    with timed.write() as uow:
        repo = OutboxRepository(uow.connection)
        assert repo.settle([entry], worker="a") == set(), "a lost its lease: nothing stored"
        assert repo.settle([entry], worker="b") == {entry.id}
        uow.commit()
    assert _claim(timed, "c") == [entry.id], "settling releases the lease; still PENDING here"


def test_entries_are_claimed_oldest_due_first(timed: UnitOfWorkFactory, clock: ManualClock) -> None:
    first = enqueue_heartbeats(timed, 1)
    clock.advance(timedelta(seconds=1))
    second = enqueue_heartbeats(timed, 1)
    with timed.write() as uow:
        now = uow.clock.now()
        claimed = OutboxRepository(uow.connection).claim(
            worker="a", now=now, until=now + LEASE, limit=1
        )
        uow.commit()
    assert [e.id for e in claimed] == [first[0].id]
    assert _claim(timed, "b") == [second[0].id]


def test_two_dispatchers_on_postgresql_never_deliver_the_same_entry_twice(
    uows: UnitOfWorkFactory,
) -> None:
    if uows.engine.dialect.name != "postgresql":
        pytest.skip(
            "several dispatchers claim with FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite runs "
            "one dispatcher (docs/outbox.md). Set DEPOTGRID_TEST_DATABASE_URL to run this."
        )
    entries = enqueue_heartbeats(uows, 600)
    sink = Sink(delay_seconds=0.002)
    with running(sink) as url:
        resolvers = [Resolver.to(url), Resolver.to(url)]
        asyncio.run(_deliver_all_with(uows, resolvers, len(entries)))
    counts = Counter(sink.request_ids())
    assert set(counts) == {entry.request_id for entry in entries}
    assert max(counts.values()) == 1, "an entry was delivered twice"
    found = publications(uows)
    assert {p.entry.state for p in found} == {OutboxState.DELIVERED}
    assert all(len(p.attempts) == 1 for p in found)
    assert all(resolver.calls for resolver in resolvers), "both dispatchers took a share"


async def _deliver_all_with(uows: UnitOfWorkFactory, resolvers: list[Resolver], total: int) -> None:
    dispatchers = [
        Dispatcher(uows, resolver, concurrency=8, poll_seconds=0.05) for resolver in resolvers
    ]
    for dispatcher in dispatchers:
        dispatcher.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and count_in(uows, OutboxState.DELIVERED) < total:
        await asyncio.sleep(0.05)
    for dispatcher in dispatchers:
        await dispatcher.stop()
