"""Persistence of load balancing on the unit of work's connection: rows in, plain values out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from depotgrid.manage.balancing.tables import (
    balancing_breaches,
    balancing_cycles,
    circuit_meter_readings,
)
from depotgrid.manage.balancing.telemetry import Reading


@dataclass(frozen=True)
class MeterReading:
    id: int
    depot_id: str
    circuit_id: str
    timestamp: datetime
    power_kw: float
    energy_register_kwh: float
    recorded_at: datetime
    actor: str


@dataclass(frozen=True)
class CycleRow:
    """A persisted cycle; `result` and `inputs` are loaded only when asked for."""

    id: str
    depot_id: str
    sequence: int
    microgrid_id: str | None
    trigger: str
    trigger_ref: str | None
    actor: str
    computed_at: datetime
    inputs_hash: str
    source_mode: str
    fail_safe: bool
    total_allocated_kw: float
    charger_count: int
    open_breaches: int
    opened_breaches: int
    result: dict[str, Any] | None = None
    inputs: dict[str, Any] | None = None


@dataclass(frozen=True)
class BreachRow:
    id: str
    depot_id: str
    circuit_id: str
    microgrid_id: str | None
    status: str
    started_at: datetime
    detected_at: datetime
    ended_at: datetime | None
    primary_reason: str
    cap_kw: float
    peak_kw: float
    samples: int
    excess_kwh: float
    evidence: dict[str, Any]
    opened_cycle_id: str
    closed_cycle_id: str | None


SUMMARY = [c for c in balancing_cycles.c if c.name not in ("result", "inputs")]


class BalancingRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    # ---------- meter readings ----------

    def add_reading(self, values: dict[str, Any]) -> MeterReading:
        reading_id = self._conn.execute(
            insert(circuit_meter_readings).returning(circuit_meter_readings.c.id), values
        ).scalar_one()
        return MeterReading(id=int(reading_id), **values)

    def latest_reading(self, circuit_id: str) -> MeterReading | None:
        t = circuit_meter_readings
        row = self._conn.execute(
            select(t).where(t.c.circuit_id == circuit_id).order_by(t.c.timestamp.desc()).limit(1)
        ).first()
        return MeterReading(**row._mapping) if row else None

    def readings_page(
        self, circuit_id: str, *, limit: int, offset: int
    ) -> tuple[list[MeterReading], int]:
        t = circuit_meter_readings
        total = self._conn.scalar(
            select(func.count()).select_from(t).where(t.c.circuit_id == circuit_id)
        )
        rows = self._conn.execute(
            select(t)
            .where(t.c.circuit_id == circuit_id)
            .order_by(t.c.timestamp.desc())
            .limit(limit)
            .offset(offset)
        )
        return [MeterReading(**row._mapping) for row in rows], int(total or 0)

    def recent_readings(
        self, circuit_ids: Iterable[str], per_circuit: int
    ) -> dict[str, tuple[Reading, ...]]:
        """The newest `per_circuit` readings of each circuit, oldest first."""
        ids = sorted(set(circuit_ids))
        if not ids:
            return {}
        t = circuit_meter_readings
        rank = (
            func.row_number()
            .over(partition_by=t.c.circuit_id, order_by=t.c.timestamp.desc())
            .label("rank")
        )
        ranked = (
            select(t.c.circuit_id, t.c.timestamp, t.c.power_kw, rank)
            .where(t.c.circuit_id.in_(ids))
            .subquery()
        )
        rows = self._conn.execute(
            select(ranked.c.circuit_id, ranked.c.timestamp, ranked.c.power_kw)
            .where(ranked.c.rank <= per_circuit)
            .order_by(ranked.c.circuit_id, ranked.c.timestamp)
        )
        found: dict[str, list[Reading]] = {}
        for row in rows:
            found.setdefault(row.circuit_id, []).append(Reading(row.timestamp, float(row.power_kw)))
        return {circuit_id: tuple(readings) for circuit_id, readings in found.items()}

    # ---------- cycles ----------

    def latest_cycle(self, depot_id: str, *, full: bool = True) -> CycleRow | None:
        columns = list(balancing_cycles.c) if full else SUMMARY
        row = self._conn.execute(
            select(*columns)
            .where(balancing_cycles.c.depot_id == depot_id)
            .order_by(balancing_cycles.c.sequence.desc())
            .limit(1)
        ).first()
        return CycleRow(**row._mapping) if row else None

    def get_cycle(self, cycle_id: str) -> CycleRow | None:
        row = self._conn.execute(
            select(balancing_cycles).where(balancing_cycles.c.id == cycle_id)
        ).first()
        return CycleRow(**row._mapping) if row else None

    def add_cycle(self, row: CycleRow) -> None:
        self._conn.execute(insert(balancing_cycles).values(**row.__dict__))

    def cycles_page(self, depot_id: str, *, limit: int, offset: int) -> tuple[list[CycleRow], int]:
        t = balancing_cycles
        total = self._conn.scalar(
            select(func.count()).select_from(t).where(t.c.depot_id == depot_id)
        )
        rows = self._conn.execute(
            select(*SUMMARY)
            .where(t.c.depot_id == depot_id)
            .order_by(t.c.sequence.desc())
            .limit(limit)
            .offset(offset)
        )
        return [CycleRow(**row._mapping) for row in rows], int(total or 0)

    # ---------- breaches ----------

    def get_breach(self, breach_id: str) -> BreachRow | None:
        row = self._conn.execute(
            select(balancing_breaches).where(balancing_breaches.c.id == breach_id)
        ).first()
        return BreachRow(**row._mapping) if row else None

    def add_breach(self, values: dict[str, Any]) -> None:
        self._conn.execute(insert(balancing_breaches).values(**values))

    def update_breach(self, breach_id: str, values: dict[str, Any]) -> None:
        self._conn.execute(
            update(balancing_breaches).where(balancing_breaches.c.id == breach_id).values(**values)
        )

    def breaches(
        self,
        *,
        depot_id: str | None = None,
        circuit_ids: Sequence[str] | None = None,
        closed_limit: int = 10,
    ) -> list[BreachRow]:
        """Open episodes (all) and the most recent closed ones (up to `closed_limit`)."""
        t = balancing_breaches
        where = []
        if depot_id is not None:
            where.append(t.c.depot_id == depot_id)
        if circuit_ids is not None:
            where.append(t.c.circuit_id.in_(list(circuit_ids)))
        opened = self._conn.execute(
            select(t).where(and_(*where), t.c.status == "OPEN").order_by(t.c.started_at.desc())
        )
        closed = self._conn.execute(
            select(t)
            .where(and_(*where), or_(t.c.status != "OPEN"))
            .order_by(t.c.ended_at.desc(), t.c.id)
            .limit(closed_limit)
        )
        return [BreachRow(**row._mapping) for row in [*opened, *closed]]
