"""Every create, update and delete of the depot model appears in the depot's history."""

import httpx

from tests.conftest import Accounts, client_for


def test_history_lists_every_change_with_its_actor_in_order(
    server_url: str, accounts: Accounts
) -> None:
    alice, bob = (
        accounts.make("manager", "alice@example.com"),
        accounts.make("system-admin", "bob@example.com"),
    )
    with client_for(server_url, alice) as a, client_for(server_url, bob) as b:
        depot = a.post("/api/depots", json={"name": "D", "timezone": "UTC"}).json()
        base = f"/api/depots/{depot['id']}"
        b.patch(base, json={"name": "D2"})
        circuit = a.post(f"{base}/circuits", json={"name": "G", "max_capacity_kw": 100}).json()
        b.patch(f"/api/circuits/{circuit['id']}", json={"available_capacity_kw": 60})
        made = {
            "chargers": {
                "name": "C",
                "circuit_id": circuit["id"],
                "ocpp_identity": "H1",
                "max_power_kw": 22,
            },
            "power-sources": {"kind": "BATTERY", "rated_power_kw": 5},
            "devices": {"name": "Gw"},
        }
        patches = {
            "chargers": {"name": "C2"},
            "power-sources": {"rated_power_kw": 6},
            "devices": {"name": "Gw2"},
        }
        for plural, body in made.items():
            item = a.post(f"{base}/{plural}", json=body).json()
            b.patch(f"/api/{plural}/{item['id']}", json=patches[plural])
            a.delete(f"/api/{plural}/{item['id']}")
        b.delete(f"/api/circuits/{circuit['id']}")
        a.delete(base)
        history = b.get(f"{base}/history", params={"limit": 200}).json()

    expected = [
        ("DepotCreated", "alice"),
        ("DepotUpdated", "bob"),
        ("CircuitCreated", "alice"),
        ("CircuitUpdated", "bob"),
        ("ChargerCreated", "alice"),
        ("ChargerUpdated", "bob"),
        ("ChargerDeleted", "alice"),
        ("PowerSourceCreated", "alice"),
        ("PowerSourceUpdated", "bob"),
        ("PowerSourceDeleted", "alice"),
        ("DeviceCreated", "alice"),
        ("DeviceUpdated", "bob"),
        ("DeviceDeleted", "alice"),
        ("CircuitDeleted", "bob"),
        ("DepotDeleted", "alice"),
    ]
    got = [(e["event_type"], e["actor"].split("@")[0]) for e in history["items"]]
    assert got == expected
    assert [e["stream_version"] for e in history["items"]] == list(range(1, 16))
    assert history["total"] == 15
    times = [e["recorded_at"] for e in history["items"]]
    assert times == sorted(times)


def test_update_event_records_what_changed(api: httpx.Client) -> None:
    depot = api.post("/api/depots", json={"name": "Before", "timezone": "UTC"}).json()
    api.patch(f"/api/depots/{depot['id']}", json={"name": "After", "timezone": "UTC"})
    updated = api.get(f"/api/depots/{depot['id']}/history").json()["items"][1]
    assert updated["data"]["changes"] == {"name": {"from": "Before", "to": "After"}}
    assert updated["data"]["state"]["name"] == "After"


def test_refused_change_leaves_no_event(api: httpx.Client) -> None:
    depot = api.post("/api/depots", json={"name": "D", "timezone": "UTC"}).json()
    api.patch(f"/api/depots/{depot['id']}", json={"timezone": "Nowhere/Land"})
    history = api.get(f"/api/depots/{depot['id']}/history").json()
    assert [e["event_type"] for e in history["items"]] == ["DepotCreated"]


def test_history_is_paginated(api: httpx.Client) -> None:
    depot = api.post("/api/depots", json={"name": "D0", "timezone": "UTC"}).json()
    for n in range(1, 6):
        api.patch(f"/api/depots/{depot['id']}", json={"name": f"D{n}"})
    page = api.get(f"/api/depots/{depot['id']}/history", params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 6
    assert [e["stream_version"] for e in page["items"]] == [3, 4]


def test_history_of_unknown_depot_is_404(api: httpx.Client) -> None:
    assert api.get("/api/depots/nope/history").status_code == 404
