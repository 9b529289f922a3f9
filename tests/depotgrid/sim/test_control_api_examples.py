"""Design §7 control API: the spec's example requests, sent with exactly the spec's bodies,
succeed and answer with the spec's response fields (COR-49 acceptance 1).

The examples address BetterFleet at http://bf-manage-core:5001/oscp; the sim's outbound HTTP
client routes that host to the FP double, so the bodies stay verbatim.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from depotgrid.settings import Settings
from depotgrid.sim.app import create_sim_app
from tests.conftest import serve
from tests.depotgrid.sim.conftest import SIM_POLL_SECONDS
from tests.depotgrid.sim.fp_double import FpDouble
from tests.depotgrid.sim.helpers import SITE_CONFIGURATION, wait_until

CREATE_SESSION = {
    "managed_scope_id": "scope-grid-1",
    "betterfleet_base_url": "http://bf-manage-core:5001/oscp",
    "remote_configuration_id": "2b5f4a88-d4b4-41ad-a1c8-889f3ee71111",
    "group_id": "group-1",
    "measurement_publication_mode": "GROUP",
    "measurement_configuration": "INTERMITTENT",
    "scenario_preset": "connected_baseline",
}
SEND_HANDSHAKE = {"heartbeat_interval_seconds": 5}
SEND_FORECAST = {
    "type": "CONSUMPTION",
    "forecasted_blocks": [
        {
            "capacity": 500.0,
            "phase": "ALL",
            "unit": "KW",
            "start_time": "2026-04-02T10:00:00Z",
            "end_time": "2026-04-02T10:15:00Z",
        }
    ],
}
OVERRIDE = {"mode": "reject_heartbeat_with_403", "until": "2026-04-02T10:20:00Z"}


class _ToDouble(httpx.AsyncBaseTransport):
    """Sends requests for bf-manage-core:5001 to the FP double instead."""

    def __init__(self, double_url: str) -> None:
        self._target = httpx.URL(double_url)
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(host=self._target.host, port=self._target.port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
def spec_sim(sim_settings: Settings, sim_db: Engine, fp: FpDouble) -> Iterator[httpx.Client]:
    http = httpx.AsyncClient(transport=_ToDouble(fp.url))
    app = create_sim_app(
        sim_settings, engine=sim_db, poll_seconds=SIM_POLL_SECONDS, outbound_http=http
    )
    with serve(app) as url, httpx.Client(base_url=url, timeout=15) as client:
        yield client


def test_section_7_examples_verbatim(spec_sim: httpx.Client, fp: FpDouble) -> None:
    sim = spec_sim
    configuration = sim.post("/simulation-configurations", json=SITE_CONFIGURATION).json()
    run = sim.post(
        "/simulation-runs",
        json={
            "configuration_id": configuration["id"],
            "configuration_version": 1,
            "start_time": "2026-04-02T09:59:00Z",
        },
    ).json()
    assert sim.post(f"/simulation-runs/{run['id']}/commands/start").status_code == 200
    sessions = f"/simulation-runs/{run['id']}/oscp-sessions"

    created = sim.post(sessions, json=CREATE_SESSION)
    assert created.status_code == 201, created.text
    session = created.json()
    assert session["state"] == "offline"
    assert isinstance(session["session_id"], str) and session["session_id"]
    # The FP was not given an fp_token out of band here; it learns the CP's token.
    fp.peer(CREATE_SESSION["remote_configuration_id"], session["cp_base_url"], session["cp_token"])
    path = f"{sessions}/{session['session_id']}"

    no_token = sim.post(path + "/commands/send-handshake", json=SEND_HANDSHAKE)
    assert no_token.status_code == 409
    assert no_token.json()["code"] == "NO_FP_TOKEN"
    # Wire the FP's token, as registration would: the FP registers with the CP.
    registered = fp.send_raw(
        CREATE_SESSION["remote_configuration_id"],
        "register",
        {
            "token": "fp-issued-token-0123456789",
            "version_url": [{"version": "2.0", "base_url": "http://bf-manage-core:5001/oscp"}],
        },
    )
    assert registered.status_code == 204, registered.text
    fp.wait_for("register")
    fp.peers[CREATE_SESSION["remote_configuration_id"]].cp_token = fp.of("register")[0].body[
        "token"
    ]

    handshake = sim.post(path + "/commands/send-handshake", json=SEND_HANDSHAKE)
    assert handshake.status_code == 200, handshake.text
    assert set(handshake.json()) >= {"ledger_entry_id", "state"}
    assert handshake.json()["state"] in ("awaiting_handshake_acknowledge", "online")
    wait_until(lambda: sim.get(path).json()["state"], lambda s: s == "online", what="online")

    forecast = sim.post(path + "/commands/send-forecast", json=SEND_FORECAST)
    assert forecast.status_code == 200, forecast.text
    assert set(forecast.json()) >= {"ledger_entry_id", "delivery_status"}
    assert forecast.json()["delivery_status"] == "accepted"

    override = sim.patch(path + "/overrides", json=OVERRIDE)
    assert override.status_code == 200, override.text
    assert override.json()["session_id"] == session["session_id"]
    assert override.json()["override_state"] == "active"

    listed = sim.get(path + "/messages")
    assert listed.status_code == 200
    ledger = listed.json()["messages"]
    assert ledger and all({"direction", "message_type", "outcome"} <= set(m) for m in ledger)
    assert {(m["direction"], m["message_type"]) for m in ledger} >= {
        ("inbound", "Register"),
        ("outbound", "Register"),
        ("outbound", "Handshake"),
        ("inbound", "HandshakeAcknowledge"),
        ("outbound", "UpdateGroupCapacityForecast"),
    }
