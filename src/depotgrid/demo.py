"""Example data for `depotgrid demo`: one depot with a small circuit tree."""

from __future__ import annotations

from depotgrid.manage.auth.service import create_or_update_user
from depotgrid.manage.legacy import service
from depotgrid.manage.legacy.model import Charger, Depot, Device, PowerSource
from depotgrid.manage.unit_of_work import UnitOfWork, UnitOfWorkFactory

DEMO_DEPOT = "Riverside Bus Depot"
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
