"""Story: Deterministic Reason Code Replays.

Visible cycle results order reason codes by the precedence of docs/reason-codes.md; visible
breaches carry one deterministic primary reason; re-running the same scenario gives the same
ordered lists, whatever order things were created or processed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from depotgrid.manage.balancing import service as balancing
from depotgrid.manage.balancing.reasons import NODE_PRECEDENCE, base_code
from depotgrid.manage.legacy import service as legacy
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
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

CHARGERS = [  # name, row, requested kW (None: up to max), plugged in
    ("A1", "Row A", None, True),
    ("A2", "Row A", None, True),
    ("B1", "Row B", 7.0, True),
    ("B2", "Row B", None, True),
    ("B3", "Row B", None, True),
    ("B4", "Row B", None, False),
]


def build(api: httpx.Client, uows: UnitOfWorkFactory, *, reverse: bool) -> dict[str, Any]:
    """Grid 150 kW under an envelope of 150 kW with a stale meter derived from its two rows;
    Row A capped by an operator at 80 kW, Row B at its 60 kW rating; six chargers."""
    depot = create_depot(api, "Replay")
    grid = create_circuit(api, depot["id"], "Grid", rating=150)
    rows = [("Row A", 100, 80), ("Row B", 60, None)]
    circuits = {"Grid": grid["id"]}
    for name, rating, available in reversed(rows) if reverse else rows:
        extra = {} if available is None else {"available_capacity_kw": available}
        circuits[name] = create_circuit(
            api, depot["id"], name, parent=grid["id"], rating=rating, **extra
        )["id"]
    with uows.write() as uow:
        legacy.update_circuit(
            uow,
            "envelope",
            grid["id"],
            {"available_capacity_kw": 150.0, "available_capacity_source": "ENVELOPE"},
        )
        uow.commit()
    for name, row, requested, plugged in reversed(CHARGERS) if reverse else CHARGERS:
        charger = create_charger(
            api, depot["id"], circuits[row], f"{name}-{depot['id'][:6]}", min_power_kw=6
        )
        api.patch(f"/api/chargers/{charger['id']}", json={"name": name})
        if plugged:
            plug_in(api, charger["id"], requested)
    post_reading(api, grid["id"], 40.0, seconds_ago=300)
    for row in ("Row B", "Row A") if reverse else ("Row A", "Row B"):
        post_reading(api, circuits[row], 5.0)
    result = rebalance(api, microgrid_id(api, depot["id"]))
    return {"depot_id": depot["id"], "circuits": circuits, "result": result}


def named(result: dict[str, Any], circuits: dict[str, str]) -> dict[str, Any]:
    """Reason lists keyed by names, with circuit ids in codes replaced by names."""
    names = {cid: name for name, cid in circuits.items()}

    def show(codes: list[str]) -> list[str]:
        return [
            re.sub(r"[0-9a-f-]{36}", lambda m: names.get(m.group(0), "?"), code) for code in codes
        ]

    return {
        "circuits": {names[c["circuit_id"]]: show(c["reasons"]) for c in result["circuits"]},
        "setpoints": {s["name"]: (s["kw"], show(s["reasons"])) for s in result["setpoints"]},
    }


@pytest.fixture
def viewer(server_url: str, accounts: Accounts) -> Iterator[UiClient]:
    with UiClient(server_url) as ui:
        ui.login(accounts.make("viewer"))
        yield ui


def test_visible_reason_codes_follow_the_precedence_on_the_api_and_the_page(
    api: httpx.Client, uows: UnitOfWorkFactory, viewer: UiClient
) -> None:
    scenario = build(api, uows, reverse=False)
    result, circuits = scenario["result"], scenario["circuits"]
    caps = by_id(result["circuits"], "circuit_id")
    assert caps[circuits["Grid"]]["reasons"] == [
        "FALLBACK_DERIVED_TELEMETRY",
        "ENVELOPE_LIMIT",
        "PHYSICAL_RATING",
    ]
    for item in [*result["circuits"], *result["setpoints"]]:
        node_codes = [c for c in item["reasons"] if base_code(c) in NODE_PRECEDENCE]
        ranks = [NODE_PRECEDENCE.index(base_code(c)) for c in node_codes]
        assert ranks == sorted(ranks), item["reasons"]
    page = viewer.get(f"/depots/{scenario['depot_id']}/cycles/{result['cycle_id']}").text
    row = page.split(f'id="cap-{circuits["Grid"]}"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'data-code="([^"]+)"', row) == caps[circuits["Grid"]]["reasons"]


def test_the_same_scenario_gives_the_same_ordered_reason_codes_in_any_creation_order(
    api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    """Ids differ between the two depots, and the id breaks ties between identical chargers
    (which one gets a rounding step): so identical chargers are compared as a group."""
    first = build(api, uows, reverse=False)
    second = build(api, uows, reverse=True)
    one = named(first["result"], first["circuits"])
    two = named(second["result"], second["circuits"])
    assert one["circuits"] == two["circuits"]
    assert _grouped(one) == _grouped(two)
    assert one["setpoints"]["B1"] == (7.0, ["EV_DEMAND"])
    assert one["setpoints"]["B4"] == (0.0, ["NOT_READY"])


def _grouped(shown: dict[str, Any]) -> dict[str, list[tuple[float, list[str]]]]:
    groups: dict[str, list[tuple[float, list[str]]]] = {}
    for name, point in shown["setpoints"].items():
        groups.setdefault(name[0], []).append(point)
    return {row: sorted(points) for row, points in groups.items()}


def test_re_running_a_cycle_gives_the_same_reason_codes_each_time(
    api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    scenario = build(api, uows, reverse=False)
    microgrid = scenario["result"]["microgrid_id"]
    runs = [rebalance(api, microgrid) for _ in range(4)]
    lists = [named(run, scenario["circuits"]) for run in runs]
    assert all(shown["circuits"] == lists[0]["circuits"] for shown in lists)
    reasons = [{k: v[1] for k, v in shown["setpoints"].items()} for shown in lists]
    assert reasons[2] == reasons[3], "once setpoints settle, repeated cycles agree exactly"


def test_a_stored_cycle_replays_from_its_inputs_to_the_identical_result(
    api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    scenario = build(api, uows, reverse=True)
    with uows.read() as uow:
        stored = balancing.get_cycle(uow, scenario["result"]["cycle_id"])
        replayed = balancing.replay(uow, stored.id)
    assert replayed.to_json() == stored.result
    assert replayed.inputs_hash == stored.inputs_hash


def _breach(api: httpx.Client) -> tuple[dict[str, Any], str, str]:
    depot = create_depot(api, "Breach")
    grid = create_circuit(api, depot["id"], "Grid", rating=100)
    for seconds_ago in (4, 3, 2):
        last = post_reading(api, grid["id"], 150.0, seconds_ago=seconds_ago)
    detail = api.get(
        f"/api/microgrids/{microgrid_id(api, depot['id'])}/cycles/{last['cycle_id']}"
    ).json()
    return detail, depot["id"], grid["id"]


def test_a_breach_opens_after_k_readings_with_one_deterministic_primary_reason(
    api: httpx.Client, viewer: UiClient
) -> None:
    detail, depot_id, grid_id = _breach(api)
    (breach,) = detail["breaches"]
    assert breach["status"] == "OPEN" and breach["opened_in_cycle"] is True
    assert breach["primary_reason"] == "UNCONTROLLED_LOAD"
    assert (breach["samples"], breach["peak_kw"], breach["cap_kw"]) == (3, 150.0, 100.0)
    assert detail["open_breaches"] == 1 and detail["opened_breaches"] == 1
    again, _, _ = _breach(api)
    assert [b["primary_reason"] for b in again["breaches"]] == ["UNCONTROLLED_LOAD"]
    page = viewer.get(f"/depots/{depot_id}/cycles/{detail['cycle_id']}").text
    breaches = page.split('id="breaches-title"', 1)[1]
    assert re.findall(r'data-code="([^"]+)"', breaches) == ["UNCONTROLLED_LOAD"]
    circuit_page = viewer.get(f"/circuits/{grid_id}").text
    assert "breach open" in circuit_page and 'data-code="UNCONTROLLED_LOAD"' in circuit_page


def test_two_readings_over_are_not_a_breach_and_a_reading_back_under_closes_one(
    api: httpx.Client,
) -> None:
    depot = create_depot(api, "Breach")
    grid = create_circuit(api, depot["id"], "Grid", rating=100)
    microgrid = microgrid_id(api, depot["id"])
    for seconds_ago in (5, 4):
        last = post_reading(api, grid["id"], 150.0, seconds_ago=seconds_ago)
    assert (
        api.get(f"/api/microgrids/{microgrid}/cycles/{last['cycle_id']}").json()["breaches"] == []
    )
    post_reading(api, grid["id"], 150.0, seconds_ago=3)
    closing = post_reading(api, grid["id"], 60.0, seconds_ago=2)
    detail = api.get(f"/api/microgrids/{microgrid}/cycles/{closing['cycle_id']}").json()
    (breach,) = detail["breaches"]
    assert breach["status"] == "CLOSED" and breach["closed_in_cycle"] is True
    assert breach["ended_at"] is not None and detail["open_breaches"] == 0
