"""Autogenerate a sim migration: `python -m depotgrid.sim.db.revision MESSAGE`.

It diffs the tables against a scratch SQLite database brought to the newest revision.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from depotgrid.sim.db.engine import make_engine
from depotgrid.sim.db.migrate import MIGRATIONS, alembic_config, upgrade


def make_revision(message: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'scratch.sqlite3'}"
        upgrade(make_engine(url))
        number = len(list((MIGRATIONS / "versions").glob("[0-9]*.py"))) + 1
        command.revision(
            alembic_config(url), message=message, autogenerate=True, rev_id=f"{number:04d}"
        )


if __name__ == "__main__":
    make_revision(" ".join(sys.argv[1:]) or "change")
