"""Load-balancing pages over real HTTP: the circuit page, the Cycles tab, a cycle's detail."""

from __future__ import annotations

import re

import httpx
import pytest

from depotgrid.manage.legacy import service
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from tests.conftest import Accounts
from tests.depotgrid.manage.api.balancing_helpers import (
    microgrid_id,
    plug_in,
    post_reading,
    rebalance,
)
from tests.depotgrid.manage.api.helpers import create_charger, create_circuit, create_depot
from tests.depotgrid.manage.web.ui_client import UiClient


@pytest.fixture
def site(api: httpx.Client) -> dict[str, str]:
    depot = create_depot(api, "Leeds North", "Europe/London")
    grid = create_circuit(
        api, depot["id"], "Grid connection", rating=100, safe_default_capacity_kw=40
    )
    row = create_circuit(api, depot["id"], "Row A", parent=grid["id"], rating=60)
    charger = create_charger(api, depot["id"], row["id"], "Bay 1", min_power_kw=6)
    plug_in(api, charger["id"])
    return {
        "depot_id": depot["id"],
        "grid_id": grid["id"],
        "row_id": row["id"],
        "charger_id": charger["id"],
        "microgrid_id": microgrid_id(api, depot["id"]),
    }


def test_the_circuit_tree_links_each_circuit_to_its_page(
    viewer_ui: UiClient, site: dict[str, str]
) -> None:
    page = viewer_ui.get(f"/depots/{site['depot_id']}")
    assert f'href="/circuits/{site["row_id"]}"' in page.text


def test_the_circuit_page_shows_capacity_its_source_and_the_latest_allocations(
    viewer_ui: UiClient, api: httpx.Client, site: dict[str, str]
) -> None:
    api.patch(
        f"/api/circuits/{site['row_id']}",
        json={"available_capacity_kw": 30},
    )
    page = viewer_ui.get(f"/circuits/{site['row_id']}")
    assert page.status_code == 200
    text = page.text
    assert "Effective available capacity" in text
    assert "30.0 kW" in text
    assert "comes from an operator&#39;s setting" in text
    assert 'data-code="NODE_HARD_CAP"' in text
    assert "Bay 1" in text
    assert f'data-code="ANCESTOR_SATURATED:{site["row_id"]}"' in text
    assert "ANCESTOR_SATURATED: Row A" in text, "reason codes name the circuit, not its id"
    assert 'title="Its fair share is set by Row A, which is full."' in text
    assert "UNMETERED" in text
    assert "no reading yet" in text


def test_the_circuit_page_shows_envelope_as_the_source(
    viewer_ui: UiClient, uows: UnitOfWorkFactory, site: dict[str, str]
) -> None:
    with uows.write() as uow:
        service.update_circuit(
            uow,
            "envelope",
            site["grid_id"],
            {"available_capacity_kw": 25.0, "available_capacity_source": "ENVELOPE"},
        )
        uow.commit()
    text = viewer_ui.get(f"/circuits/{site['grid_id']}").text
    assert "comes from an operating envelope" in text
    assert 'data-code="ENVELOPE_LIMIT"' in text


def test_the_circuit_page_shows_meter_freshness_and_readings(
    viewer_ui: UiClient, api: httpx.Client, site: dict[str, str]
) -> None:
    post_reading(api, site["row_id"], 12.3)
    text = viewer_ui.get(f"/circuits/{site['row_id']}").text
    assert "fresh" in text and "12.3 kW" in text
    assert 'data-mode="MEASURED"' in text and "badge-green" in text
    assert "GMT" in text or "BST" in text, "times are in the depot's zone, with the zone shown"


def test_an_htmx_refresh_returns_only_the_live_part(
    viewer_ui: UiClient, site: dict[str, str]
) -> None:
    fragment = viewer_ui.get(f"/circuits/{site['row_id']}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert 'id="circuit-live"' in fragment.text and 'hx-trigger="every 10s"' in fragment.text


def test_an_unknown_circuit_page_is_a_404_page(viewer_ui: UiClient) -> None:
    page = viewer_ui.get("/circuits/00000000-0000-0000-0000-000000000000")
    assert page.status_code == 404
    assert "This circuit does not exist" in page.text


def test_the_cycles_tab_lists_cycles_with_time_trigger_mode_and_total(
    viewer_ui: UiClient, api: httpx.Client, site: dict[str, str]
) -> None:
    result = rebalance(api, site["microgrid_id"])
    page = viewer_ui.get(f"/depots/{site['depot_id']}/cycles")
    assert page.status_code == 200
    text = page.text
    assert 'aria-current="page">Cycles' in text
    assert f'href="/depots/{site["depot_id"]}/cycles/{result["cycle_id"]}"' in text
    assert f"#{result['sequence']}" in text
    assert "manual" in text and "Europe/London" in text
    assert "50.0 kW" in text
    assert "Rebalance now" not in text, "a viewer may not rebalance"


def test_the_cycles_tab_pages(viewer_ui: UiClient, api: httpx.Client, site: dict[str, str]) -> None:
    for _ in range(3):
        rebalance(api, site["microgrid_id"])
    first = viewer_ui.get(f"/depots/{site['depot_id']}/cycles", params={"limit": "2"})
    assert re.search(r"Showing 1\u20132 of \d+ cycles", first.text)
    assert "offset=2&amp;limit=2" in first.text


def test_the_cycle_detail_shows_caps_telemetry_setpoints_and_breaches(
    viewer_ui: UiClient, api: httpx.Client, site: dict[str, str]
) -> None:
    result = rebalance(api, site["microgrid_id"])
    page = viewer_ui.get(f"/depots/{site['depot_id']}/cycles/{result['cycle_id']}")
    assert page.status_code == 200
    text = page.text
    for heading in ("Telemetry", "Effective caps", "Setpoints", "Breaches"):
        assert f">{heading}</h2>" in text
    assert "stale after 60 s" in text
    assert 'data-code="PHYSICAL_RATING"' in text
    assert "No breaches" in text


def test_a_cycle_of_another_depot_is_a_404_page(
    viewer_ui: UiClient, api: httpx.Client, site: dict[str, str]
) -> None:
    other = create_depot(api, "Other")
    create_circuit(api, other["id"], "Other grid")
    theirs = rebalance(api, microgrid_id(api, other["id"]))
    page = viewer_ui.get(f"/depots/{site['depot_id']}/cycles/{theirs['cycle_id']}")
    assert page.status_code == 404


def test_an_operator_rebalances_from_the_cycles_tab(
    server_url: str, accounts: Accounts, site: dict[str, str]
) -> None:
    with UiClient(server_url) as ui:
        ui.login(accounts.make("operator"))
        page = ui.get(f"/depots/{site['depot_id']}/cycles")
        assert "Rebalance now" in page.text
        done = ui.follow(ui.post(f"/depots/{site['depot_id']}/rebalance", {}))
        assert re.search(r"Cycle #\d+ ran: 50.0 kW allocated", done.text)


def test_a_viewer_may_not_rebalance_from_the_ui(viewer_ui: UiClient, site: dict[str, str]) -> None:
    viewer_ui.get(f"/depots/{site['depot_id']}/cycles")
    refused = viewer_ui.post(f"/depots/{site['depot_id']}/rebalance", {})
    assert refused.status_code == 403
