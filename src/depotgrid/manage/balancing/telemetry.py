"""Telemetry per circuit: how much load under it nobody controls, and how sure we are.

Every circuit gets a load estimate, worked out bottom-up, and a mode saying where it came from:

- MEASURED: its latest meter reading is at most `stale_after_seconds` old; the load is that reading.
- FALLBACK_DERIVED: its meter is stale, but every child circuit is MEASURED or FALLBACK_DERIVED:
  the load is derived from the children's loads plus the setpoints of the chargers directly on
  it, plus a margin (`derived_margin_fraction`).
- FAIL_SAFE: its meter is stale and the load can't be derived (no child circuits, or a child
  without a trustworthy load). The load is estimated the same way and the cap is pinned to the
  circuit's safe default.

A stale circuit's uncontrolled load is never below the *floor* its last reading set: the
uncontrolled load worked out from that reading when it was first used (carried from cycle to
cycle, so it does not ratchet as setpoints change), or, for a reading never used before, the
reading less the chargers' presumed draw now. Missing data is never read as zero.
- UNMETERED: the circuit never had a reading. Its load is its children's loads plus the
  setpoints of the chargers directly on it: other loads directly on an unmetered circuit are
  assumed to be zero (docs/reason-codes.md says so).

Uncontrolled load under a circuit = its load estimate - the presumed draw of every charger under
it, clamped at zero. A charger's presumed draw is its metered power when one is known, else the
setpoint of the previous cycle: we assume chargers follow their setpoints.

The estimates are monotone in staleness: a reading going stale (same value, older, nothing
carried) never lowers any circuit's load estimate, so it never raises any headroom.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from depotgrid.manage.balancing.policy import BalancingPolicy
from depotgrid.manage.balancing.reasons import (
    FAIL_SAFE_METER_STALE,
    FALLBACK_DERIVED_TELEMETRY,
)


class SourceMode(StrEnum):
    MEASURED = "MEASURED"
    FALLBACK_DERIVED = "FALLBACK_DERIVED"
    FAIL_SAFE = "FAIL_SAFE"
    UNMETERED = "UNMETERED"


TRUSTED = frozenset({SourceMode.MEASURED, SourceMode.FALLBACK_DERIVED})
"""Modes a parent may derive its own load from."""


@dataclass(frozen=True)
class Reading:
    timestamp: datetime
    power_kw: float


@dataclass(frozen=True)
class CircuitLink:
    circuit_id: str
    parent_id: str | None


@dataclass(frozen=True)
class ChildLoad:
    """A child circuit's load as used in its parent's derivation."""

    circuit_id: str
    mode: SourceMode
    load_kw: float


@dataclass(frozen=True)
class CircuitTelemetry:
    circuit_id: str
    mode: SourceMode
    reason: str | None
    """FALLBACK_DERIVED_TELEMETRY, FAIL_SAFE_DEFAULT:METER_STALE, or None."""
    latest_reading_at: datetime | None
    latest_power_kw: float | None
    reading_age_seconds: float | None
    stale_after_seconds: float
    margin_fraction: float
    children: tuple[ChildLoad, ...]
    """Child circuits' loads that went into a derived (or unmetered) estimate, by id."""
    untrusted_children: tuple[str, ...]
    """Children without a trustworthy load: why a stale circuit fails safe."""
    direct_chargers_kw: float
    """Presumed draw of the chargers directly on this circuit."""
    derived_load_kw: float | None
    """(children + direct chargers) x (1 + margin) if stale; children + chargers if unmetered."""
    floor_kw: float | None
    """A stale circuit's least uncontrolled load, from its last reading."""
    floor_carried: bool
    """The floor was carried from the cycle that first used the reading."""
    load_kw: float
    """The load estimate: presumed charger draw under it plus the uncontrolled load."""
    chargers_under_kw: float
    """Presumed draw of every charger under this circuit."""
    uncontrolled_kw: float

    @property
    def carry(self) -> tuple[datetime, float] | None:
        """What the next cycle keeps as this reading's uncontrolled floor."""
        if self.latest_reading_at is None:
            return None
        if self.mode is SourceMode.MEASURED:
            return self.latest_reading_at, self.uncontrolled_kw
        assert self.floor_kw is not None
        return self.latest_reading_at, self.floor_kw

    @property
    def explanation(self) -> str:
        return explain(self)


def assess(
    circuits: Sequence[CircuitLink],
    latest: Mapping[str, Reading],
    charger_circuit: Mapping[str, str],
    presumed_draw_kw: Mapping[str, float],
    policy: BalancingPolicy,
    now: datetime,
    floors: Mapping[str, tuple[datetime, float]] | None = None,
) -> dict[str, CircuitTelemetry]:
    """The telemetry of every circuit; `latest` holds each metered circuit's newest reading,
    `presumed_draw_kw` each charger's draw (metered, else its previous setpoint), `floors` what
    the previous cycle carried: (reading time, uncontrolled kW) per circuit."""
    children: dict[str, list[str]] = {c.circuit_id: [] for c in circuits}
    parent = {c.circuit_id: c.parent_id for c in circuits}
    for circuit in sorted(circuits, key=lambda c: c.circuit_id):
        if circuit.parent_id is not None and circuit.parent_id in children:
            children[circuit.parent_id].append(circuit.circuit_id)
    direct: dict[str, float] = dict.fromkeys(children, 0.0)
    for charger_id in sorted(charger_circuit):
        circuit_id = charger_circuit[charger_id]
        if circuit_id in direct:
            direct[circuit_id] += presumed_draw_kw.get(charger_id, 0.0)
    out: dict[str, CircuitTelemetry] = {}
    for circuit_id in sorted(children, key=lambda c: (-_depth(c, parent), c)):
        kids = [out[child] for child in children[circuit_id]]
        reading = latest.get(circuit_id)
        carried = (floors or {}).get(circuit_id)
        if carried is not None and (reading is None or carried[0] != reading.timestamp):
            carried = None
        out[circuit_id] = _one(circuit_id, kids, direct[circuit_id], reading, carried, policy, now)
    return out


def _one(
    circuit_id: str,
    kids: list[CircuitTelemetry],
    direct_kw: float,
    reading: Reading | None,
    carried: tuple[datetime, float] | None,
    policy: BalancingPolicy,
    now: datetime,
) -> CircuitTelemetry:
    child_loads = tuple(ChildLoad(k.circuit_id, k.mode, k.load_kw) for k in kids)
    untrusted = tuple(k.circuit_id for k in kids if k.mode not in TRUSTED)
    under = direct_kw + sum(k.chargers_under_kw for k in kids)
    children_kw = sum(k.load_kw for k in kids)
    age = None if reading is None else max(0.0, (now - reading.timestamp).total_seconds())
    derived: float | None
    floor: float | None = None
    reason: str | None = None
    if reading is None:
        mode, derived = SourceMode.UNMETERED, children_kw + direct_kw
        uncontrolled = max(0.0, derived - under)
    elif age is not None and age <= policy.stale_after_seconds:
        mode, derived = SourceMode.MEASURED, None
        uncontrolled = max(0.0, reading.power_kw - under)
    else:
        derived = (children_kw + direct_kw) * (1.0 + policy.derived_margin_fraction)
        floor = carried[1] if carried is not None else max(0.0, reading.power_kw - under)
        uncontrolled = max(0.0, derived - under, floor)
        if kids and not untrusted:
            mode, reason = SourceMode.FALLBACK_DERIVED, FALLBACK_DERIVED_TELEMETRY
        else:
            mode, reason = SourceMode.FAIL_SAFE, FAIL_SAFE_METER_STALE
    return CircuitTelemetry(
        circuit_id=circuit_id,
        mode=mode,
        reason=reason,
        latest_reading_at=None if reading is None else reading.timestamp,
        latest_power_kw=None if reading is None else reading.power_kw,
        reading_age_seconds=age,
        stale_after_seconds=policy.stale_after_seconds,
        margin_fraction=policy.derived_margin_fraction,
        children=child_loads if mode is not SourceMode.MEASURED else (),
        untrusted_children=untrusted if mode is SourceMode.FAIL_SAFE else (),
        direct_chargers_kw=direct_kw,
        derived_load_kw=derived,
        floor_kw=floor,
        floor_carried=carried is not None and floor is not None,
        load_kw=under + uncontrolled,
        chargers_under_kw=under,
        uncontrolled_kw=uncontrolled,
    )


def _depth(circuit_id: str, parent: Mapping[str, str | None]) -> int:
    depth, above, seen = 0, parent.get(circuit_id), {circuit_id}
    while above is not None and above in parent and above not in seen:
        seen.add(above)
        depth += 1
        above = parent.get(above)
    return depth


def explain(t: CircuitTelemetry) -> str:
    """One sentence an operator can check against the numbers."""
    threshold = f"stale after {t.stale_after_seconds:g} s"
    if t.mode is SourceMode.UNMETERED:
        return (
            "No meter reading ever received: load taken as the chargers' setpoints and the child "
            f"circuits' loads ({t.load_kw:.1f} kW); other load on this circuit assumed 0 kW."
        )
    assert t.latest_power_kw is not None and t.reading_age_seconds is not None
    seen = f"latest reading {t.latest_power_kw:.1f} kW, {t.reading_age_seconds:.0f} s old"
    if t.mode is SourceMode.MEASURED:
        return f"Measured: {seen} ({threshold})."
    margin = f"{t.margin_fraction * 100:g} %"
    parts = ", ".join(f"{c.circuit_id} {c.load_kw:.1f} kW" for c in t.children) or "none"
    derivation = (
        f"child circuits ({parts}) + chargers directly on it ({t.direct_chargers_kw:.1f} kW) "
        f"+ {margin} margin = {t.derived_load_kw or 0.0:.1f} kW"
    )
    floor = f"uncontrolled load kept at least {t.floor_kw or 0.0:.1f} kW, " + (
        "as worked out when that reading was first used"
        if t.floor_carried
        else "the last reading less the chargers' presumed draw"
    )
    if t.mode is SourceMode.FALLBACK_DERIVED:
        return (
            f"Meter stale ({seen}, {threshold}): load derived from {derivation}; {floor}; "
            f"load used {t.load_kw:.1f} kW."
        )
    why = (
        "it has no child circuits to derive from"
        if not t.children
        else "child circuits without a fresh or derived load: " + ", ".join(t.untrusted_children)
    )
    return (
        f"Meter stale ({seen}, {threshold}) and not derivable: {why}. Cap pinned to the safe "
        f"default; load estimated from {derivation}; {floor}; load used {t.load_kw:.1f} kW."
    )
