"""Rebalancing a microgrid over the API: cycles, their detail, charger demand, permissions."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Accounts, client_for
from tests.depotgrid.manage.api.balancing_helpers import (
    by_id,
    cycle,
    microgrid_id,
    plug_in,
    rebalance,
)
from tests.depotgrid.manage.api.helpers import (
    create_charger,
    create_circuit,
    create_depot,
    errors_by_field,
)

MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def site(api: httpx.Client) -> dict[str, str]:
    """Grid 100 kW > Row A 60 kW > two 50 kW chargers (min 6 kW); both plugged in."""
    depot = create_depot(api)
    grid = create_circuit(api, depot["id"], "Grid", rating=100)
    row = create_circuit(api, depot["id"], "Row A", parent=grid["id"], rating=60)
    one = create_charger(api, depot["id"], row["id"], "CP-1", min_power_kw=6)
    two = create_charger(api, depot["id"], row["id"], "CP-2", min_power_kw=6)
    plug_in(api, one["id"])
    plug_in(api, two["id"])
    return {
        "depot_id": depot["id"],
        "grid_id": grid["id"],
        "row_id": row["id"],
        "one": one["id"],
        "two": two["id"],
        "microgrid_id": microgrid_id(api, depot["id"]),
    }


def test_rebalance_runs_a_manual_cycle_sharing_the_tightest_circuit(
    api: httpx.Client, site: dict[str, str]
) -> None:
    result = rebalance(api, site["microgrid_id"])
    assert result["trigger"] == "MANUAL"
    assert result["microgrid_id"] == site["microgrid_id"]
    assert result["depot_id"] == site["depot_id"]
    assert result["total_allocated_kw"] == 60.0
    points = by_id(result["setpoints"], "charger_id")
    assert points[site["one"]]["kw"] == points[site["two"]]["kw"] == 30.0
    assert points[site["one"]]["reasons"] == [
        "PHYSICAL_RATING",
        f"ANCESTOR_SATURATED:{site['row_id']}",
    ]
    caps = by_id(result["circuits"], "circuit_id")
    assert caps[site["grid_id"]]["cap_kw"] == 100.0
    assert caps[site["grid_id"]]["reasons"] == ["PHYSICAL_RATING"]
    assert result["source_mode"] == "UNMETERED" and result["fail_safe"] is False
    assert len(result["inputs_hash"]) == 64


def test_cycles_are_listed_newest_first_and_open_to_their_detail(
    api: httpx.Client, site: dict[str, str]
) -> None:
    first = rebalance(api, site["microgrid_id"])
    second = rebalance(api, site["microgrid_id"])
    listing = api.get(f"/api/microgrids/{site['microgrid_id']}/cycles", params={"limit": 2}).json()
    assert [c["cycle_id"] for c in listing["items"]] == [second["cycle_id"], first["cycle_id"]]
    assert listing["total"] >= 2
    assert second["sequence"] == first["sequence"] + 1
    detail = cycle(api, site["microgrid_id"], first["cycle_id"])
    assert detail == first


def test_every_change_to_circuits_or_chargers_rebalances_in_the_same_transaction(
    api: httpx.Client, site: dict[str, str]
) -> None:
    before = api.get(f"/api/microgrids/{site['microgrid_id']}/cycles").json()
    changed = api.patch(f"/api/circuits/{site['row_id']}", json={"available_capacity_kw": 20})
    assert changed.status_code == 200
    after = api.get(f"/api/microgrids/{site['microgrid_id']}/cycles").json()
    assert after["total"] == before["total"] + 1
    latest = cycle(api, site["microgrid_id"], after["items"][0]["cycle_id"])
    assert (latest["trigger"], latest["trigger_ref"]) == ("CIRCUIT_CHANGE", site["row_id"])
    assert by_id(latest["circuits"], "circuit_id")[site["row_id"]]["reasons"] == ["NODE_HARD_CAP"]
    assert latest["total_allocated_kw"] == 20.0


def test_charger_demand_is_set_with_patch_and_follows_the_request(
    api: httpx.Client, site: dict[str, str]
) -> None:
    plug_in(api, site["one"], requested_kw=7.0)
    charger = api.get(f"/api/chargers/{site['one']}").json()
    assert (charger["plugged_in"], charger["requested_kw"]) == (True, 7.0)
    latest = api.get(f"/api/microgrids/{site['microgrid_id']}/cycles").json()["items"][0]
    assert (latest["trigger"], latest["trigger_ref"]) == ("CHARGER_CHANGE", site["one"])
    points = by_id(cycle(api, site["microgrid_id"], latest["cycle_id"])["setpoints"], "charger_id")
    assert (points[site["one"]]["kw"], points[site["one"]]["reasons"]) == (7.0, ["EV_DEMAND"])
    assert points[site["two"]]["kw"] == 50.0
    unplugged = api.patch(f"/api/chargers/{site['one']}", json={"plugged_in": False})
    assert unplugged.status_code == 200
    result = rebalance(api, site["microgrid_id"])
    point = by_id(result["setpoints"], "charger_id")[site["one"]]
    assert (point["kw"], point["reasons"], point["admitted"]) == (0.0, ["NOT_READY"], False)


def test_a_new_charger_is_not_plugged_in_and_asks_for_nothing(
    api: httpx.Client, site: dict[str, str]
) -> None:
    charger = create_charger(api, site["depot_id"], site["row_id"], "CP-3")
    assert (charger["plugged_in"], charger["requested_kw"]) == (False, None)


def test_requested_kw_can_be_cleared_with_null(api: httpx.Client, site: dict[str, str]) -> None:
    plug_in(api, site["one"], requested_kw=11.0)
    cleared = api.patch(f"/api/chargers/{site['one']}", json={"requested_kw": None})
    assert cleared.status_code == 200 and cleared.json()["requested_kw"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"requested_kw": -1}, "requested_kw"),
        ({"requested_kw": "lots"}, "requested_kw"),
        ({"plugged_in": "perhaps"}, "plugged_in"),
        ({"plugged_in": None}, "plugged_in"),
    ],
)
def test_bad_demand_is_422_naming_the_field(
    api: httpx.Client, site: dict[str, str], body: dict[str, object], field: str
) -> None:
    response = api.patch(f"/api/chargers/{site['one']}", json=body)
    assert response.status_code == 422
    assert field in errors_by_field(response)


def test_unknown_microgrid_or_cycle_is_404(api: httpx.Client, site: dict[str, str]) -> None:
    assert api.post(f"/api/microgrids/{MISSING}/rebalance").status_code == 404
    assert api.get(f"/api/microgrids/{MISSING}/cycles").status_code == 404
    assert api.get(f"/api/microgrids/{site['microgrid_id']}/cycles/{MISSING}").status_code == 404


def test_a_cycle_of_another_microgrid_is_404_under_this_one(
    api: httpx.Client, site: dict[str, str]
) -> None:
    other = create_depot(api, "Other")
    create_circuit(api, other["id"], "Other grid")
    theirs = rebalance(api, microgrid_id(api, other["id"]))
    response = api.get(f"/api/microgrids/{site['microgrid_id']}/cycles/{theirs['cycle_id']}")
    assert response.status_code == 404


def test_a_viewer_reads_cycles_but_may_not_rebalance(
    server_url: str, accounts: Accounts, api: httpx.Client, site: dict[str, str]
) -> None:
    with client_for(server_url, accounts.make("viewer")) as viewer:
        refused = viewer.post(f"/api/microgrids/{site['microgrid_id']}/rebalance")
        assert refused.status_code == 403
        assert "operations:write" in refused.json()["message"]
        assert viewer.get(f"/api/microgrids/{site['microgrid_id']}/cycles").status_code == 200


def test_an_operator_may_rebalance(
    server_url: str, accounts: Accounts, site: dict[str, str]
) -> None:
    with client_for(server_url, accounts.make("operator")) as operator:
        response = operator.post(f"/api/microgrids/{site['microgrid_id']}/rebalance")
        assert response.status_code == 201
        assert response.json()["actor"].startswith("operator-")


def test_bad_paging_of_cycles_is_422_naming_the_parameter(
    api: httpx.Client, site: dict[str, str]
) -> None:
    response = api.get(f"/api/microgrids/{site['microgrid_id']}/cycles", params={"limit": 0})
    assert response.status_code == 422
    assert "limit" in errors_by_field(response)
