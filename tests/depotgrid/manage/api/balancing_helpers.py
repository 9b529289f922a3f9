"""Builders for load-balancing API tests: microgrid ids, demand, meter readings, cycles."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

_register = itertools.count(1)


def microgrid_id(api: httpx.Client, depot_id: str) -> str:
    response = api.get("/api/microgrids", params={"depot_id": depot_id})
    assert response.status_code == 200, response.text
    return str(response.json()["items"][0]["microgrid_id"])


def plug_in(api: httpx.Client, charger_id: str, requested_kw: float | None = None) -> None:
    body: dict[str, Any] = {"plugged_in": True, "requested_kw": requested_kw}
    response = api.patch(f"/api/chargers/{charger_id}", json=body)
    assert response.status_code == 200, response.text


def post_reading(
    api: httpx.Client, circuit_id: str, power_kw: float, *, seconds_ago: float = 0.0
) -> dict[str, Any]:
    """A reading `seconds_ago` before now; its energy register counts up across the session."""
    body = {
        "timestamp": (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat(),
        "power_kw": power_kw,
        "energy_register_kwh": float(next(_register)),
    }
    response = api.post(f"/api/circuits/{circuit_id}/meter-readings", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def rebalance(api: httpx.Client, microgrid: str) -> dict[str, Any]:
    response = api.post(f"/api/microgrids/{microgrid}/rebalance")
    assert response.status_code == 201, response.text
    return dict(response.json())


def cycle(api: httpx.Client, microgrid: str, cycle_id: str) -> dict[str, Any]:
    response = api.get(f"/api/microgrids/{microgrid}/cycles/{cycle_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def by_id(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}
