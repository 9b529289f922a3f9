"""Circuits record where their available capacity came from.

Revision ID: 0002_circuit_capacity_source
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_circuit_capacity_source"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("circuits") as batch:
        batch.add_column(
            sa.Column(
                "available_capacity_source", sa.String(20), nullable=False, server_default="RATING"
            )
        )
    op.execute(
        "UPDATE circuits SET available_capacity_source = 'OPERATOR' "
        "WHERE available_capacity_kw <> max_capacity_kw"
    )


def downgrade() -> None:
    with op.batch_alter_table("circuits") as batch:
        batch.drop_column("available_capacity_source")
