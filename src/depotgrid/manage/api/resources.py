"""Routes for the depot's child resources: circuits, chargers, power sources and devices.

All four share one route shape (a contract other issues rely on):
`POST/GET /api/depots/{id}/<plural>` and `GET/PATCH/DELETE /api/<plural>/{id}`.
"""

# Annotations stay evaluated here: the route functions are built per resource in a closure.
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from depotgrid.manage.api.deps import Paging, Uow, require
from depotgrid.manage.api.schemas import (
    ChargerIn,
    ChargerOut,
    ChargerPatch,
    CircuitIn,
    CircuitOut,
    CircuitPatch,
    DeviceIn,
    DeviceOut,
    DevicePatch,
    Page,
    Patch,
    PowerSourceIn,
    PowerSourceOut,
    PowerSourcePatch,
)
from depotgrid.manage.auth.model import Permission, User
from depotgrid.manage.legacy import service
from depotgrid.manage.legacy.model import Charger, Circuit, Depot, Device, PowerSource
from depotgrid.manage.unit_of_work import UnitOfWork

Reader = Annotated[User, Depends(require(Permission.LEGACY_READ))]
Writer = Annotated[User, Depends(require(Permission.LEGACY_WRITE))]


@dataclass(frozen=True)
class Resource:
    plural: str
    kind: type[Any]
    body: type[Any]
    patch: type[Patch]
    out: type[Any]
    create: Callable[[UnitOfWork, str, str, dict[str, Any]], Any]
    update: Callable[[UnitOfWork, str, str, dict[str, Any]], Any]
    delete: Callable[[UnitOfWork, str, str], None]
    filter_column: str


def _component(
    plural: str, kind: type[Any], body: type[Any], patch: type[Patch], out: type[Any]
) -> Resource:
    return Resource(
        plural=plural,
        kind=kind,
        body=body,
        patch=patch,
        out=out,
        create=lambda uow, actor, depot_id, f: service.create_component(
            uow, actor, kind, depot_id, f
        ),
        update=lambda uow, actor, i, c: service.update_component(uow, actor, kind, i, c),
        delete=lambda uow, actor, i: service.delete_component(uow, actor, kind, i),
        filter_column="circuit_id",
    )


RESOURCES = (
    Resource(
        plural="circuits",
        kind=Circuit,
        body=CircuitIn,
        patch=CircuitPatch,
        out=CircuitOut,
        create=service.create_circuit,
        update=service.update_circuit,
        delete=service.delete_circuit,
        filter_column="parent_circuit_id",
    ),
    _component("chargers", Charger, ChargerIn, ChargerPatch, ChargerOut),
    _component("power-sources", PowerSource, PowerSourceIn, PowerSourcePatch, PowerSourceOut),
    _component("devices", Device, DeviceIn, DevicePatch, DeviceOut),
)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api")
    for resource in RESOURCES:
        _add_routes(router, resource)
    return router


def _add_routes(router: APIRouter, r: Resource) -> None:
    tags: list[str | Enum] = [r.plural]
    name = r.kind.__name__.lower()

    def create(depot_id: str, body: Any, user: Writer, uows: Uow) -> Any:
        with uows.write() as uow:
            entity = r.create(uow, user.email, depot_id, body.fields())
            uow.commit()
        return entity

    def list_(
        depot_id: str, _: Reader, uows: Uow, paging: Paging, under: str | None = None
    ) -> dict[str, object]:
        filters = {"depot_id": depot_id} | ({r.filter_column: under} if under else {})
        with uows.read() as uow:
            service.get(uow, Depot, depot_id)
            items, total = uow.legacy.page(
                r.kind, limit=paging.limit, offset=paging.offset, **filters
            )
        return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}

    def read(entity_id: str, _: Reader, uows: Uow) -> Any:
        with uows.read() as uow:
            return service.get(uow, r.kind, entity_id)

    def update(entity_id: str, body: Any, user: Writer, uows: Uow) -> Any:
        with uows.write() as uow:
            entity = r.update(uow, user.email, entity_id, body.changes())
            uow.commit()
        return entity

    def delete(entity_id: str, user: Writer, uows: Uow) -> Response:
        with uows.write() as uow:
            r.delete(uow, user.email, entity_id)
            uow.commit()
        return Response(status_code=204)

    # The body and filter types differ per resource; FastAPI reads them from the annotations.
    create.__annotations__["body"] = r.body
    update.__annotations__["body"] = r.patch
    list_.__annotations__["under"] = Annotated[
        str | None, Query(alias=r.filter_column, description="Only those under this circuit.")
    ]
    collection, item = f"/depots/{{depot_id}}/{r.plural}", f"/{r.plural}/{{entity_id}}"
    routes: list[tuple[str, Callable[..., Any], str, int, Any, str]] = [
        (collection, create, "POST", 201, r.out, f"create_{name}"),
        (collection, list_, "GET", 200, Page[r.out], f"list_{name}s"),  # type: ignore[name-defined]
        (item, read, "GET", 200, r.out, f"get_{name}"),
        (item, update, "PATCH", 200, r.out, f"update_{name}"),
        (item, delete, "DELETE", 204, None, f"delete_{name}"),
    ]
    for path, endpoint, method, status, model, route_name in routes:
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            status_code=status,
            response_model=model,
            tags=tags,
            name=route_name,
        )
