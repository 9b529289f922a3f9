"""The dispatcher: claims due outbox entries, delivers them over HTTP, records what happened.

    claim    one committed transaction before anything is sent: due entries get
             claimed_by = this dispatcher, claimed_until = now + lease
             (PostgreSQL: FOR UPDATE SKIP LOCKED, so dispatchers skip each other's rows)
    deliver  concurrently, at most `concurrency` requests in flight (httpx lanes), the next
             batch already claimed: expired -> EXPIRED; destination gone -> CANCELLED;
             else POST -> an Attempt
    record   group commit of everything settled since the last commit: the new states (only
             where still held by us), the attempts, then the outcome handlers; if that
             transaction fails, each entry is recorded again in a transaction of its own

Delivery is at least once. A dispatcher that dies between sending and recording leaves its
entries leased; when the lease ends another claim sends them again with the same X-Request-ID,
and the receiver de-duplicates (PROTOCOL.md §8.5). Every scheduling decision (due, lease,
expiry, backoff) uses the unit of work's injected clock; durations use a monotonic timer.

On SQLite run one dispatcher: claims are still correct conditional UPDATEs under BEGIN
IMMEDIATE, but SQLite has one writer, so a second dispatcher only adds contention.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any

import structlog

from depotgrid.common.ids import new_id
from depotgrid.manage.outbox import delivery
from depotgrid.manage.outbox.destinations import Destination, DestinationResolver
from depotgrid.manage.outbox.handlers import OUTCOME_HANDLERS, OutcomeHandlers
from depotgrid.manage.outbox.model import OutboxEntry, Settlement
from depotgrid.manage.outbox.repository import OutboxRepository
from depotgrid.manage.outbox.retry import RetryPolicy
from depotgrid.manage.unit_of_work import UnitOfWorkFactory

log = structlog.get_logger(__name__)

DEFAULT_LEASE = timedelta(seconds=60)
STOP_GRACE_SECONDS = 3.0
"""How long `stop` lets held entries finish; the rest keep their leases and come back later."""
RECORD_BATCH = 500
"""At most this many outcomes per recording transaction."""

Resolved = Destination | None | Exception


def default_worker_id() -> str:
    """Unique per process: a restarted dispatcher waits for its old leases like anyone else."""
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[:8]}"


class Dispatcher:
    """Delivers the outbox; `run_once` for tests and jobs, `start`/`stop` or `run_forever`."""

    def __init__(
        self,
        uows: UnitOfWorkFactory,
        destinations: DestinationResolver,
        *,
        handlers: OutcomeHandlers = OUTCOME_HANDLERS,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        worker_id: str | None = None,
        concurrency: int = 32,
        lease: timedelta = DEFAULT_LEASE,
        poll_seconds: float = 1.0,
        timeout_seconds: float = 10.0,
    ) -> None:
        if concurrency < 1 or poll_seconds <= 0:
            raise ValueError("need concurrency >= 1 and poll_seconds > 0")
        if lease.total_seconds() <= timeout_seconds:
            raise ValueError("the lease must outlast a request, or leases expire mid-send")
        self.worker_id = worker_id or default_worker_id()
        self._uows = uows
        self._destinations = destinations
        self._handlers = handlers
        self._policy = policy or RetryPolicy()
        self._rng = rng or random.Random()
        self._lanes = delivery.Lanes()
        self._concurrency = concurrency
        self._sending = asyncio.Semaphore(concurrency)
        self._lease = lease
        self._poll_seconds = poll_seconds
        self._timeout_seconds = timeout_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._freed = asyncio.Event()
        self._settled: asyncio.Queue[Settlement] = asyncio.Queue()
        self._deliveries: set[asyncio.Task[None]] = set()
        self._held = 0
        self._stopping = False

    async def __aenter__(self) -> Dispatcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def run_once(self) -> int:
        """Claim up to `concurrency` due entries, deliver them, record the outcomes; the count."""
        claimed = await self._claim(self._concurrency)
        settled: list[Settlement] = []
        await self._settle_all(claimed, settled.append)
        await self._record(settled)
        return len(claimed)

    async def run_forever(self) -> None:
        """Deliver until `stop`, sleeping when nothing is due until nudged or `poll_seconds`.

        It claims ahead: up to twice `concurrency` entries held, at most `concurrency` being
        sent, so the next batch is claimed while the current one is sent (a claim costs a few
        database round trips, each of which waits for the event loop's thread to yield)."""
        self._loop = asyncio.get_running_loop()
        recorder = asyncio.create_task(self._record_continuously(), name="outbox-recorder")
        try:
            while not self._stopping:
                if self._held > self._concurrency:  # a claimed batch still waits to be sent
                    await self._freed.wait()
                    self._freed.clear()
                    continue
                wanted = 2 * self._concurrency - self._held
                claimed = await self._claim_logged(wanted)
                if claimed:
                    self._held += len(claimed)
                    self._spawn(self._settle_all(claimed, self._settled.put_nowait))
                if len(claimed) < wanted:
                    await self._idle()
        finally:
            await self._drain(recorder)

    def start(self) -> None:
        """Run in the background on the running event loop (manage's lifespan)."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.create_task(self.run_forever(), name="outbox-dispatcher")

    async def stop(self) -> None:
        """Stop claiming, let deliveries in flight finish and be recorded, close the client."""
        self._stopping = True
        self._wake.set()
        self._freed.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.aclose()

    def nudge(self) -> None:
        """Look for due entries now rather than at the next poll; safe from any thread, e.g.
        right after the commit that enqueued."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def aclose(self) -> None:
        await self._lanes.aclose()

    # --- claiming ---------------------------------------------------------------------------

    async def _claim(self, limit: int) -> list[OutboxEntry]:
        return await asyncio.to_thread(self._claim_now, limit)

    def _claim_now(self, limit: int) -> list[OutboxEntry]:
        with self._uows.write() as uow:
            now = uow.clock.now()
            claimed = OutboxRepository(uow.connection).claim(
                worker=self.worker_id, now=now, until=now + self._lease, limit=limit
            )
            uow.commit()
        return claimed

    async def _claim_logged(self, limit: int) -> list[OutboxEntry]:
        try:
            return await self._claim(limit)
        except Exception as exc:  # the database may be down or not migrated: try at the next poll
            # No traceback: rendering one (rich, with locals) would stall the event loop each poll.
            log.warning("claiming outbox entries failed", error=delivery.describe(exc))
            return []

    # --- delivering -------------------------------------------------------------------------

    async def _settle_all(
        self, entries: Sequence[OutboxEntry], settled: Callable[[Settlement], None]
    ) -> None:
        destinations = await self._resolve(entry.destination_id for entry in entries)

        async def one(entry: OutboxEntry) -> None:
            settled(await self._settle(entry, destinations[entry.destination_id]))

        await asyncio.gather(*(one(entry) for entry in entries))

    async def _resolve(self, destination_ids: Iterable[str]) -> dict[str, Resolved]:
        """Each destination once per claimed batch, concurrently; a failure is kept, not raised."""
        unique = list(dict.fromkeys(destination_ids))
        found = await asyncio.gather(
            *(self._destinations.resolve(destination_id) for destination_id in unique),
            return_exceptions=True,
        )
        resolved: dict[str, Resolved] = {}
        for destination_id, result in zip(unique, found, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
            resolved[destination_id] = result
        return resolved

    async def _settle(self, entry: OutboxEntry, destination: Resolved) -> Settlement:
        async with self._sending:
            return await self._settle_now(entry, destination)

    async def _settle_now(self, entry: OutboxEntry, destination: Resolved) -> Settlement:
        clock = self._uows.clock
        if entry.is_expired(clock.now()):
            return entry.expire()
        if destination is None:
            return entry.cancel()
        started_at = clock.now()
        if isinstance(destination, Exception):
            error = f"resolving the destination failed: {delivery.describe(destination)}"
            tried = delivery.failed_attempt(entry, started_at, 0, error)
        else:
            try:
                async with self._lanes.client() as http:
                    tried = await delivery.attempt(
                        http,
                        entry,
                        destination,
                        started_at=started_at,
                        timeout=self._timeout_seconds,
                    )
            except Exception as exc:  # a bug must not strand the entry: record it as a failure
                log.exception("outbox delivery failed unexpectedly", entry_id=entry.id)
                error = f"dispatcher error: {delivery.describe(exc)}"
                tried = delivery.failed_attempt(entry, started_at, 0, error)
        return entry.after_attempt(tried, self._policy, self._rng, clock.now())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
        self._wake.clear()

    # --- recording --------------------------------------------------------------------------

    async def _record(self, settled: Sequence[Settlement]) -> None:
        if settled:
            await asyncio.to_thread(self._record_now, settled)

    def _record_now(self, settled: Sequence[Settlement]) -> None:
        """The batch in one transaction; if that fails (say an outcome handler raised), each
        entry in a transaction of its own, so one bad entry holds back no other. An entry that
        still fails stays leased and is sent again when the lease ends."""
        try:
            self._record_together(settled)
        except Exception:
            if len(settled) > 1:
                for one in settled:
                    self._record_now([one])
                return
            entry = settled[0].entry
            log.exception(
                "recording an outbox outcome failed; the entry is sent again after its lease",
                entry_id=entry.id,
                message_type=entry.message_type,
                state=settled[0].outcome.state.value,
            )

    def _record_together(self, settled: Sequence[Settlement]) -> None:
        with self._uows.write() as uow:
            repo = OutboxRepository(uow.connection)
            stored = repo.settle([s.entry for s in settled], worker=self.worker_id)
            kept = [s for s in settled if s.entry.id in stored]
            repo.add_attempts([s.outcome.attempt for s in kept if s.outcome.attempt])
            for entry, outcome in ((s.entry, s.outcome) for s in kept):
                for handler in self._handlers.get(entry.message_type, ()):
                    handler(uow, entry, outcome)
            uow.commit()
        for lost in (s.entry for s in settled if s.entry.id not in stored):
            log.warning(
                "outbox lease lost before the outcome was recorded; it will be sent again",
                entry_id=lost.id,
                request_id=lost.request_id,
            )

    async def _record_continuously(self) -> None:
        """Group commit: one transaction for everything settled while the previous one ran."""
        while True:
            batch = [await self._settled.get()]
            while len(batch) < RECORD_BATCH and not self._settled.empty():
                batch.append(self._settled.get_nowait())
            try:
                await self._record(batch)
            except Exception:  # the leases expire and the entries are sent again
                log.exception("recording outbox outcomes failed", count=len(batch))
            finally:
                self._held -= len(batch)
                self._freed.set()
                for _ in batch:
                    self._settled.task_done()

    async def _drain(self, recorder: asyncio.Task[None]) -> None:
        """Give the entries held (in flight or claimed ahead) a short grace, record what settled,
        stop recording. Anything cut off keeps its lease and is sent again after it."""
        if self._deliveries:
            _, late = await asyncio.wait(self._deliveries, timeout=STOP_GRACE_SECONDS)
            for task in late:
                task.cancel()
        await self._settled.join()
        recorder.cancel()


async def run_until_signalled(dispatcher: Dispatcher) -> None:
    """Run `dispatcher` until SIGINT or SIGTERM, then stop it cleanly (`depotgrid manage
    dispatch`)."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    dispatcher.start()
    await stopped.wait()
    await dispatcher.stop()
