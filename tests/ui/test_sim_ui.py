"""The simulator UI (issue #4 scope 7) in a real browser: a QA engineer creates and starts a
run, attaches an OSCP session to the FP double, sends a handshake, watches the session come
online and the ledger fill without reloading, opens an entry's headers and body, applies an
override, and sends a forecast."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.depotgrid.sim.fp_double import FpDouble
from tests.depotgrid.sim.helpers import (
    FP_TOKEN,
    SITE_CONFIGURATION,
    create_session,
    go_online,
    make_world,
)
from tests.ui.sim_fixtures import fp, server_url, sim, sim_url

pytestmark = pytest.mark.ui
__all__ = ["fp", "server_url", "sim", "sim_url"]
MOBILE = {"width": 390, "height": 844}
UNSTICK = ".topbar { position: static !important; }"
"""Full-page screenshots would show the sticky top bar mid-page."""


def test_run_session_handshake_and_ledger_from_the_browser(
    page: Page, sim: httpx.Client, fp: FpDouble, artifacts: Path
) -> None:
    assert sim.post("/simulation-configurations", json=SITE_CONFIGURATION).status_code == 201
    page.goto("/")
    expect(page.get_by_text("No runs yet")).to_be_visible()
    page.get_by_label("Configuration and version").select_option(label="Depot A — version 1")
    page.get_by_role("button", name="Create run").click()
    expect(page.locator("#run-head h1")).to_contain_text("created")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs").click()
    expect(page.locator("#runs-live")).to_contain_text("Depot A v1")
    page.screenshot(path=artifacts / "sim-00-runs.png", full_page=True, style=UNSTICK)
    page.get_by_role("button", name="Start run Depot A v1").click()
    expect(page.locator("#runs-live")).to_contain_text("running")
    page.get_by_role("link", name="Depot A v1", exact=True).click()
    expect(page.locator("#run-head h1")).to_contain_text("running")
    expect(page.locator("#node-grid-1")).to_contain_text("500.0 kW")
    page.screenshot(path=artifacts / "sim-01-run.png", full_page=True, style=UNSTICK)

    # Attach a session; the CP token is shown once, for the FP.
    page.get_by_label("Flexibility Provider base URL").fill(fp.base_url)
    page.get_by_label("FP token").fill(FP_TOKEN)
    remote = page.get_by_label("Remote configuration id").input_value()
    page.get_by_role("button", name="Attach session").click()
    cp_token = page.locator("#cp-token").inner_text()
    fp.peer(remote, page.locator("#cp-base-url").inner_text(), cp_token)
    page.get_by_role("link", name="Open the session").click()
    head = page.locator("#session-head h1")
    expect(head).to_contain_text("offline")

    # Send the handshake: the FP double acknowledges it, and the page shows it without a reload.
    page.get_by_label("Heartbeat interval required of the FP (s)").fill("5")
    page.get_by_role("button", name="Send handshake").click()
    expect(page.locator("#commands .flash")).to_contain_text("Handshake sent:")
    expect(page.locator("#commands .flash")).to_contain_text("HTTP 204")
    page.get_by_label("Capacity", exact=True).fill("123")
    expect(head).to_contain_text("online", timeout=10_000)
    ledger = page.locator("#session-ledger")
    expect(ledger.locator(".entry-type", has_text="HandshakeAcknowledge")).to_have_count(1)
    expect(page.locator("[data-timer=liveness]")).to_contain_text("in ")

    # Open the Handshake entry: headers (credentials masked), body, validation.
    handshake = ledger.locator(
        "details.entry", has=page.locator(".entry-type", has_text=re.compile(r"^Handshake$"))
    )
    handshake.locator("summary").click()
    headers = handshake.locator("table")
    expect(headers).to_contain_text("X-Request-ID")
    expect(headers).to_contain_text(f"X-OSCP-Configuration-ID{remote}")
    expect(headers).to_contain_text("Token …")
    expect(handshake.locator("pre.json")).to_contain_text('"heartbeat_interval": 5.0')
    expect(handshake).to_contain_text("No validation errors.")
    assert FP_TOKEN not in handshake.inner_text() and cp_token not in page.content()

    # Live refreshes keep the open entry open and what was typed.
    updated = page.locator("#session-head [data-age-since]")
    expect(updated).to_have_text(re.compile(r"^[0-2] s ago$"), timeout=5_000)
    page.wait_for_timeout(2_500)
    expect(handshake.locator(".entry-body")).to_be_visible()
    expect(page.get_by_label("Capacity", exact=True)).to_have_value("123")
    page.screenshot(path=artifacts / "sim-02-session-online.png", full_page=True, style=UNSTICK)


def test_override_and_forecast_from_the_browser_on_a_narrow_screen(
    page: Page, sim: httpx.Client, fp: FpDouble, artifacts: Path
) -> None:
    world = make_world(sim)
    session = create_session(sim, world, fp)
    go_online(sim, world, session, fp, interval=30)
    page.set_viewport_size(MOBILE)
    page.goto(f"/ui/runs/{world.run_id}/sessions/{session['session_id']}")
    expect(page.locator("#session-overrides")).to_contain_text("No override is active")

    page.get_by_label("Behaviour to force").select_option("ignore_heartbeats")
    page.get_by_label("For (logical seconds)").fill("600")
    page.get_by_role("button", name="Apply override").click()
    expect(page.locator("#scenario .flash")).to_contain_text("Override applied.")
    expect(page.locator("#override-ignore_heartbeats")).to_contain_text("ignore heartbeats")

    page.get_by_label("Capacity", exact=True).fill("75")
    page.get_by_role("button", name="Send forecast").click()
    expect(page.locator("#forecast .flash")).to_contain_text("UpdateGroupCapacityForecast sent:")
    expect(page.locator("#session-forecast")).to_contain_text("accepted")
    expect(page.locator("#forecast-chart canvas").first).to_be_visible()
    assert (
        fp.wait_for("update_group_capacity_forecast")[0].body["forecasted_blocks"][0]["capacity"]
        == 75
    )
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= MOBILE["width"], f"the page scrolls sideways on a phone ({width}px)"
    page.screenshot(path=artifacts / "sim-03-session-mobile.png", full_page=True, style=UNSTICK)
    page.locator("#forecast").screenshot(path=artifacts / "sim-04-forecast-mobile.png")
