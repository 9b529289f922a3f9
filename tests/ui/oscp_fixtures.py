"""Fixtures for the OSCP connection browser test: manage served in-process with its outbox
dispatcher and a fast scheduler on a port chosen before the app is built (its `public_url`,
announced in Register, must name it), and the simulator as the Capacity Provider.

Importing `server_url` from here points the shared browser fixtures (`page`) at this manage.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine
from starlette.types import ASGIApp

from depotgrid.manage.app import create_app
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from depotgrid.settings import Settings
from tests.conftest import free_port
from tests.depotgrid.sim.helpers import make_world
from tests.ui.sim_fixtures import sim_url

__all__ = ["manage_url", "serve_on", "server_url", "sim", "sim_url"]

HEARTBEAT_SECONDS = 2
"""How often manage asks the Capacity Provider for heartbeats, and the sim sends them."""
SIM_GROUP = "group-1"
SIM_SCOPE = "scope-grid-1"
"""The group and managed scope of the sim's site configuration (`make_world`)."""


@contextmanager
def serve_on(app: ASGIApp, port: int) -> Iterator[str]:
    """Serve `app` with uvicorn over real HTTP on `port`; yields the base URL."""
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


@pytest.fixture
def manage_url(
    tmp_path: Path, database_url: str, engine: Engine, uows: UnitOfWorkFactory
) -> Iterator[str]:
    """manage with the dispatcher on and the scheduler every 0.2 s, on the emptied test
    database (`uows`), reachable at its own public URL."""
    port = free_port()
    data_dir = tmp_path / "manage"
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        scheduler_interval_seconds=0.2,
        dispatcher_poll_seconds=0.2,
        dispatcher_enabled=True,
        public_url=f"http://127.0.0.1:{port}",
        oscp_heartbeat_interval_seconds=HEARTBEAT_SECONDS,
    )
    with serve_on(create_app(settings, engine=engine), port) as url:
        yield url


@pytest.fixture
def server_url(manage_url: str) -> str:
    """What the browser opens: this manage."""
    return manage_url


@pytest.fixture
def sim(sim_url: str) -> Iterator[httpx.Client]:
    """The simulator's control API."""
    with httpx.Client(base_url=sim_url, timeout=15) as client:
        yield client


def start_sim_session(
    sim: httpx.Client,
    *,
    manage_url: str,
    configuration_id: str,
    inbound_token: str,
    cp_token: str,
) -> str:
    """A started sim run with an OSCP session that acts as the Capacity Provider of manage's
    configuration: it calls manage with the inbound token and accepts `cp_token`. The path of
    the session."""
    world = make_world(sim)
    created = sim.post(
        f"/simulation-runs/{world.run_id}/oscp-sessions",
        json={
            "managed_scope_id": SIM_SCOPE,
            "betterfleet_base_url": f"{manage_url}/oscp/fp/2.0",
            "remote_configuration_id": configuration_id,
            "group_id": SIM_GROUP,
            "fp_token": inbound_token,
            "cp_token": cp_token,
            "heartbeat_interval_seconds": HEARTBEAT_SECONDS,
        },
    )
    assert created.status_code == 201, created.text
    return f"/simulation-runs/{world.run_id}/oscp-sessions/{created.json()['session_id']}"
