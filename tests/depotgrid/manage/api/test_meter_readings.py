"""Circuit meter readings: append-only, validated, paginated, and each one runs a cycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import Accounts, client_for
from tests.depotgrid.manage.api.balancing_helpers import cycle, microgrid_id, post_reading
from tests.depotgrid.manage.api.helpers import create_circuit, create_depot, errors_by_field

MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def circuit(api: httpx.Client) -> dict[str, str]:
    depot = create_depot(api)
    return create_circuit(api, depot["id"], "Grid", rating=100)


def _body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "timestamp": datetime.now(UTC).isoformat(),
        "power_kw": 42.5,
        "energy_register_kwh": 1000.0,
    }
    return body | changes


def test_a_reading_is_stored_in_utc_and_runs_a_meter_reading_cycle(
    api: httpx.Client, circuit: dict[str, str]
) -> None:
    local = datetime.now(UTC).astimezone().replace(microsecond=0) - timedelta(seconds=2)
    response = api.post(
        f"/api/circuits/{circuit['id']}/meter-readings",
        json=_body(timestamp=local.isoformat()),
    )
    assert response.status_code == 201, response.text
    reading = response.json()
    assert datetime.fromisoformat(reading["timestamp"]) == local
    assert reading["timestamp"].endswith(("Z", "+00:00"))
    assert (reading["power_kw"], reading["energy_register_kwh"]) == (42.5, 1000.0)
    detail = cycle(api, microgrid_id(api, circuit["depot_id"]), reading["cycle_id"])
    assert (detail["trigger"], detail["trigger_ref"]) == ("METER_READING", circuit["id"])
    telemetry = detail["circuits"][0]["telemetry"]
    assert (telemetry["mode"], telemetry["latest_power_kw"]) == ("MEASURED", 42.5)


def test_readings_are_listed_newest_first_a_page_at_a_time(
    api: httpx.Client, circuit: dict[str, str]
) -> None:
    for seconds_ago, kw in ((30, 1.0), (20, 2.0), (10, 3.0)):
        post_reading(api, circuit["id"], kw, seconds_ago=seconds_ago)
    page = api.get(f"/api/circuits/{circuit['id']}/meter-readings", params={"limit": 2}).json()
    assert page["total"] == 3 and page["limit"] == 2
    assert [r["power_kw"] for r in page["items"]] == [3.0, 2.0]
    rest = api.get(
        f"/api/circuits/{circuit['id']}/meter-readings", params={"limit": 2, "offset": 2}
    ).json()
    assert [r["power_kw"] for r in rest["items"]] == [1.0]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"timestamp": "2026-03-01T12:00:00"}, "timestamp", "timezone"),
        ({"timestamp": "yesterday"}, "timestamp", ""),
        ({"power_kw": "NaN"}, "power_kw", ""),
        ({"power_kw": "Infinity"}, "power_kw", ""),
        ({"energy_register_kwh": -1}, "energy_register_kwh", "zero or more"),
        ({"power_kw": None}, "power_kw", ""),
        ({"extra": 1}, "extra", "not a known field"),
    ],
)
def test_bad_readings_are_422_naming_the_field(
    api: httpx.Client, circuit: dict[str, str], changes: dict[str, object], field: str, words: str
) -> None:
    response = api.post(f"/api/circuits/{circuit['id']}/meter-readings", json=_body(**changes))
    assert response.status_code == 422, response.text
    assert words in errors_by_field(response)[field]


def test_a_missing_field_is_422_naming_it(api: httpx.Client, circuit: dict[str, str]) -> None:
    body = _body()
    del body["energy_register_kwh"]
    response = api.post(f"/api/circuits/{circuit['id']}/meter-readings", json=body)
    assert errors_by_field(response) == {"energy_register_kwh": "is required"}


def test_a_reading_too_far_in_the_future_is_422(api: httpx.Client, circuit: dict[str, str]) -> None:
    ahead = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    response = api.post(
        f"/api/circuits/{circuit['id']}/meter-readings", json=_body(timestamp=ahead)
    )
    assert response.status_code == 422
    assert "in the future" in errors_by_field(response)["timestamp"]


def test_an_energy_register_below_the_previous_reading_is_422(
    api: httpx.Client, circuit: dict[str, str]
) -> None:
    earlier = (datetime.now(UTC) - timedelta(seconds=10)).isoformat()
    first = api.post(
        f"/api/circuits/{circuit['id']}/meter-readings",
        json=_body(timestamp=earlier, energy_register_kwh=500.0),
    )
    assert first.status_code == 201
    response = api.post(
        f"/api/circuits/{circuit['id']}/meter-readings", json=_body(energy_register_kwh=499.0)
    )
    assert response.status_code == 422
    assert "below the previous reading" in errors_by_field(response)["energy_register_kwh"]
    listed = api.get(f"/api/circuits/{circuit['id']}/meter-readings").json()
    assert listed["total"] == 1


def test_a_reading_not_after_the_latest_is_422(api: httpx.Client, circuit: dict[str, str]) -> None:
    moment = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    url = f"/api/circuits/{circuit['id']}/meter-readings"
    assert api.post(url, json=_body(timestamp=moment)).status_code == 201
    response = api.post(url, json=_body(timestamp=moment))
    assert response.status_code == 422
    assert "after the latest reading" in errors_by_field(response)["timestamp"]


def test_an_unknown_circuit_is_404(api: httpx.Client) -> None:
    assert api.post(f"/api/circuits/{MISSING}/meter-readings", json=_body()).status_code == 404
    assert api.get(f"/api/circuits/{MISSING}/meter-readings").status_code == 404


def test_a_viewer_reads_readings_but_may_not_record_one(
    server_url: str, accounts: Accounts, circuit: dict[str, str]
) -> None:
    with client_for(server_url, accounts.make("viewer")) as viewer:
        url = f"/api/circuits/{circuit['id']}/meter-readings"
        assert viewer.post(url, json=_body()).status_code == 403
        assert viewer.get(url).status_code == 200
