"""Small builders for API tests."""

from __future__ import annotations

from typing import Any

import httpx


def create_depot(
    api: httpx.Client, name: str = "North Depot", tz: str = "Europe/London"
) -> dict[str, Any]:
    response = api.post("/api/depots", json={"name": name, "timezone": tz})
    assert response.status_code == 201, response.text
    return dict(response.json())


def create_circuit(
    api: httpx.Client,
    depot_id: str,
    name: str = "Grid",
    *,
    parent: str | None = None,
    rating: float = 500,
    **extra: Any,
) -> dict[str, Any]:
    body = {"name": name, "max_capacity_kw": rating, "parent_circuit_id": parent, **extra}
    response = api.post(f"/api/depots/{depot_id}/circuits", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def create_charger(
    api: httpx.Client, depot_id: str, circuit_id: str, identity: str = "CP-1", **extra: Any
) -> dict[str, Any]:
    body = {
        "name": identity,
        "circuit_id": circuit_id,
        "ocpp_identity": identity,
        "max_power_kw": 50,
        **extra,
    }
    response = api.post(f"/api/depots/{depot_id}/chargers", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def errors_by_field(response: httpx.Response) -> dict[str, str]:
    return {error["field"]: error["reason"] for error in response.json()["errors"]}
