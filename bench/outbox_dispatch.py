"""Outbox dispatcher throughput and latency against a fast local receiver.

The receiver is a raw asyncio HTTP/1.1 server answering 204, in its own process so it does not
share the dispatcher's CPU. On each database it prints:
- enqueue: N heartbeats, 500 per transaction, schema-checked as in production;
- backlog: one dispatcher (32 in flight) drains the N entries: deliveries per second (target
  >= 500/s) and enqueue-to-delivery p50/p99 (mostly time spent queued behind the backlog);
- steady: M heartbeats enqueued one per transaction at a fixed rate, each followed by a nudge:
  enqueue-to-delivery p50/p99 of an idle-ish outbox.
SQLite is a temporary file; with --database-url the PostgreSQL server gets a scratch database,
dropped afterwards.
Run: uv run python -m bench.outbox_dispatch [--messages 5000] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from depotgrid.common.clock import SystemClock
from depotgrid.manage.bootstrap import unit_of_work_factory
from depotgrid.manage.db.engine import make_engine
from depotgrid.manage.db.migrate import upgrade
from depotgrid.manage.outbox import service as outbox
from depotgrid.manage.outbox.destinations import Destination
from depotgrid.manage.outbox.dispatcher import Dispatcher
from depotgrid.manage.outbox.model import OutboxState
from depotgrid.manage.outbox.tables import outbox_entries
from depotgrid.manage.unit_of_work import UnitOfWorkFactory

DESTINATION = "bench-cp"
ENQUEUE_BATCH = 500


# --- the receiver ------------------------------------------------------------------------------


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _receive(port: int) -> None:
    async def serve() -> None:
        server = await asyncio.start_server(_answer, "127.0.0.1", port, backlog=1024)
        await server.serve_forever()

    asyncio.run(serve())


@contextmanager
def receiver() -> Iterator[str]:
    """A 204 receiver in a child process; yields its base URL."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    process = multiprocessing.Process(target=_receive, args=(port,), daemon=True)
    process.start()
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/oscp/cp/2.0"
    finally:
        process.terminate()
        process.join(5)


class OneDestination:
    def __init__(self, base_url: str) -> None:
        self.destination = Destination(base_url, {"Authorization": "Token bench"})

    async def resolve(self, destination_id: str) -> Destination | None:
        return self.destination


# --- databases ---------------------------------------------------------------------------------


@contextmanager
def database(server_url: str | None) -> Iterator[str]:
    """A fresh database: a temporary SQLite file, or a scratch database on `server_url`."""
    if server_url is None:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        return
    url = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"depotgrid_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- measuring ---------------------------------------------------------------------------------


def enqueue(uows: UnitOfWorkFactory, count: int, per_transaction: int) -> None:
    made = 0
    while made < count:
        with uows.write() as uow:
            at = uow.clock.now() + timedelta(minutes=5)
            for _ in range(min(per_transaction, count - made)):
                outbox.enqueue(
                    uow,
                    destination_id=DESTINATION,
                    message_type="Heartbeat",
                    body={"offline_mode_at": at.isoformat().replace("+00:00", "Z")},
                )
                made += 1
            uow.commit()


def delivered_count(uows: UnitOfWorkFactory) -> int:
    with uows.read() as uow:
        found = uow.connection.scalar(
            select(func.count())
            .select_from(outbox_entries)
            .where(outbox_entries.c.state == OutboxState.DELIVERED.value)
        )
        return int(found or 0)


def latencies_ms(uows: UnitOfWorkFactory) -> list[float]:
    with uows.read() as uow:
        rows = uow.connection.execute(
            select(outbox_entries.c.created_at, outbox_entries.c.delivered_at).where(
                outbox_entries.c.state == OutboxState.DELIVERED.value
            )
        )
        return sorted((done - made).total_seconds() * 1000 for made, done in rows)


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(fraction * len(values)))]


def clear(uows: UnitOfWorkFactory) -> None:
    with uows.write() as uow:
        uow.connection.execute(text("DELETE FROM outbox_attempts"))
        uow.connection.execute(text("DELETE FROM outbox_entries"))
        uow.commit()


async def drain(uows: UnitOfWorkFactory, url: str, total: int, concurrency: int) -> float:
    """Seconds for one dispatcher to deliver `total` entries already enqueued."""
    dispatcher = Dispatcher(uows, OneDestination(url), concurrency=concurrency, poll_seconds=0.05)
    started = time.perf_counter()
    dispatcher.start()
    while await asyncio.to_thread(delivered_count, uows) < total:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    await dispatcher.stop()
    return elapsed


async def steady(uows: UnitOfWorkFactory, url: str, count: int, rate: float) -> None:
    """Enqueue `count` entries one per transaction at `rate` per second, nudging after each."""
    dispatcher = Dispatcher(uows, OneDestination(url), poll_seconds=1.0)
    dispatcher.start()

    def produce() -> None:
        started = time.perf_counter()
        for made in range(count):
            enqueue(uows, 1, 1)
            dispatcher.nudge()
            time.sleep(max(0.0, started + (made + 1) / rate - time.perf_counter()))

    await asyncio.to_thread(produce)
    while await asyncio.to_thread(delivered_count, uows) < count:
        await asyncio.sleep(0.05)
    await dispatcher.stop()


def run(label: str, database_url: str, args: argparse.Namespace, url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    uows = unit_of_work_factory(engine, SystemClock())
    started = time.perf_counter()
    enqueue(uows, args.messages, ENQUEUE_BATCH)
    enqueue_seconds = time.perf_counter() - started
    seconds = asyncio.run(drain(uows, url, args.messages, args.concurrency))
    backlog = latencies_ms(uows)
    clear(uows)
    asyncio.run(steady(uows, url, args.steady, args.rate))
    trickle = latencies_ms(uows)
    engine.dispose()
    print(f"{label}:")
    enqueue_rate = args.messages / enqueue_seconds
    print(f"  enqueue  {args.messages} in {enqueue_seconds:.2f} s = {enqueue_rate:,.0f}/s")
    print(
        f"  backlog  {args.messages} delivered in {seconds:.2f} s = "
        f"{args.messages / seconds:,.0f} deliveries/s (target >= 500/s); enqueue-to-delivery "
        f"p50 {percentile(backlog, 0.5):,.0f} ms, p99 {percentile(backlog, 0.99):,.0f} ms"
    )
    print(
        f"  steady   {args.steady} at {args.rate:.0f}/s, one per transaction + nudge: "
        f"enqueue-to-delivery p50 {percentile(trickle, 0.5):.1f} ms, "
        f"p99 {percentile(trickle, 0.99):.1f} ms, mean {statistics.fmean(trickle):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--steady", type=int, default=1000, help="messages in the steady phase")
    parser.add_argument("--rate", type=float, default=200.0, help="steady enqueues per second")
    parser.add_argument("--database-url", help="a PostgreSQL server to bench as well")
    args = parser.parse_args()
    with receiver() as url:
        with database(None) as sqlite_url:
            run("SQLite", sqlite_url, args, url)
        if args.database_url:
            with database(args.database_url) as postgres_url:
                run("PostgreSQL", postgres_url, args, url)


if __name__ == "__main__":
    main()
