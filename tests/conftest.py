"""Shared fixtures: a real database (SQLite, or PostgreSQL when DEPOTGRID_TEST_DATABASE_URL is
set), emptied before each test, and manage served over real HTTP on a free port."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from starlette.types import ASGIApp

from depotgrid.common.clock import SystemClock
from depotgrid.manage.app import create_app
from depotgrid.manage.auth.service import create_or_update_user, issue_api_token
from depotgrid.manage.bootstrap import unit_of_work_factory
from depotgrid.manage.db.engine import make_engine
from depotgrid.manage.db.migrate import upgrade
from depotgrid.manage.db.tables import metadata
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from depotgrid.settings import Settings
from tests.mqtt_broker import mqtt_broker

PG_ENV = "DEPOTGRID_TEST_DATABASE_URL"


def pytest_report_header() -> str:
    url = os.environ.get(PG_ENV)
    where = f"PostgreSQL at {make_url(url).render_as_string()}" if url else "SQLite"
    return f"depotgrid database: {where}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database for this test session: its own PostgreSQL database, or a SQLite file."""
    server_url = os.environ.get(PG_ENV)
    if not server_url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'manage.sqlite3'}"
        return
    url = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"depotgrid_test_{uuid.uuid4().hex[:12]}"
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
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def uows(engine: Engine) -> UnitOfWorkFactory:
    """Units of work on an emptied database: every test starts from nothing."""
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    return unit_of_work_factory(engine, SystemClock())


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Settings:
    # No background jobs or outbox dispatcher in the shared server: tests that need them run
    # their own app, clock and dispatcher.
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=database_url,
        scheduler_interval_seconds=0,
        dispatcher_enabled=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Serve `app` with uvicorn over real HTTP on a free port; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def mqtt_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MQTT broker (see tests/mqtt_broker.py)."""
    with mqtt_broker(tmp_path_factory.mktemp("mqtt"), free_port()) as url:
        yield url


@pytest.fixture(scope="session")
def server_url(settings: Settings, engine: Engine) -> Iterator[str]:
    """manage for the whole session."""
    with serve(create_app(settings, engine=engine)) as url:
        yield url


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    token: str
    role: str


class Accounts:
    """Creates users of a given role, each with an API token."""

    def __init__(self, uows: UnitOfWorkFactory) -> None:
        self._uows = uows

    def make(self, role: str = "manager", email: str | None = None) -> Account:
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
        password = f"pw-{uuid.uuid4().hex[:12]}"
        with self._uows.write() as uow:
            create_or_update_user(uow, "test", email=email, role=role, password=password)
            token = issue_api_token(uow, "test", email)
            uow.commit()
        return Account(email=email, password=password, token=token, role=role)


@pytest.fixture
def accounts(uows: UnitOfWorkFactory) -> Accounts:
    return Accounts(uows)


@pytest.fixture
def anonymous(server_url: str, uows: UnitOfWorkFactory) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=10) as client:
        yield client


def client_for(server_url: str, account: Account) -> httpx.Client:
    return httpx.Client(
        base_url=server_url, timeout=10, headers={"Authorization": f"Bearer {account.token}"}
    )


@pytest.fixture
def api(server_url: str, accounts: Accounts) -> Iterator[httpx.Client]:
    """An HTTP client authenticated as a manager (who may change the depot model)."""
    with client_for(server_url, accounts.make("manager")) as client:
        yield client


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parents[1]
