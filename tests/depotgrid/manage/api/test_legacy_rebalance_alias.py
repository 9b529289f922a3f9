"""Story: Legacy Rebalance Path with Visible Microgrid Effect.

POST /api/circuit/{circuit_id}/rebalance_load keeps working for legacy clients: it resolves to
one microgrid and one canonical scope, triggers one microgrid cycle, returns the mapped ids,
answers 409 CIRCUIT_ALIAS_NOT_RESOLVABLE when it can't resolve, and every use is audited.
"""

from __future__ import annotations

import httpx
import pytest

from depotgrid.manage.balancing.service import ALIAS_USED, balancing_stream
from depotgrid.manage.microgrid import service as microgrids
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from tests.conftest import Accounts, client_for
from tests.depotgrid.manage.api.balancing_helpers import cycle, microgrid_id, plug_in
from tests.depotgrid.manage.api.helpers import create_charger, create_circuit, create_depot
from tests.depotgrid.manage.web.ui_client import UiClient

MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def site(api: httpx.Client) -> dict[str, str]:
    """Two grid connections (two scopes); a row under the first with a plugged-in charger."""
    depot = create_depot(api)
    grid = create_circuit(api, depot["id"], "Grid", rating=100)
    create_circuit(api, depot["id"], "Second supply", rating=80)
    row = create_circuit(api, depot["id"], "Row", parent=grid["id"], rating=40)
    charger = create_charger(api, depot["id"], row["id"], "CP-1")
    plug_in(api, charger["id"])
    return {"depot_id": depot["id"], "grid_id": grid["id"], "row_id": row["id"]}


def _cycles(api: httpx.Client, microgrid: str) -> dict[str, object]:
    return dict(api.get(f"/api/microgrids/{microgrid}/cycles").json())


def test_alias_resolves_to_one_microgrid_and_one_scope_and_triggers_one_cycle(
    api: httpx.Client, site: dict[str, str]
) -> None:
    """COR: resolves to one microgrid_id plus one canonical scope and triggers one cycle."""
    microgrid = microgrid_id(api, site["depot_id"])
    scopes = api.get(f"/api/microgrids/{microgrid}/scopes").json()["items"]
    grid_scope = next(s for s in scopes if s["circuit_id"] == site["grid_id"])
    before = _cycles(api, microgrid)["total"]
    response = api.post(f"/api/circuit/{site['row_id']}/rebalance_load")
    assert response.status_code == 200, response.text
    mapped = response.json()
    assert set(mapped) == {"microgrid_id", "scope_id", "circuit_id", "cycle_id"}
    assert mapped["microgrid_id"] == microgrid
    assert mapped["scope_id"] == grid_scope["scope_id"]
    assert mapped["circuit_id"] == site["row_id"]
    assert _cycles(api, microgrid)["total"] == before + 1


def test_the_resulting_cycle_is_visible_on_the_canonical_microgrid_surfaces(
    api: httpx.Client, site: dict[str, str]
) -> None:
    mapped = api.post(f"/api/circuit/{site['row_id']}/rebalance_load").json()
    listing = _cycles(api, mapped["microgrid_id"])
    latest = listing["items"][0]  # type: ignore[index]
    assert latest["cycle_id"] == mapped["cycle_id"]
    detail = cycle(api, mapped["microgrid_id"], mapped["cycle_id"])
    assert (detail["trigger"], detail["trigger_ref"]) == ("LEGACY_ALIAS", site["row_id"])
    assert detail["microgrid_id"] == mapped["microgrid_id"]
    assert detail["setpoints"][0]["kw"] == 40.0


def test_the_cycle_shows_on_the_depot_cycles_page(
    api: httpx.Client, site: dict[str, str], server_url: str, accounts: Accounts
) -> None:
    mapped = api.post(f"/api/circuit/{site['row_id']}/rebalance_load").json()
    with UiClient(server_url) as ui:
        ui.login(accounts.make("viewer"))
        page = ui.get(f"/depots/{site['depot_id']}/cycles")
    assert f"/cycles/{mapped['cycle_id']}" in page.text
    assert "legacy alias" in page.text


def test_an_unresolvable_circuit_alias_is_409(
    api: httpx.Client, site: dict[str, str], uows: UnitOfWorkFactory
) -> None:
    """The depot's microgrid is retired: the circuit maps to no scope."""
    with uows.write() as uow:
        microgrids.retire(uow, "test", site["depot_id"], trigger="test")
        uow.commit()
    response = api.post(f"/api/circuit/{site['row_id']}/rebalance_load")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "CIRCUIT_ALIAS_NOT_RESOLVABLE"
    assert site["row_id"] in body["message"]
    with uows.read() as uow:
        assert uow.events.read_stream(balancing_stream(site["depot_id"])) == []


def test_an_unknown_circuit_alias_is_404(api: httpx.Client) -> None:
    assert api.post(f"/api/circuit/{MISSING}/rebalance_load").status_code == 404


def test_alias_use_is_audited_with_actor_circuit_and_mapped_ids(
    api: httpx.Client,
    site: dict[str, str],
    uows: UnitOfWorkFactory,
    accounts: Accounts,
    server_url: str,
) -> None:
    operator = accounts.make("operator")
    with client_for(server_url, operator) as client:
        mapped = client.post(f"/api/circuit/{site['grid_id']}/rebalance_load").json()
    with uows.read() as uow:
        (event,) = uow.events.read_stream(balancing_stream(site["depot_id"]))
    assert event.event_type == ALIAS_USED
    assert event.actor == operator.email
    assert {k: event.data[k] for k in mapped} == mapped
    assert event.data["route"] == "POST /api/circuit/{circuit_id}/rebalance_load"


def test_a_viewer_may_not_use_the_alias(
    server_url: str, accounts: Accounts, site: dict[str, str]
) -> None:
    with client_for(server_url, accounts.make("viewer")) as viewer:
        assert viewer.post(f"/api/circuit/{site['row_id']}/rebalance_load").status_code == 403
