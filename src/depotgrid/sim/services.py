"""The services one sim process holds, built once by `create_sim_app` and shared by its routes."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from depotgrid.common.clock import Clock
from depotgrid.settings import Settings
from depotgrid.sim.projections.oscp_cp.outbound import Outbound
from depotgrid.sim.projections.oscp_cp.protocol import ProtocolService
from depotgrid.sim.projections.oscp_cp.scheduler import Scheduler
from depotgrid.sim.projections.oscp_cp.service import SessionService
from depotgrid.sim.runtime.service import LeaseBook, RunService, Runtime
from depotgrid.sim.unit_of_work import SimUnitOfWorkFactory


@dataclass
class SimServices:
    settings: Settings
    clock: Clock
    uows: SimUnitOfWorkFactory
    runtime: Runtime
    leases: LeaseBook
    runs: RunService
    sessions: SessionService
    protocol: ProtocolService
    outbound: Outbound
    scheduler: Scheduler


def services(request: Request) -> SimServices:
    found: SimServices = request.app.state.sim
    return found
