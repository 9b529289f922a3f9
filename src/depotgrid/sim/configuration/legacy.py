"""Import of a legacy circuit-centric depot definition (design §5: "import or translate legacy
circuit-centric definitions").

Accepted shapes: manage's depot tree (`GET /api/depots/{id}/tree`: the depot with nested
`circuits`, each with `children`, `chargers`, `power_sources`, `devices`) and its flat form (a
`depot` plus a `circuits` list whose items name `parent_circuit_id`).

Translation:
- the depot becomes the SITE root (node id = depot id);
- a top-level circuit becomes a GRID_CONNECTION, every other circuit a CIRCUIT, with
  `rating_kw` = `max_capacity_kw`;
- chargers become CHARGER nodes under their circuit; power sources GENERATION (or STORAGE for
  batteries) nodes;
- every top-level circuit gets a managed scope `scope-<circuit id>`; with `oscp_group_id`, the
  first one gets an OSCP Capacity Provider binding.
The result is checked like any configuration, so a cyclic or dangling legacy tree is a 422.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from depotgrid.sim.errors import FieldError, ValidationFailed


class LegacyComponent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    name: str | None = None
    summary: str | None = None
    kind: str | None = None


class LegacyCircuit(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    name: str | None = None
    parent_circuit_id: str | None = None
    max_capacity_kw: float = Field(ge=0)
    children: list[LegacyCircuit] = Field(default_factory=list)
    chargers: list[LegacyComponent] = Field(default_factory=list)
    power_sources: list[LegacyComponent] = Field(default_factory=list)


class LegacyDepot(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    circuits: list[LegacyCircuit] = Field(default_factory=list)


class LegacyImport(BaseModel):
    """Body of `POST /simulation-configurations/import/legacy`."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    depot: LegacyDepot
    circuits: list[LegacyCircuit] | None = Field(
        default=None, description="The flat form: circuits naming parent_circuit_id."
    )
    oscp_group_id: str | None = Field(default=None, max_length=200)


def _walk(
    circuits: list[LegacyCircuit], parent: str | None
) -> Iterator[tuple[LegacyCircuit, str | None]]:
    for circuit in circuits:
        yield circuit, circuit.parent_circuit_id if circuit.parent_circuit_id else parent
        yield from _walk(circuit.children, circuit.id)


def translate(body: LegacyImport) -> dict[str, Any]:
    """The configuration document (as JSON) for a legacy depot; check it before saving."""
    depot = body.depot
    circuits = list(_walk([*depot.circuits, *(body.circuits or [])], None))
    if not circuits:
        raise ValidationFailed(
            [FieldError("depot.circuits", "the depot has no circuits to import")]
        )
    nodes: list[dict[str, Any]] = [
        {"id": depot.id, "parent_id": None, "kind": "SITE", "name": depot.name}
    ]
    scopes: list[dict[str, Any]] = []
    for circuit, parent in circuits:
        top = parent is None
        nodes.append(
            {
                "id": circuit.id,
                "parent_id": depot.id if top else parent,
                "kind": "GRID_CONNECTION" if top else "CIRCUIT",
                "name": circuit.name,
                "rating_kw": circuit.max_capacity_kw,
            }
        )
        if top:
            scopes.append(
                {"id": f"scope-{circuit.id}", "node_id": circuit.id, "name": circuit.name}
            )
        nodes.extend(_components(circuit))
    document: dict[str, Any] = {
        "name": body.name or f"{depot.name} (imported)",
        "description": f"Imported from legacy depot {depot.id}",
        "topology": {"nodes": nodes},
        "managed_scopes": scopes,
    }
    if body.oscp_group_id:
        document["projection_bindings"] = [
            {"managed_scope_id": scopes[0]["id"], "group_id": body.oscp_group_id}
        ]
    return document


def _components(circuit: LegacyCircuit) -> Iterator[dict[str, Any]]:
    for charger in circuit.chargers:
        yield {"id": charger.id, "parent_id": circuit.id, "kind": "CHARGER", "name": charger.name}
    for source in circuit.power_sources:
        text = f"{source.kind or ''} {source.summary or ''}".upper()
        kind = "STORAGE" if "BATTERY" in text or "STORAGE" in text else "GENERATION"
        yield {"id": source.id, "parent_id": circuit.id, "kind": kind, "name": source.name}
