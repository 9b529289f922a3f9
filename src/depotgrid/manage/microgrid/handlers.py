"""In-transaction reactions that keep each depot's microgrid in step with its circuits (COR-8).

Registered in depotgrid.manage.handlers. They run before the circuit change commits, so the
change and the microgrid sync it causes are one atomic change; they read the depot as it will
be committed, so several changes in one transaction need only the first sync to do work.
"""

from __future__ import annotations

from depotgrid.manage.events.store import RecordedEvent
from depotgrid.manage.legacy.model import Depot
from depotgrid.manage.microgrid import service
from depotgrid.manage.unit_of_work import UnitOfWork


def sync_depot_microgrid(uow: UnitOfWork, event: RecordedEvent) -> None:
    """On DepotCreated and Circuit{Created,Updated,Deleted}: sync, provisioning if possible.

    A new depot has no circuit yet, so its creation records the deterministic
    MicrogridProvisioningFailed(NO_TOP_LEVEL_CIRCUIT); its first top-level circuit provisions it.
    """
    depot_id = _depot_id(event)
    if depot_id is None or uow.legacy.get(Depot, depot_id) is None:
        return  # the depot was deleted later in the same transaction
    service.sync(uow, event.actor, depot_id, trigger=event.event_type)


def retire_depot_microgrid(uow: UnitOfWork, event: RecordedEvent) -> None:
    """On DepotDeleted: retire the microgrid so the depot can go; its rows stay for audit."""
    depot_id = _depot_id(event)
    if depot_id is not None:
        service.retire(uow, event.actor, depot_id, trigger=event.event_type)


def _depot_id(event: RecordedEvent) -> str | None:
    if event.data.get("entity") == "depot":
        return str(event.data["entity_id"])
    depot_id = event.data.get("state", {}).get("depot_id")
    return str(depot_id) if depot_id else None
