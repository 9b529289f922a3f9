"""Read models of the legacy depot: the circuit tree with everything attached to each circuit."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from depotgrid.manage.errors import NotFound
from depotgrid.manage.legacy.model import Charger, Circuit, Depot, Device, PowerSource
from depotgrid.manage.unit_of_work import UnitOfWork


class _View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ComponentView(_View):
    id: str
    name: str
    circuit_id: str | None
    summary: str


class CircuitNode(_View):
    id: str
    name: str
    parent_circuit_id: str | None
    max_capacity_kw: float
    available_capacity_kw: float
    available_capacity_source: str
    safe_default_capacity_kw: float
    position: int
    depth: int
    children: list[CircuitNode]
    chargers: list[ComponentView]
    power_sources: list[ComponentView]
    devices: list[ComponentView]


class DepotTree(_View):
    id: str
    name: str
    timezone: str
    version: int
    circuits: list[CircuitNode]
    unassigned_power_sources: list[ComponentView]
    unassigned_devices: list[ComponentView]
    counts: dict[str, int]


def depot_tree(uow: UnitOfWork, depot_id: str) -> DepotTree:
    depot = uow.legacy.get(Depot, depot_id)
    if depot is None:
        raise NotFound("depot", depot_id)
    circuits = uow.legacy.all_in_depot(Circuit, depot_id)
    chargers = uow.legacy.all_in_depot(Charger, depot_id)
    sources = uow.legacy.all_in_depot(PowerSource, depot_id)
    devices = uow.legacy.all_in_depot(Device, depot_id)
    attached = (
        _group(chargers, _charger_view),
        _group(sources, _source_view),
        _group(devices, _device_view),
    )
    children: dict[str | None, list[Circuit]] = {}
    for circuit in sorted(circuits, key=lambda c: (c.position, c.name, c.id)):
        children.setdefault(circuit.parent_circuit_id, []).append(circuit)

    def node(circuit: Circuit, depth: int) -> CircuitNode:
        return CircuitNode(
            **_fields(circuit),
            depth=depth,
            children=[node(child, depth + 1) for child in children.get(circuit.id, [])],
            chargers=attached[0].get(circuit.id, []),
            power_sources=attached[1].get(circuit.id, []),
            devices=attached[2].get(circuit.id, []),
        )

    return DepotTree(
        **_fields(depot),
        circuits=[node(top, 0) for top in children.get(None, [])],
        unassigned_power_sources=attached[1].get(None, []),
        unassigned_devices=attached[2].get(None, []),
        counts={
            "circuits": len(circuits),
            "chargers": len(chargers),
            "power_sources": len(sources),
            "devices": len(devices),
        },
    )


def _group(items: list[Any], view: Any) -> dict[str | None, list[ComponentView]]:
    grouped: dict[str | None, list[ComponentView]] = {}
    for item in sorted(items, key=lambda i: (i.name, i.id)):
        grouped.setdefault(item.circuit_id, []).append(view(item))
    return grouped


def _charger_view(charger: Charger) -> ComponentView:
    return ComponentView(
        id=charger.id,
        name=charger.name,
        circuit_id=charger.circuit_id,
        summary=f"{charger.ocpp_identity} · {charger.min_power_kw:.1f} to "
        f"{charger.max_power_kw:.1f} kW · {charger.connector_count} "
        f"connector{'s' if charger.connector_count != 1 else ''}",
    )


def _source_view(source: PowerSource) -> ComponentView:
    return ComponentView(
        id=source.id,
        name=source.name or source.kind.value.title(),
        circuit_id=source.circuit_id,
        summary=f"{source.kind.value} · {source.rated_power_kw:.1f} kW · {source.state.value}",
    )


def _device_view(device: Device) -> ComponentView:
    return ComponentView(
        id=device.id,
        name=device.name,
        circuit_id=device.circuit_id,
        summary=f"site model {device.site_model_name or 'none'}",
    )


def _fields(entity: Any) -> dict[str, Any]:
    return {key: getattr(entity, key) for key in entity.__dataclass_fields__}
