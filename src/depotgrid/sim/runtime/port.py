"""SimulationRuntimePort (design §2): what projections may read of a run, and nothing more.

Projections never write runtime state. They ask the port for a run's logical time, whether its
snapshot is fresh enough to validate against (§10 "Stale validation state"), its configuration
version and its world.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from depotgrid.sim.configuration.model import SimulationConfigurationDocument
from depotgrid.sim.runtime.repository import RunRecord
from depotgrid.sim.runtime.run import RunState
from depotgrid.sim.runtime.world import NodeRuntimeState

STALE_AFTER = timedelta(seconds=60)
"""A running run's checkpoint older than this (wall) means no runner is keeping it current."""


@dataclass(frozen=True)
class RunView:
    run_id: str
    state: RunState
    logical_now: datetime
    stale_reason: str | None
    configuration: SimulationConfigurationDocument
    world: dict[str, NodeRuntimeState]


class SimulationRuntimePort(Protocol):
    def view(self, record: RunRecord, wall: datetime) -> RunView: ...


def stale_reason(record: RunRecord, wall: datetime) -> str | None:
    """Why a run's snapshot cannot be trusted at wall time `wall`, or None."""
    if record.run.state is not RunState.RUNNING:
        return None
    if record.lease_expires_at is None or record.lease_expires_at < wall:
        return "no runner holds this run's lease; its runtime snapshot is not being kept current"
    if record.checkpoint_wall_at is not None and wall - record.checkpoint_wall_at > STALE_AFTER:
        age = (wall - record.checkpoint_wall_at).total_seconds()
        return f"runtime snapshot is {age:.0f} s old (allowed {STALE_AFTER.total_seconds():.0f} s)"
    return None
