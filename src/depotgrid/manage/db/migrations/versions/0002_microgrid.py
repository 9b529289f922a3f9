"""canonical microgrid per depot and its nodes (COR-8)

Revision ID: 0002_microgrid
Revises: 0001
Create Date: 2026-11-24 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_microgrid"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "microgrids",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("depot_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_microgrids")),
    )
    with op.batch_alter_table("microgrids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_microgrids_depot_id"), ["depot_id"], unique=False)
        # One ACTIVE microgrid per depot, enforced by the database.
        batch_op.create_index(
            "uq_microgrids_active_depot",
            ["depot_id"],
            unique=True,
            sqlite_where=sa.text("status = 'ACTIVE'"),
            postgresql_where=sa.text("status = 'ACTIVE'"),
        )

    op.create_table(
        "microgrid_nodes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("microgrid_id", sa.String(length=36), nullable=False),
        sa.Column("parent_node_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("circuit_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["microgrid_id"],
            ["microgrids.id"],
            name=op.f("fk_microgrid_nodes_microgrid_id_microgrids"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_node_id"],
            ["microgrid_nodes.id"],
            name=op.f("fk_microgrid_nodes_parent_node_id_microgrid_nodes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_microgrid_nodes")),
        sa.UniqueConstraint("microgrid_id", "circuit_id", name="uq_microgrid_nodes_circuit"),
    )
    with op.batch_alter_table("microgrid_nodes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_microgrid_nodes_microgrid_id"), ["microgrid_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_microgrid_nodes_parent_node_id"), ["parent_node_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_microgrid_nodes_circuit_id"), ["circuit_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("microgrid_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_microgrid_nodes_circuit_id"))
        batch_op.drop_index(batch_op.f("ix_microgrid_nodes_parent_node_id"))
        batch_op.drop_index(batch_op.f("ix_microgrid_nodes_microgrid_id"))

    op.drop_table("microgrid_nodes")
    with op.batch_alter_table("microgrids", schema=None) as batch_op:
        batch_op.drop_index("uq_microgrids_active_depot")
        batch_op.drop_index(batch_op.f("ix_microgrids_depot_id"))

    op.drop_table("microgrids")
