"""Alembic environment for sim: runs on the connection db.migrate hands over, or on the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from depotgrid.sim.db import tables
from depotgrid.sim.db.metadata import metadata
from depotgrid.sim.db.migrate import VERSION_TABLE

assert tables.runs.metadata is metadata  # every table is registered


def _include(name: str | None, type_: str, *_: object) -> bool:
    # Share a database with manage without seeing its tables as "removed".
    return type_ != "table" or (name or "").startswith("sim_")


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        version_table=VERSION_TABLE,
        include_name=_include,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
