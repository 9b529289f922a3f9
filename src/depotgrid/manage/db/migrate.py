"""Alembic, driven from code: the migrations ship inside the package."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revisions (idempotent).

    Features may add migrations on parallel branches from a common parent; "heads" applies
    every branch, so they need no merge revision to ship.
    """
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")


def revision_state(engine: Engine) -> tuple[str | None, str | None]:
    """(revisions in the database, newest revisions shipped), each as sorted, comma-joined ids."""
    heads = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_heads()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    return _joined(current), _joined(heads)


def _joined(revisions: Sequence[str]) -> str | None:
    return ",".join(sorted(revisions)) or None
