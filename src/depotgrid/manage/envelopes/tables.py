"""Table of operating envelopes; blocks are kept as JSON with the envelope (they never change)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, String, Table

from depotgrid.manage.db.metadata import UtcDateTime, metadata

operating_envelopes = Table(
    "operating_envelopes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("microgrid_id", String(36), nullable=False, index=True),
    # No foreign keys: envelopes stay auditable after their depot and circuits are gone.
    Column("depot_id", String(36), nullable=False),
    Column("scope_id", String(36), nullable=False),
    Column("circuit_id", String(36), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("source_kind", String(50), nullable=False),
    Column("source_reference", String(500), nullable=False),
    Column("blocks", JSON, nullable=False),
    Column("valid_from", UtcDateTime, nullable=False),
    Column("valid_to", UtcDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status_changed_at", UtcDateTime, nullable=False),
    Column("superseded_by", String(36), nullable=True),
    Index("ix_operating_envelopes_scope_status", "scope_id", "status"),
)
