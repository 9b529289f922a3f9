"""One balancing cycle, as a pure function: `plan_cycle(snapshot, policy, now) -> CycleResult`.

1. Telemetry per circuit (telemetry.py): a load estimate, its mode, the uncontrolled load.
2. Effective cap per circuit (limits.py): the minimum of its sources, pinned to the safe default
   when its meter is stale and its load can't be derived.
3. Charger bounds from demand: nothing unless plugged in; else up to the requested kW (the
   maximum power when none is requested). Bounds go onto the setpoint grid: the minimum rounded
   up to `step_kw`, the maximum down.
4. `allocate.allocate`: admission of minimums in a deterministic order, then weighted max-min
   water-filling under every ancestor.
5. Rounding: each setpoint rounded down to the step; the freed power handed out one step at a
   time, in admission order, wherever no cap would break. A setpoint left below its exact value
   says STEP_ROUNDING.
6. Breach episodes (breaches.py), from the readings since the previous cycle.

Everything is sorted by id on the way in and out, so shuffled inputs give identical results.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from depotgrid.manage.balancing.allocate import (
    Allocation,
    ChargerInput,
    ChargerSetpoint,
    NodeInput,
    allocate,
)
from depotgrid.manage.balancing.breaches import (
    BreachCheck,
    BreachContext,
    BreachState,
    Episode,
    check,
    close_removed,
)
from depotgrid.manage.balancing.limits import (
    EPSILON_KW,
    EffectiveCap,
    circuit_sources,
    degraded,
    effective_cap,
    fail_safe,
)
from depotgrid.manage.balancing.policy import BalancingPolicy
from depotgrid.manage.balancing.reasons import (
    CHARGER_MAX,
    EV_DEMAND,
    NOT_READY,
    STEP_ROUNDING,
)
from depotgrid.manage.balancing.snapshot import (
    ChargerSpec,
    CircuitSpec,
    CycleSnapshot,
    PreviousCircuit,
    breach_state_from_json,
    breach_state_to_json,
    canonical_json,
    episode_to_json,
    inputs_hash,
    iso,
    parse_iso,
)
from depotgrid.manage.balancing.telemetry import (
    CircuitLink,
    CircuitTelemetry,
    Reading,
    SourceMode,
    assess,
)

DEGRADED = frozenset({SourceMode.FALLBACK_DERIVED, SourceMode.FAIL_SAFE})


@dataclass(frozen=True)
class CircuitOutcome:
    spec: CircuitSpec
    cap: EffectiveCap
    telemetry: CircuitTelemetry
    headroom_kw: float
    allocated_kw: float
    saturated: bool
    breach: BreachState

    @property
    def circuit_id(self) -> str:
        return self.spec.circuit_id


@dataclass(frozen=True)
class SetpointOutcome:
    charger_id: str
    circuit_id: str
    name: str
    kw: float
    exact_kw: float
    """The allocator's value before rounding to the step."""
    admitted: bool
    reasons: tuple[str, ...]
    binding_circuit_id: str | None
    plugged_in: bool
    requested_kw: float | None
    min_kw: float
    max_kw: float
    """The upper bound used: 0 unless plugged in, else min(requested, max power) on the grid."""
    previous_kw: float | None


@dataclass(frozen=True)
class CycleResult:
    depot_id: str
    computed_at: datetime
    inputs_hash: str
    source_mode: str
    """MEASURED, FALLBACK_DERIVED (some meter stale or missing), or UNMETERED (no meter at all)."""
    fail_safe: bool
    circuits: tuple[CircuitOutcome, ...]
    setpoints: tuple[SetpointOutcome, ...]
    breaches: tuple[Episode, ...]
    opened_breaches: tuple[str, ...]
    closed_breaches: tuple[str, ...]
    policy: BalancingPolicy

    @property
    def total_allocated_kw(self) -> float:
        return round(math.fsum(s.kw for s in self.setpoints), 6)

    @property
    def open_breach_count(self) -> int:
        return sum(1 for b in self.breaches if b.ended_at is None)

    def circuit(self, circuit_id: str) -> CircuitOutcome:
        return next(c for c in self.circuits if c.circuit_id == circuit_id)

    def setpoint(self, charger_id: str) -> SetpointOutcome:
        return next(s for s in self.setpoints if s.charger_id == charger_id)

    def to_json(self) -> dict[str, Any]:
        return result_to_json(self)

    def canonical(self) -> str:
        return canonical_json(self.to_json())


def plan_cycle(snapshot: CycleSnapshot, policy: BalancingPolicy, now: datetime) -> CycleResult:
    circuits = tuple(sorted(snapshot.circuits, key=lambda c: c.circuit_id))
    known = {c.circuit_id for c in circuits}
    chargers = tuple(
        sorted((c for c in snapshot.chargers if c.circuit_id in known), key=lambda c: c.charger_id)
    )
    readings = {
        circuit_id: tuple(sorted(rs, key=lambda r: (r.timestamp, r.power_kw)))
        for circuit_id, rs in snapshot.readings.items()
        if circuit_id in known and rs
    }
    previous = snapshot.previous_setpoints
    presumed = {
        c.charger_id: previous.get(c.charger_id, 0.0) if c.measured_kw is None else c.measured_kw
        for c in chargers
    }
    links = [CircuitLink(c.circuit_id, c.parent_id) for c in circuits]
    telemetry = assess(
        links,
        {cid: rs[-1] for cid, rs in readings.items()},
        {c.charger_id: c.circuit_id for c in chargers},
        presumed,
        policy,
        now,
        floors={
            cid: prev.floor
            for cid, prev in snapshot.previous_circuits.items()
            if prev.floor is not None
        },
    )
    caps = {c.circuit_id: _cap(c, telemetry[c.circuit_id]) for c in circuits}
    nodes = [
        NodeInput(
            node_id=c.circuit_id,
            parent_id=c.parent_id,
            cap_kw=caps[c.circuit_id].cap_kw,
            uncontrolled_kw=telemetry[c.circuit_id].uncontrolled_kw,
            reasons=caps[c.circuit_id].reasons,
        )
        for c in circuits
    ]
    step = policy.step_kw
    bounds = {c.charger_id: _bounds(c.min_power_kw, _demand(c), step) for c in chargers}
    inputs = [
        ChargerInput(
            charger_id=c.charger_id,
            node_id=c.circuit_id,
            min_kw=bounds[c.charger_id][0],
            max_kw=bounds[c.charger_id][1],
            ready=c.plugged_in,
            charging=previous.get(c.charger_id, 0.0) > 0.0,
        )
        for c in chargers
    ]
    allocation = allocate(nodes, inputs)
    paths = _paths(circuits)
    points = {p.charger_id: p for p in allocation.setpoints}
    rounded = _round(allocation, points, inputs, paths, step)
    setpoints = tuple(
        _setpoint(c, points[c.charger_id], rounded[c.charger_id], bounds[c.charger_id], previous)
        for c in chargers
    )
    allocated = dict.fromkeys(known, 0.0)
    for s in setpoints:
        for above in paths[s.circuit_id]:
            allocated[above] += s.kw
    node_outcomes = {n.node_id: n for n in allocation.nodes}
    episodes: list[Episode] = []
    opened: list[str] = []
    closed: list[str] = []
    outcomes = []
    for c in circuits:
        t = telemetry[c.circuit_id]
        node = node_outcomes[c.circuit_id]
        breach = _breach(c.circuit_id, snapshot, readings, caps, paths, chargers, policy)
        episodes.extend(breach.episodes)
        opened.extend(breach.opened)
        closed.extend(breach.closed)
        outcomes.append(
            CircuitOutcome(
                spec=c,
                cap=caps[c.circuit_id],
                telemetry=t,
                headroom_kw=node.headroom_kw,
                allocated_kw=round(allocated[c.circuit_id], 6),
                saturated=node.saturated,
                breach=breach.state,
            )
        )
    for circuit_id, gone in sorted(snapshot.previous_circuits.items()):
        if circuit_id not in known:
            done = close_removed(gone.breach, now)
            if done is not None:
                episodes.append(done)
                closed.append(done.episode_id)
    modes = {t.mode for t in telemetry.values()}
    if modes & DEGRADED:
        source_mode = SourceMode.FALLBACK_DERIVED.value
    elif SourceMode.MEASURED in modes:
        source_mode = SourceMode.MEASURED.value
    else:
        source_mode = SourceMode.UNMETERED.value
    return CycleResult(
        depot_id=snapshot.depot_id,
        computed_at=now,
        inputs_hash=inputs_hash(snapshot, policy, now),
        source_mode=source_mode,
        fail_safe=SourceMode.FAIL_SAFE in modes,
        circuits=tuple(outcomes),
        setpoints=setpoints,
        breaches=tuple(sorted(episodes, key=lambda e: (e.circuit_id, e.started_at))),
        opened_breaches=tuple(sorted(opened)),
        closed_breaches=tuple(sorted(closed)),
        policy=policy,
    )


def _cap(circuit: CircuitSpec, telemetry: CircuitTelemetry) -> EffectiveCap:
    cap = effective_cap(
        circuit_sources(
            max_capacity_kw=circuit.max_capacity_kw,
            available_capacity_kw=circuit.available_capacity_kw,
            available_capacity_source=circuit.available_capacity_source,
        )
    )
    if telemetry.mode is SourceMode.FAIL_SAFE and telemetry.reason is not None:
        return fail_safe(cap, circuit.safe_default_capacity_kw, telemetry.reason)
    if telemetry.mode is SourceMode.FALLBACK_DERIVED and telemetry.reason is not None:
        return degraded(cap, telemetry.reason)
    return cap


def _demand(charger: ChargerSpec) -> float:
    """0 unless plugged in; else the requested kW (the max power if none), at most the max."""
    if not charger.plugged_in:
        return 0.0
    wanted = charger.max_power_kw if charger.requested_kw is None else charger.requested_kw
    return max(0.0, min(float(wanted), float(charger.max_power_kw)))


def _bounds(min_kw: float, max_kw: float, step: float) -> tuple[float, float]:
    """Onto the setpoint grid: the minimum rounded up, the maximum rounded down."""
    top = math.floor(max_kw / step + 1e-9) * step
    low = math.ceil(min_kw / step - 1e-9) * step
    return round(max(0.0, low), 9), round(max(0.0, top), 9)


def _paths(circuits: Sequence[CircuitSpec]) -> dict[str, tuple[str, ...]]:
    """Each circuit and its ancestors, nearest first."""
    parent = {c.circuit_id: c.parent_id for c in circuits}
    paths: dict[str, tuple[str, ...]] = {}
    for circuit_id in parent:
        path = [circuit_id]
        above = parent[circuit_id]
        while above is not None and above in parent and above not in path:
            path.append(above)
            above = parent[above]
        paths[circuit_id] = tuple(path)
    return paths


def _round(
    allocation: Allocation,
    points: Mapping[str, ChargerSetpoint],
    chargers: Sequence[ChargerInput],
    paths: Mapping[str, tuple[str, ...]],
    step: float,
) -> dict[str, float]:
    """Round every setpoint down to the step, then hand the freed power back one step each,
    in admission order (already charging first, then by id), where every cap still allows."""
    residual = {n.node_id: n.headroom_kw for n in allocation.nodes}
    kw: dict[str, float] = {}
    for charger in chargers:
        exact = points[charger.charger_id].kw
        units = math.floor(exact / step + 1e-9)
        kw[charger.charger_id] = round(units * step, 6)
        for node in paths[charger.node_id]:
            residual[node] -= kw[charger.charger_id]
    order = sorted(chargers, key=lambda c: (not c.charging, c.charger_id))
    for charger in order:
        point = points[charger.charger_id]
        current = kw[charger.charger_id]
        if not point.admitted or current >= point.kw - EPSILON_KW:
            continue
        path = paths[charger.node_id]
        fits = current + step <= charger.max_kw + EPSILON_KW and all(
            residual[node] >= step - EPSILON_KW for node in path
        )
        if fits:
            kw[charger.charger_id] = round(current + step, 6)
            for node in path:
                residual[node] -= step
    return kw


def _setpoint(
    charger: ChargerSpec,
    point: ChargerSetpoint,
    kw: float,
    bounds: tuple[float, float],
    previous: Mapping[str, float],
) -> SetpointOutcome:
    reasons = list(point.reasons)
    demand_limited = charger.requested_kw is not None and (
        charger.requested_kw < charger.max_power_kw - EPSILON_KW
    )
    if charger.plugged_in and bounds[1] <= 0.0:
        reasons = [EV_DEMAND]
    elif not charger.plugged_in:
        reasons = [NOT_READY]
    elif demand_limited and CHARGER_MAX in reasons:
        reasons = [EV_DEMAND if r == CHARGER_MAX else r for r in reasons]
    if point.admitted and kw < point.kw - 1e-9:
        reasons.append(STEP_ROUNDING)
    return SetpointOutcome(
        charger_id=charger.charger_id,
        circuit_id=charger.circuit_id,
        name=charger.name,
        kw=kw,
        exact_kw=point.kw,
        admitted=point.admitted,
        reasons=tuple(reasons),
        binding_circuit_id=point.binding_node_id,
        plugged_in=charger.plugged_in,
        requested_kw=charger.requested_kw,
        min_kw=bounds[0],
        max_kw=bounds[1],
        previous_kw=previous.get(charger.charger_id),
    )


def _breach(
    circuit_id: str,
    snapshot: CycleSnapshot,
    readings: Mapping[str, tuple[Reading, ...]],
    caps: Mapping[str, EffectiveCap],
    paths: Mapping[str, tuple[str, ...]],
    chargers: Sequence[ChargerSpec],
    policy: BalancingPolicy,
) -> BreachCheck:
    before = snapshot.previous_circuits.get(circuit_id)
    state = before.breach if before is not None else BreachState()
    cap_in_force = before.cap_kw if before is not None else caps[circuit_id].cap_kw
    under = sorted(c for c, path in paths.items() if circuit_id in path)
    stale = tuple(
        c
        for c in under
        if (p := snapshot.previous_circuits.get(c)) is not None and p.mode in DEGRADED
    )
    previous = snapshot.previous_setpoints
    tolerance = 1.0 + policy.breach_tolerance
    mine = [c for c in chargers if circuit_id in paths[c.circuit_id]]
    noncompliant = tuple(
        c.charger_id
        for c in mine
        if c.measured_kw is not None
        and c.measured_kw > previous.get(c.charger_id, 0.0) * tolerance + EPSILON_KW
    )
    context = BreachContext(
        stale_circuits=stale,
        noncompliant_chargers=noncompliant,
        setpoints_in_force_kw=math.fsum(previous.get(c.charger_id, 0.0) for c in mine),
    )
    return check(circuit_id, state, readings.get(circuit_id, ()), cap_in_force, context, policy)


# ---------- JSON ----------


def result_to_json(r: CycleResult) -> dict[str, Any]:
    return {
        "depot_id": r.depot_id,
        "computed_at": iso(r.computed_at),
        "inputs_hash": r.inputs_hash,
        "source_mode": r.source_mode,
        "fail_safe": r.fail_safe,
        "total_allocated_kw": r.total_allocated_kw,
        "policy": r.policy.as_dict(),
        "circuits": [_circuit_json(c) for c in r.circuits],
        "setpoints": [
            {
                "charger_id": s.charger_id,
                "circuit_id": s.circuit_id,
                "name": s.name,
                "kw": s.kw,
                "exact_kw": s.exact_kw,
                "admitted": s.admitted,
                "reasons": list(s.reasons),
                "binding_circuit_id": s.binding_circuit_id,
                "plugged_in": s.plugged_in,
                "requested_kw": s.requested_kw,
                "min_kw": s.min_kw,
                "max_kw": s.max_kw,
                "previous_kw": s.previous_kw,
            }
            for s in r.setpoints
        ],
        "breaches": [episode_to_json(e) for e in r.breaches],
        "opened_breaches": list(r.opened_breaches),
        "closed_breaches": list(r.closed_breaches),
    }


def _circuit_json(c: CircuitOutcome) -> dict[str, Any]:
    t = c.telemetry
    return {
        "circuit_id": c.spec.circuit_id,
        "parent_id": c.spec.parent_id,
        "name": c.spec.name,
        "max_capacity_kw": c.spec.max_capacity_kw,
        "available_capacity_kw": c.spec.available_capacity_kw,
        "available_capacity_source": c.spec.available_capacity_source,
        "safe_default_capacity_kw": c.spec.safe_default_capacity_kw,
        "cap_kw": c.cap.cap_kw,
        "reasons": list(c.cap.reasons),
        "sources": [
            {"code": s.code, "kw": s.kw, "detail": s.detail, "binding": c.cap.binding(s)}
            for s in c.cap.sources
        ],
        "uncontrolled_kw": t.uncontrolled_kw,
        "headroom_kw": c.headroom_kw,
        "allocated_kw": c.allocated_kw,
        "saturated": c.saturated,
        "telemetry": {
            "mode": t.mode.value,
            "reason": t.reason,
            "latest_reading_at": None if t.latest_reading_at is None else iso(t.latest_reading_at),
            "latest_power_kw": t.latest_power_kw,
            "reading_age_seconds": t.reading_age_seconds,
            "stale_after_seconds": t.stale_after_seconds,
            "margin_fraction": t.margin_fraction,
            "children": [
                {"circuit_id": k.circuit_id, "mode": k.mode.value, "load_kw": k.load_kw}
                for k in t.children
            ],
            "untrusted_children": list(t.untrusted_children),
            "direct_chargers_kw": t.direct_chargers_kw,
            "derived_load_kw": t.derived_load_kw,
            "floor_kw": t.floor_kw,
            "floor_carried": t.floor_carried,
            "carry": None if t.carry is None else [iso(t.carry[0]), t.carry[1]],
            "load_kw": t.load_kw,
            "chargers_under_kw": t.chargers_under_kw,
            "uncontrolled_kw": t.uncontrolled_kw,
            "explanation": t.explanation,
        },
        "breach_state": breach_state_to_json(c.breach),
    }


def in_force(result: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, PreviousCircuit]]:
    """What a stored cycle result leaves in force for the next one: setpoints and, per circuit,
    its cap, telemetry mode and breach state."""
    setpoints = {s["charger_id"]: float(s["kw"]) for s in result.get("setpoints", [])}
    circuits = {
        c["circuit_id"]: PreviousCircuit(
            cap_kw=float(c["cap_kw"]),
            mode=SourceMode(c["telemetry"]["mode"]),
            breach=breach_state_from_json(c.get("breach_state") or {}),
            floor=_carry(c["telemetry"].get("carry")),
        )
        for c in result.get("circuits", [])
    }
    return setpoints, circuits


def _carry(value: Any) -> tuple[datetime, float] | None:
    return None if value is None else (parse_iso(value[0]), float(value[1]))
