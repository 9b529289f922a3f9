"""COR-8: the pure reconcile function that keeps a microgrid's nodes mirroring the circuits."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from hypothesis import given
from hypothesis import strategies as st

from depotgrid.manage.microgrid.model import (
    FailureCode,
    MicrogridNode,
    NodeKind,
    apply_plan,
    check_provisionable,
    reconcile,
)

MG = "mg-1"


@dataclass(frozen=True)
class C:
    id: str
    name: str
    parent_circuit_id: str | None = None
    position: int = 0


_COUNTER = itertools.count(1)


def ids() -> Callable[[], str]:
    """Names for added nodes, unique across every call (as real ids are)."""
    return lambda: f"n{next(_COUNTER)}"


def provisioned(circuits: Sequence[C]) -> list[MicrogridNode]:
    return apply_plan([], reconcile(MG, [], circuits, new_id=ids()))


def by_circuit(nodes: Sequence[MicrogridNode]) -> dict[str | None, MicrogridNode]:
    return {n.circuit_id: n for n in nodes}


def test_provisioning_builds_root_grid_connections_and_sub_circuits() -> None:
    circuits = [C("a", "Grid A"), C("b", "Grid B", position=1), C("a1", "Feeder", "a")]
    plan = reconcile(MG, [], circuits, new_id=ids())
    kinds = [(n.kind, n.circuit_id) for n in plan.adds]
    assert kinds == [
        (NodeKind.ROOT, None),
        (NodeKind.GRID_CONNECTION, "a"),
        (NodeKind.CIRCUIT, "a1"),
        (NodeKind.GRID_CONNECTION, "b"),
    ]
    nodes = by_circuit(plan.adds)
    root = nodes[None]
    assert nodes["a"].parent_node_id == root.id == nodes["b"].parent_node_id
    assert nodes["a1"].parent_node_id == nodes["a"].id
    assert plan.new_grid_connections == ("a", "b")


def test_grid_connection_order_is_position_then_name_then_id() -> None:
    circuits = [C("z", "Same", position=1), C("y", "Same", position=1), C("x", "Alpha", position=1)]
    circuits.append(C("w", "Last but first", position=0))
    plan = reconcile(MG, [], circuits, new_id=ids())
    assert plan.new_grid_connections == ("w", "x", "y", "z")
    positions = {n.circuit_id: n.position for n in plan.adds}
    assert [positions[c] for c in ("w", "x", "y", "z")] == [0, 1, 2, 3]


def test_reconciling_the_result_again_is_an_empty_plan() -> None:
    circuits = [C("a", "Grid"), C("a1", "Feeder", "a"), C("a2", "Bay", "a1")]
    nodes = provisioned(circuits)
    again = reconcile(MG, nodes, circuits, new_id=ids())
    assert not again.changed
    assert not again.version_changes


def test_new_top_level_circuit_is_added_and_changes_the_version() -> None:
    nodes = provisioned([C("a", "Grid A")])
    plan = reconcile(MG, nodes, [C("a", "Grid A"), C("b", "Grid B", position=1)], new_id=ids())
    assert [(n.kind, n.circuit_id) for n in plan.adds] == [(NodeKind.GRID_CONNECTION, "b")]
    assert plan.version_changes


def test_rename_updates_the_node_but_not_the_version() -> None:
    nodes = provisioned([C("a", "Grid A"), C("b", "Grid B", position=1)])
    plan = reconcile(MG, nodes, [C("a", "Main"), C("b", "Grid B", position=1)], new_id=ids())
    assert [c.fields() for c in plan.updates] == [{"name": {"from": "Grid A", "to": "Main"}}]
    assert plan.changed and not plan.version_changes


def test_rename_that_reorders_grid_connections_changes_the_version() -> None:
    nodes = provisioned([C("a", "Alpha"), C("b", "Beta")])
    plan = reconcile(MG, nodes, [C("a", "Zulu"), C("b", "Beta")], new_id=ids())
    assert plan.old_grid_connections == ("a", "b")
    assert plan.new_grid_connections == ("b", "a")
    assert plan.version_changes


def test_reparent_under_another_keeps_the_node_id_and_changes_its_kind() -> None:
    nodes = provisioned([C("a", "Grid A"), C("b", "Grid B", position=1)])
    before = by_circuit(nodes)["b"]
    plan = reconcile(MG, nodes, [C("a", "Grid A"), C("b", "Grid B", "a")], new_id=ids())
    (change,) = plan.updates
    assert change.after.id == before.id
    assert change.after.kind is NodeKind.CIRCUIT
    assert change.after.parent_node_id == by_circuit(nodes)["a"].id
    assert plan.version_changes and not plan.adds and not plan.removes


def test_deleted_top_level_circuit_removes_its_node() -> None:
    nodes = provisioned([C("a", "Grid A"), C("b", "Grid B", position=1)])
    plan = reconcile(MG, nodes, [C("a", "Grid A")], new_id=ids())
    assert [n.circuit_id for n in plan.removes] == ["b"]
    assert plan.new_grid_connections == ("a",)
    assert plan.version_changes


def test_sub_circuit_changes_never_change_the_version() -> None:
    circuits = [C("a", "Grid"), C("a1", "Feeder", "a")]
    nodes = provisioned(circuits)
    plan = reconcile(MG, nodes, [C("a", "Grid"), C("a2", "New feeder", "a")], new_id=ids())
    assert plan.changed and not plan.version_changes


def test_drift_is_repaired_stray_nodes_removed_and_a_lost_root_replaced() -> None:
    circuits = [C("a", "Grid"), C("a1", "Feeder", "a")]
    nodes = provisioned(circuits)
    root = by_circuit(nodes)[None]
    stray = MicrogridNode("stray", MG, root.id, NodeKind.GRID_CONNECTION, "gone", "Old", 5)
    drifted = [replace(n, name="wrong") if n.circuit_id == "a1" else n for n in nodes]
    drifted = [n for n in drifted if n.kind is not NodeKind.ROOT] + [stray]
    plan = reconcile(MG, drifted, circuits, new_id=ids())
    result = apply_plan(drifted, plan)
    assert not reconcile(MG, result, circuits, new_id=ids()).changed
    assert {n.id for n in plan.removes} == {"stray"}
    assert [n.kind for n in plan.adds] == [NodeKind.ROOT]
    assert by_circuit(result)["a1"].name == "Feeder"


def test_no_top_level_circuit_is_a_deterministic_failure() -> None:
    assert check_provisionable([]) == check_provisionable([])
    failure = check_provisionable([])
    assert failure is not None and failure.code is FailureCode.NO_TOP_LEVEL_CIRCUIT
    assert check_provisionable([C("a", "Grid")]) is None


def test_circuits_unreachable_from_a_top_level_circuit_are_left_out() -> None:
    circuits = [C("a", "Grid"), C("x", "Orphan", "missing"), C("p", "P", "q"), C("q", "Q", "p")]
    plan = reconcile(MG, [], circuits, new_id=ids())
    assert {n.circuit_id for n in plan.adds} == {None, "a"}


@st.composite
def circuit_trees(draw: st.DrawFn) -> list[C]:
    count = draw(st.integers(0, 8))
    circuits: list[C] = []
    for index in range(count):
        parent = draw(st.sampled_from([None, *[c.id for c in circuits]]))
        name = draw(st.sampled_from(["A", "B", "C"]))
        circuits.append(C(f"c{index}", name, parent, draw(st.integers(0, 2))))
    return circuits


@given(circuit_trees(), circuit_trees())
def test_any_sync_converges_in_one_step_and_keeps_node_ids(first: list[C], second: list[C]) -> None:
    nodes = provisioned(first)
    plan = reconcile(MG, nodes, second, new_id=ids())
    result = apply_plan(nodes, plan)
    assert not reconcile(MG, result, second, new_id=ids()).changed
    before, after = by_circuit(nodes), by_circuit(result)
    for circuit in second:
        if circuit.id in before:
            assert after[circuit.id].id == before[circuit.id].id
    connections = sorted(
        (n for n in result if n.kind is NodeKind.GRID_CONNECTION), key=lambda n: n.position
    )
    assert tuple(n.circuit_id for n in connections) == plan.new_grid_connections
    assert sum(n.kind is NodeKind.ROOT for n in result) == 1
    assert plan.version_changes == (plan.old_grid_connections != plan.new_grid_connections)
