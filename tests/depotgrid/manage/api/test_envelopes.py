"""Operating envelopes over HTTP (COR-19 and the envelope view and history story)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from depotgrid.common.clock import ManualClock
from depotgrid.manage.app import create_app
from depotgrid.manage.microgrid import service as microgrids
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from depotgrid.settings import Settings
from tests.conftest import Accounts, client_for, serve
from tests.depotgrid.manage.api.helpers import create_circuit, create_depot, errors_by_field

H = timedelta(hours=1)


@dataclass(frozen=True)
class Site:
    depot_id: str
    circuit_id: str
    microgrid_id: str
    scope_id: str

    @property
    def envelopes(self) -> str:
        return f"/api/microgrids/{self.microgrid_id}/scopes/{self.scope_id}/envelopes"


def make_site(api: httpx.Client, uows: UnitOfWorkFactory) -> Site:
    depot = create_depot(api)
    grid = create_circuit(api, depot["id"], "Grid", rating=500, safe_default_capacity_kw=200)
    create_circuit(api, depot["id"], "Bay", parent=grid["id"], rating=300)
    with uows.read() as uow:
        microgrid = microgrids.microgrid_for_depot(uow, depot["id"])
        assert microgrid is not None
        (scope,) = microgrids.scopes(uow, microgrid.id)
    return Site(depot["id"], grid["id"], microgrid.id, scope.scope_id)


def body(*blocks: tuple[datetime, datetime, float], **extra: Any) -> dict[str, Any]:
    return {
        "kind": "PRIMARY",
        "source": {"kind": "MANUAL", "reference": "ticket-42"},
        "blocks": [
            {"start": s.isoformat(), "end": e.isoformat(), "max_import_kw": kw}
            for s, e, kw in blocks
        ],
        **extra,
    }


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def site(api: httpx.Client, uows: UnitOfWorkFactory) -> Site:
    return make_site(api, uows)


def test_envelope_in_force_writes_through_to_the_scope_circuit(
    api: httpx.Client, site: Site
) -> None:
    response = api.post(site.envelopes, json=body((now() - H, now() + H, 120)))
    assert response.status_code == 201, response.text
    envelope = response.json()
    assert envelope["status"] == "ACTIVE"
    assert envelope["source"] == {"kind": "MANUAL", "reference": "ticket-42"}
    circuit = api.get(f"/api/circuits/{site.circuit_id}").json()
    assert (circuit["available_capacity_kw"], circuit["available_capacity_source"]) == (
        120,
        "ENVELOPE",
    )


def test_block_above_the_rating_is_capped_at_the_rating(api: httpx.Client, site: Site) -> None:
    api.post(site.envelopes, json=body((now() - H, now() + H, 9000)))
    assert api.get(f"/api/circuits/{site.circuit_id}").json()["available_capacity_kw"] == 500


def test_withdrawal_returns_the_circuit_to_its_safe_default(api: httpx.Client, site: Site) -> None:
    envelope = api.post(site.envelopes, json=body((now() - H, now() + H, 120))).json()
    response = api.delete(f"{site.envelopes}/{envelope['id']}")
    assert response.status_code == 200
    assert response.json()["status"] == "WITHDRAWN"
    circuit = api.get(f"/api/circuits/{site.circuit_id}").json()
    assert (circuit["available_capacity_kw"], circuit["available_capacity_source"]) == (
        200,
        "SAFE_DEFAULT",
    )
    again = api.delete(f"{site.envelopes}/{envelope['id']}")
    assert again.status_code == 409 and again.json()["code"] == "ENVELOPE_NOT_LIVE"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"group_id": "grp-1"}, "group_id"),
        ({"forecasted_blocks": []}, "forecasted_blocks"),
        ({"source": {"kind": "OSCP", "reference": "r", "group_id": "g"}}, "source.group_id"),
    ],
)
def test_oscp_identifiers_are_refused_and_change_nothing(
    api: httpx.Client, site: Site, extra: dict[str, Any], field: str
) -> None:
    before = api.get(f"/api/circuits/{site.circuit_id}").json()
    response = api.post(site.envelopes, json=body((now() - H, now() + H, 120), **extra))
    assert response.status_code == 422
    assert "OSCP field" in errors_by_field(response)[field]
    assert api.get(f"/api/circuits/{site.circuit_id}").json() == before
    listed = api.get(f"/api/microgrids/{site.microgrid_id}/envelopes").json()
    assert listed["total"] == 0


def test_oscp_block_fields_are_named_at_their_path(api: httpx.Client, site: Site) -> None:
    payload = body((now() - H, now() + H, 120))
    payload["blocks"][0]["capacity"] = 120
    payload["blocks"][0]["unit"] = "KW"
    response = api.post(site.envelopes, json=payload)
    assert response.status_code == 422
    assert set(errors_by_field(response)) == {"blocks[0].capacity", "blocks[0].unit"}


@pytest.mark.parametrize(
    ("blocks", "field"),
    [
        ([(now() + H, now(), 10)], "blocks[0].end"),
        ([(now(), now() + H, -1)], "blocks[0].max_import_kw"),
        ([(now(), now() + 2 * H, 10), (now() + H, now() + 3 * H, 10)], "blocks[1].start"),
        ([(now() - 3 * H, now() - 2 * H, 10)], "blocks"),
    ],
)
def test_bad_blocks_are_422_naming_the_field(
    api: httpx.Client, site: Site, blocks: list[tuple[datetime, datetime, float]], field: str
) -> None:
    response = api.post(site.envelopes, json=body(*blocks))
    assert response.status_code == 422
    assert field in errors_by_field(response)


def test_unknown_scope_microgrid_or_envelope_is_404(api: httpx.Client, site: Site) -> None:
    good = body((now(), now() + H, 10))
    base = f"/api/microgrids/{site.microgrid_id}"
    assert api.post(f"{base}/scopes/nope/envelopes", json=good).status_code == 404
    assert api.post("/api/microgrids/nope/scopes/x/envelopes", json=good).status_code == 404
    assert api.get(f"{base}/envelopes/nope").status_code == 404
    assert api.delete(f"{site.envelopes}/nope").status_code == 404


def test_a_viewer_cannot_submit(server_url: str, accounts: Accounts, site: Site) -> None:
    with client_for(server_url, accounts.make("viewer")) as viewer:
        response = viewer.post(site.envelopes, json=body((now(), now() + H, 10)))
        assert response.status_code == 403
        assert viewer.get(f"/api/microgrids/{site.microgrid_id}/envelopes").status_code == 200


def test_newer_overlapping_envelope_supersedes_and_history_keeps_both(
    api: httpx.Client, site: Site
) -> None:
    first = api.post(site.envelopes, json=body((now() - H, now() + H, 150))).json()
    second = api.post(site.envelopes, json=body((now() - H, now() + 2 * H, 90))).json()
    old = api.get(f"/api/microgrids/{site.microgrid_id}/envelopes/{first['id']}").json()
    assert (old["status"], old["superseded_by"]) == ("SUPERSEDED", second["id"])
    assert api.get(f"/api/circuits/{site.circuit_id}").json()["available_capacity_kw"] == 90
    history = api.get(
        f"/api/microgrids/{site.microgrid_id}/envelopes", params={"scope_id": site.scope_id}
    ).json()
    assert [e["id"] for e in history["items"]] == [second["id"], first["id"]]
    superseded = api.get(
        f"/api/microgrids/{site.microgrid_id}/envelopes", params={"status": "SUPERSEDED"}
    ).json()
    assert [e["id"] for e in superseded["items"]] == [first["id"]]


def test_active_view_agrees_with_the_legacy_circuit_value(api: httpx.Client, site: Site) -> None:
    envelope = api.post(site.envelopes, json=body((now() - H, now() + H, 130))).json()
    (state,) = api.get(f"/api/microgrids/{site.microgrid_id}/envelopes/active").json()
    circuit = api.get(f"/api/circuits/{site.circuit_id}").json()
    assert state["effective_capacity_kw"] == circuit["available_capacity_kw"] == 130
    assert state["capacity_source"] == "ENVELOPE"
    assert state["active_envelope"]["id"] == envelope["id"]
    assert state["block_in_force"]["max_import_kw"] == 130
    assert state["next_change_at"] is not None


def test_boundaries_apply_on_the_clock_with_no_request(
    tmp_path: Any, engine: Engine, api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    """A scheduled envelope starts and ends as the injected clock passes its block edges."""
    site = make_site(api, uows)
    start = datetime.now(UTC).replace(microsecond=0) + 10 * H
    clock = ManualClock(start - H)
    settings = Settings(data_dir=tmp_path, scheduler_interval_seconds=0.05)
    with serve(create_app(settings, clock=clock, engine=engine)) as url:
        client = httpx.Client(base_url=url, headers=api.headers, timeout=10)
        made = client.post(site.envelopes, json=body((start, start + H, 111)))
        assert made.json()["status"] == "SCHEDULED"
        assert _capacity(client, site) == (500, "RATING")
        clock.advance(H)
        assert _eventually(lambda: _capacity(client, site) == (111, "ENVELOPE"))
        clock.advance(H)
        assert _eventually(lambda: _capacity(client, site) == (200, "SAFE_DEFAULT"))
        expired = client.get(f"/api/microgrids/{site.microgrid_id}/envelopes/{made.json()['id']}")
        assert expired.json()["status"] == "EXPIRED"


def _capacity(client: httpx.Client, site: Site) -> tuple[float, str]:
    circuit = client.get(f"/api/circuits/{site.circuit_id}").json()
    return circuit["available_capacity_kw"], circuit["available_capacity_source"]


def _eventually(check: Any, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_deleting_the_scope_circuit_withdraws_its_envelopes_and_keeps_them_auditable(
    api: httpx.Client, site: Site
) -> None:
    envelope = api.post(site.envelopes, json=body((now() - H, now() + H, 120))).json()
    for circuit in api.get(f"/api/depots/{site.depot_id}/circuits").json()["items"]:
        if circuit["parent_circuit_id"] is not None:
            api.delete(f"/api/circuits/{circuit['id']}")
    assert api.delete(f"/api/circuits/{site.circuit_id}").status_code == 204
    assert api.delete(f"/api/depots/{site.depot_id}").status_code == 204
    kept = api.get(f"/api/microgrids/{site.microgrid_id}/envelopes/{envelope['id']}")
    assert kept.status_code == 200
    assert kept.json()["status"] == "WITHDRAWN"
