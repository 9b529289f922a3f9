"""The UI's write actions. Each makes the same service calls, in the same transaction shape,
as the JSON control route of the same name (`depotgrid.sim.api.runs` and `.sessions`), so a
click and an API call change the simulator identically. Deliveries go straight to
`sim.outbound`, as the routes do."""

from __future__ import annotations

from depotgrid.sim.projections.oscp_cp.service import (
    CreatedSession,
    ExpectationIn,
    OverridePatch,
    SessionIn,
)
from depotgrid.sim.runtime.run import RunCommand
from depotgrid.sim.runtime.service import RunIn
from depotgrid.sim.services import SimServices


def create_run(sim: SimServices, body: RunIn) -> str:
    """POST /simulation-runs."""
    with sim.uows.write() as uow:
        record = sim.runs.create(uow, body, sim.clock.now())
        uow.commit()
    return record.run.id


def run_command(
    sim: SimServices, run_id: str, command: RunCommand, seconds: float | None = None
) -> None:
    """POST /simulation-runs/{id}/commands/{command}: a stop takes the run's sessions offline;
    a tick lets the scheduler catch up with the jump in logical time at once."""
    wall = sim.clock.now()
    with sim.uows.write() as uow:
        sim.runs.command(uow, run_id, command, wall, seconds)
        if command is RunCommand.STOP:
            sim.sessions.on_run_stopped(uow, run_id, wall)
        uow.commit()
    if command is RunCommand.TICK:
        sim.scheduler.tick()


def change_speed(sim: SimServices, run_id: str, speed_factor: float) -> None:
    """PATCH /simulation-runs/{id}."""
    with sim.uows.write() as uow:
        sim.runs.change_speed(uow, run_id, speed_factor, sim.clock.now())
        uow.commit()


def create_session(sim: SimServices, run_id: str, body: SessionIn) -> CreatedSession:
    """POST /simulation-runs/{id}/oscp-sessions."""
    with sim.uows.write() as uow:
        created = sim.sessions.create(uow, run_id, body, sim.clock.now())
        uow.commit()
    return created


def apply_preset(sim: SimServices, run_id: str, session_id: str, preset: str) -> None:
    """POST .../commands/apply-preset."""
    with sim.uows.write() as uow:
        sim.sessions.apply_preset(uow, run_id, session_id, preset, sim.clock.now())
        uow.commit()


def patch_overrides(sim: SimServices, run_id: str, session_id: str, body: OverridePatch) -> None:
    """PATCH .../overrides: apply one, clear one, or clear all."""
    with sim.uows.write() as uow:
        sim.sessions.patch_overrides(uow, run_id, session_id, body, sim.clock.now())
        uow.commit()


def add_expectation(sim: SimServices, run_id: str, session_id: str, body: ExpectationIn) -> str:
    """POST .../expectations."""
    with sim.uows.write() as uow:
        record = sim.sessions.add_expectation(uow, run_id, session_id, body, sim.clock.now())
        uow.commit()
    return record.expectation.id
