"""Load balancing: circuit meter readings, cycles and breach episodes.

Revision ID: 0002_balancing
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import depotgrid.manage.db.metadata

revision: str = "0002_balancing"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UtcDateTime = depotgrid.manage.db.metadata.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "circuit_meter_readings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("depot_id", sa.String(length=36), nullable=False),
        sa.Column("circuit_id", sa.String(length=36), nullable=False),
        sa.Column("timestamp", UtcDateTime(timezone=True), nullable=False),
        sa.Column("power_kw", sa.Float(), nullable=False),
        sa.Column("energy_register_kwh", sa.Float(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_circuit_meter_readings")),
        sa.UniqueConstraint("circuit_id", "timestamp", name="uq_circuit_meter_readings_time"),
    )
    op.create_index(
        op.f("ix_circuit_meter_readings_depot_id"),
        "circuit_meter_readings",
        ["depot_id"],
        unique=False,
    )
    op.create_table(
        "balancing_cycles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("depot_id", sa.String(length=36), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("microgrid_id", sa.String(length=36), nullable=True),
        sa.Column("trigger", sa.String(length=30), nullable=False),
        sa.Column("trigger_ref", sa.String(length=200), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("computed_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("inputs_hash", sa.String(length=64), nullable=False),
        sa.Column("source_mode", sa.String(length=30), nullable=False),
        sa.Column("fail_safe", sa.Boolean(), nullable=False),
        sa.Column("total_allocated_kw", sa.Float(), nullable=False),
        sa.Column("charger_count", sa.Integer(), nullable=False),
        sa.Column("open_breaches", sa.Integer(), nullable=False),
        sa.Column("opened_breaches", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_balancing_cycles")),
        sa.UniqueConstraint("depot_id", "sequence", name="uq_balancing_cycles_depot_sequence"),
    )
    op.create_index(
        op.f("ix_balancing_cycles_microgrid_id"), "balancing_cycles", ["microgrid_id"], unique=False
    )
    op.create_table(
        "balancing_breaches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("depot_id", sa.String(length=36), nullable=False),
        sa.Column("circuit_id", sa.String(length=36), nullable=False),
        sa.Column("microgrid_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("started_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("detected_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("primary_reason", sa.String(length=40), nullable=False),
        sa.Column("cap_kw", sa.Float(), nullable=False),
        sa.Column("peak_kw", sa.Float(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("excess_kwh", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("opened_cycle_id", sa.String(length=36), nullable=False),
        sa.Column("closed_cycle_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_balancing_breaches")),
    )
    op.create_index(
        op.f("ix_balancing_breaches_circuit_id"), "balancing_breaches", ["circuit_id"], unique=False
    )
    op.create_index(
        "ix_balancing_breaches_depot_status",
        "balancing_breaches",
        ["depot_id", "status"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_balancing_breaches_depot_status", table_name="balancing_breaches")
    op.drop_index(op.f("ix_balancing_breaches_circuit_id"), table_name="balancing_breaches")
    op.drop_table("balancing_breaches")
    op.drop_index(op.f("ix_balancing_cycles_microgrid_id"), table_name="balancing_cycles")
    op.drop_table("balancing_cycles")
    op.drop_index(op.f("ix_circuit_meter_readings_depot_id"), table_name="circuit_meter_readings")
    op.drop_table("circuit_meter_readings")
