"""Tables of the legacy depot model (SQLAlchemy Core; the domain classes stay plain)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Integer, String, Table, false

from depotgrid.manage.db.metadata import metadata

depots = Table(
    "depots",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False, index=True),
    Column("timezone", String(64), nullable=False),
    Column("version", Integer, nullable=False, default=0),
)

circuits = Table(
    "circuits",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("depot_id", String(36), ForeignKey("depots.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("parent_circuit_id", String(36), ForeignKey("circuits.id"), nullable=True, index=True),
    Column("max_capacity_kw", Float, nullable=False),
    Column("available_capacity_kw", Float, nullable=False),
    Column("safe_default_capacity_kw", Float, nullable=False),
    Column("position", Integer, nullable=False, default=0),
    Column("available_capacity_source", String(20), nullable=False, server_default="RATING"),
)

chargers = Table(
    "chargers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("depot_id", String(36), ForeignKey("depots.id"), nullable=False, index=True),
    Column("circuit_id", String(36), ForeignKey("circuits.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("ocpp_identity", String(200), nullable=False, unique=True),
    Column("max_power_kw", Float, nullable=False),
    Column("min_power_kw", Float, nullable=False),
    Column("connector_count", Integer, nullable=False),
    Column("plugged_in", Boolean, nullable=False, server_default=false()),
    Column("requested_kw", Float, nullable=True),
)

power_sources = Table(
    "power_sources",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("depot_id", String(36), ForeignKey("depots.id"), nullable=False, index=True),
    Column("circuit_id", String(36), ForeignKey("circuits.id"), nullable=True, index=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("rated_power_kw", Float, nullable=False),
    Column("state", String(20), nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("depot_id", String(36), ForeignKey("depots.id"), nullable=False, index=True),
    Column("circuit_id", String(36), ForeignKey("circuits.id"), nullable=True, index=True),
    Column("name", String(200), nullable=False),
    Column("site_model_name", String(200), nullable=True),
    Column("output_translation", JSON, nullable=True),
)
