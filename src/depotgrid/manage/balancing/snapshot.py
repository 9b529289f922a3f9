"""A cycle's inputs: an immutable snapshot of one depot, and its canonical JSON.

The snapshot holds everything a cycle decides from (circuits, chargers and their demand, recent
meter readings, and what the previous cycle left in force), so a stored snapshot replays to the
same result. Its canonical JSON (keys sorted, lists sorted by id) hashes to the cycle's
`inputs_hash`: the same inputs in any order give the same hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from depotgrid.manage.balancing.breaches import BreachState, Episode, EpisodeStatus
from depotgrid.manage.balancing.policy import BalancingPolicy
from depotgrid.manage.balancing.telemetry import Reading, SourceMode


@dataclass(frozen=True)
class CircuitSpec:
    circuit_id: str
    parent_id: str | None
    name: str
    max_capacity_kw: float
    available_capacity_kw: float
    available_capacity_source: str
    safe_default_capacity_kw: float


@dataclass(frozen=True)
class ChargerSpec:
    charger_id: str
    circuit_id: str
    name: str
    min_power_kw: float
    max_power_kw: float
    plugged_in: bool = False
    requested_kw: float | None = None
    measured_kw: float | None = None
    """The charger's own metered power, once charger meter values exist (none do yet)."""


@dataclass(frozen=True)
class PreviousCircuit:
    """What the cycle in force decided for a circuit."""

    cap_kw: float
    mode: SourceMode
    breach: BreachState = field(default_factory=BreachState)
    floor: tuple[datetime, float] | None = None
    """(reading time, uncontrolled kW) its last reading left: a stale meter's floor."""


@dataclass(frozen=True)
class CycleSnapshot:
    depot_id: str
    circuits: tuple[CircuitSpec, ...]
    chargers: tuple[ChargerSpec, ...]
    readings: Mapping[str, tuple[Reading, ...]] = field(default_factory=dict)
    """Each metered circuit's most recent readings (any order; sorted when used)."""
    previous_setpoints: Mapping[str, float] = field(default_factory=dict)
    previous_circuits: Mapping[str, PreviousCircuit] = field(default_factory=dict)
    previous_cycle_id: str | None = None


# ---------- canonical JSON ----------


def canonical_json(document: Any) -> str:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def inputs_document(
    snapshot: CycleSnapshot, policy: BalancingPolicy, now: datetime
) -> dict[str, Any]:
    return {"snapshot": snapshot_to_json(snapshot), "policy": policy.as_dict(), "now": iso(now)}


def inputs_hash(snapshot: CycleSnapshot, policy: BalancingPolicy, now: datetime) -> str:
    text = canonical_json(inputs_document(snapshot, policy, now))
    return hashlib.sha256(text.encode()).hexdigest()


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetimes have no place in a cycle")
    return moment.astimezone(UTC).isoformat()


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def snapshot_to_json(s: CycleSnapshot) -> dict[str, Any]:
    return {
        "depot_id": s.depot_id,
        "circuits": [
            {
                "circuit_id": c.circuit_id,
                "parent_id": c.parent_id,
                "name": c.name,
                "max_capacity_kw": c.max_capacity_kw,
                "available_capacity_kw": c.available_capacity_kw,
                "available_capacity_source": c.available_capacity_source,
                "safe_default_capacity_kw": c.safe_default_capacity_kw,
            }
            for c in sorted(s.circuits, key=lambda c: c.circuit_id)
        ],
        "chargers": [
            {
                "charger_id": c.charger_id,
                "circuit_id": c.circuit_id,
                "name": c.name,
                "min_power_kw": c.min_power_kw,
                "max_power_kw": c.max_power_kw,
                "plugged_in": c.plugged_in,
                "requested_kw": c.requested_kw,
                "measured_kw": c.measured_kw,
            }
            for c in sorted(s.chargers, key=lambda c: c.charger_id)
        ],
        "readings": {
            circuit_id: [
                [iso(r.timestamp), r.power_kw]
                for r in sorted(readings, key=lambda r: (r.timestamp, r.power_kw))
            ]
            for circuit_id, readings in sorted(s.readings.items())
            if readings
        },
        "previous_setpoints": dict(sorted(s.previous_setpoints.items())),
        "previous_circuits": {
            circuit_id: previous_to_json(p) for circuit_id, p in sorted(s.previous_circuits.items())
        },
        "previous_cycle_id": s.previous_cycle_id,
    }


def snapshot_from_json(d: Mapping[str, Any]) -> CycleSnapshot:
    return CycleSnapshot(
        depot_id=d["depot_id"],
        circuits=tuple(CircuitSpec(**c) for c in d["circuits"]),
        chargers=tuple(ChargerSpec(**c) for c in d["chargers"]),
        readings={
            circuit_id: tuple(Reading(parse_iso(ts), float(kw)) for ts, kw in readings)
            for circuit_id, readings in d["readings"].items()
        },
        previous_setpoints={k: float(v) for k, v in d["previous_setpoints"].items()},
        previous_circuits={k: previous_from_json(v) for k, v in d["previous_circuits"].items()},
        previous_cycle_id=d.get("previous_cycle_id"),
    )


def previous_to_json(p: PreviousCircuit) -> dict[str, Any]:
    return {
        "cap_kw": p.cap_kw,
        "mode": p.mode.value,
        "breach": breach_state_to_json(p.breach),
        "floor": None if p.floor is None else [iso(p.floor[0]), p.floor[1]],
    }


def previous_from_json(d: Mapping[str, Any]) -> PreviousCircuit:
    floor = d.get("floor")
    return PreviousCircuit(
        cap_kw=float(d["cap_kw"]),
        mode=SourceMode(d["mode"]),
        breach=breach_state_from_json(d.get("breach") or {}),
        floor=None if floor is None else (parse_iso(floor[0]), float(floor[1])),
    )


def _opt_iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def _opt_parse(text: str | None) -> datetime | None:
    return None if text is None else parse_iso(text)


def episode_to_json(e: Episode) -> dict[str, Any]:
    return {
        "episode_id": e.episode_id,
        "circuit_id": e.circuit_id,
        "status": e.status.value,
        "started_at": iso(e.started_at),
        "detected_at": iso(e.detected_at),
        "ended_at": _opt_iso(e.ended_at),
        "primary_reason": e.primary_reason,
        "cap_kw": e.cap_kw,
        "peak_kw": e.peak_kw,
        "samples": e.samples,
        "excess_kwh": e.excess_kwh,
        "evidence": e.evidence,
    }


def episode_from_json(d: Mapping[str, Any]) -> Episode:
    return Episode(
        episode_id=d["episode_id"],
        circuit_id=d["circuit_id"],
        status=EpisodeStatus(d["status"]),
        started_at=parse_iso(d["started_at"]),
        detected_at=parse_iso(d["detected_at"]),
        ended_at=_opt_parse(d.get("ended_at")),
        primary_reason=d["primary_reason"],
        cap_kw=float(d["cap_kw"]),
        peak_kw=float(d["peak_kw"]),
        samples=int(d["samples"]),
        excess_kwh=float(d["excess_kwh"]),
        evidence=dict(d.get("evidence") or {}),
    )


def breach_state_to_json(b: BreachState) -> dict[str, Any]:
    return {
        "evaluated_through": _opt_iso(b.evaluated_through),
        "streak": b.streak,
        "streak_started_at": _opt_iso(b.streak_started_at),
        "streak_first_kw": b.streak_first_kw,
        "streak_first_cap_kw": b.streak_first_cap_kw,
        "cap_before_streak_kw": b.cap_before_streak_kw,
        "streak_peak_kw": b.streak_peak_kw,
        "streak_excess_kwh": b.streak_excess_kwh,
        "last_ok_cap_kw": b.last_ok_cap_kw,
        "last_over": None if b.last_over is None else [iso(b.last_over[0]), b.last_over[1]],
        "open_episode": None if b.open_episode is None else episode_to_json(b.open_episode),
    }


def breach_state_from_json(d: Mapping[str, Any]) -> BreachState:
    last_over = d.get("last_over")
    episode = d.get("open_episode")
    return BreachState(
        evaluated_through=_opt_parse(d.get("evaluated_through")),
        streak=int(d.get("streak", 0)),
        streak_started_at=_opt_parse(d.get("streak_started_at")),
        streak_first_kw=d.get("streak_first_kw"),
        streak_first_cap_kw=d.get("streak_first_cap_kw"),
        cap_before_streak_kw=d.get("cap_before_streak_kw"),
        streak_peak_kw=float(d.get("streak_peak_kw", 0.0)),
        streak_excess_kwh=float(d.get("streak_excess_kwh", 0.0)),
        last_ok_cap_kw=d.get("last_ok_cap_kw"),
        last_over=None if last_over is None else (parse_iso(last_over[0]), float(last_over[1])),
        open_episode=None if episode is None else episode_from_json(episode),
    )
