"""Simulation Run routes (design §5): runs pinned to a configuration version, clock commands,
world state, events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from depotgrid.sim.api import views
from depotgrid.sim.errors import ValidationFailed
from depotgrid.sim.runtime.clock import MAX_SPEED, MIN_SPEED
from depotgrid.sim.runtime.run import MAX_TICK_SECONDS, RunCommand
from depotgrid.sim.runtime.service import NodePatch, RunIn
from depotgrid.sim.services import SimServices, services

router = APIRouter(tags=["runs"])
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]


class RunPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    speed_factor: float = Field(ge=MIN_SPEED, le=MAX_SPEED)


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float | None = Field(
        default=None, gt=0, le=MAX_TICK_SECONDS, description="tick only: logical seconds to add"
    )


def _view(sim: SimServices, run_id: str) -> dict[str, Any]:
    with sim.uows.read() as uow:
        record = sim.runs.get(uow, run_id)
        return views.run(record, sim.clock.now(), uow.sessions.for_run(run_id))


@router.post("/simulation-runs", status_code=201)
async def create_run(body: RunIn, request: Request) -> dict[str, Any]:
    sim = services(request)
    with sim.uows.write() as uow:
        record = sim.runs.create(uow, body, sim.clock.now())
        uow.commit()
    return _view(sim, record.run.id)


@router.get("/simulation-runs")
async def list_runs(request: Request, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    sim = services(request)
    wall = sim.clock.now()
    with sim.uows.read() as uow:
        items, total = uow.runs.page(limit, offset)
    return {
        "items": [views.run(i, wall) for i in items],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/simulation-runs/{run_id}")
async def get_run(run_id: str, request: Request) -> dict[str, Any]:
    return _view(services(request), run_id)


@router.patch("/simulation-runs/{run_id}")
async def patch_run(run_id: str, body: RunPatch, request: Request) -> dict[str, Any]:
    """Change the speed factor; logical time stays continuous."""
    sim = services(request)
    with sim.uows.write() as uow:
        sim.runs.change_speed(uow, run_id, body.speed_factor, sim.clock.now())
        uow.commit()
    return _view(sim, run_id)


@router.post("/simulation-runs/{run_id}/commands/{command}")
async def run_command(
    run_id: str,
    command: RunCommand,
    request: Request,
    body: Annotated[CommandIn | None, Body()] = None,
) -> dict[str, Any]:
    """start | pause | resume | stop | tick (`{"seconds": n}`, default the run's tick_seconds)."""
    sim = services(request)
    seconds = body.seconds if body else None
    if seconds is not None and command is not RunCommand.TICK:
        raise ValidationFailed.single("seconds", "applies only to the tick command")
    wall = sim.clock.now()
    with sim.uows.write() as uow:
        sim.runs.command(uow, run_id, command, wall, seconds)
        if command is RunCommand.STOP:
            sim.sessions.on_run_stopped(uow, run_id, wall)
        uow.commit()
    if command is RunCommand.TICK:
        sim.scheduler.tick()
    return _view(sim, run_id)


@router.get("/simulation-runs/{run_id}/world")
async def get_world(run_id: str, request: Request) -> dict[str, Any]:
    view = _view(services(request), run_id)
    return {"logical_time": view["logical_time"], **view["world"]}


@router.patch("/simulation-runs/{run_id}/world/nodes/{node_id}")
async def patch_node(
    run_id: str, node_id: str, body: NodePatch, request: Request
) -> dict[str, Any]:
    """Set a node's own load and/or constraint (kW); aggregates and breaches are recomputed."""
    sim = services(request)
    with sim.uows.write() as uow:
        sim.runs.change_node(uow, run_id, node_id, body, sim.clock.now())
        uow.commit()
    view = _view(sim, run_id)
    return {"logical_time": view["logical_time"], **view["world"]}


@router.get("/simulation-runs/{run_id}/events")
async def run_events(
    run_id: str,
    request: Request,
    event_type: Annotated[list[str] | None, Query(alias="type")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Runtime and projection events of the run, newest first."""
    sim = services(request)
    with sim.uows.read() as uow:
        sim.runs.get(uow, run_id)
        items, total = uow.events.for_run(
            run_id, limit=limit, offset=offset, types=event_type or []
        )
    return {
        "events": [views.event(e) for e in items],
        "total": total,
        "limit": limit,
        "offset": offset,
    }
