"""Simulation Run Service commands (design §5): create runs pinned to one configuration
version, drive their clock, change world state, checkpoint, and hold runner leases.

Also the runtime port's implementation (`Runtime`), which caches configuration versions (they
are immutable) so projections can read a run's configuration without a query per message.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from depotgrid.common.ids import new_id
from depotgrid.sim.configuration.model import SimulationConfigurationDocument
from depotgrid.sim.errors import Conflict, FieldError, NotFound, ValidationFailed
from depotgrid.sim.runtime import world as world_state
from depotgrid.sim.runtime.clock import MAX_SPEED, MIN_SPEED, RunClock
from depotgrid.sim.runtime.port import RunView, stale_reason
from depotgrid.sim.runtime.repository import RunRecord
from depotgrid.sim.runtime.run import (
    MAX_TICK_SECONDS,
    Run,
    RunCommand,
    RunEvent,
    RunState,
    RunTransitionError,
    apply_command,
    set_speed,
)
from depotgrid.sim.unit_of_work import SimUnitOfWork

LEASE_TTL = timedelta(seconds=15)
LEASE_RENEW_EVERY = timedelta(seconds=5)


def default_runner_id(data_dir: str) -> str:
    """Host plus data directory: the same service restarted reclaims its own leases at once."""
    return f"{socket.gethostname()}:{data_dir}"


@dataclass
class LeaseBook:
    """Which runs this process holds the runner lease of (design §4: one runner per run)."""

    owner: str
    owned: set[str] = field(default_factory=set)


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    configuration_id: str = Field(min_length=1, max_length=36)
    configuration_version: int = Field(ge=1)
    name: str | None = Field(default=None, max_length=200)
    start_time: AwareDatetime | None = Field(
        default=None, description="Logical time at start; default: the wall time of creation."
    )
    speed_factor: float = Field(default=1.0, ge=MIN_SPEED, le=MAX_SPEED)
    tick_seconds: float = Field(default=1.0, gt=0, le=MAX_TICK_SECONDS)


class NodePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    own_load_kw: float | None = Field(default=None, ge=0)
    constraint_kw: float | None = Field(default=None, ge=0)


class Runtime:
    """The SimulationRuntimePort: read-only views of runs for projections."""

    def __init__(self) -> None:
        self._documents: dict[tuple[str, int], SimulationConfigurationDocument] = {}

    def document(self, uow: SimUnitOfWork, run: Run) -> SimulationConfigurationDocument:
        key = (run.configuration_id, run.configuration_version)
        if key not in self._documents:
            found = uow.configurations.version(*key)
            if found is None:
                raise NotFound("configuration version", f"{key[0]} v{key[1]}")
            self._documents[key] = found.document
        return self._documents[key]

    def view(self, uow: SimUnitOfWork, record: RunRecord, wall: datetime) -> RunView:
        return RunView(
            run_id=record.run.id,
            state=record.run.state,
            logical_now=record.run.logical_at(wall),
            stale_reason=stale_reason(record, wall),
            configuration=self.document(uow, record.run),
            world=record.world,
        )


class RunService:
    def __init__(self, runtime: Runtime, leases: LeaseBook) -> None:
        self.runtime = runtime
        self.leases = leases

    def create(self, uow: SimUnitOfWork, body: RunIn, wall: datetime) -> RunRecord:
        version = uow.configurations.version(body.configuration_id, body.configuration_version)
        if version is None:
            if uow.configurations.get(body.configuration_id) is None:
                raise ValidationFailed.single(
                    "configuration_id",
                    f"simulation configuration '{body.configuration_id}' does not exist",
                )
            raise ValidationFailed.single(
                "configuration_version",
                f"configuration '{body.configuration_id}' has no version "
                f"{body.configuration_version}",
            )
        start = body.start_time or wall
        run = Run(
            id=new_id(),
            name=body.name or f"{version.document.name} v{version.version}",
            configuration_id=body.configuration_id,
            configuration_version=body.configuration_version,
            state=RunState.CREATED,
            clock=RunClock(wall, start, body.speed_factor, running=False),
            tick_seconds=body.tick_seconds,
            version=1,
        )
        world = world_state.initial_world(version.document)
        uow.runs.add(run, world, wall)
        uow.runs.save_world(run.id, world, logical=start, wall=wall)
        if uow.runs.claim_lease(run.id, self.leases.owner, wall, wall + LEASE_TTL):
            self.leases.owned.add(run.id)
        self._record(
            uow,
            run.id,
            [
                RunEvent(
                    "SimulationRunCreated",
                    {
                        "configuration_id": run.configuration_id,
                        "configuration_version": run.configuration_version,
                    },
                    start,
                )
            ],
            wall,
        )
        record = uow.runs.get(run.id)
        assert record is not None
        return record

    def get(self, uow: SimUnitOfWork, run_id: str) -> RunRecord:
        record = uow.runs.get(run_id)
        if record is None:
            raise NotFound("simulation run", run_id)
        return record

    def command(
        self,
        uow: SimUnitOfWork,
        run_id: str,
        command: RunCommand,
        wall: datetime,
        seconds: float | None = None,
    ) -> RunRecord:
        record = uow.runs.get(run_id, for_update=True)
        if record is None:
            raise NotFound("simulation run", run_id)
        try:
            run, events = apply_command(record.run, command, wall, seconds=seconds)
        except RunTransitionError as exc:
            raise Conflict(
                str(exc), "INVALID_RUN_TRANSITION", {"state": record.run.state}
            ) from None
        uow.runs.save(run, wall, expected_version=record.run.version)
        self._record(uow, run_id, events, wall)
        self.checkpoint(uow, run_id, wall)
        return self.get(uow, run_id)

    def change_speed(
        self, uow: SimUnitOfWork, run_id: str, speed: float, wall: datetime
    ) -> RunRecord:
        record = self.get(uow, run_id)
        try:
            run, events = set_speed(record.run, speed, wall)
        except RunTransitionError as exc:
            raise Conflict(str(exc), "INVALID_RUN_TRANSITION") from None
        uow.runs.save(run, wall, expected_version=record.run.version)
        self._record(uow, run_id, events, wall)
        return self.get(uow, run_id)

    def change_node(
        self, uow: SimUnitOfWork, run_id: str, node_id: str, patch: NodePatch, wall: datetime
    ) -> RunRecord:
        record = self.get(uow, run_id)
        if record.run.state is RunState.STOPPED:
            raise Conflict("the run is stopped; its world no longer changes", "RUN_STOPPED")
        if node_id not in record.world:
            raise NotFound("topology node", node_id)
        if patch.own_load_kw is None and patch.constraint_kw is None:
            raise ValidationFailed([FieldError("body", "give own_load_kw or constraint_kw")])
        changed = world_state.set_node(
            record.world, node_id, own_load_kw=patch.own_load_kw, constraint_kw=patch.constraint_kw
        )
        uow.runs.save_world(run_id, changed, logical=record.run.logical_at(wall), wall=wall)
        self._record(
            uow,
            run_id,
            [
                RunEvent(
                    "NodeRuntimeStateChanged",
                    {"node_id": node_id, **patch.model_dump(exclude_none=True)},
                    record.run.logical_at(wall),
                )
            ],
            wall,
        )
        self.checkpoint(uow, run_id, wall)
        return self.get(uow, run_id)

    def checkpoint(self, uow: SimUnitOfWork, run_id: str, wall: datetime) -> None:
        """Recompute the world at the run's logical now and persist it (design §3 checkpoints)."""
        record = uow.runs.get(run_id)
        if record is None or (record.run.state is RunState.STOPPED and record.checkpoint_wall_at):
            return
        now = record.run.logical_at(wall)
        document = self.runtime.document(uow, record.run)
        scopes = {scope.id: scope.node_id for scope in document.managed_scopes}
        world, breaches = world_state.evaluate(record.world, scopes, now)
        uow.runs.save_world(run_id, world, logical=now, wall=wall)
        self._record(
            uow,
            run_id,
            [
                RunEvent(
                    "ManagedScopeBreachDetected",
                    {
                        "scope_id": breach.scope_id,
                        "node_id": breach.node_id,
                        "load_kw": breach.load_kw,
                        "constraint_kw": breach.constraint_kw,
                    },
                    breach.at,
                )
                for breach in breaches
            ],
            wall,
        )

    def _record(
        self, uow: SimUnitOfWork, run_id: str, events: list[RunEvent], wall: datetime
    ) -> None:
        for event in events:
            uow.events.append(
                event.event_type, event.data, run_id=run_id, logical_at=event.logical_at, now=wall
            )
