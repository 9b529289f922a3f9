"""Simulation Configuration routes (design §5): versioned configurations, legacy import,
scenario catalogue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from depotgrid.sim.api import views
from depotgrid.sim.configuration import service
from depotgrid.sim.configuration.legacy import LegacyImport
from depotgrid.sim.configuration.model import SimulationConfigurationDocument
from depotgrid.sim.errors import NotFound
from depotgrid.sim.scenarios.overrides import MODES
from depotgrid.sim.scenarios.presets import BUILTIN_PRESETS
from depotgrid.sim.services import services

router = APIRouter(tags=["configurations"])
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]


@router.post("/simulation-configurations", status_code=201)
async def create_configuration(
    body: SimulationConfigurationDocument, request: Request
) -> dict[str, Any]:
    sim = services(request)
    with sim.uows.write() as uow:
        configuration_id = service.create(uow, body, sim.clock.now())
        uow.commit()
    return {"id": configuration_id, "version": 1, "name": body.name}


@router.post("/simulation-configurations/import/legacy", status_code=201)
async def import_legacy(body: LegacyImport, request: Request) -> dict[str, Any]:
    """Translate manage's depot tree (GET /api/depots/{id}/tree) into a configuration."""
    sim = services(request)
    with sim.uows.write() as uow:
        configuration_id, document = service.import_legacy(uow, body, sim.clock.now())
        uow.commit()
    return {"id": configuration_id, "version": 1, **document.model_dump(mode="json")}


@router.get("/simulation-configurations")
async def list_configurations(
    request: Request, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    sim = services(request)
    with sim.uows.read() as uow:
        items, total = uow.configurations.page(limit, offset)
        views_ = [views.configuration(i, uow.configurations.versions(i.id)) for i in items]
    return {"items": views_, "total": total, "limit": limit, "offset": offset}


@router.get("/simulation-configurations/{configuration_id}")
async def get_configuration(configuration_id: str, request: Request) -> dict[str, Any]:
    sim = services(request)
    with sim.uows.read() as uow:
        found = uow.configurations.get(configuration_id)
        if found is None:
            raise NotFound("simulation configuration", configuration_id)
        return views.configuration(found, uow.configurations.versions(configuration_id))


@router.post("/simulation-configurations/{configuration_id}/versions", status_code=201)
async def add_version(
    configuration_id: str, body: SimulationConfigurationDocument, request: Request
) -> dict[str, Any]:
    """A new version; runs pinned to earlier versions are not affected."""
    sim = services(request)
    with sim.uows.write() as uow:
        version = service.add_version(uow, configuration_id, body, sim.clock.now())
        uow.commit()
    return {"id": configuration_id, "version": version, "name": body.name}


@router.get("/simulation-configurations/{configuration_id}/versions/{version}")
async def get_version(configuration_id: str, version: int, request: Request) -> dict[str, Any]:
    sim = services(request)
    with sim.uows.read() as uow:
        return views.configuration_version(service.get_version(uow, configuration_id, version))


@router.get("/oscp-scenarios")
async def scenario_catalogue() -> dict[str, Any]:
    """Every override mode (what it forces, what an FP should observe) and built-in preset."""
    return {
        "modes": [
            {
                "mode": mode.value,
                "effect": info.effect.value,
                "direction": "outbound" if info.outbound else "inbound",
                "default_message_types": sorted(info.defaults),
                "applies_to": sorted(info.applies_to),
                "forces": info.forces,
                "fp_observes": info.fp_observes,
            }
            for mode, info in MODES.items()
        ],
        "presets": [p.model_dump(mode="json") for p in BUILTIN_PRESETS.values()],
    }
