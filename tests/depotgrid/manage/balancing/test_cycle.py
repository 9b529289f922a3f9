"""A whole cycle, pure: determinism under shuffling, replays, caps, rounding, reasons, breaches."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from depotgrid.manage.balancing.cycle import CycleResult, in_force, plan_cycle
from depotgrid.manage.balancing.policy import BalancingPolicy
from depotgrid.manage.balancing.reasons import (
    ANCESTOR_SATURATED,
    CAP_DROPPED,
    ENVELOPE_LIMIT,
    EV_DEMAND,
    FAIL_SAFE_METER_STALE,
    FALLBACK_DERIVED_TELEMETRY,
    MIN_NOT_AVAILABLE,
    NODE_PRECEDENCE,
    NOT_READY,
    PHYSICAL_RATING,
    STEP_ROUNDING,
    base_code,
)
from depotgrid.manage.balancing.snapshot import (
    ChargerSpec,
    CircuitSpec,
    CycleSnapshot,
    snapshot_from_json,
    snapshot_to_json,
)
from depotgrid.manage.balancing.telemetry import Reading

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = BalancingPolicy()
SOURCES = ["RATING", "OPERATOR", "ENVELOPE", "SAFE_DEFAULT"]


@st.composite
def snapshots(draw: st.DrawFn, max_circuits: int = 6, max_chargers: int = 10) -> CycleSnapshot:
    count = draw(st.integers(1, max_circuits))
    circuits = []
    for k in range(count):
        rating = draw(st.sampled_from([20.0, 50.0, 80.0, 150.0, 400.0]))
        source = draw(st.sampled_from(SOURCES))
        available = (
            rating if source == "RATING" else draw(st.sampled_from([0.5, 0.8, 1.0])) * rating
        )
        circuits.append(
            CircuitSpec(
                circuit_id=f"k{k}",
                parent_id=None if k == 0 else f"k{draw(st.integers(0, k - 1))}",
                name=f"Circuit {k}",
                max_capacity_kw=rating,
                available_capacity_kw=available,
                available_capacity_source=source,
                safe_default_capacity_kw=draw(st.sampled_from([0.25, 0.5, 1.0])) * rating,
            )
        )
    chargers = []
    for j in range(draw(st.integers(0, max_chargers))):
        top = draw(st.sampled_from([7.4, 11.0, 22.0, 50.0, 150.0]))
        chargers.append(
            ChargerSpec(
                charger_id=f"c{j:02d}",
                circuit_id=f"k{draw(st.integers(0, count - 1))}",
                name=f"Bay {j}",
                min_power_kw=draw(st.sampled_from([0.0, 1.4, 4.2, 6.0])),
                max_power_kw=top,
                plugged_in=draw(st.booleans() | st.just(True)),
                requested_kw=draw(st.none() | st.sampled_from([0.0, 3.33, 7.0, 200.0])),
            )
        )
    readings: dict[str, tuple[Reading, ...]] = {}
    for circuit in circuits:
        if draw(st.booleans()):
            age = draw(st.sampled_from([1, 30, 59, 61, 300]))
            kw = draw(st.sampled_from([0.0, 15.0, 42.5, 120.0]))
            readings[circuit.circuit_id] = (Reading(NOW - timedelta(seconds=age), kw),)
    previous = {
        c.charger_id: draw(st.sampled_from([0.0, 5.0, 11.0]))
        for c in chargers
        if draw(st.booleans())
    }
    return CycleSnapshot("depot", tuple(circuits), tuple(chargers), readings, previous)


def shuffled(snapshot: CycleSnapshot, rng: random.Random) -> CycleSnapshot:
    circuits, chargers = list(snapshot.circuits), list(snapshot.chargers)
    rng.shuffle(circuits)
    rng.shuffle(chargers)
    readings = list(snapshot.readings.items())
    rng.shuffle(readings)
    previous = list(snapshot.previous_setpoints.items())
    rng.shuffle(previous)
    return replace(
        snapshot,
        circuits=tuple(circuits),
        chargers=tuple(chargers),
        readings=dict(readings),
        previous_setpoints=dict(previous),
    )


PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(snapshots(), st.randoms(use_true_random=False))
def test_shuffled_inputs_give_byte_identical_results_and_reason_order(
    snapshot: CycleSnapshot, rng: random.Random
) -> None:
    first = plan_cycle(snapshot, POLICY, NOW)
    again = plan_cycle(shuffled(snapshot, rng), POLICY, NOW)
    assert again.canonical() == first.canonical()
    assert [s.reasons for s in again.setpoints] == [s.reasons for s in first.setpoints]
    assert [c.cap.reasons for c in again.circuits] == [c.cap.reasons for c in first.circuits]


@PROPS
@given(snapshots())
def test_repeated_runs_give_identical_reason_lists(snapshot: CycleSnapshot) -> None:
    runs = [plan_cycle(snapshot, POLICY, NOW) for _ in range(3)]
    lists = [[(s.charger_id, s.reasons) for s in run.setpoints] for run in runs]
    assert lists[0] == lists[1] == lists[2]
    assert len({run.inputs_hash for run in runs}) == 1


@PROPS
@given(snapshots())
def test_a_snapshot_stored_as_json_replays_to_the_same_result(snapshot: CycleSnapshot) -> None:
    stored = json.loads(json.dumps(snapshot_to_json(snapshot)))
    assert plan_cycle(snapshot_from_json(stored), POLICY, NOW).canonical() == (
        plan_cycle(snapshot, POLICY, NOW).canonical()
    )


@PROPS
@given(snapshots())
def test_node_reasons_follow_the_precedence_and_setpoints_respect_every_cap(
    snapshot: CycleSnapshot,
) -> None:
    result = plan_cycle(snapshot, POLICY, NOW)
    for circuit in result.circuits:
        ranks = [NODE_PRECEDENCE.index(base_code(code)) for code in circuit.cap.reasons]
        assert ranks == sorted(ranks) and ranks
        assert circuit.allocated_kw <= circuit.headroom_kw + 1e-6
        assert circuit.cap.cap_kw <= circuit.spec.max_capacity_kw + 1e-9
    for point in result.setpoints:
        assert point.kw == pytest.approx(round(point.kw / 0.1) * 0.1, abs=1e-9)
        assert 0.0 <= point.kw <= point.max_kw + 1e-9
        if point.admitted and point.max_kw > 0:
            assert point.kw >= point.min_kw - 1e-9 or point.min_kw > point.max_kw


def _under(snapshot: CycleSnapshot, circuit_id: str) -> set[str]:
    parent = {c.circuit_id: c.parent_id for c in snapshot.circuits}
    found = set()
    for charger in snapshot.chargers:
        node: str | None = charger.circuit_id
        while node is not None:
            if node == circuit_id:
                found.add(charger.charger_id)
            node = parent[node]
    return found


def _same_admitted(a: CycleResult, b: CycleResult) -> bool:
    return [p.admitted for p in a.setpoints] == [p.admitted for p in b.setpoints]


@PROPS
@given(snapshots(), st.data())
def test_a_meter_going_stale_never_raises_a_setpoint_under_it(
    snapshot: CycleSnapshot, data: st.DataObject
) -> None:
    """With the admitted set fixed: the same reading, older than the threshold, only ever lowers
    headroom (derived with a margin, or the cap pinned to the safe default)."""
    metered = sorted(snapshot.readings)
    assume(metered)
    circuit_id = data.draw(st.sampled_from(metered))
    (reading,) = snapshot.readings[circuit_id]
    stale = dict(snapshot.readings)
    stale[circuit_id] = (Reading(NOW - timedelta(minutes=10), reading.power_kw),)
    before = plan_cycle(snapshot, POLICY, NOW)
    after = plan_cycle(replace(snapshot, readings=stale), POLICY, NOW)
    assume(_same_admitted(before, after))
    for charger_id in _under(snapshot, circuit_id):
        assert after.setpoint(charger_id).exact_kw <= before.setpoint(charger_id).exact_kw + 1e-6


@PROPS
@given(snapshots(), st.data())
def test_an_envelope_expiring_to_the_safe_default_never_raises_a_setpoint_under_it(
    snapshot: CycleSnapshot, data: st.DataObject
) -> None:
    circuits = list(snapshot.circuits)
    k = data.draw(st.integers(0, len(circuits) - 1))
    circuit = circuits[k]
    safe = min(circuit.safe_default_capacity_kw, circuit.available_capacity_kw)
    circuits[k] = replace(
        circuit, available_capacity_kw=safe, available_capacity_source="SAFE_DEFAULT"
    )
    before = plan_cycle(snapshot, POLICY, NOW)
    after = plan_cycle(replace(snapshot, circuits=tuple(circuits)), POLICY, NOW)
    assume(_same_admitted(before, after))
    for charger_id in _under(snapshot, circuit.circuit_id):
        assert after.setpoint(charger_id).exact_kw <= before.setpoint(charger_id).exact_kw + 1e-6


# ---------- examples ----------


def grid(**changes: object) -> CircuitSpec:
    base = CircuitSpec("grid", None, "Grid", 100.0, 100.0, "RATING", 40.0)
    return replace(base, **changes)  # type: ignore[arg-type]


def charger(charger_id: str, circuit_id: str = "grid", **changes: object) -> ChargerSpec:
    base = ChargerSpec(charger_id, circuit_id, charger_id, 6.0, 50.0, plugged_in=True)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_an_envelope_below_the_rating_binds_and_chargers_inherit_its_reason() -> None:
    snapshot = CycleSnapshot(
        "d",
        (grid(available_capacity_kw=60.0, available_capacity_source="ENVELOPE"),),
        (charger("a"), charger("b")),
    )
    result = plan_cycle(snapshot, POLICY, NOW)
    assert result.circuit("grid").cap.reasons == (ENVELOPE_LIMIT,)
    assert [s.kw for s in result.setpoints] == [30.0, 30.0]
    assert result.setpoint("a").reasons == (ENVELOPE_LIMIT, f"{ANCESTOR_SATURATED}:grid")
    assert result.source_mode == "UNMETERED" and result.total_allocated_kw == 60.0


def test_rounding_down_hands_the_freed_power_out_in_order_and_says_step_rounding() -> None:
    snapshot = CycleSnapshot(
        "d",
        (grid(max_capacity_kw=10.0, available_capacity_kw=10.0),),
        tuple(charger(i, min_power_kw=0.0) for i in ("a", "b", "c")),
    )
    result = plan_cycle(snapshot, POLICY, NOW)
    assert [s.kw for s in result.setpoints] == [3.4, 3.3, 3.3]
    assert result.total_allocated_kw == pytest.approx(10.0)
    assert STEP_ROUNDING not in result.setpoint("a").reasons
    assert result.setpoint("b").reasons[-1] == STEP_ROUNDING


def test_demand_follows_the_plug_and_the_request() -> None:
    snapshot = CycleSnapshot(
        "d",
        (grid(),),
        (
            charger("unplugged", plugged_in=False),
            charger("wants-7", requested_kw=7.0),
            charger("wants-none", requested_kw=0.0),
        ),
    )
    result = plan_cycle(snapshot, POLICY, NOW)
    assert (result.setpoint("unplugged").kw, result.setpoint("unplugged").reasons) == (
        0.0,
        (NOT_READY,),
    )
    assert (result.setpoint("wants-7").kw, result.setpoint("wants-7").reasons) == (
        7.0,
        (EV_DEMAND,),
    )
    assert result.setpoint("wants-none").reasons == (EV_DEMAND,)


def test_a_charger_whose_minimum_does_not_fit_is_refused_with_the_binding_reason() -> None:
    snapshot = CycleSnapshot(
        "d",
        (grid(max_capacity_kw=10.0, available_capacity_kw=10.0),),
        (charger("a", min_power_kw=6.0), charger("b", min_power_kw=6.0)),
    )
    result = plan_cycle(snapshot, POLICY, NOW)
    assert result.setpoint("a").kw == 10.0
    assert result.setpoint("b").reasons == (
        MIN_NOT_AVAILABLE,
        PHYSICAL_RATING,
        f"{ANCESTOR_SATURATED}:grid",
    )


def test_uncontrolled_load_is_the_reading_less_the_setpoints_in_force() -> None:
    reading = {"grid": (Reading(NOW - timedelta(seconds=5), 70.0),)}
    snapshot = CycleSnapshot("d", (grid(),), (charger("a"),), reading, {"a": 50.0})
    result = plan_cycle(snapshot, POLICY, NOW)
    assert result.circuit("grid").telemetry.uncontrolled_kw == 20.0
    assert result.setpoint("a").kw == 50.0 and result.source_mode == "MEASURED"


def test_a_stale_meter_that_cannot_be_derived_fails_safe_visibly() -> None:
    reading = {"grid": (Reading(NOW - timedelta(minutes=5), 10.0),)}
    snapshot = CycleSnapshot("d", (grid(),), (charger("a"),), reading)
    result = plan_cycle(snapshot, POLICY, NOW)
    circuit = result.circuit("grid")
    assert (result.source_mode, result.fail_safe) == ("FALLBACK_DERIVED", True)
    assert circuit.cap.cap_kw == 40.0
    assert circuit.cap.reasons == (FAIL_SAFE_METER_STALE,)
    assert result.setpoint("a").kw == 30.0
    assert result.setpoint("a").reasons[0] == FAIL_SAFE_METER_STALE


def test_a_stale_meter_derived_from_children_is_fallback_derived() -> None:
    fresh = NOW - timedelta(seconds=5)
    snapshot = CycleSnapshot(
        "d",
        (grid(), CircuitSpec("row", "grid", "Row", 80.0, 80.0, "RATING", 80.0)),
        (charger("a", "row"),),
        {"grid": (Reading(NOW - timedelta(minutes=5), 10.0),), "row": (Reading(fresh, 20.0),)},
    )
    result = plan_cycle(snapshot, POLICY, NOW)
    assert (result.source_mode, result.fail_safe) == ("FALLBACK_DERIVED", False)
    assert result.circuit("grid").cap.reasons == (FALLBACK_DERIVED_TELEMETRY, PHYSICAL_RATING)
    assert result.circuit("grid").telemetry.uncontrolled_kw == pytest.approx(22.0)


def test_cycles_chain_and_a_dropped_cap_under_a_steady_load_opens_a_cap_dropped_breach() -> None:
    circuits = (grid(),)
    previous: tuple[dict[str, float], dict] = ({}, {})
    results = []
    for step, (available, kw) in enumerate(
        [(100.0, 80.0), (50.0, 80.0), (50.0, 80.0), (50.0, 80.0), (50.0, 80.0)]
    ):
        moment = NOW + timedelta(seconds=10 * step)
        snapshot = CycleSnapshot(
            "d",
            (
                replace(
                    circuits[0],
                    available_capacity_kw=available,
                    available_capacity_source="ENVELOPE",
                ),
            ),
            (),
            {"grid": (Reading(moment, kw),)},
            previous[0],
            previous[1],
        )
        result = plan_cycle(snapshot, POLICY, moment)
        results.append(result)
        previous = in_force(json.loads(json.dumps(result.to_json())))
    assert [len(r.opened_breaches) for r in results] == [0, 0, 0, 0, 1]
    (episode,) = results[-1].breaches
    assert episode.primary_reason == CAP_DROPPED
    assert episode.cap_kw == 50.0 and episode.samples == 3


def test_a_blind_circuit_does_not_ratchet_its_chargers_down_as_setpoints_change() -> None:
    """Meter dies after a reading of 70 kW with one charger at 50 kW (20 kW uncontrolled); a
    second charger plugs in while it is blind: they share what the 20 kW floor leaves."""
    circuits = (grid(safe_default_capacity_kw=100.0),)
    first = charger("a", max_power_kw=50.0, min_power_kw=0.0)
    second = charger("b", max_power_kw=50.0, min_power_kw=0.0, plugged_in=False)
    seen = Reading(NOW, 70.0)
    state: tuple[dict[str, float], dict] = ({"a": 50.0}, {})
    results = []
    for step, plugged in enumerate([False, True, True, True]):
        moment = NOW + timedelta(seconds=5 + 100 * step)
        snapshot = CycleSnapshot(
            "d",
            circuits,
            (first, replace(second, plugged_in=plugged)),
            {"grid": (seen,)},
            state[0],
            state[1],
        )
        result = plan_cycle(snapshot, POLICY, moment)
        results.append(result)
        state = in_force(json.loads(json.dumps(result.to_json())))
    assert results[0].circuit("grid").telemetry.mode.value == "MEASURED"
    assert [r.circuit("grid").telemetry.uncontrolled_kw for r in results] == [20.0] * 4
    assert [r.circuit("grid").telemetry.mode.value for r in results[1:]] == ["FAIL_SAFE"] * 3
    assert [[s.kw for s in r.setpoints] for r in results[1:]] == [[40.0, 40.0]] * 3
