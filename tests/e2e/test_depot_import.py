"""A depot described in manage becomes a simulated depot: manage's API output, fetched over HTTP
from the manage process, imports into the sim process as a configuration whose managed scopes
are manage's grid connections, and a run starts on it."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import ManageService, Service


def _seed_depot(api: httpx.Client) -> tuple[str, str, str]:
    depot = api.post("/api/depots", json={"name": "E2E Depot", "timezone": "UTC"})
    assert depot.status_code == 201, depot.text
    depot_id = depot.json()["id"]
    grid = api.post(
        f"/api/depots/{depot_id}/circuits",
        json={"name": "Grid", "max_capacity_kw": 400, "safe_default_capacity_kw": 100},
    )
    assert grid.status_code == 201, grid.text
    board = api.post(
        f"/api/depots/{depot_id}/circuits",
        json={"name": "Board A", "max_capacity_kw": 200, "parent_circuit_id": grid.json()["id"]},
    )
    assert board.status_code == 201, board.text
    return depot_id, grid.json()["id"], board.json()["id"]


def test_manage_depot_tree_imports_into_the_sim_with_manage_scopes(
    manage: ManageService, sim: Service
) -> None:
    with manage.client() as api, httpx.Client(base_url=sim.url, timeout=30) as control:
        depot_id, grid_id, board_id = _seed_depot(api)
        tree = api.get(f"/api/depots/{depot_id}/tree")
        assert tree.status_code == 200
        microgrid = api.get("/api/microgrids", params={"depot_id": depot_id}).json()["items"][0]
        manage_scopes = api.get(f"/api/microgrids/{microgrid['microgrid_id']}/scopes").json()

        imported = control.post(
            "/simulation-configurations/import/legacy",
            json={"depot": tree.json(), "oscp_group_id": "grp-e2e"},
        )
        assert imported.status_code == 201, imported.text
        nodes = {n["id"]: n for n in imported.json()["topology"]["nodes"]}
        assert nodes[grid_id]["kind"] == "GRID_CONNECTION"
        assert nodes[grid_id]["rating_kw"] == 400
        assert nodes[board_id]["parent_id"] == grid_id
        scoped_nodes = {s["node_id"] for s in imported.json()["managed_scopes"]}
        assert scoped_nodes == {s["circuit_id"] for s in manage_scopes["items"]}

        run = control.post(
            "/simulation-runs",
            json={"configuration_id": imported.json()["id"], "configuration_version": 1},
        )
        assert run.status_code == 201, run.text
        started = control.post(f"/simulation-runs/{run.json()['id']}/commands/start")
        assert started.status_code == 200, started.text
        assert control.get(f"/simulation-runs/{run.json()['id']}").json()["state"] == "running"
