"""The depot's Envelopes tab over real HTTP (story "Canonical Scoped Operating Envelope View and
History"; issue #3 §5): scope cards consistent with the circuit, the submit form and its inline
errors, withdrawal, the history, empty states and the chart's series."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from depotgrid.manage.envelopes.model import (
    EnvelopeBlock,
    EnvelopeKind,
    EnvelopeStatus,
    OperatingEnvelope,
)
from depotgrid.manage.events.store import RecordedEvent
from depotgrid.manage.legacy.model import CapacitySource, Circuit
from depotgrid.manage.microgrid import service as microgrids
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from depotgrid.manage.web.envelope_chart import chart_data, envelope_limit_at
from depotgrid.manage.web.envelope_form import local_time
from tests.conftest import Accounts
from tests.depotgrid.manage.api.balancing_helpers import post_reading
from tests.depotgrid.manage.api.helpers import create_circuit, create_depot
from tests.depotgrid.manage.web.ui_client import UiClient

H = timedelta(hours=1)
LOCAL = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True)
class Site:
    depot_id: str
    grid_id: str
    microgrid_id: str
    scope_id: str
    timezone: str

    @property
    def tab(self) -> str:
        return f"/depots/{self.depot_id}/envelopes"

    @property
    def envelopes_api(self) -> str:
        return f"/api/microgrids/{self.microgrid_id}/scopes/{self.scope_id}/envelopes"


def make_site(api: httpx.Client, uows: UnitOfWorkFactory, tz: str = "Europe/London") -> Site:
    depot = create_depot(api, "Leeds North", tz)
    grid = create_circuit(api, depot["id"], "Main intake", rating=500, safe_default_capacity_kw=200)
    create_circuit(api, depot["id"], "Bay A", parent=grid["id"], rating=300)
    with uows.read() as uow:
        microgrid = microgrids.microgrid_for_depot(uow, depot["id"])
        assert microgrid is not None
        (scope,) = microgrids.scopes(uow, microgrid.id)
    return Site(depot["id"], grid["id"], microgrid.id, scope.scope_id, tz)


@pytest.fixture
def site(api: httpx.Client, uows: UnitOfWorkFactory) -> Site:
    return make_site(api, uows)


def now() -> datetime:
    return datetime.now(UTC)


def submit_api(
    api: httpx.Client,
    site: Site,
    kw: float,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    reference: str = "ticket-42",
) -> dict[str, Any]:
    start = start or now() - H
    end = end or now() + H
    body = {
        "kind": "PRIMARY",
        "source": {"kind": "MANUAL", "reference": reference},
        "blocks": [{"start": start.isoformat(), "end": end.isoformat(), "max_import_kw": kw}],
    }
    response = api.post(site.envelopes_api, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def circuit(api: httpx.Client, site: Site) -> tuple[float, str]:
    found = api.get(f"/api/circuits/{site.grid_id}").json()
    return found["available_capacity_kw"], found["available_capacity_source"]


def local(moment: datetime, site: Site) -> str:
    return moment.astimezone(ZoneInfo(site.timezone)).strftime(LOCAL)


def form(site: Site, **values: str) -> dict[str, str]:
    return {
        "scope_id": site.scope_id,
        "kind": "PRIMARY",
        "source_kind": "MANUAL",
        "source_reference": "ticket-7",
        "start": local(now() - H, site),
        "end": local(now() + H, site),
        "max_import_kw": "150",
        "max_export_kw": "",
    } | values


def field_error(text: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="f-{name}-error">(.*?)</p>', text, re.S)
    assert found, f"no error beside {name}"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def input_value(text: str, name: str) -> str:
    found = re.search(rf'<input id="f-{name}" name="{name}"[^>]*?value="([^"]*)"', text, re.S)
    assert found, f"no input {name}"
    return html.unescape(found.group(1))


def chart_json(text: str, scope_id: str) -> dict[str, Any]:
    found = re.search(
        rf'<script type="application/json" id="chart-data-{scope_id}">(.*?)</script>', text, re.S
    )
    assert found, "the chart's series are embedded in the page"
    return dict(json.loads(found.group(1)))


# ---------- scope cards ----------


def test_the_scope_card_shows_the_envelope_in_force_and_the_circuits_capacity(
    viewer_ui: UiClient, api: httpx.Client, site: Site
) -> None:
    envelope = submit_api(api, site, 120)
    page = viewer_ui.get(site.tab)
    assert page.status_code == 200
    text = page.text
    assert 'aria-current="page">Envelopes</a>' in text
    card = text[text.index(f'id="scope-{site.scope_id}"') :]
    assert "Main intake" in card and f'href="/circuits/{site.grid_id}"' in card
    assert 'data-effective-kw="120.0"' in card
    assert re.search(r'data-source="ENVELOPE"[^>]*>ENVELOPE</span>', card)
    assert 'data-status="ACTIVE">ACTIVE</span>' in card
    assert envelope["id"] in card
    assert "ticket-42" in card and "MANUAL" in card
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? (GMT|BST) → ", card), "local times + zone"
    assert "Then the circuit&#39;s capacity becomes 200.0 kW (SAFE_DEFAULT)" in card

    active = api.get(f"/api/microgrids/{site.microgrid_id}/envelopes/active").json()
    assert active[0]["effective_capacity_kw"] == 120
    assert circuit(api, site) == (120, "ENVELOPE")
    circuit_page = viewer_ui.get(f"/circuits/{site.grid_id}").text
    assert re.search(r'id="effective-capacity"><span class="num">120\.0 kW', circuit_page)


def test_the_chart_carries_envelope_blocks_capacity_history_and_a_text_alternative(
    viewer_ui: UiClient, api: httpx.Client, site: Site
) -> None:
    submit_api(api, site, 120)
    post_reading(api, site.grid_id, 42.5)
    text = viewer_ui.get(site.tab).text
    series = chart_json(text, site.scope_id)
    assert 42.5 in series["load"]
    assert series["timezone"] == "Europe/London"
    assert series["start"] < series["now"] < series["end"]
    assert len(series["x"]) == len(series["envelope"]) == len(series["capacity"])
    assert 120.0 in series["envelope"]
    assert series["capacity"][0] == 500.0, "before the envelope the circuit followed its rating"
    assert series["planned"][-1] == 200.0, "after the block the circuit returns to safe default"
    assert f'<figcaption id="chart-caption-{site.scope_id}"' in text
    assert "Envelope limit: 120.0 kW" in text
    assert "Effective capacity now 120.0 kW (ENVELOPE)" in text
    assert "Measured load: latest 42.5 kW, peak 42.5 kW over 1 reading." in text
    assert "Chart data as a table" in text


def test_the_live_partial_refreshes_only_the_cards(
    viewer_ui: UiClient, api: httpx.Client, site: Site
) -> None:
    page = viewer_ui.get(site.tab).text
    assert f'hx-get="/depots/{site.depot_id}/envelopes/live" hx-trigger="every 5s"' in page
    assert 'hx-preserve="true"' in page, "the chart element survives the refresh"
    submit_api(api, site, 90)
    live = viewer_ui.get(f"{site.tab}/live", headers={"HX-Request": "true"})
    assert live.status_code == 200
    assert "<html" not in live.text and "Submit an envelope" not in live.text
    assert live.text.lstrip().startswith('<div id="envelope-live"')
    assert 'data-effective-kw="90.0"' in live.text
    assert "updated <time" in live.text


# ---------- the submit form ----------


def test_the_form_submits_an_envelope_and_the_circuit_capacity_changes(
    manager_ui: UiClient, api: httpx.Client, site: Site
) -> None:
    page = manager_ui.get(site.tab).text
    assert f'<option value="{site.scope_id}" selected>Main intake</option>' in page
    assert 'type="datetime-local"' in page
    response = manager_ui.post(site.tab, form(site))
    assert response.status_code == 303, response.text[:2000]
    assert response.headers["location"] == site.tab
    shown = manager_ui.follow(response).text
    assert "submitted (ACTIVE). Main intake now has 150.0 kW available (ENVELOPE)." in shown
    assert circuit(api, site) == (150, "ENVELOPE")
    listed = api.get(f"/api/microgrids/{site.microgrid_id}/envelopes").json()["items"]
    assert [(e["status"], e["source"]) for e in listed] == [
        ("ACTIVE", {"kind": "MANUAL", "reference": "ticket-7"})
    ]
    assert 'data-effective-kw="150.0"' in shown


def test_form_times_are_read_in_the_depots_time_zone(
    manager_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    site = make_site(api, uows, tz="America/New_York")
    assert "in the depot's time zone, America/New_York (" in manager_ui.get(site.tab).text
    year = now().year + 1
    values = form(site, start=f"{year}-01-15T10:00", end=f"{year}-01-15T12:30", max_export_kw="5")
    assert manager_ui.post(site.tab, values).status_code == 303
    (stored,) = api.get(f"/api/microgrids/{site.microgrid_id}/envelopes").json()["items"]
    block = stored["blocks"][0]
    assert datetime.fromisoformat(block["start"]) == datetime(year, 1, 15, 15, 0, tzinfo=UTC)
    assert datetime.fromisoformat(block["end"]) == datetime(year, 1, 15, 17, 30, tzinfo=UTC)
    assert (stored["status"], block["max_export_kw"]) == ("SCHEDULED", 5)
    assert circuit(api, site) == (500, "RATING"), "a scheduled envelope changes nothing yet"


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"end": "START"}, "end", "Must be after the start: pick a later end"),
        ({"max_import_kw": "-5"}, "max_import_kw", "Must be zero or more kW"),
        ({"max_import_kw": "lots"}, "max_import_kw", "'lots' is not a number"),
        ({"max_export_kw": "-1"}, "max_export_kw", "Must be zero or more kW, or leave it empty"),
        ({"start": "tomorrow"}, "start", "'tomorrow' is not a date and time"),
        ({"source_kind": ""}, "source_kind", "Enter the source kind"),
    ],
)
def test_invalid_input_is_refused_beside_the_field_and_kept_as_typed(
    manager_ui: UiClient,
    api: httpx.Client,
    site: Site,
    values: dict[str, str],
    field: str,
    message: str,
) -> None:
    typed = form(site, **values)
    if typed["end"] == "START":
        typed["end"] = local(now() - 2 * H, site)
    manager_ui.get(site.tab)
    response = manager_ui.post(site.tab, typed)
    assert response.status_code == 422
    assert message in field_error(response.text, field)
    assert f'<a href="#f-{field}">' in response.text, "the error summary links to the field"
    for name in ("start", "end", "max_import_kw", "source_reference"):
        assert input_value(response.text, name) == typed[name]
    assert api.get(f"/api/microgrids/{site.microgrid_id}/envelopes").json()["total"] == 0
    assert circuit(api, site) == (500, "RATING")


def test_a_block_that_has_already_ended_is_refused_beside_the_end(
    manager_ui: UiClient, site: Site
) -> None:
    manager_ui.get(site.tab)
    typed = form(site, start=local(now() - 3 * H, site), end=local(now() - 2 * H, site))
    response = manager_ui.post(site.tab, typed)
    assert response.status_code == 422
    assert "pick an end in the future" in field_error(response.text, "end")


def test_a_scope_id_not_in_the_list_is_refused(manager_ui: UiClient, site: Site) -> None:
    manager_ui.get(site.tab)
    response = manager_ui.post(site.tab, form(site, scope_id="not-a-scope"))
    assert response.status_code == 422
    assert "Choose one of the listed options" in field_error(response.text, "scope_id")


# ---------- permissions ----------


def test_a_viewer_reads_the_tab_but_cannot_submit_or_withdraw(
    viewer_ui: UiClient, api: httpx.Client, site: Site
) -> None:
    envelope = submit_api(api, site, 120)
    page = viewer_ui.get(site.tab).text
    assert 'data-effective-kw="120.0"' in page
    assert "Submit an envelope" not in page
    assert f'action="{site.tab}' not in page
    assert "/withdraw" not in page
    assert viewer_ui.post(site.tab, form(site)).status_code == 403
    withdraw = f"{site.tab}/{envelope['id']}/withdraw"
    assert viewer_ui.get(withdraw).status_code == 403
    refused = viewer_ui.post(withdraw, {})
    assert refused.status_code == 403
    assert "may view envelopes but not submit or withdraw them" in html.unescape(refused.text)
    assert circuit(api, site) == (120, "ENVELOPE")


def test_the_tab_needs_a_login(anonymous: httpx.Client, site: Site) -> None:
    response = anonymous.get(site.tab, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


# ---------- withdrawal ----------


def test_withdrawal_asks_first_then_returns_the_circuit_to_its_safe_default(
    manager_ui: UiClient, api: httpx.Client, site: Site
) -> None:
    envelope = submit_api(api, site, 120)
    tab = manager_ui.get(site.tab).text
    url = f"{site.tab}/{envelope['id']}/withdraw"
    assert f'href="{url}"' in tab
    confirm = manager_ui.get(url)
    assert confirm.status_code == 200
    assert "returns to its safe default of 200.0 kW" in confirm.text
    assert circuit(api, site) == (120, "ENVELOPE"), "asking changes nothing"
    done = manager_ui.post(url, {})
    assert done.status_code == 303
    assert "withdrawn. Main intake now has 200.0 kW available (SAFE_DEFAULT)." in (
        manager_ui.follow(done).text
    )
    assert circuit(api, site) == (200, "SAFE_DEFAULT")
    again = manager_ui.post(url, {})
    assert again.status_code == 409
    assert "already WITHDRAWN" in again.text


def test_withdrawing_a_scheduled_envelope_says_the_circuit_keeps_its_value(
    manager_ui: UiClient, api: httpx.Client, site: Site
) -> None:
    envelope = submit_api(api, site, 80, start=now() + 2 * H, end=now() + 3 * H)
    tab = manager_ui.get(site.tab).text
    assert "1 more live envelope on this scope" in tab
    assert f'href="{site.tab}/{envelope["id"]}/withdraw"' in tab, "withdraw from the history"
    confirm = manager_ui.get(f"{site.tab}/{envelope['id']}/withdraw").text
    assert "It is not in force now, so the circuit Main intake keeps its capacity of 500.0 kW" in (
        html.unescape(confirm)
    )


def test_an_envelope_of_another_depot_is_not_found(
    manager_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory, site: Site
) -> None:
    other = make_site(api, uows)
    envelope = submit_api(api, other, 120)
    assert manager_ui.get(f"{site.tab}/{envelope['id']}/withdraw").status_code == 404


# ---------- history ----------


def test_history_keeps_superseded_and_withdrawn_envelopes_newest_first(
    manager_ui: UiClient, api: httpx.Client, site: Site
) -> None:
    first = submit_api(api, site, 120, reference="first")
    second = submit_api(api, site, 90, reference="second")
    api.delete(f"{site.envelopes_api}/{second['id']}")
    text = manager_ui.get(site.tab).text
    history = text[text.index('id="history-title"') :]
    assert history.index(f'id="envelope-{second["id"]}"') < history.index(
        f'id="envelope-{first["id"]}"'
    )
    first_row = history[history.index(f'id="envelope-{first["id"]}"') :]
    assert 'data-status="SUPERSEDED">SUPERSEDED</span>' in first_row[:2000]
    assert f'superseded by <span class="mono">{second["id"][:8]}…</span>' in first_row[:2000]
    assert f'href="#envelope-{second["id"]}"' in first_row
    second_row = history[history.index(f'id="envelope-{second["id"]}"') :]
    assert 'data-status="WITHDRAWN">WITHDRAWN</span>' in second_row[:2000]
    assert "<details" in history and "Max import" in history
    assert "Showing 1\u20132 of 2 envelopes" in history

    paged = manager_ui.get(f"{site.tab}?limit=1").text
    assert "Showing 1\u20131 of 2 envelopes" in paged
    assert 'rel="next"' in paged


# ---------- empty states ----------


def test_without_a_microgrid_the_tab_says_why_and_admins_get_a_link(
    manager_ui: UiClient, api: httpx.Client, server_url: str, accounts: Accounts
) -> None:
    depot = create_depot(api, "Empty yard")
    tab = f"/depots/{depot['id']}/envelopes"
    page = manager_ui.get(tab)
    assert page.status_code == 200
    assert "This depot has no microgrid" in page.text
    assert f'href="/depots/{depot["id"]}/microgrid"' not in page.text
    assert "A system administrator can provision it" in page.text
    assert "Submit an envelope" not in page.text
    with UiClient(server_url) as admin:
        admin.login(accounts.make("system-admin"))
        shown = admin.get(tab).text
    assert f'<a class="btn btn-primary" href="/depots/{depot["id"]}/microgrid">' in shown


def test_a_microgrid_without_scopes_has_its_own_empty_state(
    manager_ui: UiClient, api: httpx.Client
) -> None:
    depot = create_depot(api, "Cleared yard")
    grid = create_circuit(api, depot["id"], "Old intake")
    assert api.delete(f"/api/circuits/{grid['id']}").status_code in (200, 204)
    page = manager_ui.get(f"/depots/{depot['id']}/envelopes").text
    assert "No managed scopes" in page, page
    assert "Submit an envelope" not in page


def test_history_is_empty_until_the_first_envelope(manager_ui: UiClient, site: Site) -> None:
    page = manager_ui.get(site.tab).text
    assert "No envelopes yet" in page
    assert re.search(r'data-source="RATING"[^>]*>RATING</span>', page)
    assert "No envelope is in force" in page


# ---------- the chart's series, without HTTP ----------

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def envelope(
    envelope_id: str,
    kw: float,
    start: datetime,
    end: datetime,
    *,
    created: datetime,
    status: EnvelopeStatus = EnvelopeStatus.ACTIVE,
    changed: datetime | None = None,
) -> OperatingEnvelope:
    return OperatingEnvelope(
        id=envelope_id,
        microgrid_id="m",
        depot_id="d",
        scope_id="s",
        circuit_id="c",
        kind=EnvelopeKind.PRIMARY,
        source_kind="MANUAL",
        source_reference="",
        blocks=(EnvelopeBlock(start, end, kw),),
        status=status,
        created_at=created,
        status_changed_at=changed or created,
    )


def updated(at: datetime, changes: dict[str, Any], position: int = 1) -> RecordedEvent:
    return RecordedEvent(
        position=position,
        stream_id="depot-d",
        stream_version=position,
        event_type="CircuitUpdated",
        data={"entity": "circuit", "entity_id": "c", "changes": changes},
        recorded_at=at,
        actor="test",
    )


def test_the_envelope_limit_counts_from_creation_until_withdrawal_and_newest_wins() -> None:
    a = envelope("a", 120, T0 - 4 * H, T0 + 4 * H, created=T0 - 2 * H)
    b = envelope(
        "b",
        80,
        T0 - H,
        T0 + H,
        created=T0 - H,
        status=EnvelopeStatus.WITHDRAWN,
        changed=T0 - H / 2,
    )
    assert envelope_limit_at([a, b], T0 - 3 * H) is None, "a did not exist yet"
    assert envelope_limit_at([a, b], T0 - 2 * H) == 120
    assert envelope_limit_at([a, b], T0 - H) == 80, "the newest wins"
    assert envelope_limit_at([a, b], T0 - H / 4) == 120, "b was withdrawn"
    assert envelope_limit_at([a, b], T0 + 5 * H) is None


def test_capacity_history_is_rebuilt_from_circuit_updates_and_planned_after_now() -> None:
    circuit_now = Circuit(
        "c", "d", "Main", None, 500, 120, 200, available_capacity_source=CapacitySource.ENVELOPE
    )
    events = [
        updated(T0 - 3 * H, {"available_capacity_kw": {"from": 500, "to": 300}}, 1),
        updated(T0 - 3 * H, {"name": {"from": "x", "to": "Main"}}, 2),
        updated(
            T0 - H,
            {
                "available_capacity_kw": {"from": 300, "to": 120},
                "available_capacity_source": {"from": "OPERATOR", "to": "ENVELOPE"},
            },
            3,
        ),
    ]
    live = envelope("a", 120, T0 - H, T0 + 2 * H, created=T0 - H)
    chart = chart_data(circuit=circuit_now, envelopes=[live], events=events, readings=[], now=T0)
    series = chart.series
    at = dict(zip(series["x"], series["capacity"], strict=True))
    assert at[(T0 - 12 * H).timestamp()] == 500
    assert at[(T0 - 3 * H).timestamp()] == 300
    assert at[T0.timestamp()] == 120
    planned = dict(zip(series["x"], series["planned"], strict=True))
    assert planned[(T0 + 2 * H).timestamp()] == 200, "back to the safe default"
    assert planned[(T0 - H).timestamp()] is None, "no plan in the past"
    assert [(r.capacity_kw, r.source, r.planned) for r in chart.rows] == [
        (500, "OPERATOR", False),
        (300, "OPERATOR", False),
        (120, "ENVELOPE", False),
        (200, "SAFE_DEFAULT", True),
    ]


def test_local_times_in_a_clock_change_gap_are_refused() -> None:
    london = ZoneInfo("Europe/London")
    assert local_time("2026-07-01T10:00", london) == datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="does not exist in Europe/London"):
        local_time("2026-03-29T01:30", london)
