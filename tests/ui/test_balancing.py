"""An operator follows a circuit from the tree to its allocations and a cycle's detail, in a real
browser; the circuit page refreshes itself without reloading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Accounts, client_for
from tests.depotgrid.manage.api.balancing_helpers import plug_in, post_reading
from tests.depotgrid.manage.api.helpers import create_charger, create_circuit, create_depot
from tests.ui.test_depot_tree import log_in

pytestmark = pytest.mark.ui


def test_from_the_tree_to_allocations_and_a_cycle(
    page: Page, accounts: Accounts, server_url: str, artifacts: Path
) -> None:
    manager = accounts.make("manager")
    with client_for(server_url, manager) as api:
        depot = create_depot(api, "Leeds North")
        grid = create_circuit(api, depot["id"], "Grid connection", rating=100)
        row = create_circuit(api, depot["id"], "Row A", parent=grid["id"], rating=40)
        bays = [
            create_charger(api, depot["id"], row["id"], n, min_power_kw=6)
            for n in ("Bay 1", "Bay 2")
        ]
        for bay in bays:
            plug_in(api, bay["id"])
        post_reading(api, grid["id"], 30.0)
    operator = accounts.make("operator")
    log_in(page, operator.email, operator.password)
    page.goto(f"/depots/{depot['id']}")
    page.get_by_role("link", name="Row A").click()
    expect(page.get_by_role("heading", name="Row A", level=1)).to_be_visible()
    allocations = page.locator(f"#setpoint-{bays[0]['id']}")
    expect(allocations).to_contain_text("20.0 kW")
    reason = allocations.locator("[data-code^='ANCESTOR_SATURATED']")
    expect(reason).to_have_text("ANCESTOR_SATURATED: Row A")
    expect(reason).to_have_attribute("title", "Its fair share is set by Row A, which is full.")
    page.screenshot(path=artifacts / "20-circuit-page.png", full_page=True)

    with client_for(server_url, manager) as api:
        api.patch(f"/api/circuits/{row['id']}", json={"available_capacity_kw": 30})
    page.evaluate("window.scrollTo(0, 400)")
    expect(page.locator("#effective-capacity")).to_contain_text("30.0 kW", timeout=15_000)
    assert page.evaluate("window.scrollY") > 0, "the refresh keeps the scroll position"

    page.get_by_role("link", name="All cycles").click()
    expect(page.get_by_role("link", name="Cycles", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    page.get_by_role("button", name="Rebalance now").click()
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Cycle #\d+ ran: 30.0 kW"))
    expect(page.get_by_role("heading", name="Effective caps")).to_be_visible()
    page.screenshot(path=artifacts / "21-cycle-detail.png", full_page=True)
