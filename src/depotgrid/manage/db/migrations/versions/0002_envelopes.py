"""Operating envelopes on managed scopes.

Revision ID: 0002_envelopes
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import depotgrid.manage.db.metadata

revision: str = "0002_envelopes"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UtcDateTime = depotgrid.manage.db.metadata.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "operating_envelopes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("microgrid_id", sa.String(36), nullable=False),
        sa.Column("depot_id", sa.String(36), nullable=False),
        sa.Column("scope_id", sa.String(36), nullable=False),
        sa.Column("circuit_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source_kind", sa.String(50), nullable=False),
        sa.Column("source_reference", sa.String(500), nullable=False),
        sa.Column("blocks", sa.JSON(), nullable=False),
        sa.Column("valid_from", UtcDateTime(timezone=True), nullable=False),
        sa.Column("valid_to", UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("status_changed_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("superseded_by", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operating_envelopes")),
    )
    op.create_index(
        op.f("ix_operating_envelopes_microgrid_id"), "operating_envelopes", ["microgrid_id"]
    )
    op.create_index(
        "ix_operating_envelopes_scope_status", "operating_envelopes", ["scope_id", "status"]
    )


def downgrade() -> None:
    op.drop_table("operating_envelopes")
