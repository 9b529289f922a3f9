"""The background scheduler: leases, resume after restart, timers on each run's logical clock
(design §4 "one active runner lease", §6 SimulationRunResumed, §9 heartbeats, §10 restart).

Every `poll_seconds` of wall time, for each run this process holds the lease of, at the run's
logical now:
1. end overrides whose `until` has passed;
2. expire sessions whose liveness or handshake deadline has passed (-> offline);
3. resolve expectations whose deadline has passed;
4. claim due heartbeats and due scheduled forecast plans (pending ledger entries, next due
   times) in one transaction, then send them concurrently in the background.

All timers are columns (`next_heartbeat_at`, `peer_offline_at`, `handshake_deadline_at`,
`until_at`, `deadline_at`, `due_at`), so they survive a restart. Leases are taken and renewed
every 5 s for 15 s; a run whose lease this process newly takes (at start-up, or from a runner
that died) is resumed: sessions whose timers expired while no one ran them go offline, pending
outbound entries are finalized or re-sent, and `SimulationRunResumed` is recorded.
Checkpoints (the world at logical now) are written every 5 s for running runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import structlog

from depotgrid.common.clock import Clock
from depotgrid.sim.projections.oscp_cp.effects import save_session
from depotgrid.sim.projections.oscp_cp.outbound import Outbound, Prepared
from depotgrid.sim.projections.oscp_cp.session import expired
from depotgrid.sim.runtime.run import RunState
from depotgrid.sim.runtime.service import LEASE_RENEW_EVERY, LEASE_TTL, LeaseBook, RunService
from depotgrid.sim.scenarios.expectations import on_time
from depotgrid.sim.unit_of_work import SimUnitOfWork, SimUnitOfWorkFactory

log = structlog.get_logger(__name__)

DEFAULT_POLL_SECONDS = 0.05
HEARTBEATS_PER_TICK = 2000


class Scheduler:
    def __init__(
        self,
        uows: SimUnitOfWorkFactory,
        clock: Clock,
        leases: LeaseBook,
        runs: RunService,
        outbound: Outbound,
        *,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ) -> None:
        self._uows = uows
        self._clock = clock
        self._leases = leases
        self._runs = runs
        self._outbound = outbound
        self._poll = poll_seconds
        self._next_lease_check: datetime | None = None
        self._next_checkpoint: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.ticks = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="sim-scheduler")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._outbound.drain()
        self._outbound.flush()
        with self._uows.write() as uow:
            for run_id in list(self._leases.owned):
                uow.runs.release_lease(run_id, self._leases.owner)
            uow.commit()
        self._leases.owned.clear()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception:  # a failed tick must not stop the timers (§10 "scheduler failure")
                log.exception("sim scheduler tick failed")
            await asyncio.sleep(self._poll)

    def tick(self) -> None:
        """One pass over every held run (also called directly by tests)."""
        self._outbound.flush()
        wall = self._clock.now()
        self.ticks += 1
        if self._next_lease_check is None or wall >= self._next_lease_check:
            self._next_lease_check = wall + LEASE_RENEW_EVERY
            self._refresh_leases(wall)
        checkpoint = self._next_checkpoint is None or wall >= self._next_checkpoint
        if checkpoint:
            self._next_checkpoint = wall + LEASE_RENEW_EVERY
        for run_id in sorted(self._leases.owned):
            batch = self._process(run_id, wall, checkpoint=checkpoint)
            self._outbound.deliver_all(batch)

    def _refresh_leases(self, wall: datetime) -> None:
        resumed: list[str] = []
        with self._uows.write() as uow:
            for run_id in uow.runs.active_ids():
                held = uow.runs.claim_lease(run_id, self._leases.owner, wall, wall + LEASE_TTL)
                if held and run_id not in self._leases.owned:
                    self._leases.owned.add(run_id)
                    resumed.append(run_id)
                elif not held:
                    self._leases.owned.discard(run_id)
            uow.commit()
        for run_id in resumed:
            self._outbound.deliver_all(self._resume(run_id, wall))

    def _resume(self, run_id: str, wall: datetime) -> list[Prepared]:
        """Restore a run after a restart (design §10 "Service restart")."""
        with self._uows.write() as uow:
            record = uow.runs.get(run_id)
            if record is None:
                return []
            now = record.run.logical_at(wall)
            sessions = uow.sessions.for_run(run_id)
            timed_out = 0
            for session in sessions:
                after = expired(session, now)
                if after is not None:
                    timed_out += 1
                    save_session(uow, session, after, logical=now, wall=wall)
            resend = self._outbound.pending_for_resume(uow, [s.id for s in sessions], wall)
            uow.events.append(
                "SimulationRunResumed",
                {
                    "runner": self._leases.owner,
                    "state": record.run.state.value,
                    "logical_time": now.isoformat(),
                    "sessions": len(sessions),
                    "sessions_timed_out": timed_out,
                    "redelivering": len(resend),
                },
                run_id=run_id,
                logical_at=now,
                now=wall,
            )
            self._runs.checkpoint(uow, run_id, wall)
            uow.commit()
        log.info("resumed simulation run", run_id=run_id, sessions=len(sessions))
        return resend

    def _process(self, run_id: str, wall: datetime, *, checkpoint: bool) -> list[Prepared]:
        with self._uows.write() as uow:
            record = uow.runs.get(run_id)
            if record is None or record.run.state is RunState.STOPPED:
                self._leases.owned.discard(run_id)
                if record is not None:
                    uow.runs.release_lease(run_id, self._leases.owner)
                    uow.commit()
                return []
            now = record.run.logical_at(wall)
            self._expire_overrides(uow, run_id, now, wall)
            for session in uow.sessions.due_expiries(run_id, now):
                after = expired(session, now)
                if after is not None:
                    save_session(uow, session, after, logical=now, wall=wall)
            for session_id, expectation in uow.expectations.due(run_id, now):
                resolution = on_time(expectation, now)
                if resolution is not None:
                    uow.expectations.resolve(
                        session_id,
                        expectation.id,
                        resolution.status,
                        resolution.reason,
                        resolution.at,
                        None,
                    )
            batch = self._outbound.claim_heartbeats(uow, run_id, now, wall, HEARTBEATS_PER_TICK)
            batch += self._outbound.claim_plans(uow, run_id, now, wall)
            if checkpoint and record.run.state is RunState.RUNNING:
                self._runs.checkpoint(uow, run_id, wall)
            uow.commit()
        return batch

    def _expire_overrides(
        self, uow: SimUnitOfWork, run_id: str, now: datetime, wall: datetime
    ) -> None:
        for override in uow.overrides.end_expired(run_id, now):
            uow.events.append(
                "OscpScenarioOverrideExpired",
                {"mode": override.mode.value, "until": override.until_at.isoformat()},
                run_id=run_id,
                session_id=override.session_id,
                logical_at=override.until_at,
                now=wall,
            )
