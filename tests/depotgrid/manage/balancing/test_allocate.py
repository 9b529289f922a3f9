"""The allocator against linear-programming references and its properties, on random trees."""

from __future__ import annotations

import random
from dataclasses import replace
from operator import attrgetter

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from depotgrid.manage.balancing import kernel
from depotgrid.manage.balancing.allocate import (
    Allocation,
    AllocationInputError,
    ChargerInput,
    NodeInput,
    _admit,
    _admit_in_order,
    _Fleet,
    _tiers,
    _Tree,
    allocate,
    warm_up,
)
from depotgrid.manage.balancing.reasons import (
    ANCESTOR_SATURATED,
    CHARGER_MAX,
    ENVELOPE_LIMIT,
    MIN_NOT_AVAILABLE,
    NOT_READY,
    PHYSICAL_RATING,
)
from tests.depotgrid.manage.balancing.lp_reference import (
    constraint_matrix,
    max_min_fair,
    optimum_total,
)

ABS = 1e-6


@st.composite
def instances(
    draw: st.DrawFn, max_nodes: int = 7, max_chargers: int = 12, tiers: int = 1
) -> tuple[list[NodeInput], list[ChargerInput]]:
    count = draw(st.integers(1, max_nodes))
    nodes = []
    for k in range(count):
        parent = None if k == 0 else f"n{draw(st.integers(0, k - 1))}"
        cap = draw(st.floats(0, 300, allow_nan=False).map(lambda v: round(v, 3)))
        uncontrolled = draw(st.sampled_from([0.0, 0.0, 5.0, 20.0]))
        nodes.append(NodeInput(f"n{k}", parent, cap, uncontrolled, (PHYSICAL_RATING,)))
    chargers = []
    for j in range(draw(st.integers(1, max_chargers))):
        top = draw(st.floats(1, 150, allow_nan=False).map(lambda v: round(v, 3)))
        low = draw(st.sampled_from([0.0, 0.0, 1.4, 4.2, 6.0, 11.0]))
        chargers.append(
            ChargerInput(
                charger_id=f"c{j:02d}",
                node_id=f"n{draw(st.integers(0, count - 1))}",
                min_kw=min(low, top),
                max_kw=top,
                weight=draw(st.sampled_from([1.0, 1.0, 2.0, 0.5])),
                tier=draw(st.integers(0, tiers - 1)),
                ready=draw(st.booleans() | st.just(True)),
                charging=draw(st.booleans()),
            )
        )
    return nodes, chargers


def _bounds(result: Allocation, chargers: list[ChargerInput]) -> list[tuple[float, float]]:
    bounds = []
    for charger in chargers:
        point = result.setpoint(charger.charger_id)
        lo = min(charger.min_kw, charger.max_kw)
        bounds.append((lo, charger.max_kw) if point.admitted else (0.0, 0.0))
    return bounds


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(instances())
def test_setpoints_respect_every_ancestor_cap_and_charger_bound(instance) -> None:  # type: ignore[no-untyped-def]
    nodes, chargers = instance
    result = allocate(nodes, chargers)
    a, b = constraint_matrix(nodes, chargers)
    x = [result.setpoint(c.charger_id).kw for c in chargers]
    assert all(row @ x <= cap + ABS for row, cap in zip(a, b, strict=True))
    for charger, (lo, hi) in zip(chargers, _bounds(result, chargers), strict=True):
        kw = result.setpoint(charger.charger_id).kw
        assert lo - ABS <= kw <= hi + ABS


@FAST
@given(instances())
def test_total_equals_the_lp_optimum_with_the_admitted_set_fixed(instance) -> None:  # type: ignore[no-untyped-def]
    nodes, chargers = instance
    result = allocate(nodes, chargers)
    best = optimum_total(nodes, chargers, _bounds(result, chargers))
    assert result.total_kw == pytest.approx(best, rel=1e-6, abs=1e-6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_nodes=30, max_chargers=80))
def test_larger_trees_stay_within_caps_at_the_lp_optimum(instance) -> None:  # type: ignore[no-untyped-def]
    """Several nodes per height over several heights: the kernel's passes share one list of
    breakpoints, merged per node and level and cut where nodes saturate."""
    nodes, chargers = instance
    result = allocate(nodes, chargers)
    a, b = constraint_matrix(nodes, chargers)
    x = [result.setpoint(c.charger_id).kw for c in chargers]
    assert all(row @ x <= cap + ABS for row, cap in zip(a, b, strict=True))
    best = optimum_total(nodes, chargers, _bounds(result, chargers))
    assert result.total_kw == pytest.approx(best, rel=1e-6, abs=1e-6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_nodes=5, max_chargers=8))
def test_allocation_is_lexicographically_max_min_fair(instance) -> None:  # type: ignore[no-untyped-def]
    nodes, chargers = instance
    result = allocate(nodes, chargers)
    reference = max_min_fair(nodes, chargers, _bounds(result, chargers))
    got = [result.setpoint(c.charger_id).kw for c in chargers]
    assert got == pytest.approx(list(reference), abs=1e-5)


@FAST
@given(instances(tiers=3), st.randoms(use_true_random=False))
def test_shuffled_inputs_give_identical_output(instance, rnd: random.Random) -> None:  # type: ignore[no-untyped-def]
    nodes, chargers = instance
    first = allocate(nodes, chargers)
    shuffled_nodes, shuffled_chargers = list(nodes), list(chargers)
    rnd.shuffle(shuffled_nodes)
    rnd.shuffle(shuffled_chargers)
    assert allocate(shuffled_nodes, shuffled_chargers) == first


@FAST
@given(instances(), st.data())
def test_raising_a_cap_never_lowers_total_power(instance, data: st.DataObject) -> None:  # type: ignore[no-untyped-def]
    nodes, chargers = instance
    k = data.draw(st.integers(0, len(nodes) - 1))
    raised = list(nodes)
    raised[k] = replace(nodes[k], cap_kw=nodes[k].cap_kw + data.draw(st.floats(0.1, 100)))
    assert allocate(raised, chargers).total_kw >= allocate(nodes, chargers).total_kw - ABS


@FAST
@given(instances(), st.data())
def test_lowering_a_cap_never_raises_a_setpoint_below_it(instance, data: st.DataObject) -> None:  # type: ignore[no-untyped-def]
    """An envelope or telemetry expiry only ever lowers caps: setpoints under it never rise.

    Held to the same admitted set: a lower cap can refuse some charger its minimum, and the power
    that frees goes to the others (the LP optimum demands it); docs/reason-codes.md says so.
    """
    nodes, chargers = instance
    k = data.draw(st.integers(0, len(nodes) - 1))
    lowered = list(nodes)
    lowered[k] = replace(nodes[k], cap_kw=nodes[k].cap_kw * data.draw(st.floats(0, 1)))
    before, after = allocate(nodes, chargers), allocate(lowered, chargers)
    assume([p.admitted for p in before.setpoints] == [p.admitted for p in after.setpoints])
    under = _chargers_under(nodes, chargers, nodes[k].node_id)
    for charger in chargers:
        if charger.charger_id in under:
            assert (
                after.setpoint(charger.charger_id).kw
                <= before.setpoint(charger.charger_id).kw + ABS
            )


def _fleet(nodes: list[NodeInput], chargers: list[ChargerInput]) -> tuple[_Tree, _Fleet]:
    tree = _Tree(sorted(nodes, key=attrgetter("node_id")))
    return tree, _Fleet(tree, sorted(chargers, key=attrgetter("charger_id")))


@FAST
@given(instances(tiers=3), st.floats(1, 20))
def test_admitting_everyone_at_once_matches_walking_the_order(instance, roomy: float) -> None:  # type: ignore[no-untyped-def]
    """The shortcut taken when every minimum fits must admit exactly whom the walk admits."""
    nodes, chargers = instance
    nodes = [replace(n, cap_kw=n.cap_kw * roomy) for n in nodes]
    tree, fleet = _fleet(nodes, chargers)
    shortcut, refused_by = _admit(tree, fleet)
    walked, refused_walking = _admit_in_order(tree, fleet)
    assert np.array_equal(refused_by, refused_walking)
    assert np.array_equal(shortcut, walked)


@FAST
@given(instances(tiers=3))
def test_admitted_tiers_come_highest_first(instance) -> None:  # type: ignore[no-untyped-def]
    nodes, chargers = instance
    tree, fleet = _fleet(nodes, chargers)
    admitted, _ = _admit(tree, fleet)
    ordered = sorted(chargers, key=attrgetter("charger_id"))
    tiers = {c.tier for c, on in zip(ordered, admitted.tolist(), strict=True) if on}
    assert _tiers(fleet.tier, admitted).tolist() == sorted(tiers, reverse=True)


def test_one_compiled_signature_per_kernel_whatever_the_path() -> None:
    """warm_up() compiles what every allocation runs: inputs of other types (a read-only or
    non-contiguous array) would make numba compile again in the middle of a cycle."""
    warm_up()
    nodes = [NodeInput("grid", None, 20.0), NodeInput("bay", "grid", 9.0)]
    chargers = [
        ChargerInput("z", "bay", 6.0, 22.0, tier=2),
        ChargerInput("y", "bay", 6.0, 22.0, ready=False),
        ChargerInput("x", "grid", 4.2, 11.0, weight=2.0),
        ChargerInput("w", "bay", 6.0, 22.0),
    ]
    for ordered in (chargers, chargers[::-1]):
        _ = allocate(nodes, ordered).nodes
    used = (kernel.charger_columns, kernel.minimums_fit, kernel.admit_in_order, kernel.fill)
    assert [len(k.signatures) for k in used] == [1, 1, 1, 1]
    assert len(kernel.node_sums.signatures) == 1


def _chargers_under(nodes: list[NodeInput], chargers: list[ChargerInput], node_id: str) -> set[str]:
    parent = {n.node_id: n.parent_id for n in nodes}
    found = set()
    for charger in chargers:
        node: str | None = charger.node_id
        while node is not None:
            if node == node_id:
                found.add(charger.charger_id)
            node = parent[node]
    return found


def test_envelope_on_the_grid_connection_binds_with_its_reason() -> None:
    nodes = [
        NodeInput("grid", None, 100.0, reasons=(ENVELOPE_LIMIT, PHYSICAL_RATING)),
        NodeInput("bay", "grid", 400.0, reasons=(PHYSICAL_RATING,)),
    ]
    chargers = [ChargerInput(f"c{i}", "bay", 6.0, 150.0) for i in range(4)]
    result = allocate(nodes, chargers)
    assert [s.kw for s in result.setpoints] == pytest.approx([25.0] * 4)
    assert result.setpoints[0].reasons == (
        ENVELOPE_LIMIT,
        PHYSICAL_RATING,
        f"{ANCESTOR_SATURATED}:grid",
    )
    assert result.setpoints[0].binding_node_id == "grid"
    assert result.node("grid").saturated and not result.node("bay").saturated


def test_weights_share_in_proportion_and_maximum_frees_power_for_others() -> None:
    nodes = [NodeInput("grid", None, 90.0, reasons=(PHYSICAL_RATING,))]
    chargers = [
        ChargerInput("a", "grid", 0, 150, weight=2.0),
        ChargerInput("b", "grid", 0, 150, weight=1.0),
        ChargerInput("small", "grid", 0, 10, weight=1.0),
    ]
    result = allocate(nodes, chargers)
    assert result.setpoint("small").kw == pytest.approx(10)
    assert result.setpoint("small").reasons == (CHARGER_MAX,)
    assert result.setpoint("a").kw == pytest.approx(2 * result.setpoint("b").kw)
    assert result.total_kw == pytest.approx(90)


def test_minimums_are_admitted_in_order_running_sessions_first() -> None:
    nodes = [NodeInput("grid", None, 15.0, reasons=(PHYSICAL_RATING,))]
    chargers = [
        ChargerInput("a-new", "grid", 6.0, 22.0),
        ChargerInput("b-running", "grid", 6.0, 22.0, charging=True),
        ChargerInput("c-new", "grid", 6.0, 22.0),
    ]
    result = allocate(nodes, chargers)
    assert result.setpoint("b-running").admitted and result.setpoint("a-new").admitted
    refused = result.setpoint("c-new")
    assert (refused.kw, refused.admitted) == (0.0, False)
    assert refused.reasons[0] == MIN_NOT_AVAILABLE
    assert refused.binding_node_id == "grid"
    assert result.total_kw == pytest.approx(15.0)


def test_unready_charger_gets_nothing() -> None:
    result = allocate([NodeInput("g", None, 50)], [ChargerInput("c", "g", 0, 22, ready=False)])
    assert result.setpoint("c").kw == 0 and result.setpoint("c").reasons == (NOT_READY,)


def test_higher_tier_is_served_first() -> None:
    nodes = [NodeInput("g", None, 30.0, reasons=(PHYSICAL_RATING,))]
    chargers = [ChargerInput("low", "g", 6, 50, tier=0), ChargerInput("high", "g", 6, 50, tier=1)]
    result = allocate(nodes, chargers)
    assert result.setpoint("high").kw == pytest.approx(24)
    assert result.setpoint("low").kw == pytest.approx(6)


def test_uncontrolled_load_reduces_headroom_and_is_never_negative() -> None:
    nodes = [NodeInput("g", None, 50.0, uncontrolled_kw=80.0)]
    result = allocate(nodes, [ChargerInput("c", "g", 0, 22)])
    assert result.node("g").headroom_kw == 0.0
    assert result.setpoint("c").kw == 0.0


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ([NodeInput("a", "b", 1), NodeInput("b", "a", 1)], "cycle"),
        ([NodeInput("a", "ghost", 1)], "unknown parent"),
    ],
)
def test_malformed_trees_are_refused(nodes: list[NodeInput], message: str) -> None:
    with pytest.raises(AllocationInputError, match=message):
        allocate(nodes, [])


def test_charger_on_unknown_node_is_refused() -> None:
    with pytest.raises(AllocationInputError, match="unknown node"):
        allocate([NodeInput("g", None, 1)], [ChargerInput("c", "elsewhere", 0, 1)])
