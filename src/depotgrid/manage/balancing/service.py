"""Load-balancing commands at the edge: load a depot's snapshot, plan a cycle, persist it.

`run_cycle` is the one way a cycle happens, whatever triggered it (a person, a circuit or
charger change in the same transaction, an envelope write-through, a meter reading, the legacy
alias, the scheduler). It locks the depot, so cycles of one depot form a sequence: each one
reads what the previous one left in force (setpoints, caps, breach state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from depotgrid.common.ids import new_id
from depotgrid.manage.balancing.breaches import EpisodeStatus
from depotgrid.manage.balancing.cycle import CycleResult, in_force, plan_cycle
from depotgrid.manage.balancing.policy import DEFAULT_POLICY, BalancingPolicy
from depotgrid.manage.balancing.repository import (
    BalancingRepository,
    BreachRow,
    CycleRow,
    MeterReading,
)
from depotgrid.manage.balancing.snapshot import (
    ChargerSpec,
    CircuitSpec,
    CycleSnapshot,
    inputs_document,
    parse_iso,
    snapshot_from_json,
)
from depotgrid.manage.errors import Conflict, FieldError, NotFound, ValidationFailed
from depotgrid.manage.events.store import NewEvent
from depotgrid.manage.legacy.model import Charger, Circuit, Depot
from depotgrid.manage.microgrid import service as microgrids
from depotgrid.manage.unit_of_work import UnitOfWork, UnitOfWorkFactory

ALIAS_USED = "LegacyRebalanceAliasUsed"
ALIAS_NOT_RESOLVABLE = "CIRCUIT_ALIAS_NOT_RESOLVABLE"


class Trigger(StrEnum):
    MANUAL = "MANUAL"
    CIRCUIT_CHANGE = "CIRCUIT_CHANGE"
    CHARGER_CHANGE = "CHARGER_CHANGE"
    ENVELOPE_CHANGE = "ENVELOPE_CHANGE"
    LEGACY_ALIAS = "LEGACY_ALIAS"
    METER_READING = "METER_READING"
    TIMER = "TIMER"


def repository(uow: UnitOfWork) -> BalancingRepository:
    return BalancingRepository(uow.connection)


def balancing_stream(depot_id: str) -> str:
    """The audit stream of a depot's balancing actions (the legacy alias's use, so far)."""
    return f"balancing-{depot_id}"


# ---------- cycles ----------


def run_cycle(
    uow: UnitOfWork,
    actor: str,
    depot_id: str,
    *,
    trigger: Trigger | str,
    trigger_ref: str | None = None,
    policy: BalancingPolicy = DEFAULT_POLICY,
) -> CycleRow:
    """Plan and persist one cycle of `depot_id`, in the caller's transaction."""
    kind = Trigger(str(trigger).upper())
    depot = uow.legacy.get(Depot, depot_id, for_update=True)
    if depot is None:
        raise NotFound("depot", depot_id)
    repo = repository(uow)
    previous = repo.latest_cycle(depot_id)
    snapshot = load_snapshot(uow, depot_id, previous, policy)
    now = uow.clock.now()
    result = plan_cycle(snapshot, policy, now)
    microgrid = microgrids.microgrid_for_depot(uow, depot_id)
    row = CycleRow(
        id=new_id(),
        depot_id=depot_id,
        sequence=(previous.sequence if previous else 0) + 1,
        microgrid_id=microgrid.id if microgrid else None,
        trigger=kind.value,
        trigger_ref=trigger_ref,
        actor=actor,
        computed_at=now,
        inputs_hash=result.inputs_hash,
        source_mode=result.source_mode,
        fail_safe=result.fail_safe,
        total_allocated_kw=result.total_allocated_kw,
        charger_count=len(result.setpoints),
        open_breaches=result.open_breach_count,
        opened_breaches=len(result.opened_breaches),
        result=result.to_json(),
        inputs=inputs_document(snapshot, policy, now),
    )
    repo.add_cycle(row)
    _persist_breaches(repo, row, result)
    return row


def load_snapshot(
    uow: UnitOfWork,
    depot_id: str,
    previous: CycleRow | None,
    policy: BalancingPolicy = DEFAULT_POLICY,
) -> CycleSnapshot:
    circuits = uow.legacy.all_in_depot(Circuit, depot_id)
    chargers = uow.legacy.all_in_depot(Charger, depot_id)
    setpoints, states = in_force(previous.result or {}) if previous else ({}, {})
    readings = repository(uow).recent_readings(
        (c.id for c in circuits), per_circuit=policy.recent_readings
    )
    return CycleSnapshot(
        depot_id=depot_id,
        circuits=tuple(
            CircuitSpec(
                circuit_id=c.id,
                parent_id=c.parent_circuit_id,
                name=c.name,
                max_capacity_kw=c.max_capacity_kw,
                available_capacity_kw=c.available_capacity_kw,
                available_capacity_source=c.available_capacity_source.value,
                safe_default_capacity_kw=c.safe_default_capacity_kw,
            )
            for c in circuits
        ),
        chargers=tuple(
            ChargerSpec(
                charger_id=c.id,
                circuit_id=c.circuit_id,
                name=c.name,
                min_power_kw=c.min_power_kw,
                max_power_kw=c.max_power_kw,
                plugged_in=c.plugged_in,
                requested_kw=c.requested_kw,
            )
            for c in chargers
        ),
        readings=readings,
        previous_setpoints=setpoints,
        previous_circuits=states,
        previous_cycle_id=previous.id if previous else None,
    )


def rebalance_all(uows: UnitOfWorkFactory, *, trigger: Trigger | str = Trigger.TIMER) -> int:
    """One cycle for every depot that has a circuit, each in its own transaction (for the
    scheduler). Returns how many cycles ran; a depot deleted meanwhile is skipped."""
    with uows.read() as uow:
        depot_ids = sorted({c.depot_id for c in _all_circuits(uow)})
    ran = 0
    for depot_id in depot_ids:
        try:
            with uows.write() as uow:
                run_cycle(uow, "scheduler", depot_id, trigger=trigger)
                uow.commit()
        except NotFound:
            continue
        ran += 1
    return ran


def replay(uow: UnitOfWork, cycle_id: str) -> CycleResult:
    """Plan a stored cycle again from its stored inputs (to show the result is reproducible)."""
    row = get_cycle(uow, cycle_id)
    assert row.inputs is not None
    document = row.inputs
    policy = BalancingPolicy(**document["policy"])
    return plan_cycle(snapshot_from_json(document["snapshot"]), policy, parse_iso(document["now"]))


def get_cycle(uow: UnitOfWork, cycle_id: str) -> CycleRow:
    row = repository(uow).get_cycle(cycle_id)
    if row is None:
        raise NotFound("cycle", cycle_id)
    return row


def cycles_page(
    uow: UnitOfWork, depot_id: str, *, limit: int, offset: int
) -> tuple[list[CycleRow], int]:
    return repository(uow).cycles_page(depot_id, limit=limit, offset=offset)


def latest_cycle(uow: UnitOfWork, depot_id: str) -> CycleRow | None:
    return repository(uow).latest_cycle(depot_id)


def breaches(
    uow: UnitOfWork,
    *,
    depot_id: str | None = None,
    circuit_ids: list[str] | None = None,
    closed_limit: int = 10,
) -> list[BreachRow]:
    return repository(uow).breaches(
        depot_id=depot_id, circuit_ids=circuit_ids, closed_limit=closed_limit
    )


def _persist_breaches(repo: BalancingRepository, cycle: CycleRow, result: CycleResult) -> None:
    for episode in result.breaches:
        values: dict[str, Any] = {
            "status": episode.status.value,
            "ended_at": episode.ended_at,
            "peak_kw": episode.peak_kw,
            "samples": episode.samples,
            "excess_kwh": episode.excess_kwh,
        }
        if episode.status is EpisodeStatus.CLOSED:
            values["closed_cycle_id"] = cycle.id
        if repo.get_breach(episode.episode_id) is None:
            repo.add_breach(
                values
                | {
                    "id": episode.episode_id,
                    "depot_id": cycle.depot_id,
                    "circuit_id": episode.circuit_id,
                    "microgrid_id": cycle.microgrid_id,
                    "started_at": episode.started_at,
                    "detected_at": episode.detected_at,
                    "primary_reason": episode.primary_reason,
                    "cap_kw": episode.cap_kw,
                    "evidence": episode.evidence,
                    "opened_cycle_id": cycle.id,
                }
            )
        else:
            repo.update_breach(episode.episode_id, values)


def _all_circuits(uow: UnitOfWork) -> list[Circuit]:
    found: list[Circuit] = []
    while True:
        batch, total = uow.legacy.page(Circuit, limit=500, offset=len(found))
        found.extend(batch)
        if not batch or len(found) >= total:
            return found


# ---------- the canonical and legacy routes ----------


def rebalance_microgrid(uow: UnitOfWork, actor: str, microgrid_id: str) -> CycleRow:
    microgrid = microgrids.get_microgrid(uow, microgrid_id)
    if not microgrid.active:
        raise Conflict(
            f"microgrid {microgrid_id} is retired; its depot no longer exists",
            code="MICROGRID_NOT_ACTIVE",
            details={"microgrid_id": microgrid_id},
        )
    return run_cycle(uow, actor, microgrid.depot_id, trigger=Trigger.MANUAL)


def depot_of_microgrid(uow: UnitOfWork, microgrid_id: str) -> str:
    return microgrids.get_microgrid(uow, microgrid_id).depot_id


@dataclass(frozen=True)
class AliasOutcome:
    microgrid_id: str
    scope_id: str
    circuit_id: str
    cycle_id: str


def rebalance_legacy_alias(uow: UnitOfWork, actor: str, circuit_id: str) -> AliasOutcome:
    """`POST /api/circuit/{id}/rebalance_load`: the circuit resolves to one microgrid and one
    managed scope (the grid connection holding it), one cycle runs, and the use is audited."""
    circuit = uow.legacy.get(Circuit, circuit_id)
    if circuit is None:
        raise NotFound("circuit", circuit_id)
    scope = microgrids.scope_for_circuit(uow, circuit_id)
    microgrid = microgrids.microgrid_for_depot(uow, circuit.depot_id)
    if scope is None or microgrid is None or scope.microgrid_id != microgrid.id:
        raise Conflict(
            f"circuit {circuit.name} ({circuit_id}) does not resolve to a managed scope of an "
            "active microgrid: its depot has no canonical microgrid yet, or the circuit is not "
            "under a grid connection of it; resync the depot's microgrid and try again",
            code=ALIAS_NOT_RESOLVABLE,
            details={"circuit_id": circuit_id, "depot_id": circuit.depot_id},
        )
    cycle = run_cycle(
        uow, actor, circuit.depot_id, trigger=Trigger.LEGACY_ALIAS, trigger_ref=circuit_id
    )
    outcome = AliasOutcome(microgrid.id, scope.scope_id, circuit_id, cycle.id)
    stream = balancing_stream(circuit.depot_id)
    uow.events.append(
        stream,
        uow.events.current_version(stream),
        [
            NewEvent(
                ALIAS_USED,
                {
                    "route": "POST /api/circuit/{circuit_id}/rebalance_load",
                    "depot_id": circuit.depot_id,
                    "circuit_id": circuit_id,
                    "microgrid_id": outcome.microgrid_id,
                    "scope_id": outcome.scope_id,
                    "cycle_id": outcome.cycle_id,
                },
            )
        ],
        actor=actor,
        recorded_at=uow.clock.now(),
    )
    return outcome


# ---------- meter readings ----------


def record_reading(
    uow: UnitOfWork,
    actor: str,
    circuit_id: str,
    *,
    timestamp: datetime,
    power_kw: float,
    energy_register_kwh: float,
    policy: BalancingPolicy = DEFAULT_POLICY,
) -> tuple[MeterReading, CycleRow]:
    """Append a circuit meter reading, then run a cycle on it (trigger METER_READING)."""
    circuit = uow.legacy.get(Circuit, circuit_id)
    if circuit is None:
        raise NotFound("circuit", circuit_id)
    if uow.legacy.get(Depot, circuit.depot_id, for_update=True) is None:
        raise NotFound("depot", circuit.depot_id)
    repo = repository(uow)
    now = uow.clock.now()
    previous = repo.latest_reading(circuit_id)
    _check_reading(timestamp, energy_register_kwh, previous, now, policy)
    reading = repo.add_reading(
        {
            "depot_id": circuit.depot_id,
            "circuit_id": circuit_id,
            "timestamp": timestamp.astimezone(UTC),
            "power_kw": power_kw,
            "energy_register_kwh": energy_register_kwh,
            "recorded_at": now,
            "actor": actor,
        }
    )
    cycle = run_cycle(
        uow,
        actor,
        circuit.depot_id,
        trigger=Trigger.METER_READING,
        trigger_ref=circuit_id,
        policy=policy,
    )
    return reading, cycle


def _check_reading(
    timestamp: datetime,
    energy_register_kwh: float,
    previous: MeterReading | None,
    now: datetime,
    policy: BalancingPolicy,
) -> None:
    errors: list[FieldError] = []
    if timestamp.tzinfo is None:
        errors.append(FieldError("timestamp", "needs a time zone, e.g. 2026-03-01T12:00:00Z"))
    elif timestamp > now + timedelta(seconds=policy.future_tolerance_seconds):
        errors.append(
            FieldError(
                "timestamp",
                f"is in the future (the server's clock says {now.isoformat()}; at most "
                f"{policy.future_tolerance_seconds:g} s ahead is accepted)",
            )
        )
    elif previous is not None and timestamp <= previous.timestamp:
        errors.append(
            FieldError(
                "timestamp",
                f"must be after the latest reading of this circuit "
                f"({previous.timestamp.isoformat()}); readings are appended in time order",
            )
        )
    if energy_register_kwh < 0:
        errors.append(FieldError("energy_register_kwh", "must be zero or more"))
    elif previous is not None and energy_register_kwh < previous.energy_register_kwh:
        errors.append(
            FieldError(
                "energy_register_kwh",
                f"{energy_register_kwh:g} kWh is below the previous reading's "
                f"{previous.energy_register_kwh:g} kWh; an energy register only counts up",
            )
        )
    if errors:
        raise ValidationFailed(errors)


def readings_page(
    uow: UnitOfWork, circuit_id: str, *, limit: int, offset: int
) -> tuple[list[MeterReading], int]:
    if uow.legacy.get(Circuit, circuit_id) is None:
        raise NotFound("circuit", circuit_id)
    return repository(uow).readings_page(circuit_id, limit=limit, offset=offset)
