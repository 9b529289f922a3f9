"""Helpers for sim tests: sessions wired to the FP double, ledger queries, waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.depotgrid.sim.fp_double import FpDouble

FP_TOKEN = "fp-token-" + "x" * 24


@dataclass(frozen=True)
class World:
    """A configuration and a started run."""

    configuration_id: str
    run_id: str


SITE_CONFIGURATION = {
    "name": "Depot A",
    "topology": {
        "nodes": [
            {"id": "site", "parent_id": None, "kind": "SITE"},
            {"id": "grid-1", "parent_id": "site", "kind": "GRID_CONNECTION", "rating_kw": 500},
            {"id": "charger-1", "parent_id": "grid-1", "kind": "CHARGER", "rating_kw": 150},
        ]
    },
    "managed_scopes": [{"id": "scope-grid-1", "node_id": "grid-1"}],
    "projection_bindings": [
        {
            "managed_scope_id": "scope-grid-1",
            "group_id": "group-1",
            "measurement_publication_mode": "GROUP",
            "measurement_configuration": ["INTERMITTENT"],
        }
    ],
}


def make_world(sim: httpx.Client, *, speed: float = 1.0, start: bool = True) -> World:
    created = sim.post("/simulation-configurations", json=SITE_CONFIGURATION)
    assert created.status_code == 201, created.text
    configuration_id = created.json()["id"]
    run = sim.post(
        "/simulation-runs",
        json={
            "configuration_id": configuration_id,
            "configuration_version": 1,
            "speed_factor": speed,
        },
    )
    assert run.status_code == 201, run.text
    run_id = run.json()["id"]
    if start:
        started = sim.post(f"/simulation-runs/{run_id}/commands/start")
        assert started.status_code == 200, started.text
    return World(configuration_id, run_id)


def create_session(
    sim: httpx.Client,
    world: World,
    fp: FpDouble,
    *,
    configuration_id: str = "2b5f4a88-d4b4-41ad-a1c8-889f3ee71111",
    **extra: Any,
) -> dict[str, Any]:
    """A session for `world`'s run whose FP is the double (which learns the CP's token)."""
    body = {
        "managed_scope_id": "scope-grid-1",
        "betterfleet_base_url": fp.base_url,
        "remote_configuration_id": configuration_id,
        "fp_token": FP_TOKEN,
        **extra,
    }
    created = sim.post(f"/simulation-runs/{world.run_id}/oscp-sessions", json=body)
    assert created.status_code == 201, created.text
    session = created.json()
    fp.peer(configuration_id, session["cp_base_url"], session["cp_token"])
    return session


def session_path(world: World, session: dict[str, Any]) -> str:
    return f"/simulation-runs/{world.run_id}/oscp-sessions/{session['session_id']}"


def go_online(
    sim: httpx.Client,
    world: World,
    session: dict[str, Any],
    fp: FpDouble,
    interval: float = 5,
    *,
    fp_asks: float | None = None,
) -> dict[str, Any]:
    """CP-initiated handshake, acknowledged by the double; returns the session once online.

    `interval` is what the CP requires of the FP; `fp_asks` what the FP's acknowledgement asks
    of the CP (default: nothing, so the CP sends at `interval` too).
    """
    if fp_asks is not None:
        fp.ack_behaviour = {"heartbeat_interval": fp_asks}
    sent = sim.post(
        session_path(world, session) + "/commands/send-handshake",
        json={"heartbeat_interval_seconds": interval},
    )
    assert sent.status_code == 200, sent.text
    return wait_until(
        lambda: sim.get(session_path(world, session)).json(),
        lambda s: s["state"] == "online",
        what="session online",
    )


def messages(
    sim: httpx.Client, world: World, session: dict[str, Any], **query: Any
) -> list[dict[str, Any]]:
    found = sim.get(session_path(world, session) + "/messages", params=query)
    assert found.status_code == 200, found.text
    result: list[dict[str, Any]] = found.json()["messages"]
    return result


def entry(
    sim: httpx.Client, world: World, session: dict[str, Any], entry_id: str
) -> dict[str, Any]:
    found = sim.get(session_path(world, session) + f"/messages/{entry_id}")
    assert found.status_code == 200, found.text
    result: dict[str, Any] = found.json()
    return result


def wait_until(
    read: Callable[[], Any],
    done: Callable[[Any], bool],
    *,
    timeout: float = 10.0,
    what: str = "condition",
) -> Any:
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {value}")
        time.sleep(0.05)
        value = read()
    return value
