"""Load-balancing routes: rebalance (canonical and the legacy alias), cycles, meter readings.

Cycles are kept per depot; the microgrid routes resolve the microgrid to its depot, so a
microgrid's cycles are its depot's (including any from before the microgrid was provisioned).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, Field

from depotgrid.manage.api.deps import Paging, Uow, require
from depotgrid.manage.api.schemas import Body, Page
from depotgrid.manage.auth.model import Permission, User
from depotgrid.manage.balancing import service
from depotgrid.manage.balancing.repository import CycleRow, MeterReading
from depotgrid.manage.errors import NotFound

router = APIRouter(prefix="/api", tags=["balancing"])

Reader = Annotated[User, Depends(require(Permission.LEGACY_READ))]
Operator = Annotated[User, Depends(require(Permission.OPERATIONS_WRITE))]


# ---------- bodies ----------


class MeterReadingIn(Body):
    timestamp: AwareDatetime = Field(
        description="When the meter measured, with a time zone (ISO 8601, e.g. ...Z)."
    )
    power_kw: float = Field(description="Power through the circuit, kW (negative: export).")
    energy_register_kwh: float = Field(
        description="The meter's import energy register, kWh; never below the previous reading's."
    )


class MeterReadingOut(BaseModel):
    id: int
    circuit_id: str
    timestamp: datetime
    power_kw: float
    energy_register_kwh: float
    recorded_at: datetime
    actor: str


class RecordedReadingOut(MeterReadingOut):
    cycle_id: str = Field(description="The cycle the reading triggered (trigger METER_READING).")


class CycleSummaryOut(BaseModel):
    cycle_id: str
    depot_id: str
    microgrid_id: str | None
    sequence: int
    trigger: str = Field(
        description="MANUAL, CIRCUIT_CHANGE, CHARGER_CHANGE, ENVELOPE_CHANGE, LEGACY_ALIAS, "
        "METER_READING or TIMER."
    )
    trigger_ref: str | None = Field(description="The circuit or charger that triggered it.")
    actor: str
    computed_at: datetime
    inputs_hash: str = Field(description="sha256 of the canonical JSON of the cycle's inputs.")
    source_mode: str = Field(
        description="MEASURED, FALLBACK_DERIVED (some meter stale or missing; see telemetry), "
        "or UNMETERED (no circuit has a meter)."
    )
    fail_safe: bool = Field(description="Some circuit's cap is pinned to its safe default.")
    total_allocated_kw: float
    charger_count: int
    open_breaches: int
    opened_breaches: int


class CapSourceOut(BaseModel):
    code: str
    kw: float
    detail: str
    binding: bool


class ChildLoadOut(BaseModel):
    circuit_id: str
    mode: str
    load_kw: float


class CircuitTelemetryOut(BaseModel):
    mode: str = Field(description="MEASURED, FALLBACK_DERIVED, FAIL_SAFE or UNMETERED.")
    reason: str | None
    latest_reading_at: datetime | None
    latest_power_kw: float | None
    reading_age_seconds: float | None
    stale_after_seconds: float
    margin_fraction: float
    children: list[ChildLoadOut]
    untrusted_children: list[str]
    direct_chargers_kw: float
    derived_load_kw: float | None
    floor_kw: float | None = Field(
        description="A stale meter's least uncontrolled load, from its last reading."
    )
    floor_carried: bool
    load_kw: float
    chargers_under_kw: float
    uncontrolled_kw: float
    explanation: str


class CircuitCapOut(BaseModel):
    circuit_id: str
    parent_id: str | None
    name: str
    max_capacity_kw: float
    available_capacity_kw: float
    available_capacity_source: str
    safe_default_capacity_kw: float
    cap_kw: float = Field(description="The effective cap: the minimum of its sources.")
    reasons: list[str] = Field(description="Binding sources, highest precedence first.")
    sources: list[CapSourceOut]
    uncontrolled_kw: float
    headroom_kw: float
    allocated_kw: float
    saturated: bool
    telemetry: CircuitTelemetryOut


class SetpointOut(BaseModel):
    charger_id: str
    circuit_id: str
    name: str
    kw: float
    exact_kw: float
    admitted: bool
    reasons: list[str]
    binding_circuit_id: str | None
    plugged_in: bool
    requested_kw: float | None
    min_kw: float
    max_kw: float
    previous_kw: float | None


class BreachOut(BaseModel):
    breach_id: str
    circuit_id: str
    status: str = Field(description="OPEN or CLOSED (as of this cycle).")
    started_at: datetime
    detected_at: datetime
    ended_at: datetime | None
    primary_reason: str = Field(
        description="One of TELEMETRY_STALE, CAP_DROPPED, CHARGER_NONCOMPLIANT, UNCONTROLLED_LOAD."
    )
    cap_kw: float
    peak_kw: float
    samples: int
    excess_kwh: float
    evidence: dict[str, Any]
    opened_in_cycle: bool
    closed_in_cycle: bool


class TelemetrySummaryOut(BaseModel):
    source_mode: str
    fail_safe: bool
    stale_after_seconds: float
    derived_margin_fraction: float
    breach_samples: int
    breach_tolerance: float


class CycleOut(CycleSummaryOut):
    telemetry: TelemetrySummaryOut
    policy: dict[str, Any]
    circuits: list[CircuitCapOut]
    setpoints: list[SetpointOut]
    breaches: list[BreachOut]


class AliasOut(BaseModel):
    microgrid_id: str
    scope_id: str
    circuit_id: str
    cycle_id: str


# ---------- routes ----------


@router.post(
    "/microgrids/{microgrid_id}/rebalance",
    status_code=201,
    response_model=CycleOut,
    tags=["microgrids"],
)
def rebalance_microgrid(microgrid_id: str, user: Operator, uows: Uow) -> CycleOut:
    """Run one load-balancing cycle for the microgrid's depot now (trigger MANUAL)."""
    with uows.write() as uow:
        row = service.rebalance_microgrid(uow, user.email, microgrid_id)
        uow.commit()
    return cycle_out(row)


@router.post("/circuit/{circuit_id}/rebalance_load", response_model=AliasOut, tags=["legacy"])
def rebalance_load(circuit_id: str, user: Operator, uows: Uow) -> AliasOut:
    """The legacy rebalance call: resolves the circuit to one microgrid and one managed scope,
    runs one cycle (trigger LEGACY_ALIAS) and returns the mapped ids. 409
    CIRCUIT_ALIAS_NOT_RESOLVABLE when the circuit maps to no scope; every use is audited
    (LegacyRebalanceAliasUsed)."""
    with uows.write() as uow:
        outcome = service.rebalance_legacy_alias(uow, user.email, circuit_id)
        uow.commit()
    return AliasOut(**outcome.__dict__)


@router.get(
    "/microgrids/{microgrid_id}/cycles",
    response_model=Page[CycleSummaryOut],
    tags=["microgrids"],
)
def list_cycles(microgrid_id: str, _: Reader, uows: Uow, paging: Paging) -> dict[str, Any]:
    """The microgrid's cycles, newest first."""
    with uows.read() as uow:
        depot_id = service.depot_of_microgrid(uow, microgrid_id)
        rows, total = service.cycles_page(uow, depot_id, limit=paging.limit, offset=paging.offset)
    return {
        "items": [summary_out(row) for row in rows],
        "total": total,
        "limit": paging.limit,
        "offset": paging.offset,
    }


@router.get(
    "/microgrids/{microgrid_id}/cycles/{cycle_id}", response_model=CycleOut, tags=["microgrids"]
)
def get_cycle(microgrid_id: str, cycle_id: str, _: Reader, uows: Uow) -> CycleOut:
    """One cycle: caps with ordered reasons, telemetry with its inputs and thresholds,
    setpoints with reasons, and breaches."""
    with uows.read() as uow:
        depot_id = service.depot_of_microgrid(uow, microgrid_id)
        row = service.get_cycle(uow, cycle_id)
    if row.depot_id != depot_id:
        raise NotFound("cycle", cycle_id)
    return cycle_out(row)


@router.post(
    "/circuits/{circuit_id}/meter-readings",
    status_code=201,
    response_model=RecordedReadingOut,
    tags=["circuits"],
)
def record_reading(
    circuit_id: str, body: MeterReadingIn, user: Operator, uows: Uow
) -> RecordedReadingOut:
    """Append a circuit meter reading; it runs a cycle (trigger METER_READING)."""
    with uows.write() as uow:
        reading, cycle = service.record_reading(
            uow,
            user.email,
            circuit_id,
            timestamp=body.timestamp,
            power_kw=body.power_kw,
            energy_register_kwh=body.energy_register_kwh,
        )
        uow.commit()
    return RecordedReadingOut(**reading_fields(reading), cycle_id=cycle.id)


@router.get(
    "/circuits/{circuit_id}/meter-readings",
    response_model=Page[MeterReadingOut],
    tags=["circuits"],
)
def list_readings(circuit_id: str, _: Reader, uows: Uow, paging: Paging) -> dict[str, Any]:
    """The circuit's meter readings, newest first."""
    with uows.read() as uow:
        rows, total = service.readings_page(
            uow, circuit_id, limit=paging.limit, offset=paging.offset
        )
    return {
        "items": [MeterReadingOut(**reading_fields(r)) for r in rows],
        "total": total,
        "limit": paging.limit,
        "offset": paging.offset,
    }


# ---------- mapping ----------


def reading_fields(reading: MeterReading) -> dict[str, Any]:
    return {
        "id": reading.id,
        "circuit_id": reading.circuit_id,
        "timestamp": reading.timestamp,
        "power_kw": reading.power_kw,
        "energy_register_kwh": reading.energy_register_kwh,
        "recorded_at": reading.recorded_at,
        "actor": reading.actor,
    }


def summary_fields(row: CycleRow) -> dict[str, Any]:
    return {
        "cycle_id": row.id,
        "depot_id": row.depot_id,
        "microgrid_id": row.microgrid_id,
        "sequence": row.sequence,
        "trigger": row.trigger,
        "trigger_ref": row.trigger_ref,
        "actor": row.actor,
        "computed_at": row.computed_at,
        "inputs_hash": row.inputs_hash,
        "source_mode": row.source_mode,
        "fail_safe": row.fail_safe,
        "total_allocated_kw": row.total_allocated_kw,
        "charger_count": row.charger_count,
        "open_breaches": row.open_breaches,
        "opened_breaches": row.opened_breaches,
    }


def summary_out(row: CycleRow) -> CycleSummaryOut:
    return CycleSummaryOut(**summary_fields(row))


def cycle_out(row: CycleRow) -> CycleOut:
    result = row.result or {}
    policy = result.get("policy", {})
    opened = set(result.get("opened_breaches", []))
    closed = set(result.get("closed_breaches", []))
    return CycleOut(
        **summary_fields(row),
        telemetry=TelemetrySummaryOut(
            source_mode=row.source_mode,
            fail_safe=row.fail_safe,
            stale_after_seconds=policy.get("stale_after_seconds", 0.0),
            derived_margin_fraction=policy.get("derived_margin_fraction", 0.0),
            breach_samples=policy.get("breach_samples", 0),
            breach_tolerance=policy.get("breach_tolerance", 0.0),
        ),
        policy=policy,
        circuits=[
            CircuitCapOut.model_validate({k: v for k, v in c.items() if k != "breach_state"})
            for c in result.get("circuits", [])
        ],
        setpoints=[SetpointOut.model_validate(s) for s in result.get("setpoints", [])],
        breaches=[
            BreachOut(
                breach_id=b["episode_id"],
                circuit_id=b["circuit_id"],
                status=b["status"],
                started_at=b["started_at"],
                detected_at=b["detected_at"],
                ended_at=b["ended_at"],
                primary_reason=b["primary_reason"],
                cap_kw=b["cap_kw"],
                peak_kw=b["peak_kw"],
                samples=b["samples"],
                excess_kwh=b["excess_kwh"],
                evidence=b["evidence"],
                opened_in_cycle=b["episode_id"] in opened,
                closed_in_cycle=b["episode_id"] in closed,
            )
            for b in result.get("breaches", [])
        ],
    )
