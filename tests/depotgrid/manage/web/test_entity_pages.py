"""Circuit, charger, power source and device pages over real HTTP."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest

from tests.depotgrid.manage.api.helpers import create_circuit, create_depot
from tests.depotgrid.manage.web.ui_client import UiClient


@pytest.fixture
def depot(api: httpx.Client) -> dict[str, Any]:
    return create_depot(api, "Leeds North")


def circuits(api: httpx.Client, depot_id: str) -> list[dict[str, Any]]:
    return list(api.get(f"/api/depots/{depot_id}/circuits").json()["items"])


def field_error(page: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="f-{name}-error">(.*?)</p>', page, re.S)
    assert found is not None, f"no error beside {name}"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).replace("⚠", "").strip()


@pytest.mark.parametrize("slug", ["circuits", "chargers", "power-sources", "devices"])
def test_every_new_form_renders(manager_ui: UiClient, api: httpx.Client, slug: str) -> None:
    depot = create_depot(api)
    create_circuit(api, depot["id"], "Grid")
    page = manager_ui.get(f"/depots/{depot['id']}/{slug}/new")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.text
    assert re.findall(r'<label for="f-(\w+)"', page.text), "every input has a label"


def test_a_circuit_and_its_child_appear_nested_in_the_tree(
    manager_ui: UiClient, api: httpx.Client, depot: dict[str, Any]
) -> None:
    new = f"/depots/{depot['id']}/circuits/new"
    manager_ui.get(new)
    top = manager_ui.post(new, {"name": "Grid connection", "max_capacity_kw": "800"})
    assert top.status_code == 303
    parent_id = circuits(api, depot["id"])[0]["id"]
    form = manager_ui.get(f"{new}?parent_circuit_id={parent_id}")
    assert f'<option value="{parent_id}" selected>' in form.text
    child = manager_ui.post(
        new,
        {"name": "Feeder A", "parent_circuit_id": parent_id, "max_capacity_kw": "250"},
    )
    assert child.status_code == 303
    stored = {c["name"]: c for c in circuits(api, depot["id"])}
    assert stored["Feeder A"]["parent_circuit_id"] == parent_id
    assert stored["Feeder A"]["available_capacity_kw"] == 250
    page = manager_ui.follow(child)
    assert "Circuit Feeder A added." in page.text
    nested = re.search(
        r'id="circuit-' + parent_id + r'".*?<ul class="tree-children"[^>]*>(.*?)</ul>',
        page.text,
        re.S,
    )
    assert nested is not None and "Feeder A" in nested.group(1)
    assert "800.0 kW" in page.text


def test_available_capacity_above_the_rating_is_an_inline_error(
    manager_ui: UiClient, api: httpx.Client, depot: dict[str, Any]
) -> None:
    new = f"/depots/{depot['id']}/circuits/new"
    manager_ui.get(new)
    response = manager_ui.post(
        new, {"name": "Grid", "max_capacity_kw": "100", "available_capacity_kw": "150"}
    )
    assert response.status_code == 422
    assert "150 kW is above the circuit rating" in field_error(
        response.text, "available_capacity_kw"
    )
    assert 'value="150"' in response.text
    assert circuits(api, depot["id"]) == []


def test_a_capacity_that_is_not_a_number_says_to_enter_kw(
    manager_ui: UiClient, depot: dict[str, Any]
) -> None:
    new = f"/depots/{depot['id']}/circuits/new"
    manager_ui.get(new)
    response = manager_ui.post(new, {"name": "Grid", "max_capacity_kw": "lots"})
    assert response.status_code == 422
    assert "enter a number in kW" in field_error(response.text, "max_capacity_kw")
    assert 'value="lots"' in response.text


def test_editing_a_circuit_keeps_it_out_of_its_own_subtree(
    manager_ui: UiClient, api: httpx.Client, depot: dict[str, Any]
) -> None:
    grid = create_circuit(api, depot["id"], "Grid")
    feeder = create_circuit(api, depot["id"], "Feeder", parent=grid["id"], rating=200)
    page = manager_ui.get(f"/circuits/{grid['id']}/edit")
    assert f'value="{feeder["id"]}"' not in page.text
    response = manager_ui.post(
        f"/circuits/{feeder['id']}/edit",
        {"name": "Feeder B", "parent_circuit_id": grid["id"], "max_capacity_kw": "300"},
    )
    assert response.status_code == 303
    stored = api.get(f"/api/circuits/{feeder['id']}").json()
    assert (stored["name"], stored["max_capacity_kw"], stored["available_capacity_kw"]) == (
        "Feeder B",
        300,
        300,
    )


def test_deleting_a_circuit_with_a_child_names_the_child(
    manager_ui: UiClient, api: httpx.Client, depot: dict[str, Any]
) -> None:
    grid = create_circuit(api, depot["id"], "Grid")
    create_circuit(api, depot["id"], "Feeder A", parent=grid["id"], rating=100)
    confirm = manager_ui.get(f"/circuits/{grid['id']}/delete")
    assert "1 child circuit: Feeder A" in confirm.text
    response = manager_ui.post(f"/circuits/{grid['id']}/delete", {})
    assert response.status_code == 409
    assert "circuit Grid still has child circuits: Feeder A" in response.text
    assert len(circuits(api, depot["id"])) == 2


def test_deleting_a_leaf_circuit_after_confirming(
    manager_ui: UiClient, api: httpx.Client, depot: dict[str, Any]
) -> None:
    grid = create_circuit(api, depot["id"], "Grid")
    confirm = manager_ui.get(f"/circuits/{grid['id']}/delete")
    assert "This deletes the circuit Grid of depot Leeds North" in confirm.text
    response = manager_ui.post(f"/circuits/{grid['id']}/delete", {})
    assert response.status_code == 303
    assert "Circuit Grid deleted." in manager_ui.follow(response).text
    assert circuits(api, depot["id"]) == []


def test_a_charger_needs_a_circuit_first(manager_ui: UiClient, depot: dict[str, Any]) -> None:
    page = manager_ui.get(f"/depots/{depot['id']}/chargers/new")
    assert "Add a circuit first" in page.text


def test_a_charger_is_added_under_its_circuit(
    manager_ui: UiClient, api: httpx.Client, depot: dict[str, Any]
) -> None:
    grid = create_circuit(api, depot["id"], "Grid")
    new = f"/depots/{depot['id']}/chargers/new"
    manager_ui.get(f"{new}?circuit_id={grid['id']}")
    response = manager_ui.post(
        new,
        {
            "name": "Bay 1",
            "circuit_id": grid["id"],
            "ocpp_identity": "CP-001",
            "max_power_kw": "150",
        },
    )
    assert response.status_code == 303
    page = manager_ui.follow(response)
    assert "CP-001 · 0.0 to 150.0 kW · 1 connector" in page.text
    charger = api.get(f"/api/depots/{depot['id']}/chargers").json()["items"][0]
    assert (charger["min_power_kw"], charger["connector_count"]) == (0, 1)


def test_a_taken_ocpp_identity_is_shown_beside_the_field(
    manager_ui: UiClient, api: httpx.Client, depot: dict[str, Any]
) -> None:
    grid = create_circuit(api, depot["id"], "Grid")
    new = f"/depots/{depot['id']}/chargers/new"
    manager_ui.get(new)
    form = {"name": "Bay", "circuit_id": grid["id"], "ocpp_identity": "CP-9", "max_power_kw": "50"}
    assert manager_ui.post(new, form).status_code == 303
    response = manager_ui.post(new, form | {"name": "Bay 2"})
    assert response.status_code == 409
    assert "OCPP identity CP-9 is already used by charger Bay" in field_error(
        response.text, "ocpp_identity"
    )


def test_a_circuit_id_that_is_not_offered_is_refused(
    manager_ui: UiClient, depot: dict[str, Any]
) -> None:
    new = f"/depots/{depot['id']}/power-sources/new"
    manager_ui.get(new)
    response = manager_ui.post(
        new, {"kind": "BATTERY", "state": "IDLE", "circuit_id": "made-up", "rated_power_kw": "5"}
    )
    assert response.status_code == 422
    assert "Choose one of the listed options" in field_error(response.text, "circuit_id")


def test_an_unassigned_power_source_is_listed_apart_with_its_state(
    manager_ui: UiClient, depot: dict[str, Any]
) -> None:
    new = f"/depots/{depot['id']}/power-sources/new"
    manager_ui.get(new)
    response = manager_ui.post(
        new,
        {"name": "", "kind": "BATTERY", "state": "FAULT", "circuit_id": "", "rated_power_kw": "60"},
    )
    assert response.status_code == 303
    page = manager_ui.follow(response)
    assert "Power source Battery added." in page.text
    assert '<span class="badge badge-red">fault</span>' in page.text


def test_invalid_output_translation_json_is_an_inline_error(
    manager_ui: UiClient, api: httpx.Client, depot: dict[str, Any]
) -> None:
    new = f"/depots/{depot['id']}/devices/new"
    manager_ui.get(new)
    typed = '{"power_kw": P}'
    response = manager_ui.post(new, {"name": "Meter", "output_translation": typed})
    assert response.status_code == 422
    assert "Not valid JSON" in field_error(response.text, "output_translation")
    assert "{&#34;power_kw&#34;: P}" in response.text
    assert api.get(f"/api/depots/{depot['id']}/devices").json()["total"] == 0


def test_a_device_is_saved_with_its_output_translation(
    manager_ui: UiClient, api: httpx.Client, depot: dict[str, Any]
) -> None:
    new = f"/depots/{depot['id']}/devices/new"
    manager_ui.get(new)
    response = manager_ui.post(
        new, {"name": "Meter", "site_model_name": "", "output_translation": '{"p": "P"}'}
    )
    assert response.status_code == 303
    device = api.get(f"/api/depots/{depot['id']}/devices").json()["items"][0]
    assert (device["output_translation"], device["site_model_name"]) == ({"p": "P"}, None)
    edit = manager_ui.get(f"/devices/{device['id']}/edit")
    assert "&#34;p&#34;: &#34;P&#34;" in edit.text


def test_an_unknown_charger_is_a_404_page(manager_ui: UiClient) -> None:
    page = manager_ui.get("/chargers/nope/edit")
    assert page.status_code == 404
    assert "This charger does not exist" in page.text


def test_a_delete_post_without_the_csrf_token_deletes_nothing(
    manager_ui: UiClient, api: httpx.Client, depot: dict[str, Any]
) -> None:
    grid = create_circuit(api, depot["id"], "Grid")
    manager_ui.get(f"/circuits/{grid['id']}/delete")
    assert manager_ui.post(f"/circuits/{grid['id']}/delete", {}, csrf="").status_code == 403
    assert len(circuits(api, depot["id"])) == 1


def test_a_negative_position_asks_for_a_whole_number_from_zero(
    manager_ui: UiClient, depot: dict[str, Any]
) -> None:
    new = f"/depots/{depot['id']}/circuits/new"
    manager_ui.get(new)
    response = manager_ui.post(new, {"name": "Grid", "max_capacity_kw": "100", "position": "-1"})
    assert response.status_code == 422
    assert "whole number of at least 0" in field_error(response.text, "position")
