"""Issue #3 §5 in a real browser: a manager submits an operating envelope for a scope from the
depot's Envelopes tab, sees the circuit page's available capacity and allocations change with
the reason code ENVELOPE_LIMIT, withdraws it and sees them return."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from depotgrid.manage.microgrid import service as microgrids
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from tests.conftest import Accounts, client_for
from tests.depotgrid.manage.api.balancing_helpers import plug_in, post_reading
from tests.depotgrid.manage.api.helpers import create_charger, create_circuit, create_depot
from tests.ui.test_depot_tree import MOBILE, log_in

pytestmark = pytest.mark.ui

ZONE = ZoneInfo("Europe/London")
UNSTICK = ".topbar { position: static !important; }"
"""Screenshots of long pages would show the sticky top bar mid-page."""


def local(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")


def expect_circuit(
    page: Page, capacity: str, setpoint: str, chargers: list[str], *, limited: bool
) -> None:
    """The circuit page's capacity, each charger's setpoint, and ENVELOPE_LIMIT where it binds."""
    expect(page.locator("#effective-capacity")).to_contain_text(capacity)
    for charger_id in chargers:
        row = page.locator(f"#setpoint-{charger_id}")
        expect(row).to_contain_text(setpoint)
        expect(row.locator('[data-code="ENVELOPE_LIMIT"]')).to_have_count(1 if limited else 0)


def test_submit_and_withdraw_an_envelope_from_the_envelopes_tab(
    page: Page, accounts: Accounts, server_url: str, uows: UnitOfWorkFactory, artifacts: Path
) -> None:
    manager = accounts.make("manager")
    with client_for(server_url, manager) as api:
        depot = create_depot(api, "Riverside", "Europe/London")
        grid = create_circuit(
            api, depot["id"], "Main intake", rating=200, safe_default_capacity_kw=200
        )
        chargers = [
            create_charger(api, depot["id"], grid["id"], f"Bay {n}", max_power_kw=100)["id"]
            for n in (1, 2)
        ]
        for charger_id in chargers:
            plug_in(api, charger_id, requested_kw=80)
    circuit_url = f"/circuits/{grid['id']}"
    log_in(page, manager.email, manager.password)

    # Before: the rating binds nothing, each charger gets what it asks for.
    page.goto(circuit_url)
    expect_circuit(page, "200.0 kW", "80.0 kW", chargers, limited=False)
    expect(page.locator('[data-code="ENVELOPE_LIMIT"]')).to_have_count(0)

    page.goto(f"/depots/{depot['id']}")
    page.get_by_role("link", name="Envelopes", exact=True).click()
    card = page.locator("article.scope-card")
    expect(card).to_contain_text("Main intake")
    expect(card.locator("[data-effective-kw]")).to_have_text("200.0 kW")
    expect(card).to_contain_text("No envelope is in force")
    expect(page.locator(".env-chart canvas").first).to_be_visible()
    page.screenshot(path=artifacts / "envelopes-01-tab-empty.png", full_page=True, style=UNSTICK)

    # A refused submission keeps what was typed and says how to fix it, beside the field.
    now = datetime.now(UTC)
    page.get_by_label("Scope", exact=True).select_option(label="Main intake")
    page.get_by_label("Start (Europe/London)").fill(local(now - timedelta(minutes=30)))
    page.get_by_label("End (Europe/London)").fill(local(now + timedelta(hours=2)))
    page.get_by_label("Max import (kW)").fill("-100")
    page.get_by_label("Source reference").fill("INC-1234")
    page.get_by_role("button", name="Submit envelope").click()
    max_import = page.get_by_label("Max import (kW)")
    expect(max_import).to_have_value("-100")
    expect(max_import).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-max_import_kw-error")).to_contain_text("Must be zero or more kW")
    expect(page.get_by_label("Source reference")).to_have_value("INC-1234")
    page.locator("#submit").screenshot(
        path=artifacts / "envelopes-02-form-error.png", style=UNSTICK
    )

    max_import.fill("100")
    page.get_by_role("button", name="Submit envelope").click()
    expect(page.get_by_role("status")).to_contain_text(
        "submitted (ACTIVE). Main intake now has 100.0 kW available (ENVELOPE)."
    )
    expect(card.locator("[data-effective-kw]")).to_have_text("100.0 kW")
    expect(card.locator('[data-source="ENVELOPE"]')).to_be_visible()
    expect(card.locator('[data-status="ACTIVE"]')).to_be_visible()
    expect(card).to_contain_text("INC-1234")
    expect(page.locator(".env-chart canvas").first).to_be_visible()
    page.screenshot(path=artifacts / "envelopes-03-tab-active.png", full_page=True, style=UNSTICK)
    page.set_viewport_size(MOBILE)
    page.screenshot(path=artifacts / "envelopes-04-tab-mobile.png", full_page=True, style=UNSTICK)
    card.screenshot(path=artifacts / "envelopes-04a-card-mobile.png", style=UNSTICK)
    page.locator("#history").screenshot(
        path=artifacts / "envelopes-04c-history-mobile.png", style=UNSTICK
    )
    page.locator("#submit").screenshot(
        path=artifacts / "envelopes-04b-form-mobile.png", style=UNSTICK
    )
    page.set_viewport_size({"width": 1366, "height": 900})

    # The circuit page: the envelope caps the circuit, the chargers share what is left.
    card.get_by_role("link", name="Main intake", exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(circuit_url) + "$"))
    expect_circuit(page, "100.0 kW", "50.0 kW", chargers, limited=True)
    expect(
        page.locator('section[aria-labelledby="capacity-title"] [data-code="ENVELOPE_LIMIT"]')
    ).to_be_visible()
    expect(page.locator("#effective-capacity")).to_contain_text("an operating envelope")
    page.screenshot(
        path=artifacts / "envelopes-05-circuit-limited.png", full_page=True, style=UNSTICK
    )

    # Withdraw through the UI: it asks first and says what will happen.
    page.go_back()
    card.get_by_role("link", name=re.compile("^Withdraw")).click()
    expect(page.locator("#withdraw-outcome")).to_contain_text(
        "returns to its safe default of 200.0 kW"
    )
    page.screenshot(
        path=artifacts / "envelopes-06-withdraw-confirm.png", full_page=True, style=UNSTICK
    )
    page.get_by_role("button", name="Withdraw envelope").click()
    expect(page.get_by_role("status")).to_contain_text(
        "withdrawn. Main intake now has 200.0 kW available (SAFE_DEFAULT)."
    )
    expect(card.locator("[data-effective-kw]")).to_have_text("200.0 kW")
    expect(card.locator('[data-source="SAFE_DEFAULT"]')).to_be_visible()
    history = page.locator(".env-row").first
    expect(history.locator('[data-status="WITHDRAWN"]')).to_be_visible()
    history.locator("summary").click()
    expect(history).to_contain_text("INC-1234")
    page.screenshot(
        path=artifacts / "envelopes-07-withdrawn-history.png", full_page=True, style=UNSTICK
    )

    page.goto(circuit_url)
    expect_circuit(page, "200.0 kW", "80.0 kW", chargers, limited=False)
    expect(page.locator('[data-code="ENVELOPE_LIMIT"]')).to_have_count(0)


def test_the_cards_refresh_without_losing_scroll_or_typed_input(
    page: Page, accounts: Accounts, server_url: str, uows: UnitOfWorkFactory, artifacts: Path
) -> None:
    manager = accounts.make("manager")
    with client_for(server_url, manager) as api:
        depot = create_depot(api, "Harbour", "Europe/London")
        quay = create_circuit(
            api, depot["id"], "Quay intake", rating=300, safe_default_capacity_kw=120
        )
        for n, kw in enumerate([40, 65, 90, 140, 120, 85, 60, 75, 110, 95]):
            post_reading(api, quay["id"], kw, seconds_ago=(10 - n) * 600)
        scope_url = _scope_envelopes(api, uows, depot["id"])
    log_in(page, manager.email, manager.password)
    page.set_viewport_size({"width": 1366, "height": 600})
    page.goto(f"/depots/{depot['id']}/envelopes")
    card = page.locator("article.scope-card")
    expect(card.locator("[data-effective-kw]")).to_have_text("300.0 kW")
    reference = page.get_by_label("Source reference")
    reference.fill("typed, not sent")
    reference.scroll_into_view_if_needed()
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0
    chart = page.locator(".env-chart canvas").first
    expect(chart).to_be_visible()
    chart_before = chart.evaluate("canvas => canvas.toDataURL()")
    chart.evaluate("canvas => { canvas.dataset.mark = 'kept'; }")

    now = datetime.now(UTC)
    with client_for(server_url, manager) as api:
        body = {
            "kind": "PRIMARY",
            "source": {"kind": "OSCP", "reference": "forecast-9"},
            "blocks": [
                {
                    "start": (now - timedelta(minutes=5)).isoformat(),
                    "end": (now + timedelta(hours=1)).isoformat(),
                    "max_import_kw": 90,
                }
            ],
        }
        assert api.post(scope_url, json=body).status_code == 201
    expect(card.locator("[data-effective-kw]")).to_have_text("90.0 kW", timeout=12_000)
    expect(card).to_contain_text("forecast-9")
    expect(reference).to_have_value("typed, not sent")
    assert page.evaluate("window.scrollY") == scrolled
    expect(page.locator("[data-age-since]").first).to_have_text(re.compile(r"^\d+ s ago$"))
    card.screenshot(path=artifacts / "envelopes-08-card-refreshed.png", style=UNSTICK)
    assert chart.evaluate("canvas => canvas.toDataURL()") != chart_before, "chart redrawn"
    expect(page.locator(".env-chart canvas[data-mark='kept']")).to_have_count(1)


def _scope_envelopes(api: httpx.Client, uows: UnitOfWorkFactory, depot_id: str) -> str:
    with uows.read() as uow:
        microgrid = microgrids.microgrid_for_depot(uow, depot_id)
        assert microgrid is not None
        (scope,) = microgrids.scopes(uow, microgrid.id)
    return f"/api/microgrids/{microgrid.id}/scopes/{scope.scope_id}/envelopes"
