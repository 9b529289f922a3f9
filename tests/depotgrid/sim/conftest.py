"""sim fixtures: its own database (SQLite, or PostgreSQL when DEPOTGRID_TEST_DATABASE_URL is
set), emptied before each test; sim served over real HTTP on a free port; an FP double."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from depotgrid.settings import Settings
from depotgrid.sim.app import create_sim_app
from depotgrid.sim.db.engine import make_engine
from depotgrid.sim.db.migrate import upgrade
from depotgrid.sim.db.tables import metadata
from tests.conftest import PG_ENV, serve
from tests.depotgrid.sim.fp_double import FpDouble
from tests.depotgrid.sim.helpers import World, make_world

SIM_POLL_SECONDS = 0.02


@pytest.fixture(scope="session")
def sim_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database for sim in this test session."""
    server_url = os.environ.get(PG_ENV)
    if not server_url:
        yield f"sqlite:///{tmp_path_factory.mktemp('simdb') / 'sim.sqlite3'}"
        return
    url = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"depotgrid_sim_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sim_engine(sim_database_url: str) -> Iterator[Engine]:
    engine = make_engine(sim_database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sim_db(sim_engine: Engine) -> Engine:
    """sim's engine on an emptied database."""
    with sim_engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    return sim_engine


@pytest.fixture
def sim_settings(tmp_path: Path, sim_database_url: str) -> Settings:
    return Settings(data_dir=tmp_path, sim_database_url=sim_database_url, sim_runner_id="test")


@pytest.fixture
def sim_url(sim_settings: Settings, sim_db: Engine) -> Iterator[str]:
    """sim served for one test, on a database emptied first."""
    app = create_sim_app(
        sim_settings, engine=sim_db, poll_seconds=SIM_POLL_SECONDS, delivery_timeout=3.0
    )
    with serve(app) as url:
        yield url


@pytest.fixture
def sim(sim_url: str) -> Iterator[httpx.Client]:
    """A client of sim's control API."""
    with httpx.Client(base_url=sim_url, timeout=15) as client:
        yield client


@pytest.fixture
def fp() -> Iterator[FpDouble]:
    """A Flexibility Provider double served on its own port."""
    double = FpDouble()
    with serve(double.app) as url:
        double.url = url
        yield double


@pytest.fixture
def world(sim: httpx.Client) -> World:
    return make_world(sim)
