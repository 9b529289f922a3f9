"""COR-8's System Admin Microgrid tab over real HTTP: structure from the grid connections down,
the failure reason without a microgrid, drift, and the Resync action."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import update

from depotgrid.manage.microgrid.tables import microgrid_nodes
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from tests.conftest import Accounts
from tests.depotgrid.manage.api.helpers import create_circuit, create_depot
from tests.depotgrid.manage.web.ui_client import UiClient


@pytest.fixture
def admin_ui(server_url: str, accounts: Accounts) -> Iterator[UiClient]:
    with UiClient(server_url) as ui:
        assert ui.login(accounts.make("system-admin")).status_code == 303
        yield ui


def microgrid_of(api: httpx.Client, depot_id: str) -> dict[str, object]:
    items = api.get("/api/microgrids", params={"depot_id": depot_id}).json()["items"]
    return dict(items[0])


def test_cor8_microgrid_tab_renders_from_grid_connections_down(
    admin_ui: UiClient, api: httpx.Client
) -> None:
    depot = create_depot(api, "Leeds North")
    grid = create_circuit(api, depot["id"], "Main intake")
    feeder = create_circuit(api, depot["id"], "Feeder A", parent=grid["id"], rating=200)
    create_circuit(api, depot["id"], "Bay 1", parent=feeder["id"], rating=100)
    microgrid = microgrid_of(api, depot["id"])
    page = admin_ui.get(f"/depots/{depot['id']}/microgrid")
    assert page.status_code == 200
    html = page.text
    assert 'aria-current="page">Microgrid</a>' in html
    assert str(microgrid["microgrid_id"]) in html
    assert re.search(r'id="microgrid-version">1<', html)
    assert "In sync" in html
    tree = html.split('<ul class="tree"', 1)[1]
    assert "(microgrid root)" not in html and ">ROOT<" not in html
    # Outermost items are the grid connections; circuits nest below them, in order.
    assert tree.index("Main intake") < tree.index("Feeder A") < tree.index("Bay 1")
    assert tree.count('data-kind="GRID_CONNECTION"') == 1
    assert tree.count('data-kind="CIRCUIT"') == 2
    assert f'href="/depots/{depot["id"]}#circuit-{grid["id"]}"' in tree
    assert "Grid connection</span>" in tree and "Managed scope" in tree
    assert 'action="/depots/' in html and "/microgrid/resync" in html


def test_cor8_tab_without_microgrid_shows_the_failure_reason(
    admin_ui: UiClient, api: httpx.Client
) -> None:
    depot = create_depot(api, "Empty depot")
    page = admin_ui.get(f"/depots/{depot['id']}/microgrid")
    assert page.status_code == 200
    assert "This depot has no microgrid" in page.text
    assert "Provisioning failed" in page.text
    assert "NO_TOP_LEVEL_CIRCUIT" in page.text
    assert "has no top-level circuit" in page.text
    assert "Try provisioning now" in page.text


def test_cor8_resync_button_repairs_drift_and_says_what_changed(
    admin_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    depot = create_depot(api)
    create_circuit(api, depot["id"], "Grid")
    microgrid = microgrid_of(api, depot["id"])
    (node,) = microgrid["nodes"]  # type: ignore[misc]
    with uows.write() as uow:
        uow.connection.execute(
            update(microgrid_nodes)
            .where(microgrid_nodes.c.id == node["node_id"])
            .values(name="Drifted")
        )
        uow.commit()
    page = admin_ui.get(f"/depots/{depot['id']}/microgrid")
    assert 'badge-yellow">Drift</span>' in page.text
    assert "name Drifted → Grid" in page.text
    response = admin_ui.post(f"/depots/{depot['id']}/microgrid/resync", {})
    assert response.status_code == 303
    after = admin_ui.follow(response)
    assert "Resynced: 0 added, 1 updated, 0 removed; version 1 → 1." in after.text
    assert "In sync" in after.text
    assert microgrid_of(api, depot["id"])["nodes"][0]["name"] == "Grid"  # type: ignore[index]
    again = admin_ui.follow(admin_ui.post(f"/depots/{depot['id']}/microgrid/resync", {}))
    assert "Already in sync with the circuits; nothing changed (version 1)." in again.text


def test_resync_without_a_top_level_circuit_flashes_the_reason(
    admin_ui: UiClient, api: httpx.Client
) -> None:
    depot = create_depot(api)
    admin_ui.get(f"/depots/{depot['id']}/microgrid")
    page = admin_ui.follow(admin_ui.post(f"/depots/{depot['id']}/microgrid/resync", {}))
    assert "No microgrid was provisioned: the depot has no top-level circuit" in page.text


def test_resync_without_csrf_token_changes_nothing(admin_ui: UiClient, api: httpx.Client) -> None:
    depot = create_depot(api)
    admin_ui.get(f"/depots/{depot['id']}/microgrid")
    response = admin_ui.post(f"/depots/{depot['id']}/microgrid/resync", {}, csrf="")
    assert response.status_code == 403


def test_the_tab_is_for_system_admins_only(
    manager_ui: UiClient, viewer_ui: UiClient, api: httpx.Client
) -> None:
    depot = create_depot(api)
    create_circuit(api, depot["id"], "Grid")
    for ui in (manager_ui, viewer_ui):
        overview = ui.get(f"/depots/{depot['id']}")
        assert f'href="/depots/{depot["id"]}/microgrid"' not in overview.text
        refused = ui.get(f"/depots/{depot['id']}/microgrid")
        assert refused.status_code == 403
        assert "system administrators" in refused.text
        assert ui.post(f"/depots/{depot['id']}/microgrid/resync", {}).status_code == 403


def test_the_overview_links_the_tab_for_a_system_admin(
    admin_ui: UiClient, api: httpx.Client
) -> None:
    depot = create_depot(api)
    overview = admin_ui.get(f"/depots/{depot['id']}")
    assert f'href="/depots/{depot["id"]}/microgrid"' in overview.text


def test_the_tab_of_an_unknown_depot_is_404(admin_ui: UiClient) -> None:
    assert admin_ui.get("/depots/nope/microgrid").status_code == 404
