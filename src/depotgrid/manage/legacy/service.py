"""Commands on the legacy depot model.

Each command locks its depot, checks invariants, changes state and appends one event to the
depot's stream, all in the caller's unit of work: a refused command changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from depotgrid.common.ids import new_id
from depotgrid.manage.errors import Conflict, NotFound
from depotgrid.manage.events.store import NewEvent
from depotgrid.manage.legacy.model import (
    CapacitySource,
    Charger,
    Circuit,
    Depot,
    Device,
    Entity,
    PowerSource,
    check_charger,
    check_circuit,
    check_circuit_in_depot,
    check_depot,
    check_device,
    check_parent,
    check_power_source,
    snapshot,
)
from depotgrid.manage.legacy.repository import E
from depotgrid.manage.unit_of_work import UnitOfWork

Component = Charger | PowerSource | Device
C = TypeVar("C", Charger, PowerSource, Device)
Child = TypeVar("Child", Circuit, Charger, PowerSource, Device)

KIND_NAMES: dict[type[Any], str] = {
    Depot: "Depot",
    Circuit: "Circuit",
    Charger: "Charger",
    PowerSource: "PowerSource",
    Device: "Device",
}


def depot_stream(depot_id: str) -> str:
    return f"depot-{depot_id}"


def create_depot(uow: UnitOfWork, actor: str, *, name: str, timezone: str) -> Depot:
    depot = Depot(id=new_id(), name=name, timezone=timezone)
    check_depot(depot)
    uow.legacy.add(depot)
    _record(uow, actor, depot, depot, "Created")
    return depot


def update_depot(uow: UnitOfWork, actor: str, depot_id: str, changes: Mapping[str, Any]) -> Depot:
    depot = _lock_depot(uow, depot_id)
    updated = dataclasses.replace(depot, **changes)
    check_depot(updated)
    _record(uow, actor, updated, updated, "Updated", changes=_diff(depot, updated))
    return updated


def delete_depot(uow: UnitOfWork, actor: str, depot_id: str) -> None:
    depot = _lock_depot(uow, depot_id)
    attached = {
        _plural(kind): _names(uow.legacy.all_in_depot(kind, depot_id))
        for kind in (Circuit, Charger, PowerSource, Device)
    }
    attached = {key: value for key, value in attached.items() if value}
    if attached:
        raise Conflict(
            f"depot {depot.name} still has "
            + ", ".join(_count(len(v), k) for k, v in attached.items())
            + "; delete them first",
            code="DEPOT_NOT_EMPTY",
            details=attached,
        )
    _record(uow, actor, depot, depot, "Deleted")
    uow.legacy.remove(depot)


def create_circuit(
    uow: UnitOfWork, actor: str, depot_id: str, fields: Mapping[str, Any]
) -> Circuit:
    depot = _lock_depot(uow, depot_id)
    values = dict(fields)
    rating = values["max_capacity_kw"]
    if values.get("available_capacity_kw") is None:
        values["available_capacity_kw"] = rating
    elif "available_capacity_source" not in values:
        values["available_capacity_source"] = CapacitySource.OPERATOR
    values.setdefault("safe_default_capacity_kw", rating)
    if values.get("position") is None:
        values["position"] = uow.legacy.next_position(depot_id, values.get("parent_circuit_id"))
    circuit = Circuit(id=new_id(), depot_id=depot_id, **values)
    _check_circuit(uow, circuit)
    uow.legacy.add(circuit)
    _record(uow, actor, depot, circuit, "Created")
    return circuit


def update_circuit(
    uow: UnitOfWork, actor: str, circuit_id: str, changes: Mapping[str, Any]
) -> Circuit:
    circuit, depot = _load_in_depot(uow, Circuit, circuit_id)
    updated = dataclasses.replace(circuit, **_capacity_follows(circuit, changes))
    _check_circuit(uow, updated)
    uow.legacy.save(updated)
    _record(uow, actor, depot, updated, "Updated", changes=_diff(circuit, updated))
    return updated


def delete_circuit(uow: UnitOfWork, actor: str, circuit_id: str) -> None:
    circuit, depot = _load_in_depot(uow, Circuit, circuit_id)
    attached = {"child_circuits": _names(uow.legacy.children(circuit_id))} | {
        _plural(kind): _names(uow.legacy.components_on(kind, circuit_id))
        for kind in (Charger, PowerSource, Device)
    }
    attached = {key: value for key, value in attached.items() if value}
    if attached:
        listed = "; ".join(
            f"{key.replace('_', ' ')}: " + ", ".join(item["name"] for item in items)
            for key, items in attached.items()
        )
        raise Conflict(
            f"circuit {circuit.name} still has {listed}; move or delete them first",
            code="CIRCUIT_NOT_EMPTY",
            details=attached,
        )
    uow.legacy.remove(circuit)
    _record(uow, actor, depot, circuit, "Deleted")


def create_component(
    uow: UnitOfWork, actor: str, kind: type[C], depot_id: str, fields: Mapping[str, Any]
) -> C:
    depot = _lock_depot(uow, depot_id)
    component = kind(id=new_id(), depot_id=depot_id, **fields)
    _check_component(uow, component)
    uow.legacy.add(component)
    _record(uow, actor, depot, component, "Created")
    return component


def update_component(
    uow: UnitOfWork, actor: str, kind: type[C], component_id: str, changes: Mapping[str, Any]
) -> C:
    component, depot = _load_in_depot(uow, kind, component_id)
    updated = dataclasses.replace(component, **changes)
    _check_component(uow, updated)
    uow.legacy.save(updated)
    _record(uow, actor, depot, updated, "Updated", changes=_diff(component, updated))
    return updated


def delete_component(uow: UnitOfWork, actor: str, kind: type[C], component_id: str) -> None:
    component, depot = _load_in_depot(uow, kind, component_id)
    uow.legacy.remove(component)
    _record(uow, actor, depot, component, "Deleted")


def get(uow: UnitOfWork, kind: type[E], entity_id: str) -> E:
    entity = uow.legacy.get(kind, entity_id)
    if entity is None:
        raise NotFound(_label(kind), entity_id)
    return entity


def _capacity_follows(circuit: Circuit, changes: Mapping[str, Any]) -> dict[str, Any]:
    """A person setting available capacity makes it theirs; one never set follows the rating."""
    values = dict(changes)
    if "available_capacity_kw" in values:
        values.setdefault("available_capacity_source", CapacitySource.OPERATOR)
    elif circuit.available_capacity_source is CapacitySource.RATING and "max_capacity_kw" in values:
        values["available_capacity_kw"] = values["max_capacity_kw"]
    return values


def _check_circuit(uow: UnitOfWork, circuit: Circuit) -> None:
    check_circuit(circuit)
    parent_id = circuit.parent_circuit_id
    parent = uow.legacy.get(Circuit, parent_id) if parent_id else None
    check_parent(circuit, parent, uow.legacy.parents_by_id(circuit.depot_id))


def _check_component(uow: UnitOfWork, component: Component) -> None:
    if isinstance(component, Charger):
        check_charger(component)
        holder = uow.legacy.charger_by_identity(component.ocpp_identity)
        if holder is not None and holder.id != component.id:
            raise Conflict(
                f"OCPP identity {component.ocpp_identity} is already used by charger "
                f"{holder.name}; each charger needs its own",
                code="OCPP_IDENTITY_TAKEN",
                details={"field": "ocpp_identity", "charger_id": holder.id},
            )
    elif isinstance(component, PowerSource):
        check_power_source(component)
    else:
        check_device(component)
    circuit_id = component.circuit_id
    circuit = uow.legacy.get(Circuit, circuit_id) if circuit_id else None
    check_circuit_in_depot(circuit_id, circuit, component.depot_id)


def _lock_depot(uow: UnitOfWork, depot_id: str) -> Depot:
    depot = uow.legacy.get(Depot, depot_id, for_update=True)
    if depot is None:
        raise NotFound("depot", depot_id)
    return depot


def _load_in_depot(uow: UnitOfWork, kind: type[Child], entity_id: str) -> tuple[Child, Depot]:
    entity = get(uow, kind, entity_id)
    depot = _lock_depot(uow, entity.depot_id)
    return get(uow, kind, entity_id), depot


def _record(
    uow: UnitOfWork,
    actor: str,
    depot: Depot,
    entity: Entity,
    verb: str,
    *,
    changes: dict[str, Any] | None = None,
) -> None:
    """Append the event and move the depot's version with it (the optimistic-concurrency token)."""
    data: dict[str, Any] = {
        "entity": _label(type(entity)),
        "entity_id": entity.id,
        "state": snapshot(entity),
    }
    if changes is not None:
        data["changes"] = changes
    uow.events.append(
        depot_stream(depot.id),
        depot.version,
        [NewEvent(f"{KIND_NAMES[type(entity)]}{verb}", data)],
        actor=actor,
        recorded_at=uow.clock.now(),
    )
    depot.version += 1
    if verb != "Deleted" or not isinstance(entity, Depot):
        uow.legacy.save(depot)


def _diff(before: Entity, after: Entity) -> dict[str, Any]:
    old, new = snapshot(before), snapshot(after)
    return {key: {"from": old[key], "to": new[key]} for key in new if old.get(key) != new[key]}


def _names(entities: list[Any]) -> list[dict[str, str]]:
    return [{"id": e.id, "name": e.name or e.id} for e in sorted(entities, key=lambda e: e.name)]


def _count(number: int, plural: str) -> str:
    noun = plural.replace("_", " ")
    return f"{number} {noun if number != 1 else noun.removesuffix('s')}"


def _label(kind: type[Any]) -> str:
    return {PowerSource: "power_source"}.get(kind, kind.__name__.lower())


def _plural(kind: type[Any]) -> str:
    return _label(kind) + "s"
