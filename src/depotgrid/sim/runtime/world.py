"""World state per electrical node (design §3 NodeRuntimeState: "load, constraint, and
breach-relevant values"; §6 ManagedScopeBreachDetected).

Each node has its own load (set by operators, scenarios, later by chargers and vehicles) and a
constraint (its rating unless an operator sets one). A node's load is its own plus its
children's; it is breached while that load exceeds its constraint. `evaluate` recomputes the
aggregates and reports scopes that have just become breached. Pure: a world is a JSON-able dict
snapshot persisted with the run's checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from depotgrid.sim.configuration.model import SimulationConfigurationDocument


@dataclass(frozen=True)
class NodeRuntimeState:
    node_id: str
    parent_id: str | None
    own_load_kw: float
    load_kw: float
    constraint_kw: float | None
    breached: bool


@dataclass(frozen=True)
class Breach:
    scope_id: str
    node_id: str
    load_kw: float
    constraint_kw: float
    at: datetime


World = Mapping[str, NodeRuntimeState]


def initial_world(document: SimulationConfigurationDocument) -> dict[str, NodeRuntimeState]:
    nodes = {
        node.id: NodeRuntimeState(
            node_id=node.id,
            parent_id=node.parent_id,
            own_load_kw=node.base_load_kw,
            load_kw=node.base_load_kw,
            constraint_kw=node.rating_kw,
            breached=False,
        )
        for node in document.topology.nodes
    }
    world, _ = evaluate(nodes, {}, None)
    return world


def set_node(
    world: World, node_id: str, *, own_load_kw: float | None, constraint_kw: float | None
) -> dict[str, NodeRuntimeState]:
    """A world with one node's own load and/or constraint changed (aggregates not yet updated)."""
    node = world[node_id]
    changed = replace(
        node,
        own_load_kw=node.own_load_kw if own_load_kw is None else own_load_kw,
        constraint_kw=node.constraint_kw if constraint_kw is None else constraint_kw,
    )
    return {**world, node_id: changed}


def evaluate(
    world: World, scopes: Mapping[str, str], at: datetime | None
) -> tuple[dict[str, NodeRuntimeState], list[Breach]]:
    """Recompute aggregated loads and breach flags; `scopes` maps scope id -> node id."""
    children: dict[str | None, list[str]] = {}
    for node in world.values():
        children.setdefault(node.parent_id, []).append(node.node_id)
    totals: dict[str, float] = {}

    def total(node_id: str) -> float:
        if node_id not in totals:
            kids = children.get(node_id, [])
            totals[node_id] = world[node_id].own_load_kw + sum(total(kid) for kid in kids)
        return totals[node_id]

    updated: dict[str, NodeRuntimeState] = {}
    for node in world.values():
        load = round(total(node.node_id), 6)
        breached = node.constraint_kw is not None and load > node.constraint_kw
        updated[node.node_id] = replace(node, load_kw=load, breached=breached)
    breaches: list[Breach] = []
    for scope_id, node_id in scopes.items():
        current = updated.get(node_id)
        if at is None or current is None or current.constraint_kw is None:
            continue
        if current.breached and not world[node_id].breached:
            breaches.append(Breach(scope_id, node_id, current.load_kw, current.constraint_kw, at))
    return updated, breaches


def to_json(world: World) -> dict[str, Any]:
    return {
        node_id: {
            "parent_id": node.parent_id,
            "own_load_kw": node.own_load_kw,
            "load_kw": node.load_kw,
            "constraint_kw": node.constraint_kw,
            "breached": node.breached,
        }
        for node_id, node in world.items()
    }


def from_json(data: Mapping[str, Any]) -> dict[str, NodeRuntimeState]:
    return {
        node_id: NodeRuntimeState(
            node_id=node_id,
            parent_id=values["parent_id"],
            own_load_kw=float(values["own_load_kw"]),
            load_kw=float(values["load_kw"]),
            constraint_kw=None
            if values["constraint_kw"] is None
            else float(values["constraint_kw"]),
            breached=bool(values["breached"]),
        )
        for node_id, values in data.items()
    }


def breached_nodes(world: World) -> Iterable[str]:
    return (node_id for node_id, node in world.items() if node.breached)
