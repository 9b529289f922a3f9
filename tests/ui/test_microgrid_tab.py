"""COR-8 in a real browser: a system admin opens a depot's Microgrid tab, sees the structure from
the grid connections down, and resyncs after drift."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from depotgrid.manage.microgrid.tables import microgrid_nodes
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from tests.conftest import Accounts, client_for
from tests.depotgrid.manage.api.helpers import create_circuit, create_depot
from tests.ui.test_depot_tree import MOBILE, log_in

pytestmark = pytest.mark.ui


def test_admin_sees_the_microgrid_and_repairs_drift(
    page: Page, accounts: Accounts, server_url: str, uows: UnitOfWorkFactory, artifacts: Path
) -> None:
    admin = accounts.make("system-admin")
    with client_for(server_url, admin) as api:
        depot = create_depot(api, "Riverside")
        grid = create_circuit(api, depot["id"], "Main intake", rating=800)
        bay = create_circuit(api, depot["id"], "Bay A board", parent=grid["id"], rating=350)
        create_circuit(api, depot["id"], "Row 1", parent=bay["id"], rating=120)
        create_circuit(api, depot["id"], "Solar intake", rating=200)
        microgrid = httpx_json(api, depot["id"])
    log_in(page, admin.email, admin.password)
    page.goto(f"/depots/{depot['id']}")
    page.get_by_role("link", name="Microgrid", exact=True).click()
    tree = page.get_by_role("list", name="Microgrid of Riverside, from the grid connections down")
    expect(tree).to_be_visible()
    expect(tree.get_by_role("link", name="Main intake")).to_be_visible()
    expect(page.locator("#microgrid-drift")).to_contain_text("In sync")
    page.screenshot(path=artifacts / "microgrid-01-tab.png", full_page=True)

    node_id = microgrid["nodes"][0]["node_id"]
    with uows.write() as uow:
        uow.connection.execute(
            update(microgrid_nodes).where(microgrid_nodes.c.id == node_id).values(name="Stale")
        )
        uow.commit()
    page.reload()
    expect(page.locator("#microgrid-drift")).to_contain_text("Drift")
    page.screenshot(path=artifacts / "microgrid-02-drift.png", full_page=True)
    page.get_by_role("button", name="Resync").click()
    expect(page.get_by_role("status")).to_contain_text("Resynced: 0 added, 1 updated, 0 removed")
    expect(page.locator("#microgrid-drift")).to_contain_text("In sync")
    page.set_viewport_size(MOBILE)
    page.screenshot(path=artifacts / "microgrid-03-mobile.png", full_page=True)


def httpx_json(api: httpx.Client, depot_id: str) -> dict[str, list[dict[str, str]]]:
    response = api.get("/api/microgrids", params={"depot_id": depot_id})
    return dict(response.json()["items"][0])
