"""Example data for `depotgrid demo`: one depot with a small circuit tree in manage, and the
same depot in the simulator (imported from manage's depot tree over the sim's HTTP API, as any
QA engineer would) with a run started on it."""

from __future__ import annotations

from typing import Any

import httpx

from depotgrid.manage.auth.service import create_or_update_user
from depotgrid.manage.legacy import service
from depotgrid.manage.legacy import views as legacy_views
from depotgrid.manage.legacy.model import Charger, Depot, Device, PowerSource
from depotgrid.manage.unit_of_work import UnitOfWork, UnitOfWorkFactory

DEMO_DEPOT = "Riverside Bus Depot"
DEMO_SIMULATION = f"{DEMO_DEPOT} (simulated)"
ACTOR = "demo-seed"


def seed(uows: UnitOfWorkFactory, *, admin_email: str, admin_password: str) -> str:
    """Create (or reset) the admin and, once, the example depot; returns the depot's name."""
    with uows.write() as uow:
        create_or_update_user(
            uow, ACTOR, email=admin_email, role="system-admin", password=admin_password
        )
        existing, _ = uow.legacy.page(Depot, limit=1, offset=0, search=DEMO_DEPOT)
        if not existing:
            _seed_depot(uow)
        uow.commit()
    return DEMO_DEPOT


def depot_tree(uows: UnitOfWorkFactory) -> dict[str, Any]:
    """The demo depot as manage's API shows it (`GET /api/depots/{id}/tree`)."""
    with uows.read() as uow:
        depots, _ = uow.legacy.page(Depot, limit=1, offset=0, search=DEMO_DEPOT)
        return legacy_views.depot_tree(uow, depots[0].id).model_dump(mode="json")


def seed_simulation(sim_url: str, tree: dict[str, Any]) -> str:
    """Import the depot into the simulator once and make sure a run of it is running; returns
    the run's id. Goes through the sim's control API only."""
    with httpx.Client(base_url=sim_url, timeout=30) as sim:
        configuration_id = _simulation_configuration(sim, tree)
        runs = sim.get("/simulation-runs", params={"limit": 500}).raise_for_status().json()
        mine = [r for r in runs["items"] if r["configuration_id"] == configuration_id]
        live = [r for r in mine if r["state"] in ("created", "running", "paused")]
        if live:
            run = live[0]
        else:
            run = (
                sim.post(
                    "/simulation-runs",
                    json={"configuration_id": configuration_id, "configuration_version": 1},
                )
                .raise_for_status()
                .json()
            )
        command = {"created": "start", "paused": "resume"}.get(run["state"])
        if command:
            sim.post(f"/simulation-runs/{run['id']}/commands/{command}").raise_for_status()
        return str(run["id"])


def _simulation_configuration(sim: httpx.Client, tree: dict[str, Any]) -> str:
    existing = sim.get("/simulation-configurations", params={"limit": 500}).raise_for_status()
    for item in existing.json()["items"]:
        if item["name"] == DEMO_SIMULATION:
            return str(item["id"])
    imported = sim.post(
        "/simulation-configurations/import/legacy", json={"name": DEMO_SIMULATION, "depot": tree}
    )
    return str(imported.raise_for_status().json()["id"])


def _seed_depot(uow: UnitOfWork) -> None:
    depot = service.create_depot(uow, ACTOR, name=DEMO_DEPOT, timezone="Europe/London")
    grid = service.create_circuit(
        uow,
        ACTOR,
        depot.id,
        {
            "name": "Grid connection",
            "parent_circuit_id": None,
            "max_capacity_kw": 800.0,
            "safe_default_capacity_kw": 400.0,
        },
    )
    for bay, rating in (("Bay A", 350.0), ("Bay B", 350.0)):
        board = service.create_circuit(
            uow,
            ACTOR,
            depot.id,
            {
                "name": f"{bay} distribution board",
                "parent_circuit_id": grid.id,
                "max_capacity_kw": rating,
            },
        )
        for n in range(1, 4):
            service.create_component(
                uow,
                ACTOR,
                Charger,
                depot.id,
                {
                    "name": f"{bay} charger {n}",
                    "circuit_id": board.id,
                    "ocpp_identity": f"RIV-{bay[-1]}{n:02d}",
                    "max_power_kw": 150.0,
                    "min_power_kw": 6.0,
                    "connector_count": 2,
                },
            )
    service.create_component(
        uow,
        ACTOR,
        PowerSource,
        depot.id,
        {
            "name": "Depot battery",
            "circuit_id": grid.id,
            "kind": "BATTERY",
            "rated_power_kw": 250.0,
            "state": "IDLE",
        },
    )
    service.create_component(
        uow,
        ACTOR,
        Device,
        depot.id,
        {
            "name": "Site gateway",
            "circuit_id": grid.id,
            "site_model_name": None,
            "output_translation": None,
        },
    )
