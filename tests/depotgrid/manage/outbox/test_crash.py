"""Crash test: a dispatcher process killed with SIGKILL mid-work, then another started. Every
persisted entry reaches the receiver, under its own X-Request-ID; only entries in flight at the
kill may arrive twice (at least once), and the receiver can tell by that id (OSCP §8.5)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from depotgrid.manage.outbox.model import OutboxState
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from tests.depotgrid.manage.outbox.helpers import count_in, enqueue_heartbeats, publications
from tests.depotgrid.manage.outbox.sink import Sink, running

ENTRIES = 400
LEASE_SECONDS = 2


def _dispatcher_process(
    uows: UnitOfWorkFactory, sink_url: str, root: Path
) -> subprocess.Popen[bytes]:
    database_url = uows.engine.url.render_as_string(hide_password=False)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.depotgrid.manage.outbox.dispatch_process",
            database_url,
            sink_url,
            str(LEASE_SECONDS),
        ],
        cwd=root,
    )


def _wait_for(check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_sigkill_mid_work_then_restart_delivers_every_entry(
    uows: UnitOfWorkFactory, project_root: Path
) -> None:
    entries = enqueue_heartbeats(uows, ENTRIES)
    sink = Sink(delay_seconds=0.1)
    with running(sink) as url:
        first = _dispatcher_process(uows, url, project_root)
        try:
            _wait_for(lambda: len(sink.received) >= 64, 30)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        delivered_before = {
            p.entry.request_id for p in publications(uows) if p.entry.state is OutboxState.DELIVERED
        }
        assert len(delivered_before) < ENTRIES, "the kill must land mid-work"
        second = _dispatcher_process(uows, url, project_root)
        try:
            _wait_for(lambda: count_in(uows, OutboxState.DELIVERED) == ENTRIES, 60)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0
    received = Counter(sink.request_ids())
    assert set(received) == {entry.request_id for entry in entries}
    assert all(received[request_id] == 1 for request_id in delivered_before)
