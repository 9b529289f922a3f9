"""An OSCP connection's lifecycle between manage (Flexibility Provider) and the simulator
(Capacity Provider), as separate processes over real HTTP (issue #5 acceptance)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from depotgrid.oscp.schemas import validate
from tests.e2e.conftest import ManageService, Service

GROUP = "grp-e2e-1"
SCOPE = "scope-grid-1"


@dataclass(frozen=True)
class Link:
    """One configured connection: manage's configuration and the sim's session for it."""

    manage: httpx.Client
    sim: httpx.Client
    configuration_id: str
    run_id: str
    session_id: str

    @property
    def session_path(self) -> str:
        return f"/simulation-runs/{self.run_id}/oscp-sessions/{self.session_id}"

    def manage_state(self) -> dict[str, Any]:
        return self.manage.get(f"/api/oscp-configurations/{self.configuration_id}").json()

    def sim_messages(self, **filters: str) -> list[dict[str, Any]]:
        found = self.sim.get(f"{self.session_path}/messages", params={"limit": 500, **filters})
        return list(found.json()["messages"])

    def override(self, mode: str, **extra: Any) -> None:
        applied = self.sim.patch(f"{self.session_path}/overrides", json={"mode": mode, **extra})
        assert applied.status_code == 200, applied.text


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30) -> Any:
    """Poll until `check` returns something truthy; fail naming `what`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def _scope_of_manage(api: httpx.Client) -> tuple[str, str]:
    depot = api.post("/api/depots", json={"name": "OSCP Depot", "timezone": "UTC"}).json()
    api.post(
        f"/api/depots/{depot['id']}/circuits",
        json={"name": "Grid", "max_capacity_kw": 500, "safe_default_capacity_kw": 100},
    ).raise_for_status()
    microgrid = api.get("/api/microgrids", params={"depot_id": depot["id"]}).json()["items"][0]
    scopes = api.get(f"/api/microgrids/{microgrid['microgrid_id']}/scopes").json()["items"]
    return microgrid["microgrid_id"], scopes[0]["scope_id"]


def _sim_run(sim: httpx.Client) -> str:
    configuration = sim.post(
        "/simulation-configurations",
        json={
            "name": "e2e",
            "topology": {
                "nodes": [
                    {"id": "site", "parent_id": None, "kind": "SITE"},
                    {
                        "id": "grid-1",
                        "parent_id": "site",
                        "kind": "GRID_CONNECTION",
                        "rating_kw": 500,
                    },
                ]
            },
            "managed_scopes": [{"id": SCOPE, "node_id": "grid-1"}],
        },
    ).json()
    run = sim.post(
        "/simulation-runs",
        json={"configuration_id": configuration["id"], "configuration_version": 1},
    ).json()
    sim.post(f"/simulation-runs/{run['id']}/commands/start").raise_for_status()
    return str(run["id"])


@pytest.fixture
def link(manage: ManageService, sim: Service) -> Iterator[Link]:
    """manage's configuration for the sim's CP, and the sim's session for it; not enabled."""
    cp_token = secrets.token_urlsafe(32)
    with manage.client() as api, httpx.Client(base_url=sim.url, timeout=30) as control:
        microgrid_id, scope_id = _scope_of_manage(api)
        created = api.post(
            "/api/oscp-configurations",
            json={
                "group_id": GROUP,
                "microgrid_id": microgrid_id,
                "managed_scope_id": scope_id,
                "endpoint_base_url": f"{sim.url}/oscp/cp/2.0",
                "oscp_version": "2.0",
                "profile": "vector",
                "measurement_publication_mode": "GROUP",
                "outbound_auth": {"kind": "token", "token": cp_token},
            },
        )
        assert created.status_code == 201, created.text
        run_id = _sim_run(control)
        session = control.post(
            f"/simulation-runs/{run_id}/oscp-sessions",
            json={
                "managed_scope_id": SCOPE,
                "betterfleet_base_url": f"{manage.url}/oscp/fp/2.0",
                "remote_configuration_id": created.json()["id"],
                "group_id": GROUP,
                "fp_token": created.json()["inbound_token"],
                "cp_token": cp_token,
                "heartbeat_interval_seconds": 2,
            },
        )
        assert session.status_code == 201, session.text
        yield Link(api, control, created.json()["id"], run_id, session.json()["session_id"])


def _online(link: Link) -> dict[str, Any]:
    enabled = link.manage.post(f"/api/oscp-configurations/{link.configuration_id}/enable")
    assert enabled.status_code == 200, enabled.text
    return wait_for("ONLINE", lambda: (s := link.manage_state())["state"] == "ONLINE" and s)


def test_enable_registers_handshakes_and_goes_online_with_valid_messages(link: Link) -> None:
    online = _online(link)
    assert online["registered_at"] is not None
    assert online["negotiated"]["heartbeat_interval_seconds"] == 2
    assert online["negotiated"]["measurement_configuration"] == ["INTERMITTENT"]
    assert online["last_heartbeat_at"] is not None
    assert online["last_error"] is None
    states = [
        i["configuration"]["state"]
        for i in link.manage.get(
            f"/api/oscp-configurations/{link.configuration_id}/history"
        ).json()["items"]
    ]
    for state in ("REGISTERING", "HANDSHAKING", "ONLINE"):
        assert state in states
    wait_for(
        "manage's heartbeats at the sim",
        lambda: link.sim_messages(message_type="Heartbeat", direction="inbound"),
    )
    received = link.sim_messages(direction="inbound")
    assert {"Register", "Handshake", "Heartbeat"} <= {m["message_type"] for m in received}
    for message in received:
        assert message["outcome"] == "accepted", message
        assert message["validation_errors"] == []
        assert (
            validate(message["message_type"], message["body"]) == []
            or message["message_type"] == "Register"
        )
        assert message["headers"].get("x-request-id") or message["headers"].get("X-Request-ID")


def test_cp_stops_heartbeats_goes_offline_then_recovers_with_audit(link: Link) -> None:
    _online(link)
    link.override("stop_sending_heartbeats", duration_seconds=600)
    offline = wait_for("OFFLINE", lambda: (s := link.manage_state())["state"] == "OFFLINE" and s)
    assert offline["last_error"]["code"] == "HEARTBEAT_MISSED"
    assert offline["offline_threshold"] is not None and offline["last_heartbeat_at"] is not None
    link.override("stop_sending_heartbeats", clear=True)
    back = wait_for("ONLINE again", lambda: (s := link.manage_state())["state"] == "ONLINE" and s)
    assert back["last_error"] is None and back["error_cleared_at"] is not None
    events = [
        i["event_type"]
        for i in link.manage.get(
            f"/api/oscp-configurations/{link.configuration_id}/history"
        ).json()["items"]
    ]
    assert events.index("OscpConnectionOffline") < events.index("OscpConnectionRecovered")


def test_cp_rejecting_heartbeats_with_403_surfaces_the_error(link: Link) -> None:
    _online(link)
    link.override("reject_heartbeat_with_403", duration_seconds=600)
    failing = wait_for(
        "a heartbeat send error",
        lambda: (
            (s := link.manage_state())["last_error"]
            and s["last_error"]["code"] == "HEARTBEAT_SEND_FAILED"
            and s
        ),
    )
    assert "403" in failing["last_error"]["message"]
