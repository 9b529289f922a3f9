"""The dispatcher running on its own: woken by a nudge, drained on stop, started by manage's
lifespan when enabled, and as `depotgrid manage dispatch`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from depotgrid.common.clock import SystemClock
from depotgrid.manage.app import create_app
from depotgrid.manage.bootstrap import unit_of_work_factory
from depotgrid.manage.db.engine import make_engine
from depotgrid.manage.db.migrate import upgrade
from depotgrid.manage.outbox.dispatcher import Dispatcher
from depotgrid.manage.outbox.model import OutboxState
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from depotgrid.settings import Settings
from tests.conftest import serve
from tests.depotgrid.manage.outbox.helpers import (
    Resolver,
    count_in,
    enqueue_heartbeats,
    publications,
)
from tests.depotgrid.manage.outbox.sink import Sink, running


async def _eventually(check: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.02)
    return False


def test_a_nudge_delivers_at_once_instead_of_at_the_next_poll(uows: UnitOfWorkFactory) -> None:
    sink = Sink()

    async def go(url: str) -> bool:
        dispatcher = Dispatcher(uows, Resolver.to(url), poll_seconds=60)
        dispatcher.start()
        await asyncio.sleep(0.2)  # it has looked, found nothing, and sleeps for a minute
        enqueue_heartbeats(uows, 1)
        dispatcher.nudge()
        delivered = await _eventually(lambda: count_in(uows, OutboxState.DELIVERED) == 1, 5)
        await dispatcher.stop()
        return delivered

    with running(sink) as url:
        assert asyncio.run(go(url))
    assert len(sink.received) == 1


def test_stop_waits_for_deliveries_in_flight_and_records_them(uows: UnitOfWorkFactory) -> None:
    sink = Sink(delay_seconds=0.5)
    entries = enqueue_heartbeats(uows, 5)

    async def go(url: str) -> None:
        dispatcher = Dispatcher(uows, Resolver.to(url), poll_seconds=60)
        dispatcher.start()
        assert await _eventually(lambda: len(sink.received) == 5)
        await dispatcher.stop()

    with running(sink) as url:
        asyncio.run(go(url))
    assert count_in(uows, OutboxState.DELIVERED) == len(entries)


def test_a_steady_stream_is_delivered_exactly_once_each(uows: UnitOfWorkFactory) -> None:
    sink = Sink()
    entries = enqueue_heartbeats(uows, 300)

    async def go(url: str) -> bool:
        dispatcher = Dispatcher(uows, Resolver.to(url), concurrency=16, poll_seconds=0.05)
        dispatcher.start()
        done = await _eventually(lambda: count_in(uows, OutboxState.DELIVERED) == 300, 30)
        await dispatcher.stop()
        return done

    with running(sink) as url:
        assert asyncio.run(go(url))
    assert sorted(sink.request_ids()) == sorted(entry.request_id for entry in entries)
    assert all(len(p.attempts) == 1 for p in publications(uows))


def _app_settings(tmp_path: Path, *, enabled: bool) -> Settings:
    return Settings(
        data_dir=tmp_path,
        scheduler_interval_seconds=0,
        dispatcher_enabled=enabled,
        dispatcher_poll_seconds=60,
    )


def test_manage_delivers_the_outbox_only_when_the_dispatcher_is_enabled(
    tmp_path: Path, engine: Engine, uows: UnitOfWorkFactory
) -> None:
    sink = Sink()
    with running(sink) as url:
        resolver = Resolver.to(url)
        disabled = create_app(_app_settings(tmp_path, enabled=False), engine=engine)
        with serve(disabled):
            enqueue_heartbeats(uows, 1)
            disabled.state.dispatcher.nudge()
            time.sleep(0.5)
        assert count_in(uows, OutboxState.PENDING) == 1
        enabled = create_app(
            _app_settings(tmp_path, enabled=True), engine=engine, destinations=resolver
        )
        with serve(enabled):
            enqueue_heartbeats(uows, 1)
            enabled.state.dispatcher.nudge()
            check = _eventually(lambda: count_in(uows, OutboxState.DELIVERED) == 2, 5)
            assert asyncio.run(check)
    assert len(sink.received) == 2


def test_the_dispatch_command_runs_until_sigterm(tmp_path: Path, project_root: Path) -> None:
    """Without a wired resolver nothing resolves, so what it claims is cancelled: proof it ran."""
    engine = make_engine(Settings(data_dir=tmp_path).database_url)
    upgrade(engine)
    uows = unit_of_work_factory(engine, SystemClock())
    env = {
        **os.environ,
        "DEPOTGRID_DATA_DIR": str(tmp_path),
        "DEPOTGRID_DISPATCHER_POLL_SECONDS": "0.1",
    }
    env.pop("DEPOTGRID_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "depotgrid.cli", "manage", "dispatch"],
        cwd=project_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        enqueue_heartbeats(uows, 2)
        cancelled = asyncio.run(_eventually(lambda: count_in(uows, OutboxState.CANCELLED) == 2, 30))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0, process.stderr.read() if process.stderr else ""
    finally:
        process.kill()
        engine.dispose()
    assert cancelled
