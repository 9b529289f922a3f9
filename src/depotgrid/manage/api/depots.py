"""Depot routes: CRUD, history (the depot's audit stream) and the circuit tree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from depotgrid.manage.api.deps import Paging, Uow, require
from depotgrid.manage.api.schemas import DepotIn, DepotOut, DepotPatch, EventOut, Page
from depotgrid.manage.auth.model import Permission, User
from depotgrid.manage.errors import NotFound
from depotgrid.manage.legacy import service, views
from depotgrid.manage.legacy.model import Depot

router = APIRouter(prefix="/api/depots", tags=["depots"])

Reader = Annotated[User, Depends(require(Permission.LEGACY_READ))]
Writer = Annotated[User, Depends(require(Permission.LEGACY_WRITE))]
HistoryReader = Annotated[User, Depends(require(Permission.HISTORY_READ))]


@router.post("", status_code=201, response_model=DepotOut)
def create_depot(body: DepotIn, user: Writer, uows: Uow) -> Depot:
    with uows.write() as uow:
        depot = service.create_depot(uow, user.email, name=body.name, timezone=body.timezone)
        uow.commit()
    return depot


@router.get("", response_model=Page[DepotOut])
def list_depots(
    _: Reader,
    uows: Uow,
    paging: Paging,
    q: Annotated[str | None, Query(max_length=200, description="Name contains.")] = None,
) -> dict[str, object]:
    with uows.read() as uow:
        items, total = uow.legacy.page(Depot, limit=paging.limit, offset=paging.offset, search=q)
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}


@router.get("/{depot_id}", response_model=DepotOut)
def get_depot(depot_id: str, _: Reader, uows: Uow) -> Depot:
    with uows.read() as uow:
        depot: Depot = service.get(uow, Depot, depot_id)
    return depot


@router.patch("/{depot_id}", response_model=DepotOut)
def update_depot(depot_id: str, body: DepotPatch, user: Writer, uows: Uow) -> Depot:
    with uows.write() as uow:
        depot = service.update_depot(uow, user.email, depot_id, body.changes())
        uow.commit()
    return depot


@router.delete("/{depot_id}", status_code=204)
def delete_depot(depot_id: str, user: Writer, uows: Uow) -> Response:
    with uows.write() as uow:
        service.delete_depot(uow, user.email, depot_id)
        uow.commit()
    return Response(status_code=204)


@router.get("/{depot_id}/history", response_model=Page[EventOut])
def depot_history(depot_id: str, _: HistoryReader, uows: Uow, paging: Paging) -> dict[str, object]:
    """Every change to the depot and its circuits, chargers, power sources and devices, in order.

    Kept after the depot is deleted: the audit trail outlives what it describes.
    """
    stream = service.depot_stream(depot_id)
    with uows.read() as uow:
        total = uow.events.current_version(stream)
        if total == 0:
            raise NotFound("depot", depot_id)
        items = uow.events.read_stream(stream, offset=paging.offset, limit=paging.limit)
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}


@router.get("/{depot_id}/tree", response_model=views.DepotTree)
def depot_tree(depot_id: str, _: Reader, uows: Uow) -> views.DepotTree:
    """The circuit tree with chargers, power sources and devices under their circuits."""
    with uows.read() as uow:
        return views.depot_tree(uow, depot_id)
