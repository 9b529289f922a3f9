"""Walks the role x action matrix in docs/permissions.md against the running API."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from depotgrid.manage.auth.model import ROLE_PERMISSIONS, Role
from tests.conftest import Accounts, client_for

DOC = Path(__file__).resolve().parents[4] / "docs" / "permissions.md"
ROLES = [role.value for role in Role]


def matrix_rows() -> list[tuple[str, str, str, dict[str, bool]]]:
    """(action, method, path template, {role: allowed}) for every row of the matrix table."""
    text = DOC.read_text().split("## Role \N{MULTIPLICATION SIGN} action matrix", 1)[1]
    rows = []
    for line in text.splitlines():
        match = re.match(r"\| ([^|]+) \| `(GET|POST|PATCH|DELETE) ([^`]+)` \|(.+)\|$", line)
        if match:
            action, method, path, cells = match.groups()
            verdicts = [cell.strip() for cell in cells.split("|")]
            rows.append(
                (
                    action.strip(),
                    method,
                    path,
                    dict(zip(ROLES, [v == "yes" for v in verdicts], strict=True)),
                )
            )
    return rows


def test_the_matrix_covers_every_api_route(server_url: str) -> None:
    spec = httpx.get(f"{server_url}/api/openapi.json").json()
    documented = {(method, path) for _, method, path, _ in matrix_rows()}
    served = {
        (method.upper(), re.sub(r"\{[a-z_]+\}", "{}", path))
        for path, operations in spec["paths"].items()
        for method in operations
        if path.startswith("/api/")
    }
    assert {(m, re.sub(r"\{[a-z_]+\}", "{}", p)) for m, p in documented} == served


def test_the_permission_table_matches_the_code() -> None:
    table = DOC.read_text().split("Permissions (", 1)[1].split("## Role", 1)[0]
    for line in table.splitlines():
        match = re.match(r"\| `([a-z:]+)` \|(.+)\|$", line)
        if match:
            permission, cells = match.groups()
            verdicts = [cell.strip() == "yes" for cell in cells.split("|")]
            for role, allowed in zip(ROLES, verdicts, strict=True):
                granted = {p.value for p in ROLE_PERMISSIONS[Role(role)]}
                assert (permission in granted) == allowed, (role, permission)


def _bodies(ids: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {
        "POST /api/microgrids/{microgrid_id}/scopes/{scope_id}/envelopes": _envelope_body(5, 6),
        "POST /api/depots": {"name": "Walked depot", "timezone": "UTC"},
        "PATCH /api/depots/{depot_id}": {"name": "Renamed depot"},
        "POST /api/depots/{depot_id}/circuits": {
            "name": "Board",
            "max_capacity_kw": 50,
            "parent_circuit_id": ids["circuit_id"],
        },
        "PATCH /api/circuits/{circuit_id}": {"available_capacity_kw": 90},
        "POST /api/depots/{depot_id}/chargers": {
            "name": "C2",
            "circuit_id": ids["circuit_id"],
            "ocpp_identity": f"W-{ids['depot_id'][:8]}",
            "max_power_kw": 22,
        },
        "PATCH /api/chargers/{charger_id}": {"max_power_kw": 11},
        "POST /api/depots/{depot_id}/power-sources": {"kind": "SOLAR", "rated_power_kw": 40},
        "PATCH /api/power-sources/{power_source_id}": {"state": "IDLE"},
        "POST /api/depots/{depot_id}/devices": {"name": "Sensor"},
        "PATCH /api/devices/{device_id}": {"site_model_name": "BBA"},
        "POST /api/oscp-configurations": _oscp_body(
            f"walk-{ids['depot_id']}", ids["microgrid_id"], ids["scope_id"]
        ),
        "PATCH /api/oscp-configurations/{configuration_id}": {"name": "Walked"},
        "POST /api/circuits/{circuit_id}/meter-readings": {
            "timestamp": datetime.now(UTC).isoformat(),
            "power_kw": 12.5,
            "energy_register_kwh": 100.0,
        },
    }


def _seed(client: httpx.Client) -> dict[str, str]:
    """A depot holding one of everything, built by a system admin; deletes in the matrix use it."""
    depot = client.post("/api/depots", json={"name": "Matrix depot", "timezone": "UTC"}).json()
    base = f"/api/depots/{depot['id']}"
    circuit = client.post(f"{base}/circuits", json={"name": "Grid", "max_capacity_kw": 100}).json()
    charger = client.post(
        f"{base}/chargers",
        json={
            "name": "C1",
            "circuit_id": circuit["id"],
            "ocpp_identity": f"M-{depot['id'][:8]}",
            "max_power_kw": 22,
        },
    ).json()
    source = client.post(
        f"{base}/power-sources", json={"kind": "BATTERY", "rated_power_kw": 30}
    ).json()
    device = client.post(f"{base}/devices", json={"name": "Gateway"}).json()
    microgrid = client.get("/api/microgrids", params={"depot_id": depot["id"]}).json()
    microgrid_id = microgrid["items"][0]["microgrid_id"]
    (scope,) = client.get(f"/api/microgrids/{microgrid_id}/scopes").json()["items"]
    envelope = client.post(
        f"/api/microgrids/{microgrid_id}/scopes/{scope['scope_id']}/envelopes",
        json=_envelope_body(-1, 1),
    ).json()
    second = client.post(f"{base}/circuits", json={"name": "Intake 2", "max_capacity_kw": 50})
    scopes = client.get(f"/api/microgrids/{microgrid_id}/scopes").json()["items"]
    other = next(s["scope_id"] for s in scopes if s["circuit_id"] == second.json()["id"])
    configuration = client.post(
        "/api/oscp-configurations", json=_oscp_body(f"matrix-{depot['id']}", microgrid_id, other)
    ).json()
    return {
        "depot_id": depot["id"],
        "circuit_id": circuit["id"],
        "charger_id": charger["id"],
        "power_source_id": source["id"],
        "device_id": device["id"],
        "microgrid_id": microgrid["items"][0]["microgrid_id"],
        "cycle_id": _latest_cycle(client, microgrid["items"][0]["microgrid_id"]),
        "scope_id": scope["scope_id"],
        "envelope_id": envelope["id"],
        "configuration_id": configuration["id"],
    }


def _oscp_body(group_id: str, microgrid_id: str, scope_id: str) -> dict[str, Any]:
    return {
        "group_id": group_id,
        "microgrid_id": microgrid_id,
        "managed_scope_id": scope_id,
        "endpoint_base_url": "https://cp.example.com/oscp/cp/2.0",
        "outbound_auth": {"kind": "token", "token": "matrix-token"},
    }


def _envelope_body(start_hours: int, end_hours: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    block = {
        "start": (now + timedelta(hours=start_hours)).isoformat(),
        "end": (now + timedelta(hours=end_hours)).isoformat(),
        "max_import_kw": 50,
    }
    return {"source": {"kind": "MANUAL", "reference": "matrix"}, "blocks": [block]}


def _latest_cycle(client: httpx.Client, microgrid_id: str) -> str:
    cycles = client.get(f"/api/microgrids/{microgrid_id}/cycles", params={"limit": 1}).json()
    return str(cycles["items"][0]["cycle_id"])


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_the_matrix_says(
    role: str, server_url: str, accounts: Accounts
) -> None:
    with client_for(server_url, accounts.make("system-admin")) as admin:
        ids = _seed(admin)
        with client_for(server_url, accounts.make(role)) as client:
            outcomes = _walk(client, role, ids, admin)
    wrong = [o for o in outcomes if not o[2]]
    assert not wrong, wrong


def _walk(
    client: httpx.Client, role: str, ids: dict[str, str], admin: httpx.Client
) -> list[tuple[str, int, bool]]:
    bodies = _bodies(ids)
    outcomes = []
    for action, method, template, allowed in matrix_rows():
        if method == "DELETE" and template == "/api/circuits/{circuit_id}":
            _empty_depot(admin, ids["depot_id"], keep=ids["circuit_id"])
        if method == "DELETE" and template == "/api/depots/{depot_id}":
            _empty_depot(admin, ids["depot_id"])
        response = client.request(
            method, template.format(**ids), json=bodies.get(f"{method} {template}")
        )
        expected_ok = allowed[role]
        ok = response.is_success if expected_ok else response.status_code == 403
        outcomes.append(
            (
                f"{role} {action}: {response.status_code} {response.text[:120]}",
                response.status_code,
                ok,
            )
        )
    return outcomes


def _empty_depot(admin: httpx.Client, depot_id: str, keep: str | None = None) -> None:
    """What the walk created would otherwise block the rows that delete a circuit or the depot."""
    for plural in ("chargers", "power-sources", "devices"):
        for item in admin.get(f"/api/depots/{depot_id}/{plural}").json()["items"]:
            admin.delete(f"/api/{plural}/{item['id']}")
    circuits = admin.get(f"/api/depots/{depot_id}/circuits").json()["items"]
    for circuit in sorted(circuits, key=lambda c: c["parent_circuit_id"] is None):
        if circuit["id"] != keep:
            admin.delete(f"/api/circuits/{circuit['id']}")


def test_no_credentials_is_401_on_every_row(anonymous: httpx.Client) -> None:
    ids = dict.fromkeys(
        (
            "depot_id",
            "circuit_id",
            "charger_id",
            "power_source_id",
            "device_id",
            "microgrid_id",
            "cycle_id",
            "scope_id",
            "envelope_id",
            "configuration_id",
        ),
        "00000000-0000-0000-0000-000000000000",
    )
    for _, method, template, _ in matrix_rows():
        response = anonymous.request(method, template.format(**ids))
        assert response.status_code == 401, (method, template)
        assert response.headers["www-authenticate"] == "Bearer"
