"""Issue #5 acceptance in a real browser: a manager creates an OSCP configuration through the
form (microgrid and scope from the selects), hands the inbound token shown once to the
simulated Capacity Provider, enables the connection and watches it register, handshake and go
ONLINE on the detail page without reloading; then reads the outbound publications with their
attempts, the lifecycle history and the list; and sees the connection go OFFLINE and recover
while the page stays open."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Accounts, client_for, free_port
from tests.depotgrid.manage.api.helpers import create_circuit, create_depot
from tests.ui.oscp_fixtures import (
    SIM_GROUP,
    manage_url,
    server_url,
    sim,
    sim_url,
    start_sim_session,
)

pytestmark = pytest.mark.ui
__all__ = ["manage_url", "server_url", "sim", "sim_url"]

ONLINE_WITHIN_MS = 30_000
MOBILE = {"width": 390, "height": 844}
UNSTICK = ".topbar { position: static !important; }"
"""Full-page screenshots would show the sticky top bar mid-page."""


def log_in(page: Page, email: str, password: str) -> None:
    page.goto("/connections")
    expect(page).to_have_url(re.compile(r"/login\?next=/connections$"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/connections$"))


def shot(page: Page, path: Path, *, full_page: bool = True) -> None:
    page.add_style_tag(content=UNSTICK)
    page.screenshot(path=path, full_page=full_page)


def test_create_enable_and_watch_the_connection_go_online_without_reloading(
    page: Page,
    accounts: Accounts,
    manage_url: str,
    sim_url: str,
    sim: httpx.Client,
    artifacts: Path,
) -> None:
    manager = accounts.make("manager")
    with client_for(manage_url, manager) as api:
        depot = create_depot(api, "Leeds North")
        create_circuit(api, depot["id"], "Grid intake")
    cp_token = secrets.token_urlsafe(32)
    endpoint = f"{sim_url}/oscp/cp/2.0"

    log_in(page, manager.email, manager.password)
    expect(page.get_by_role("heading", name="No OSCP connections yet")).to_be_visible()
    shot(page, artifacts / "oscp-01-list-empty.png")

    # The form: microgrid and scope chosen from the selects (the scope select follows htmx).
    page.get_by_role("link", name="New configuration").click()
    page.get_by_label("Name").fill("Vector Leeds")
    page.get_by_label("Microgrid").select_option(label="Leeds North")
    scope = page.get_by_label("Managed scope")
    expect(scope.locator("option", has_text="Grid intake")).to_have_count(1)
    scope.select_option(label="Grid intake")
    page.get_by_label("Group id").fill(SIM_GROUP)
    page.get_by_label("Endpoint base URL").fill(endpoint)
    expect(page.get_by_label("Measurement configuration")).to_have_value("INTERMITTENT")
    page.get_by_label("Kind").select_option(value="token")
    page.get_by_label("Token", exact=True).fill(cp_token)
    shot(page, artifacts / "oscp-02-form.png")
    page.get_by_role("button", name="Create configuration").click()

    # The inbound token, shown once, goes to the simulated Capacity Provider.
    expect(
        page.get_by_role("heading", name="OSCP configuration Vector Leeds created")
    ).to_be_visible()
    inbound_token = page.locator("#token-value").input_value()
    assert len(inbound_token) >= 20
    opener = page.get_by_role("link", name="I have copied it: open the connection")
    found = re.search(r"/connections/([0-9a-f-]{36})$", opener.get_attribute("href") or "")
    assert found, "the token page links to the new configuration"
    configuration_id = found.group(1)
    shot(page, artifacts / "oscp-03-token-once.png")
    session = start_sim_session(
        sim,
        manage_url=manage_url,
        configuration_id=configuration_id,
        inbound_token=inbound_token,
        cp_token=cp_token,
    )

    opener.click()
    state = page.locator("#connection-state")
    expect(state).to_contain_text("CONFIGURED")
    expect(page.locator("#connection-notice")).to_contain_text(
        "Not enabled yet — no protocol traffic"
    )
    expect(page.locator("#connection-error")).to_contain_text("No connection error")
    shot(page, artifacts / "oscp-04-configured.png")

    # Enable (a form post and redirect), then no navigation until ONLINE.
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("status")).to_contain_text("Vector Leeds enabled.")
    page.evaluate("window.__marker = 1")
    expect(state).to_contain_text("ONLINE", timeout=ONLINE_WITHIN_MS)
    assert page.evaluate("window.__marker") == 1, "the page reloaded or navigated"
    expect(page.locator("#head-state")).to_contain_text("ONLINE")
    expect(page.locator("#connection-state .badge").first).to_have_class(re.compile("badge-green"))
    card = page.locator("#connection-live")
    expect(card).to_contain_text("every 2 s")
    expect(card).to_contain_text("INTERMITTENT")
    expect(card).not_to_contain_text("not registered yet")
    expect(page.locator("#last-heartbeat")).to_contain_text("ago")
    expect(page.locator("#head-heartbeat")).to_contain_text("ago")
    expect(page.locator("#connection-error")).to_contain_text("No connection error")
    expect(page.locator("#latest-audit")).to_contain_text("Online")
    expect(card.locator("[data-live-age]")).to_have_text(re.compile(r"^\d+ s ago$"))

    # It keeps refreshing in place: the scroll position stays, the page is the same one.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0
    before = page.locator("#last-heartbeat time").get_attribute("datetime")
    expect(page.locator("#last-heartbeat time")).not_to_have_attribute(
        "datetime", before or "", timeout=10_000
    )
    assert page.evaluate("window.scrollY") == scrolled
    assert page.evaluate("window.__marker") == 1
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, artifacts / "oscp-05-online.png")
    assert sim.get(session).status_code == 200

    # Outbound: Register, Handshake and heartbeats with their attempts and redacted bodies.
    page.get_by_role("link", name="Outbound", exact=True).click()
    page.evaluate("window.__marker = 2")
    rows = page.locator("#outbound-live details.pub-row")
    expect(rows.filter(has_text="Register")).to_have_count(1)
    expect(rows.filter(has_text="Handshake").first).to_be_visible()
    heartbeats = rows.filter(has_text="Heartbeat")
    expect(heartbeats.first).to_contain_text("DELIVERED", timeout=10_000)
    count = heartbeats.count()
    expect(heartbeats).not_to_have_count(count, timeout=10_000)  # new ones arrive live
    assert page.evaluate("window.__marker") == 2
    register = rows.filter(has_text="Register")
    expect(register).to_contain_text("DELIVERED")
    register.locator("summary").click()
    expect(register.locator("table")).to_contain_text("HTTP 204")
    expect(register.locator("pre.pub-body")).to_contain_text('"token": "•••"')
    expect(register.locator("pre.pub-body")).not_to_contain_text(inbound_token)
    # While a publication is open the list holds still (no refresh for more than 2 s).
    expect(page.locator("#outbound-live [data-live-age]")).to_have_text(
        re.compile(r"^([3-9]|\d\d) s ago$"), timeout=8_000
    )
    expect(register).to_have_attribute("open", "")
    shot(page, artifacts / "oscp-06-outbound.png")

    # History: the lifecycle events with the state each left.
    page.get_by_role("link", name="History", exact=True).click()
    history = page.locator("table.table-history")
    for label in ("Registration started", "Registered", "Handshake sent", "Online"):
        expect(history.locator("tr.history-connection", has_text=label).first).to_be_visible()
    online_row = history.locator("tr.history-connection", has_text="Online").first
    expect(online_row.locator("td").nth(2)).to_have_text("ONLINE")
    shot(page, artifacts / "oscp-07-history.png")

    # The list: state, last heartbeat and no error, refreshing in place.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="OSCP").click()
    row = page.locator(f"#connection-{configuration_id}")
    expect(row).to_contain_text("ONLINE")
    expect(row).to_contain_text("ago")
    expect(row).to_contain_text("none")
    expect(page.locator("#connections-live")).to_have_attribute("hx-trigger", "every 2s")
    shot(page, artifacts / "oscp-08-list-online.png")

    # COR-18 and COR-34 live: the CP stops its heartbeats, the open page shows OFFLINE with the
    # error, then ONLINE again with the error cleared, still without reloading.
    page.get_by_role("link", name="Vector Leeds").click()
    page.evaluate("window.__marker = 3")
    stop = {"mode": "stop_sending_heartbeats", "duration_seconds": 600}
    assert sim.patch(f"{session}/overrides", json=stop).status_code == 200
    expect(state).to_contain_text("OFFLINE", timeout=ONLINE_WITHIN_MS)
    error = page.locator("#connection-error")
    expect(error).to_contain_text("HEARTBEAT_MISSED")
    expect(error).to_contain_text("The Capacity Provider's heartbeats stopped")
    expect(page.locator("#connection-notice")).to_contain_text("the offline threshold was")
    expect(page.locator("#head-state")).to_contain_text("OFFLINE")
    expect(page.locator("#head-state")).not_to_contain_text("DEGRADED")
    shot(page, artifacts / "oscp-09-offline.png")
    clear = {"mode": "stop_sending_heartbeats", "clear": True}
    assert sim.patch(f"{session}/overrides", json=clear).status_code == 200
    expect(state).to_contain_text("ONLINE", timeout=ONLINE_WITHIN_MS)
    expect(error).to_contain_text("CLEARED")
    expect(error).to_contain_text("Cleared at")
    expect(page.locator("#latest-audit")).to_contain_text("Recovered")
    assert page.evaluate("window.__marker") == 3, "the page reloaded or navigated"
    shot(page, artifacts / "oscp-10-recovered.png")

    page.set_viewport_size(MOBILE)
    page.goto(f"/connections/{configuration_id}")
    expect(page.locator("#connection-state")).to_contain_text("ONLINE")
    shot(page, artifacts / "oscp-11-online-mobile.png")


def test_a_failing_registration_shows_its_error_and_retry_live(
    page: Page, accounts: Accounts, manage_url: str, artifacts: Path
) -> None:
    manager = accounts.make("manager")
    with client_for(manage_url, manager) as api:
        depot = create_depot(api, "York South")
        create_circuit(api, depot["id"], "Grid intake")
        microgrid = api.get("/api/microgrids", params={"depot_id": depot["id"]}).json()["items"][0]
        scopes = api.get(f"/api/microgrids/{microgrid['microgrid_id']}/scopes").json()["items"]
        created = api.post(
            "/api/oscp-configurations",
            json={
                "name": "Vector York",
                "group_id": "vector-york-1",
                "microgrid_id": microgrid["microgrid_id"],
                "managed_scope_id": scopes[0]["scope_id"],
                "endpoint_base_url": f"http://127.0.0.1:{free_port()}/oscp/cp/2.0",
                "outbound_auth": {"kind": "token", "token": secrets.token_urlsafe(32)},
            },
        )
        assert created.status_code == 201, created.text
    configuration_id = created.json()["id"]

    log_in(page, manager.email, manager.password)
    page.goto(f"/connections/{configuration_id}")
    page.get_by_role("button", name="Enable").click()
    page.evaluate("window.__marker = 1")
    notice = page.locator("#connection-notice")
    expect(notice).to_contain_text("Registering — delivery failing", timeout=15_000)
    expect(notice).to_contain_text(re.compile(r"Register attempt \d+ failed: no answer"))
    expect(notice).to_contain_text("The next attempt is at")
    expect(page.locator("#connection-error")).to_contain_text("REGISTRATION_UNDELIVERABLE")
    expect(page.locator("#connection-state")).to_contain_text("REGISTERING")
    expect(page.locator("#last-publication")).to_contain_text("RETRYING")
    assert page.evaluate("window.__marker") == 1, "the page reloaded or navigated"
    shot(page, artifacts / "oscp-12-registration-failing.png")

    page.get_by_role("link", name="Outbound", exact=True).click()
    register = page.locator("#outbound-live details.pub-row", has_text="Register")
    expect(register).to_contain_text("RETRYING")
    register.locator("summary").click()
    expect(register.locator("table")).to_contain_text("no answer")
    shot(page, artifacts / "oscp-13-outbound-retrying.png")
