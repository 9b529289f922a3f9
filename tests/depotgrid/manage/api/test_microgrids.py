"""COR-8 over real HTTP: the canonical microgrid per depot, kept in sync with the circuit tree,
found by depot_id, resynced by a system admin, and its managed scopes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, insert, update

from depotgrid.manage.microgrid.tables import microgrid_nodes
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from tests.conftest import Accounts, client_for
from tests.depotgrid.manage.api.helpers import create_circuit, create_depot


@pytest.fixture
def admin(server_url: str, accounts: Accounts) -> Iterator[httpx.Client]:
    with client_for(server_url, accounts.make("system-admin")) as client:
        yield client


def microgrid_of(api: httpx.Client, depot_id: str) -> dict[str, Any]:
    response = api.get("/api/microgrids", params={"depot_id": depot_id})
    assert response.status_code == 200, response.text
    (item,) = response.json()["items"]
    return dict(item)


def shape(nodes: list[dict[str, Any]]) -> list[Any]:
    """(kind, name, children) of a node tree, to compare structures."""
    return [(n["kind"], n["name"], shape(n["children"])) for n in nodes]


def test_cor8_new_depot_has_no_microgrid_and_says_why(api: httpx.Client) -> None:
    depot = create_depot(api)
    response = api.get("/api/microgrids", params={"depot_id": depot["id"]})
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "MICROGRID_NOT_PROVISIONED"
    assert body["details"]["reason_code"] == "NO_TOP_LEVEL_CIRCUIT"
    assert body["details"]["provisioning"] == "FAILED"
    assert "top-level circuit" in body["message"]


def test_cor8_depot_creation_flow_provisions_one_microgrid(api: httpx.Client) -> None:
    depot = create_depot(api)
    grid = create_circuit(api, depot["id"], "Grid")
    microgrid = microgrid_of(api, depot["id"])
    assert microgrid["depot_id"] == depot["id"]
    assert microgrid["version"] == 1 and microgrid["status"] == "ACTIVE"
    assert [(n["kind"], n["circuit_id"]) for n in microgrid["nodes"]] == [
        ("GRID_CONNECTION", grid["id"])
    ]
    listed = api.get("/api/microgrids").json()
    assert [m["depot_id"] for m in listed["items"]] == [depot["id"]] and listed["total"] == 1


def test_cor8_lookup_by_depot_id_exposes_the_canonical_microgrid_id(api: httpx.Client) -> None:
    depot = create_depot(api)
    grid = create_circuit(api, depot["id"], "Grid")
    create_circuit(api, depot["id"], "Feeder", parent=grid["id"], rating=100)
    found = microgrid_of(api, depot["id"])
    assert found["microgrid_id"] not in (depot["id"], grid["id"])
    by_id = api.get(f"/api/microgrids/{found['microgrid_id']}")
    assert by_id.status_code == 200
    assert by_id.json() == found
    assert shape(found["nodes"]) == [("GRID_CONNECTION", "Grid", [("CIRCUIT", "Feeder", [])])]


def test_cor8_new_top_level_circuit_adds_a_grid_connection_node(api: httpx.Client) -> None:
    depot = create_depot(api)
    create_circuit(api, depot["id"], "Grid A")
    second = create_circuit(api, depot["id"], "Grid B")
    microgrid = microgrid_of(api, depot["id"])
    assert [n["name"] for n in microgrid["nodes"]] == ["Grid A", "Grid B"]
    assert microgrid["nodes"][1]["circuit_id"] == second["id"]
    assert microgrid["version"] == 2


def test_cor8_reparenting_to_and_from_top_level_reconciles_grid_connections(
    api: httpx.Client,
) -> None:
    depot = create_depot(api)
    a = create_circuit(api, depot["id"], "Grid A")
    b = create_circuit(api, depot["id"], "Grid B")
    before = microgrid_of(api, depot["id"])
    b_node = before["nodes"][1]["node_id"]
    assert api.patch(f"/api/circuits/{b['id']}", json={"parent_circuit_id": a["id"]}).is_success
    under = microgrid_of(api, depot["id"])
    assert shape(under["nodes"]) == [("GRID_CONNECTION", "Grid A", [("CIRCUIT", "Grid B", [])])]
    assert under["nodes"][0]["children"][0]["node_id"] == b_node
    assert under["version"] == before["version"] + 1
    assert api.patch(f"/api/circuits/{b['id']}", json={"parent_circuit_id": None}).is_success
    back = microgrid_of(api, depot["id"])
    assert shape(back["nodes"]) == [
        ("GRID_CONNECTION", "Grid A", []),
        ("GRID_CONNECTION", "Grid B", []),
    ]
    assert back["nodes"][1]["node_id"] == b_node
    assert back["version"] == under["version"] + 1


def test_cor8_deleting_a_top_level_circuit_removes_its_grid_connection(
    api: httpx.Client,
) -> None:
    depot = create_depot(api)
    create_circuit(api, depot["id"], "Grid A")
    b = create_circuit(api, depot["id"], "Grid B")
    assert api.delete(f"/api/circuits/{b['id']}").status_code == 204
    microgrid = microgrid_of(api, depot["id"])
    assert [n["name"] for n in microgrid["nodes"]] == ["Grid A"]
    assert microgrid["version"] == 3


def test_cor8_renaming_a_top_level_circuit_is_reflected_without_a_version_change(
    api: httpx.Client,
) -> None:
    depot = create_depot(api)
    grid = create_circuit(api, depot["id"], "Grid")
    before = microgrid_of(api, depot["id"])
    assert api.patch(f"/api/circuits/{grid['id']}", json={"name": "Main intake"}).is_success
    after = microgrid_of(api, depot["id"])
    assert after["nodes"][0]["name"] == "Main intake"
    assert after["nodes"][0]["node_id"] == before["nodes"][0]["node_id"]
    assert after["version"] == before["version"]


def test_cor8_sync_is_idempotent_and_only_order_or_set_changes_bump_version(
    api: httpx.Client, admin: httpx.Client
) -> None:
    depot = create_depot(api)
    a = create_circuit(api, depot["id"], "Grid A")
    b = create_circuit(api, depot["id"], "Grid B")
    feeder = create_circuit(api, depot["id"], "Feeder", parent=a["id"], rating=100)
    version = microgrid_of(api, depot["id"])["version"]
    api.patch(f"/api/circuits/{a['id']}", json={"available_capacity_kw": 250})
    api.patch(f"/api/circuits/{feeder['id']}", json={"name": "Feeder 1"})
    microgrid = microgrid_of(api, depot["id"])
    assert microgrid["version"] == version
    for _ in range(2):
        resync = admin.post(f"/api/microgrids/{microgrid['microgrid_id']}/resync")
        assert resync.status_code == 200
        assert resync.json()["changed"] is False
        assert resync.json()["version"] == version
    api.patch(f"/api/circuits/{a['id']}", json={"position": 5})
    reordered = microgrid_of(api, depot["id"])
    assert [n["circuit_id"] for n in reordered["nodes"]] == [b["id"], a["id"]]
    assert reordered["version"] == version + 1


def test_cor8_resync_repairs_drift_of_the_persisted_nodes(
    api: httpx.Client, admin: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    depot = create_depot(api)
    a = create_circuit(api, depot["id"], "Grid A")
    b = create_circuit(api, depot["id"], "Grid B")
    create_circuit(api, depot["id"], "Feeder", parent=a["id"], rating=100)
    healthy = microgrid_of(api, depot["id"])
    mg_id = healthy["microgrid_id"]
    a_node, b_node = (n["node_id"] for n in healthy["nodes"])
    feeder_node = healthy["nodes"][0]["children"][0]["node_id"]
    root_id = _root_id(uows, mg_id)
    with uows.write() as uow:
        conn = uow.connection
        conn.execute(delete(microgrid_nodes).where(microgrid_nodes.c.id == b_node))
        conn.execute(
            update(microgrid_nodes).where(microgrid_nodes.c.id == a_node).values(name="Stale")
        )
        conn.execute(
            update(microgrid_nodes)
            .where(microgrid_nodes.c.id == feeder_node)
            .values(parent_node_id=root_id, kind="GRID_CONNECTION")
        )
        conn.execute(
            insert(microgrid_nodes).values(
                id="stray-node",
                microgrid_id=mg_id,
                parent_node_id=root_id,
                kind="GRID_CONNECTION",
                circuit_id="gone-circuit",
                name="Ghost",
                position=9,
            )
        )
        uow.commit()
    drifted = api.get(f"/api/microgrids/{mg_id}").json()
    assert {n["name"] for n in drifted["nodes"]} == {"Stale", "Feeder", "Ghost"}
    response = admin.post(f"/api/microgrids/{mg_id}/resync")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["changed"] is True
    assert [n["circuit_id"] for n in body["added"]] == [b["id"]]
    assert {n["node_id"] for n in body["updated"]} == {a_node, feeder_node}
    assert [n["node_id"] for n in body["removed"]] == ["stray-node"]
    assert (body["old_version"], body["version"]) == (healthy["version"], healthy["version"] + 1)
    repaired = api.get(f"/api/microgrids/{mg_id}").json()
    assert shape(repaired["nodes"]) == shape(healthy["nodes"])
    assert repaired["nodes"][0]["node_id"] == a_node
    assert repaired["nodes"][0]["circuit_id"] == a["id"]
    again = admin.post(f"/api/microgrids/{mg_id}/resync").json()
    assert again["changed"] is False


def _root_id(uows: UnitOfWorkFactory, microgrid_id: str) -> str:
    from depotgrid.manage.microgrid import service

    with uows.read() as uow:
        (root,) = [n for n in service.nodes(uow, microgrid_id) if n.kind.value == "ROOT"]
    return root.id


def test_scopes_list_grid_connections_with_their_circuits(api: httpx.Client) -> None:
    depot = create_depot(api)
    a = create_circuit(api, depot["id"], "Grid A")
    b = create_circuit(api, depot["id"], "Grid B")
    create_circuit(api, depot["id"], "Feeder", parent=a["id"], rating=100)
    microgrid = microgrid_of(api, depot["id"])
    response = api.get(f"/api/microgrids/{microgrid['microgrid_id']}/scopes")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(s["circuit_id"], s["name"]) for s in items] == [
        (a["id"], "Grid A"),
        (b["id"], "Grid B"),
    ]
    assert all(s["scope_id"] == s["node_id"] for s in items)
    assert [s["node_id"] for s in items] == [n["node_id"] for n in microgrid["nodes"]]


def test_unknown_ids_are_404(api: httpx.Client, admin: httpx.Client) -> None:
    for path in ("/api/microgrids/nope", "/api/microgrids/nope/scopes"):
        response = api.get(path)
        assert response.status_code == 404
        assert "microgrid nope not found" in response.json()["message"]
    assert admin.post("/api/microgrids/nope/resync").status_code == 404
    unknown_depot = api.get("/api/microgrids", params={"depot_id": "nope"})
    assert unknown_depot.status_code == 404
    assert "depot nope not found" in unknown_depot.json()["message"]


def test_bad_query_is_422(api: httpx.Client) -> None:
    assert api.get("/api/microgrids", params={"depot_id": "x" * 37}).status_code == 422
    assert api.get("/api/microgrids", params={"limit": 0}).status_code == 422


def test_only_a_system_admin_may_resync(
    api: httpx.Client, server_url: str, accounts: Accounts
) -> None:
    depot = create_depot(api)
    create_circuit(api, depot["id"], "Grid")
    mg_id = microgrid_of(api, depot["id"])["microgrid_id"]
    assert api.post(f"/api/microgrids/{mg_id}/resync").status_code == 403
    with client_for(server_url, accounts.make("viewer")) as viewer:
        refused = viewer.post(f"/api/microgrids/{mg_id}/resync")
        assert refused.status_code == 403
        assert "microgrid:admin" in refused.json()["message"]
        assert viewer.get(f"/api/microgrids/{mg_id}").status_code == 200


def test_a_deleted_depots_microgrid_is_retired_readable_and_not_resyncable(
    api: httpx.Client, admin: httpx.Client
) -> None:
    depot = create_depot(api)
    grid = create_circuit(api, depot["id"], "Grid")
    mg_id = microgrid_of(api, depot["id"])["microgrid_id"]
    assert api.delete(f"/api/circuits/{grid['id']}").status_code == 204
    assert api.delete(f"/api/depots/{depot['id']}").status_code == 204
    retired = api.get(f"/api/microgrids/{mg_id}").json()
    assert retired["status"] == "RETIRED"
    assert api.get(f"/api/microgrids/{mg_id}/scopes").json()["items"] == []
    refused = admin.post(f"/api/microgrids/{mg_id}/resync")
    assert refused.status_code == 409 and refused.json()["code"] == "MICROGRID_RETIRED"
    assert api.get("/api/microgrids").json()["total"] == 0
