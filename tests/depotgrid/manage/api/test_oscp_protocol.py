"""The Flexibility Provider's protocol route (COR-45): one mount at /oscp/fp/2.0, its
authentication, its error table, and a repeated X-Request-ID processed once."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from depotgrid.manage.oscp.connections import ConnectionRepository
from depotgrid.manage.oscp.lifecycle import ConnectionState
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from tests.conftest import Accounts, client_for
from tests.depotgrid.manage.api.test_oscp_configurations import Site, contract, create
from tests.depotgrid.manage.api.test_oscp_configurations import site as site

FP = "/oscp/fp/2.0"
REGISTER = {"token": "cp-token-c", "version_url": [{"version": "2.0", "base_url": "http://cp"}]}


@pytest.fixture
def configured(api: httpx.Client, site: Site) -> dict[str, Any]:
    """An enabled configuration without an outbound token: it waits for the CP to register."""
    body = contract(site, measurement_publication_mode="GROUP", reporting_asset_id=None)
    body.pop("outbound_auth", None)
    created = create(api, body)
    assert api.post(f"/api/oscp-configurations/{created['id']}/enable").status_code == 200
    return created


def _headers(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}", "X-Request-ID": str(uuid.uuid4()), **extra}


def test_without_credentials_every_route_is_401(anonymous: httpx.Client) -> None:
    for endpoint in ("register", "handshake", "handshake_acknowledge", "heartbeat"):
        answer = anonymous.post(f"{FP}/{endpoint}", json={})
        assert answer.status_code == 401
        assert "Authorization" in answer.json()["message"]


def test_an_unknown_token_is_403(anonymous: httpx.Client) -> None:
    answer = anonymous.post(f"{FP}/heartbeat", json={}, headers=_headers("nope"))
    assert answer.status_code == 403
    assert answer.json()["message"]


def test_there_is_no_api_alias_of_the_protocol_routes(api: httpx.Client) -> None:
    for path in ("/api/oscp/fp/2.0/heartbeat", "/api/oscp/heartbeat", "/api/oscp/fp/2.0/register"):
        assert api.post(path, json={}).status_code == 404


def test_roles_without_the_protocol_permission_are_403_and_managers_get_through(
    configured: dict[str, Any], server_url: str, accounts: Accounts
) -> None:
    named = {"X-OSCP-Configuration-ID": configured["id"], "X-Request-ID": str(uuid.uuid4())}
    for role in ("viewer", "operator"):
        with client_for(server_url, accounts.make(role)) as client:
            answer = client.post(f"{FP}/register", json=REGISTER, headers=named)
        assert answer.status_code == 403, role
        assert "oscp:protocol" in answer.json()["message"]
    with client_for(server_url, accounts.make("manager")) as manager:
        missing = manager.post(f"{FP}/register", json=REGISTER, headers={"X-Request-ID": "r1"})
        assert missing.status_code == 422
        registered = manager.post(f"{FP}/register", json=REGISTER, headers=named)
    assert registered.status_code == 204, registered.text


def test_the_error_table_applies(configured: dict[str, Any], anonymous: httpx.Client) -> None:
    token = configured["inbound_token"]
    unknown = anonymous.post(f"{FP}/no_such_thing", json={}, headers=_headers(token))
    assert unknown.status_code == 404
    cp_only = anonymous.post(f"{FP}/update_group_measurements", json={}, headers=_headers(token))
    assert cp_only.status_code == 404
    forecast = anonymous.post(
        f"{FP}/update_group_capacity_forecast", json={}, headers=_headers(token)
    )
    assert forecast.status_code == 501
    no_id = anonymous.post(
        f"{FP}/register", json=REGISTER, headers={"Authorization": f"Token {token}"}
    )
    assert no_id.status_code == 422 and "X-Request-ID" in no_id.json()["message"]
    bad = anonymous.post(f"{FP}/heartbeat", json={"offline_mode_at": 5}, headers=_headers(token))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "$.offline_mode_at"
    early = anonymous.post(
        f"{FP}/heartbeat",
        json={"offline_mode_at": "2030-01-01T00:00:00Z"},
        headers=_headers(token),
    )
    assert early.status_code == 409 and "handshake first" in early.json()["message"]
    old = {"token": "t", "version_url": [{"version": "1.0", "base_url": "http://cp"}]}
    assert anonymous.post(f"{FP}/register", json=old, headers=_headers(token)).status_code == 501
    other = _headers(token, **{"X-OSCP-Configuration-ID": "someone-else"})
    assert anonymous.post(f"{FP}/register", json=REGISTER, headers=other).status_code == 403


def test_a_repeated_request_id_is_answered_204_and_processed_once(
    configured: dict[str, Any], anonymous: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    headers = _headers(configured["inbound_token"])
    first = anonymous.post(f"{FP}/register", json=REGISTER, headers=headers)
    assert first.status_code == 204, first.text
    again = anonymous.post(f"{FP}/register", json=REGISTER, headers=headers)
    assert again.status_code == 204
    with uows.read() as uow:
        connection = ConnectionRepository(uow.connection).get(configured["id"])
        started = [
            e
            for e in uow.events.read_stream(f"oscp-connection-{configured['id']}")
            if e.event_type == "OscpRegistrationStarted"
        ]
    assert connection.state is ConnectionState.REGISTERING
    assert len(started) == 1


def test_a_cp_initiated_register_stores_its_token_and_queues_our_correlated_reply(
    configured: dict[str, Any], anonymous: httpx.Client, api: httpx.Client
) -> None:
    headers = _headers(configured["inbound_token"])
    assert anonymous.post(f"{FP}/register", json=REGISTER, headers=headers).status_code == 204
    state = api.get(f"/api/oscp-configurations/{configured['id']}").json()
    assert state["state"] == "REGISTERING"
    assert state["outbound_auth"] == {
        "kind": "token",
        "token_present": True,
        "token_url": None,
        "client_id": None,
        "scope": None,
        "client_secret_present": False,
    }
    outbound = api.get(f"/api/oscp-configurations/{configured['id']}/outbound").json()
    (reply,) = [p for p in outbound["items"] if p["message_type"] == "Register"]
    assert reply["correlation_id"] == headers["X-Request-ID"]
    assert reply["body"]["token"] == "•••"
