"""Microgrid routes (COR-8): find a depot's canonical microgrid, read its node tree and managed
scopes, and resync it with the circuit tree.

A depot locates its microgrid (`GET /api/microgrids?depot_id=`), but the answer carries the
microgrid's own `microgrid_id`, which every other microgrid route takes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from depotgrid.manage.api.deps import Paging, Uow, require
from depotgrid.manage.api.schemas import Page
from depotgrid.manage.auth.model import Permission, User
from depotgrid.manage.errors import Conflict
from depotgrid.manage.legacy import service as legacy
from depotgrid.manage.legacy.model import Depot
from depotgrid.manage.microgrid import service, views
from depotgrid.manage.microgrid.model import MicrogridStatus

router = APIRouter(prefix="/api/microgrids", tags=["microgrids"])

Reader = Annotated[User, Depends(require(Permission.LEGACY_READ))]
Admin = Annotated[User, Depends(require(Permission.MICROGRID_ADMIN))]


class NodeChangeOut(BaseModel):
    node_id: str
    kind: str
    circuit_id: str | None
    name: str
    changes: dict[str, dict[str, Any]] | None = None


class ResyncOut(BaseModel):
    microgrid_id: str
    depot_id: str
    changed: bool
    old_version: int
    version: int
    added: list[NodeChangeOut]
    updated: list[NodeChangeOut]
    removed: list[NodeChangeOut]


class ScopesOut(BaseModel):
    microgrid_id: str
    items: list[views.ScopeView]


NOT_PROVISIONED = {
    "description": "With depot_id: the depot has no active microgrid; says why.",
}


@router.get("", response_model=Page[views.MicrogridView], responses={404: NOT_PROVISIONED})
def list_microgrids(
    _: Reader,
    uows: Uow,
    paging: Paging,
    depot_id: Annotated[
        str | None, Query(max_length=36, description="The depot's active microgrid only.")
    ] = None,
) -> Any:
    """Active microgrids, a page at a time; with `depot_id`, that depot's canonical one.

    A depot without an active microgrid answers 404 with code MICROGRID_NOT_PROVISIONED and,
    when provisioning failed, its reason.
    """
    with uows.read() as uow:
        if depot_id is not None:
            legacy.get(uow, Depot, depot_id)
            status = service.provisioning_status(uow, depot_id)
            if status.microgrid is None:
                return _not_provisioned(status)
        items, total = service.repository(uow).page(
            limit=paging.limit,
            offset=paging.offset,
            depot_id=depot_id,
            status=MicrogridStatus.ACTIVE,
        )
        listed = views.microgrid_views(uow, items)
    return {"items": listed, "total": total, "limit": paging.limit, "offset": paging.offset}


@router.get("/{microgrid_id}", response_model=views.MicrogridView)
def get_microgrid(microgrid_id: str, _: Reader, uows: Uow) -> views.MicrogridView:
    """The microgrid and its node tree from the grid connections down (no internal root)."""
    with uows.read() as uow:
        return views.microgrid_detail(uow, microgrid_id)


@router.get("/{microgrid_id}/scopes", response_model=ScopesOut)
def list_scopes(microgrid_id: str, _: Reader, uows: Uow) -> ScopesOut:
    """The managed scopes (GRID_CONNECTION nodes) and the circuit each maps to."""
    with uows.read() as uow:
        found = service.scopes(uow, microgrid_id)
    return ScopesOut(microgrid_id=microgrid_id, items=[views.scope_view(s) for s in found])


@router.post("/{microgrid_id}/resync", response_model=ResyncOut)
def resync(microgrid_id: str, user: Admin, uows: Uow) -> ResyncOut:
    """Repair drift: make the persisted nodes mirror the circuits again (idempotent)."""
    with uows.write() as uow:
        microgrid = service.get_microgrid(uow, microgrid_id)
        if not microgrid.active:
            raise Conflict(
                f"microgrid {microgrid_id} is {microgrid.status.value.lower()}; "
                "only an active microgrid can be resynced",
                code="MICROGRID_RETIRED",
                details={"microgrid_id": microgrid_id, "depot_id": microgrid.depot_id},
            )
        outcome = service.sync(uow, user.email, microgrid.depot_id, trigger="resync")
        uow.commit()
    assert outcome.microgrid is not None and outcome.old_version is not None
    described = outcome.describe()
    return ResyncOut(
        microgrid_id=outcome.microgrid.id,
        depot_id=outcome.depot_id,
        changed=outcome.changed,
        old_version=outcome.old_version,
        version=outcome.microgrid.version,
        added=[NodeChangeOut(**item) for item in described["added"]],
        updated=[NodeChangeOut(**item) for item in described["updated"]],
        removed=[NodeChangeOut(**item) for item in described["removed"]],
    )


def _not_provisioned(status: service.ProvisioningStatus) -> JSONResponse:
    failure = status.failure
    reason = failure.reason if failure else _STATE_REASONS[status.state]
    return JSONResponse(
        {
            "message": f"depot {status.depot_id} has no microgrid: {reason}",
            "code": "MICROGRID_NOT_PROVISIONED",
            "details": {
                "depot_id": status.depot_id,
                "provisioning": status.state.value,
                "reason_code": failure.code.value if failure else None,
                "reason": reason,
                "since": status.since.isoformat() if status.since else None,
            },
        },
        status_code=404,
    )


_STATE_REASONS = {
    service.ProvisioningState.NOT_ATTEMPTED: (
        "provisioning was never attempted; run `depotgrid manage microgrid-backfill` or press "
        "Resync on the depot's Microgrid tab"
    ),
    service.ProvisioningState.RETIRED: "its microgrid was retired",
    service.ProvisioningState.PROVISIONED: "",
    service.ProvisioningState.FAILED: "",
}
