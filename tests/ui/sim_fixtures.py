"""Fixtures for the simulator UI tests: sim served over real HTTP on its own SQLite database,
and the Flexibility Provider double. Importing `server_url` from here points the shared
browser fixtures (`page`) at the simulator instead of manage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from depotgrid.settings import Settings
from depotgrid.sim.app import create_sim_app
from depotgrid.sim.db.engine import make_engine
from depotgrid.sim.db.migrate import upgrade
from tests.conftest import serve
from tests.depotgrid.sim.fp_double import FpDouble


@pytest.fixture
def sim_url(tmp_path: Path) -> Iterator[str]:
    """A fresh simulator for one test."""
    database_url = f"sqlite:///{tmp_path / 'sim.sqlite3'}"
    engine = make_engine(database_url)
    upgrade(engine)
    settings = Settings(data_dir=tmp_path, sim_database_url=database_url, sim_runner_id="ui")
    app = create_sim_app(settings, engine=engine, poll_seconds=0.05, delivery_timeout=3.0)
    with serve(app) as url:
        yield url
    engine.dispose()


@pytest.fixture
def server_url(sim_url: str) -> str:
    """What the browser opens: the simulator."""
    return sim_url


@pytest.fixture
def sim(sim_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim_url, timeout=15) as client:
        yield client


@pytest.fixture
def fp() -> Iterator[FpDouble]:
    double = FpDouble()
    with serve(double.app) as url:
        double.url = url
        yield double
