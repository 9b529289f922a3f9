"""Tables of load balancing: meter readings, cycles and breach episodes (SQLAlchemy Core).

No foreign keys to depots or circuits, on purpose: readings, cycles and breaches are a record
that outlives the circuits they describe (as the event store outlives its depots), and they
must not block deleting a circuit through the legacy model.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from depotgrid.manage.db.metadata import UtcDateTime, metadata

circuit_meter_readings = Table(
    "circuit_meter_readings",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("depot_id", String(36), nullable=False, index=True),
    Column("circuit_id", String(36), nullable=False),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("power_kw", Float, nullable=False),
    Column("energy_register_kwh", Float, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("actor", String(320), nullable=False),
    UniqueConstraint("circuit_id", "timestamp", name="uq_circuit_meter_readings_time"),
)

balancing_cycles = Table(
    "balancing_cycles",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("depot_id", String(36), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("microgrid_id", String(36), nullable=True, index=True),
    Column("trigger", String(30), nullable=False),
    Column("trigger_ref", String(200), nullable=True),
    Column("actor", String(320), nullable=False),
    Column("computed_at", UtcDateTime, nullable=False),
    Column("inputs_hash", String(64), nullable=False),
    Column("source_mode", String(30), nullable=False),
    Column("fail_safe", Boolean, nullable=False),
    Column("total_allocated_kw", Float, nullable=False),
    Column("charger_count", Integer, nullable=False),
    Column("open_breaches", Integer, nullable=False),
    Column("opened_breaches", Integer, nullable=False),
    Column("result", JSON, nullable=False),
    Column("inputs", JSON, nullable=False),
    UniqueConstraint("depot_id", "sequence", name="uq_balancing_cycles_depot_sequence"),
)

balancing_breaches = Table(
    "balancing_breaches",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("depot_id", String(36), nullable=False),
    Column("circuit_id", String(36), nullable=False, index=True),
    Column("microgrid_id", String(36), nullable=True),
    Column("status", String(10), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("detected_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("primary_reason", String(40), nullable=False),
    Column("cap_kw", Float, nullable=False),
    Column("peak_kw", Float, nullable=False),
    Column("samples", Integer, nullable=False),
    Column("excess_kwh", Float, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("opened_cycle_id", String(36), nullable=False),
    Column("closed_cycle_id", String(36), nullable=True),
)

Index(
    "ix_balancing_breaches_depot_status", balancing_breaches.c.depot_id, balancing_breaches.c.status
)
