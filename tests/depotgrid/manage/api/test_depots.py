import httpx

from tests.depotgrid.manage.api.helpers import create_circuit, create_depot, errors_by_field


def test_created_depot_reads_back(api: httpx.Client) -> None:
    depot = create_depot(api, "North Depot", "Australia/Sydney")
    fetched = api.get(f"/api/depots/{depot['id']}").json()
    assert fetched == depot
    assert fetched["timezone"] == "Australia/Sydney"
    assert fetched["version"] == 1


def test_unknown_timezone_is_rejected_with_422_naming_timezone(api: httpx.Client) -> None:
    response = api.post("/api/depots", json={"name": "X", "timezone": "Mars/Olympus"})
    assert response.status_code == 422
    assert "Mars/Olympus" in errors_by_field(response)["timezone"]
    assert api.get("/api/depots").json()["total"] == 0


def test_missing_and_unknown_fields_are_each_named(api: httpx.Client) -> None:
    response = api.post("/api/depots", json={"timezone": "UTC", "colour": "red"})
    assert response.status_code == 422
    assert errors_by_field(response) == {"name": "is required", "colour": "is not a known field"}


def test_blank_name_is_rejected(api: httpx.Client) -> None:
    response = api.post("/api/depots", json={"name": "   ", "timezone": "UTC"})
    assert response.status_code == 422
    assert errors_by_field(response)["name"] == "must not be empty"


def test_malformed_json_is_422(api: httpx.Client) -> None:
    response = api.post(
        "/api/depots", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"]


def test_unknown_depot_is_404(api: httpx.Client) -> None:
    response = api.get("/api/depots/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert "not found" in response.json()["message"]
    assert api.patch("/api/depots/nope", json={"name": "x"}).status_code == 404
    assert api.delete("/api/depots/nope").status_code == 404


def test_patch_changes_only_sent_fields(api: httpx.Client) -> None:
    depot = create_depot(api, "Old", "UTC")
    response = api.patch(f"/api/depots/{depot['id']}", json={"name": "New"})
    assert response.status_code == 200
    assert response.json()["name"] == "New"
    assert response.json()["timezone"] == "UTC"


def test_patch_with_null_name_is_refused_and_changes_nothing(api: httpx.Client) -> None:
    depot = create_depot(api, "Keep", "UTC")
    response = api.patch(f"/api/depots/{depot['id']}", json={"name": None})
    assert response.status_code == 422
    assert errors_by_field(response) == {"name": "must not be null"}
    assert api.get(f"/api/depots/{depot['id']}").json()["name"] == "Keep"


def test_list_is_paginated_and_searchable(api: httpx.Client) -> None:
    for n in range(7):
        create_depot(api, f"Depot {n:02d}", "UTC")
    create_depot(api, "Harbour", "UTC")
    page = api.get("/api/depots", params={"limit": 3, "offset": 3}).json()
    assert page["total"] == 8
    assert [d["name"] for d in page["items"]] == ["Depot 03", "Depot 04", "Depot 05"]
    found = api.get("/api/depots", params={"q": "harb"}).json()
    assert [d["name"] for d in found["items"]] == ["Harbour"]


def test_bad_paging_is_422(api: httpx.Client) -> None:
    response = api.get("/api/depots", params={"limit": 0})
    assert response.status_code == 422
    assert "limit" in errors_by_field(response)


def test_deleting_a_depot_with_circuits_is_409_and_keeps_it(api: httpx.Client) -> None:
    depot = create_depot(api)
    create_circuit(api, depot["id"], "Main board")
    response = api.delete(f"/api/depots/{depot['id']}")
    assert response.status_code == 409
    assert response.json()["code"] == "DEPOT_NOT_EMPTY"
    assert response.json()["details"]["circuits"][0]["name"] == "Main board"
    assert api.get(f"/api/depots/{depot['id']}").status_code == 200


def test_deleted_depot_is_gone_but_its_history_remains(api: httpx.Client) -> None:
    depot = create_depot(api)
    assert api.delete(f"/api/depots/{depot['id']}").status_code == 204
    assert api.get(f"/api/depots/{depot['id']}").status_code == 404
    history = api.get(f"/api/depots/{depot['id']}/history").json()
    assert [e["event_type"] for e in history["items"]] == ["DepotCreated", "DepotDeleted"]


def test_tree_nests_circuits_with_their_chargers(api: httpx.Client) -> None:
    depot = create_depot(api)
    grid = create_circuit(api, depot["id"], "Grid")
    board = create_circuit(api, depot["id"], "Board", parent=grid["id"], rating=200)
    api.post(
        f"/api/depots/{depot['id']}/chargers",
        json={"name": "C1", "circuit_id": board["id"], "ocpp_identity": "C1", "max_power_kw": 50},
    )
    tree = api.get(f"/api/depots/{depot['id']}/tree").json()
    assert [c["name"] for c in tree["circuits"]] == ["Grid"]
    child = tree["circuits"][0]["children"][0]
    assert child["name"] == "Board"
    assert child["depth"] == 1
    assert [c["name"] for c in child["chargers"]] == ["C1"]
    assert tree["counts"] == {"circuits": 2, "chargers": 1, "power_sources": 0, "devices": 0}
