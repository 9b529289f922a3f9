"""Story: Telemetry Fallback Visibility Under Degradation (controlled degraded-telemetry scenario).

Fresh telemetry shows source_mode=MEASURED; missing or stale shows FALLBACK_DERIVED with the
inputs and thresholds used; when fallback can't be satisfied the cycle fails safe with a
deterministic reason code. Each is checked on the API and on the cycle's page.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Accounts
from tests.depotgrid.manage.api.balancing_helpers import (
    by_id,
    microgrid_id,
    plug_in,
    post_reading,
    rebalance,
)
from tests.depotgrid.manage.api.helpers import create_charger, create_circuit, create_depot
from tests.depotgrid.manage.web.ui_client import UiClient


@pytest.fixture
def site(api: httpx.Client) -> dict[str, str]:
    """Grid 200 kW (safe default 60 kW) > Row A 120 kW, Row B 120 kW; one charger on each row."""
    depot = create_depot(api)
    grid = create_circuit(api, depot["id"], "Grid", rating=200, safe_default_capacity_kw=60)
    row_a = create_circuit(api, depot["id"], "Row A", parent=grid["id"], rating=120)
    row_b = create_circuit(api, depot["id"], "Row B", parent=grid["id"], rating=120)
    for row, name in ((row_a, "CP-A"), (row_b, "CP-B")):
        plug_in(api, create_charger(api, depot["id"], row["id"], name)["id"])
    return {
        "depot_id": depot["id"],
        "grid_id": grid["id"],
        "row_a": row_a["id"],
        "row_b": row_b["id"],
        "microgrid_id": microgrid_id(api, depot["id"]),
    }


@pytest.fixture
def viewer(server_url: str, accounts: Accounts) -> Iterator[UiClient]:
    with UiClient(server_url) as ui:
        ui.login(accounts.make("viewer"))
        yield ui


def _page(viewer: UiClient, site: dict[str, str], cycle_id: str) -> str:
    page = viewer.get(f"/depots/{site['depot_id']}/cycles/{cycle_id}")
    assert page.status_code == 200
    return page.text


def test_fresh_telemetry_shows_source_mode_measured(
    api: httpx.Client, site: dict[str, str], viewer: UiClient
) -> None:
    for circuit_id in (site["grid_id"], site["row_a"], site["row_b"]):
        post_reading(api, circuit_id, 10.0)
    result = rebalance(api, site["microgrid_id"])
    assert result["source_mode"] == "MEASURED"
    assert result["telemetry"]["source_mode"] == "MEASURED"
    modes = {c["circuit_id"]: c["telemetry"]["mode"] for c in result["circuits"]}
    assert set(modes.values()) == {"MEASURED"}
    text = _page(viewer, site, result["cycle_id"])
    assert (
        'source_mode</span> <span class="badge badge-green" data-mode="MEASURED">MEASURED' in text
    )


def test_stale_telemetry_shows_fallback_derived_with_its_inputs_and_thresholds(
    api: httpx.Client, site: dict[str, str], viewer: UiClient
) -> None:
    post_reading(api, site["grid_id"], 50.0, seconds_ago=300)
    post_reading(api, site["row_a"], 30.0)
    post_reading(api, site["row_b"], 20.0)
    result = rebalance(api, site["microgrid_id"])
    assert (result["source_mode"], result["fail_safe"]) == ("FALLBACK_DERIVED", False)
    grid = by_id(result["circuits"], "circuit_id")[site["grid_id"]]
    t = grid["telemetry"]
    assert t["mode"] == "FALLBACK_DERIVED" and t["reason"] == "FALLBACK_DERIVED_TELEMETRY"
    assert t["stale_after_seconds"] == 60 and t["margin_fraction"] == 0.1
    assert t["reading_age_seconds"] > 60 and t["latest_power_kw"] == 50.0
    assert {c["circuit_id"]: c["load_kw"] for c in t["children"]} == {
        site["row_a"]: pytest.approx(30.0, abs=50),
        site["row_b"]: pytest.approx(20.0, abs=50),
    }
    assert t["derived_load_kw"] is not None and t["floor_kw"] is not None
    assert grid["reasons"][0] == "FALLBACK_DERIVED_TELEMETRY"
    assert grid["cap_kw"] == 200.0, "derived telemetry keeps the cap; it changes the headroom"
    text = _page(viewer, site, result["cycle_id"])
    assert 'data-mode="FALLBACK_DERIVED"' in text and "badge-yellow" in text
    assert "stale after 60 s" in text and "derived margin 10 %" in text
    assert "Row A" in text and "+ 10 % margin" in text


def test_a_missing_meter_under_a_stale_one_is_not_derivable_and_fails_safe(
    api: httpx.Client, site: dict[str, str], viewer: UiClient
) -> None:
    """Row B has never had a reading: the grid's stale meter can't be derived; it fails safe."""
    post_reading(api, site["grid_id"], 50.0, seconds_ago=300)
    post_reading(api, site["row_a"], 30.0)
    result = rebalance(api, site["microgrid_id"])
    assert (result["source_mode"], result["fail_safe"]) == ("FALLBACK_DERIVED", True)
    grid = by_id(result["circuits"], "circuit_id")[site["grid_id"]]
    assert grid["telemetry"]["mode"] == "FAIL_SAFE"
    assert grid["telemetry"]["untrusted_children"] == [site["row_b"]]
    assert grid["reasons"] == ["FAIL_SAFE_DEFAULT:METER_STALE"]
    assert grid["cap_kw"] == 60.0
    assert result["total_allocated_kw"] <= 60.0
    for point in result["setpoints"]:
        assert point["reasons"][0] == "FAIL_SAFE_DEFAULT:METER_STALE"
    again = rebalance(api, site["microgrid_id"])
    assert by_id(again["circuits"], "circuit_id")[site["grid_id"]]["reasons"] == grid["reasons"]
    assert [p["reasons"][0] for p in again["setpoints"]] == ["FAIL_SAFE_DEFAULT:METER_STALE"] * 2
    text = _page(viewer, site, result["cycle_id"])
    assert 'data-code="FAIL_SAFE_DEFAULT:METER_STALE"' in text
    assert "fail-safe" in text and "not derivable" in text and "Row B" in text


def test_a_leaf_meter_going_stale_fails_safe_on_the_circuit_page_too(
    api: httpx.Client, site: dict[str, str], viewer: UiClient
) -> None:
    post_reading(api, site["row_a"], 30.0, seconds_ago=120)
    rebalance(api, site["microgrid_id"])
    text = viewer.get(f"/circuits/{site['row_a']}").text
    assert 'data-mode="FAIL_SAFE"' in text and "badge-red" in text
    assert "stale" in text and "Cap pinned to the safe default" in text
