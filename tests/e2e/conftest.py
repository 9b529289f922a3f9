"""manage and sim as separate processes, talking over real HTTP.

Each service runs as `python -m depotgrid.cli ...` with its own data directory and database: a
SQLite file, or, when DEPOTGRID_TEST_DATABASE_URL names a PostgreSQL server, a database of its
own created for the test and dropped after. A process can be killed (SIGKILL) and started again
on the same port and database, which the crash and restart tests need.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_ENV, free_port

STARTUP_SECONDS = 60
HEARTBEAT_SECONDS = 2
"""How often manage asks the simulated CP for heartbeats: short, so liveness tests are quick."""
TOKEN = re.compile(r"^\S{20,}$")


@dataclass
class Service:
    """One depotgrid service process: `manage serve` or `sim serve`."""

    name: str
    command: list[str]
    env: dict[str, str]
    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Service:
        log = (self.data_dir / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "depotgrid.cli", *self.command, "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._wait_healthy()
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return (self.data_dir / f"{self.name}.log").read_text(errors="replace")

    def cli(self, *args: str) -> str:
        """Run a `depotgrid` command against this service's data and database."""
        done = subprocess.run(
            [sys.executable, "-m", "depotgrid.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not become healthy:\n{self.log()[-3000:]}")


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Makes a database URL per call: a SQLite file, or a new PostgreSQL database."""
    server_url = os.environ.get(PG_ENV)
    created: list[str] = []

    def make(name: str) -> str:
        if not server_url:
            return f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
        url = make_url(server_url).set(drivername="postgresql+psycopg")
        database = f"depotgrid_e2e_{name}_{uuid.uuid4().hex[:10]}"
        with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        created.append(database)
        return url.set(database=database).render_as_string(hide_password=False)

    yield make
    if created and server_url:
        admin = create_engine(
            make_url(server_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            for database in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def _environment(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPOTGRID_")}
    env.update({"DEPOTGRID_DATA_DIR": str(data_dir), "DEPOTGRID_LOG_LEVEL": "WARNING"})
    env.update({f"DEPOTGRID_{k.upper()}": v for k, v in settings.items()})
    return env


@pytest.fixture
def sim(tmp_path: Path, fresh_database_url: Callable[[str], str]) -> Iterator[Service]:
    """The depot simulator, as its own process."""
    data_dir = tmp_path / "sim"
    data_dir.mkdir()
    service = Service(
        "sim",
        ["sim", "serve"],
        _environment(data_dir, sim_database_url=fresh_database_url("sim")),
        data_dir,
    ).start()
    yield service
    service.stop()


@dataclass(frozen=True)
class ManageService:
    service: Service
    token: str
    """A manager's API token."""

    @property
    def url(self) -> str:
        return self.service.url

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {self.token}"}
        )


@pytest.fixture
def manage(tmp_path: Path, fresh_database_url: Callable[[str], str]) -> Iterator[ManageService]:
    """manage, as its own process, with a manager account made through its CLI."""
    data_dir = tmp_path / "manage"
    data_dir.mkdir()
    port = free_port()
    settings = {
        "database_url": fresh_database_url("manage"),
        "public_url": f"http://127.0.0.1:{port}",
        "oscp_heartbeat_interval_seconds": str(HEARTBEAT_SECONDS),
        "scheduler_interval_seconds": "0.2",
        "dispatcher_poll_seconds": "0.2",
    }
    service = Service(
        "manage", ["manage", "serve"], _environment(data_dir, **settings), data_dir, port
    ).start()
    email = "e2e-manager@example.com"
    service.cli("manage", "create-user", email, "--role", "manager", "--password", "e2e-pw-12345")
    token = service.cli("manage", "create-api-token", email).strip().splitlines()[-1].strip()
    assert TOKEN.match(token), f"unexpected token output: {token!r}"
    yield ManageService(service, token)
    service.stop()
