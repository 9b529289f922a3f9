"""sim's migrations build exactly its tables, with its own version table."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from depotgrid.sim.db.migrate import VERSION_TABLE, revision_state, upgrade
from depotgrid.sim.db.tables import metadata


def test_migrated_schema_matches_the_table_definitions(sim_engine: Engine) -> None:
    with sim_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, metadata) if not _foreign_table(d)]
    assert differences == []


def _foreign_table(difference: object) -> bool:
    if isinstance(difference, tuple) and difference and difference[0] == "remove_table":
        return not difference[1].name.startswith("sim_")
    return False


def test_own_version_table_and_idempotent_upgrade(sim_engine: Engine) -> None:
    upgrade(sim_engine)
    current, head = revision_state(sim_engine)
    assert current == head is not None
    tables = set(inspect(sim_engine).get_table_names())
    assert VERSION_TABLE in tables and "alembic_version" not in tables
    assert {t for t in tables if t != VERSION_TABLE} == set(metadata.tables)
