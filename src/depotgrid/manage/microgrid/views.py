"""Read models of the microgrid (COR-8): the node tree from the grid connections down.

The internal ROOT node is never shown: the tree starts at the GRID_CONNECTION nodes.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from depotgrid.manage.microgrid import service
from depotgrid.manage.microgrid.model import ManagedScope, Microgrid, MicrogridNode, NodeKind
from depotgrid.manage.unit_of_work import UnitOfWork


class NodeView(BaseModel):
    node_id: str
    kind: str
    circuit_id: str | None
    name: str
    position: int
    children: list[NodeView]


class MicrogridView(BaseModel):
    microgrid_id: str
    depot_id: str
    version: int
    status: str
    nodes: list[NodeView]
    """The grid connections, each with the circuits below it."""


class ScopeView(BaseModel):
    scope_id: str
    microgrid_id: str
    node_id: str
    circuit_id: str
    name: str


def node_tree(nodes: Sequence[MicrogridNode]) -> list[NodeView]:
    """The nodes below the internal root, nested, siblings in position order."""
    roots = {n.id for n in nodes if n.kind is NodeKind.ROOT}
    children: dict[str | None, list[MicrogridNode]] = {}
    for node in sorted(nodes, key=lambda n: (n.position, n.name, n.id)):
        if node.kind is NodeKind.ROOT:
            continue
        parent = None if node.parent_node_id in roots else node.parent_node_id
        children.setdefault(parent, []).append(node)
    seen: set[str] = set()

    def build(parent: str | None) -> list[NodeView]:
        views = []
        for node in children.get(parent, []):
            if node.id in seen:
                continue
            seen.add(node.id)
            views.append(
                NodeView(
                    node_id=node.id,
                    kind=node.kind.value,
                    circuit_id=node.circuit_id,
                    name=node.name,
                    position=node.position,
                    children=build(node.id),
                )
            )
        return views

    return build(None)


def microgrid_view(microgrid: Microgrid, nodes: Sequence[MicrogridNode]) -> MicrogridView:
    return MicrogridView(
        microgrid_id=microgrid.id,
        depot_id=microgrid.depot_id,
        version=microgrid.version,
        status=microgrid.status.value,
        nodes=node_tree(nodes),
    )


def microgrid_detail(uow: UnitOfWork, microgrid_id: str) -> MicrogridView:
    microgrid = service.get_microgrid(uow, microgrid_id)
    return microgrid_view(microgrid, service.nodes(uow, microgrid.id))


def microgrid_views(uow: UnitOfWork, microgrids: Sequence[Microgrid]) -> list[MicrogridView]:
    by_microgrid = service.repository(uow).nodes_of([m.id for m in microgrids])
    return [microgrid_view(m, by_microgrid[m.id]) for m in microgrids]


def scope_view(scope: ManagedScope) -> ScopeView:
    return ScopeView(
        scope_id=scope.scope_id,
        microgrid_id=scope.microgrid_id,
        node_id=scope.node_id,
        circuit_id=scope.circuit_id,
        name=scope.name,
    )
