"""Chargers, power sources and devices: the shared route shape and each one's invariants."""

import httpx
import pytest

from tests.depotgrid.manage.api.helpers import (
    create_charger,
    create_circuit,
    create_depot,
    errors_by_field,
)


@pytest.fixture
def site(api: httpx.Client) -> dict[str, str]:
    depot = create_depot(api)
    circuit = create_circuit(api, depot["id"])
    return {"depot_id": depot["id"], "circuit_id": circuit["id"]}


def _bodies(circuit_id: str) -> dict[str, dict[str, object]]:
    return {
        "chargers": {
            "name": "CP-1",
            "circuit_id": circuit_id,
            "ocpp_identity": "CP-1",
            "max_power_kw": 150,
            "min_power_kw": 6,
            "connector_count": 2,
        },
        "power-sources": {
            "name": "Battery",
            "circuit_id": circuit_id,
            "kind": "BATTERY",
            "rated_power_kw": 250,
            "state": "IDLE",
        },
        "devices": {
            "name": "Gateway",
            "circuit_id": circuit_id,
            "site_model_name": "BBA",
            "output_translation": {"AVAILABLE_CHARGING_CAPACITY": "circuit"},
        },
    }


PATCHES = {
    "chargers": {"max_power_kw": 75.0},
    "power-sources": {"state": "DISCHARGING"},
    "devices": {"site_model_name": None},
}


@pytest.mark.parametrize("plural", ["chargers", "power-sources", "devices"])
def test_create_read_list_update_delete(
    api: httpx.Client, site: dict[str, str], plural: str
) -> None:
    body = _bodies(site["circuit_id"])[plural]
    created = api.post(f"/api/depots/{site['depot_id']}/{plural}", json=body)
    assert created.status_code == 201, created.text
    item = created.json()
    assert {k: item[k] for k in body} == body
    assert api.get(f"/api/{plural}/{item['id']}").json() == item
    listed = api.get(f"/api/depots/{site['depot_id']}/{plural}").json()
    assert listed["total"] == 1 and listed["items"] == [item]
    patched = api.patch(f"/api/{plural}/{item['id']}", json=PATCHES[plural])
    assert patched.status_code == 200, patched.text
    assert {k: patched.json()[k] for k in PATCHES[plural]} == PATCHES[plural]
    assert api.delete(f"/api/{plural}/{item['id']}").status_code == 204
    assert api.get(f"/api/{plural}/{item['id']}").status_code == 404


@pytest.mark.parametrize("plural", ["chargers", "power-sources", "devices"])
def test_circuit_in_another_depot_is_422_naming_circuit_id(
    api: httpx.Client, site: dict[str, str], plural: str
) -> None:
    other = create_depot(api, "Other")
    foreign = create_circuit(api, other["id"], "Foreign")
    body = _bodies(foreign["id"])[plural]
    response = api.post(f"/api/depots/{site['depot_id']}/{plural}", json=body)
    assert response.status_code == 422
    assert "another depot" in errors_by_field(response)["circuit_id"]
    assert api.get(f"/api/depots/{site['depot_id']}/{plural}").json()["total"] == 0


def test_charger_needs_a_circuit(api: httpx.Client, site: dict[str, str]) -> None:
    response = api.post(
        f"/api/depots/{site['depot_id']}/chargers",
        json={"name": "C", "ocpp_identity": "C", "max_power_kw": 10},
    )
    assert response.status_code == 422
    assert errors_by_field(response) == {"circuit_id": "is required"}
    moved = create_charger(api, site["depot_id"], site["circuit_id"], "C9")
    response = api.patch(f"/api/chargers/{moved['id']}", json={"circuit_id": None})
    assert errors_by_field(response) == {"circuit_id": "must not be null"}


def test_charger_power_bounds_are_checked(api: httpx.Client, site: dict[str, str]) -> None:
    response = api.post(
        f"/api/depots/{site['depot_id']}/chargers",
        json={
            "name": "C",
            "circuit_id": site["circuit_id"],
            "ocpp_identity": "C",
            "max_power_kw": 0,
            "min_power_kw": -1,
            "connector_count": 0,
        },
    )
    assert response.status_code == 422
    assert set(errors_by_field(response)) == {"max_power_kw", "min_power_kw", "connector_count"}
    response = api.post(
        f"/api/depots/{site['depot_id']}/chargers",
        json={
            "name": "C",
            "circuit_id": site["circuit_id"],
            "ocpp_identity": "C",
            "max_power_kw": 10,
            "min_power_kw": 11,
        },
    )
    assert "above max_power_kw" in errors_by_field(response)["min_power_kw"]


def test_duplicate_ocpp_identity_is_409_and_keeps_the_first(
    api: httpx.Client, site: dict[str, str]
) -> None:
    first = create_charger(api, site["depot_id"], site["circuit_id"], "DUP-1")
    response = api.post(
        f"/api/depots/{site['depot_id']}/chargers",
        json={
            "name": "Second",
            "circuit_id": site["circuit_id"],
            "ocpp_identity": "DUP-1",
            "max_power_kw": 10,
        },
    )
    assert response.status_code == 409
    assert response.json()["code"] == "OCPP_IDENTITY_TAKEN"
    assert response.json()["details"]["charger_id"] == first["id"]
    listed = api.get(f"/api/depots/{site['depot_id']}/chargers").json()
    assert [c["name"] for c in listed["items"]] == ["DUP-1"]


def test_power_source_kind_must_be_known(api: httpx.Client, site: dict[str, str]) -> None:
    response = api.post(
        f"/api/depots/{site['depot_id']}/power-sources",
        json={"kind": "NUCLEAR", "rated_power_kw": 1},
    )
    assert response.status_code == 422
    assert "BATTERY" in errors_by_field(response)["kind"]


def test_power_source_and_device_may_have_no_circuit(
    api: httpx.Client, site: dict[str, str]
) -> None:
    source = api.post(
        f"/api/depots/{site['depot_id']}/power-sources",
        json={"kind": "SOLAR", "rated_power_kw": 10},
    )
    device = api.post(f"/api/depots/{site['depot_id']}/devices", json={"name": "Meter"})
    assert source.status_code == device.status_code == 201
    assert source.json()["circuit_id"] is None and source.json()["state"] == "UNKNOWN"
    assert device.json()["site_model_name"] is None
    assert device.json()["output_translation"] is None


def test_device_output_translation_must_be_an_object(
    api: httpx.Client, site: dict[str, str]
) -> None:
    response = api.post(
        f"/api/depots/{site['depot_id']}/devices", json={"name": "G", "output_translation": [1, 2]}
    )
    assert response.status_code == 422
    assert "output_translation" in errors_by_field(response)


def test_charger_list_filters_by_circuit(api: httpx.Client, site: dict[str, str]) -> None:
    other = create_circuit(api, site["depot_id"], "Other")
    create_charger(api, site["depot_id"], site["circuit_id"], "ON-MAIN")
    create_charger(api, site["depot_id"], other["id"], "ON-OTHER")
    listed = api.get(
        f"/api/depots/{site['depot_id']}/chargers", params={"circuit_id": other["id"]}
    ).json()
    assert [c["name"] for c in listed["items"]] == ["ON-OTHER"]
