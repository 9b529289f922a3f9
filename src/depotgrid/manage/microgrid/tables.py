"""Tables of the canonical microgrid (COR-8), in SQLAlchemy Core.

`microgrids.depot_id` and `microgrid_nodes.circuit_id` carry no foreign keys on purpose: a
retired microgrid and its nodes outlive the depot and circuits they mirrored, for audit.
The database itself allows one ACTIVE microgrid per depot (a unique partial index).
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from depotgrid.manage.db.metadata import metadata

ACTIVE = "ACTIVE"

microgrids = Table(
    "microgrids",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("depot_id", String(36), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("status", String(20), nullable=False),
)

Index(
    "uq_microgrids_active_depot",
    microgrids.c.depot_id,
    unique=True,
    sqlite_where=microgrids.c.status == ACTIVE,
    postgresql_where=microgrids.c.status == ACTIVE,
)

microgrid_nodes = Table(
    "microgrid_nodes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("microgrid_id", String(36), ForeignKey("microgrids.id"), nullable=False, index=True),
    Column(
        "parent_node_id", String(36), ForeignKey("microgrid_nodes.id"), nullable=True, index=True
    ),
    Column("kind", String(20), nullable=False),
    Column("circuit_id", String(36), nullable=True, index=True),
    Column("name", String(200), nullable=False),
    Column("position", Integer, nullable=False),
    UniqueConstraint("microgrid_id", "circuit_id", name="uq_microgrid_nodes_circuit"),
)
