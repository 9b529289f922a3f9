"""The scheduler: runs each registered job when it is due, each managing its own transactions.

Time inside a job comes from the unit of work's injected clock, never from the thread's own
notion of time, so tests and the simulator's logical time drive it. A failing job is logged and
kept as that job's last error (shown to operators), and never stops the others. Jobs are
idempotent, so several manage processes may run schedulers against one database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from depotgrid.manage.unit_of_work import UnitOfWork, UnitOfWorkFactory

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[UnitOfWorkFactory], int]
    """Does one round of work in units of work of its own; returns how much it changed."""
    every_seconds: float = 0.0
    """At most once per this much clock time; 0 = every round."""


def in_one_transaction(work: Callable[[UnitOfWork], int]) -> Callable[[UnitOfWorkFactory], int]:
    """Adapt work done in one unit of work (committed when it returns) to a job."""

    def run(uows: UnitOfWorkFactory) -> int:
        with uows.write() as uow:
            changed = work(uow)
            uow.commit()
        return changed

    return run


@dataclass
class JobState:
    runs: int = 0
    changes: int = 0
    last_run_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None


@dataclass
class Scheduler:
    uows: UnitOfWorkFactory
    jobs: Sequence[Job]
    interval_seconds: float
    states: dict[str, JobState] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def run_once(self) -> None:
        for job in self.jobs:
            self._run(job)

    def start(self) -> None:
        if self.interval_seconds <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="depotgrid-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            self.run_once()

    def _run(self, job: Job) -> None:
        state = self.states.setdefault(job.name, JobState())
        started = self.uows.clock.now()
        if state.last_run_at and (started - state.last_run_at).total_seconds() < job.every_seconds:
            return
        try:
            changed = job.run(self.uows)
        except Exception as exc:  # one job's failure must not stop the others
            state.last_error = f"{type(exc).__name__}: {exc}"
            state.last_error_at = self.uows.clock.now()
            log.exception("scheduled job failed", job=job.name)
            return
        state.runs += 1
        state.changes += changed
        state.last_run_at = started
