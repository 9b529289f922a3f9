"""The canonical microgrid of a depot and its reconciliation with the circuit tree (COR-8).

A depot has at most one ACTIVE microgrid: an internal ROOT node (never shown), one
GRID_CONNECTION node per top-level circuit, and CIRCUIT nodes mirroring the sub-circuits below.
Nodes are matched to circuits by `circuit_id`, so a node keeps its id across syncs. The
microgrid's `version` moves only when the set or order of its GRID_CONNECTION nodes changes.

Everything here is plain Python: `reconcile` compares persisted nodes with the depot's circuits
and returns a plan; the service applies it through the repository.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from depotgrid.manage.errors import Conflict

ROOT_NAME = "(microgrid root)"


class MicrogridStatus(StrEnum):
    ACTIVE = "ACTIVE"
    RETIRED = "RETIRED"


class NodeKind(StrEnum):
    ROOT = "ROOT"
    """Internal: the one parent of every grid connection; never shown."""
    GRID_CONNECTION = "GRID_CONNECTION"
    """One per top-level circuit; the managed scopes of this milestone."""
    CIRCUIT = "CIRCUIT"
    """A sub-circuit, mirroring the legacy circuit tree."""


class FailureCode(StrEnum):
    NO_TOP_LEVEL_CIRCUIT = "NO_TOP_LEVEL_CIRCUIT"


FAILURE_REASONS = {
    FailureCode.NO_TOP_LEVEL_CIRCUIT: (
        "the depot has no top-level circuit; add its grid connection (a circuit with no parent) "
        "and the microgrid is provisioned automatically"
    ),
}


@dataclass
class Microgrid:
    id: str
    depot_id: str
    version: int
    status: MicrogridStatus

    def __post_init__(self) -> None:
        self.status = MicrogridStatus(self.status)

    @property
    def active(self) -> bool:
        return self.status is MicrogridStatus.ACTIVE


@dataclass(frozen=True)
class MicrogridNode:
    id: str
    microgrid_id: str
    parent_node_id: str | None
    kind: NodeKind
    circuit_id: str | None
    name: str
    position: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", NodeKind(self.kind))


@dataclass(frozen=True)
class ManagedScope:
    """A node external protocols may target (a GRID_CONNECTION in this milestone)."""

    scope_id: str
    """Equal to `node_id`: the scope is the node."""
    microgrid_id: str
    node_id: str
    circuit_id: str
    name: str

    @classmethod
    def of(cls, node: MicrogridNode) -> ManagedScope:
        assert node.kind is NodeKind.GRID_CONNECTION and node.circuit_id is not None
        return cls(node.id, node.microgrid_id, node.id, node.circuit_id, node.name)


@dataclass(frozen=True)
class ProvisioningFailure:
    code: FailureCode
    reason: str

    @classmethod
    def of(cls, code: FailureCode) -> ProvisioningFailure:
        return cls(code, FAILURE_REASONS[code])


class MicrogridNotProvisionable(Conflict):
    """The depot cannot have a microgrid yet; nothing was stored."""

    def __init__(self, depot_id: str, failure: ProvisioningFailure) -> None:
        super().__init__(
            f"depot {depot_id} cannot be provisioned with a microgrid: {failure.reason}",
            code="MICROGRID_NOT_PROVISIONABLE",
            details={
                "depot_id": depot_id,
                "reason_code": failure.code.value,
                "reason": failure.reason,
            },
        )
        self.failure = failure


class CircuitShape(Protocol):
    """What reconciliation needs of a legacy circuit."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def parent_circuit_id(self) -> str | None: ...
    @property
    def position(self) -> int: ...


def top_level_circuits(circuits: Iterable[CircuitShape]) -> list[CircuitShape]:
    """The depot's valid top-level circuits in grid-connection order (position, name, id)."""
    return sorted((c for c in circuits if c.parent_circuit_id is None), key=_circuit_order)


def check_provisionable(circuits: Iterable[CircuitShape]) -> ProvisioningFailure | None:
    """Why a depot with these circuits cannot have a microgrid, or None if it can."""
    if not top_level_circuits(circuits):
        return ProvisioningFailure.of(FailureCode.NO_TOP_LEVEL_CIRCUIT)
    return None


CHANGEABLE = ("kind", "parent_node_id", "circuit_id", "name", "position")


@dataclass(frozen=True)
class NodeChange:
    before: MicrogridNode
    after: MicrogridNode

    def fields(self) -> dict[str, dict[str, Any]]:
        return {
            name: {
                "from": _plain(getattr(self.before, name)),
                "to": _plain(getattr(self.after, name)),
            }
            for name in CHANGEABLE
            if getattr(self.before, name) != getattr(self.after, name)
        }


@dataclass(frozen=True)
class SyncPlan:
    """What turns the persisted nodes into the mirror of the circuits.

    Apply `adds` in order (parents first), then `updates`, then `removes`.
    """

    adds: tuple[MicrogridNode, ...]
    updates: tuple[NodeChange, ...]
    removes: tuple[MicrogridNode, ...]
    old_grid_connections: tuple[str | None, ...]
    """Circuit ids of the persisted GRID_CONNECTION nodes, in their order."""
    new_grid_connections: tuple[str, ...]
    """Circuit ids of the top-level circuits, in grid-connection order."""

    @property
    def changed(self) -> bool:
        return bool(self.adds or self.updates or self.removes)

    @property
    def version_changes(self) -> bool:
        """The set or order of GRID_CONNECTION nodes changes: the only reason to bump version."""
        return self.old_grid_connections != self.new_grid_connections

    def describe(self) -> dict[str, list[dict[str, Any]]]:
        """What changed, as JSON for events and API answers."""
        return {
            "added": [_summary(node) for node in self.adds],
            "updated": [
                {**_summary(change.after), "changes": change.fields()} for change in self.updates
            ],
            "removed": [_summary(node) for node in self.removes],
        }


@dataclass(frozen=True)
class _Desired:
    circuit_id: str
    parent_circuit_id: str | None
    kind: NodeKind
    name: str
    position: int


def reconcile(
    microgrid_id: str,
    existing: Sequence[MicrogridNode],
    circuits: Sequence[CircuitShape],
    *,
    new_id: Callable[[], str],
) -> SyncPlan:
    """The plan that makes `existing` (a microgrid's nodes) mirror `circuits` (its depot's).

    Pure and deterministic apart from `new_id`, which names added nodes. A second call on the
    result returns an empty plan.
    """
    desired = _desired_tree(circuits)
    wanted = {spec.circuit_id for spec in desired}
    matched: dict[str, MicrogridNode] = {}
    for node in sorted(existing, key=lambda n: n.id):
        if node.circuit_id in wanted and node.circuit_id not in matched:
            matched[node.circuit_id] = node
    roots = sorted(
        (n for n in existing if n.kind is NodeKind.ROOT and n.circuit_id is None),
        key=lambda n: n.id,
    )
    adds: list[MicrogridNode] = []
    updates: list[NodeChange] = []
    canonical_root = MicrogridNode(
        id=roots[0].id if roots else new_id(),
        microgrid_id=microgrid_id,
        parent_node_id=None,
        kind=NodeKind.ROOT,
        circuit_id=None,
        name=ROOT_NAME,
        position=0,
    )
    if not roots:
        adds.append(canonical_root)
    elif roots[0] != canonical_root:
        updates.append(NodeChange(roots[0], canonical_root))
    node_ids: dict[str, str] = {}
    for spec in desired:
        current = matched.get(spec.circuit_id)
        node_id = current.id if current else new_id()
        node_ids[spec.circuit_id] = node_id
        target = MicrogridNode(
            id=node_id,
            microgrid_id=microgrid_id,
            parent_node_id=(
                canonical_root.id
                if spec.parent_circuit_id is None
                else node_ids[spec.parent_circuit_id]
            ),
            kind=spec.kind,
            circuit_id=spec.circuit_id,
            name=spec.name,
            position=spec.position,
        )
        if current is None:
            adds.append(target)
        elif current != target:
            updates.append(NodeChange(current, target))
    kept = {canonical_root.id} | set(node_ids.values())
    removes = tuple(sorted((n for n in existing if n.id not in kept), key=lambda n: n.id))
    return SyncPlan(
        adds=tuple(adds),
        updates=tuple(updates),
        removes=removes,
        old_grid_connections=tuple(
            n.circuit_id
            for n in sorted(existing, key=_node_order)
            if n.kind is NodeKind.GRID_CONNECTION
        ),
        new_grid_connections=tuple(
            s.circuit_id for s in desired if s.kind is NodeKind.GRID_CONNECTION
        ),
    )


def apply_plan(existing: Iterable[MicrogridNode], plan: SyncPlan) -> list[MicrogridNode]:
    """The nodes after `plan` (what the repository will hold), for checks and previews."""
    nodes = {node.id: node for node in existing}
    for node in plan.adds:
        nodes[node.id] = node
    for change in plan.updates:
        nodes[change.after.id] = change.after
    for node in plan.removes:
        nodes.pop(node.id, None)
    return list(nodes.values())


def _desired_tree(circuits: Sequence[CircuitShape]) -> list[_Desired]:
    """The circuits reachable from a top-level circuit, parents before children.

    Siblings are ordered by (position, name, id) and numbered 0, 1, 2...; a circuit whose
    parent is not in the depot, or that sits on a cycle, is not reachable and is left out.
    """
    by_id = {c.id: c for c in circuits}
    children: dict[str | None, list[CircuitShape]] = {}
    for circuit in sorted(circuits, key=_circuit_order):
        parent = circuit.parent_circuit_id
        if parent is None or parent in by_id:
            children.setdefault(parent, []).append(circuit)
    result: list[_Desired] = []
    seen: set[str] = set()

    def visit(parent: str | None) -> None:
        for position, circuit in enumerate(children.get(parent, [])):
            if circuit.id in seen:
                continue
            seen.add(circuit.id)
            kind = NodeKind.GRID_CONNECTION if parent is None else NodeKind.CIRCUIT
            result.append(_Desired(circuit.id, parent, kind, circuit.name, position))
            visit(circuit.id)

    visit(None)
    return result


def _circuit_order(circuit: CircuitShape) -> tuple[int, str, str]:
    return (circuit.position, circuit.name, circuit.id)


def _node_order(node: MicrogridNode) -> tuple[int, str, str]:
    return (node.position, node.name, node.id)


def _summary(node: MicrogridNode) -> dict[str, Any]:
    return {
        "node_id": node.id,
        "kind": node.kind.value,
        "circuit_id": node.circuit_id,
        "name": node.name,
    }


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value
