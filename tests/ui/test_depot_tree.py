"""An operator builds a depot's circuit tree in a real browser, and fixes a rejected value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Accounts

pytestmark = pytest.mark.ui

MOBILE = {"width": 390, "height": 844}


def log_in(page: Page, email: str, password: str, screenshot: Path | None = None) -> None:
    page.goto("/depots")
    expect(page).to_have_url(re.compile(r"/login\?next=/depots$"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    if screenshot:
        page.screenshot(path=screenshot)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/depots$"))


def test_build_a_circuit_tree_and_see_inline_errors(
    page: Page, accounts: Accounts, artifacts: Path
) -> None:
    account = accounts.make("manager")
    log_in(page, account.email, account.password, artifacts / "00-login.png")
    expect(page.get_by_role("heading", name="No depots yet — create the first one")).to_be_visible()
    page.screenshot(path=artifacts / "01-depots-empty.png")

    # A depot with an unknown time zone is refused beside the field, as typed.
    page.get_by_role("link", name="New depot").click()
    page.get_by_label("Name").fill("Leeds North")
    page.get_by_label("Time zone").fill("Mars/Olympus_Mons")
    page.get_by_role("button", name="Create depot").click()
    zone = page.get_by_label("Time zone")
    expect(zone).to_have_value("Mars/Olympus_Mons")
    expect(zone).to_have_attribute("aria-invalid", "true")
    expect(zone).to_have_attribute("aria-describedby", re.compile(r"\bf-timezone-error\b"))
    expect(page.locator("#f-timezone-error")).to_contain_text("is not an IANA time zone")
    expect(zone).to_be_focused()
    page.screenshot(path=artifacts / "02-depot-form-error.png", full_page=True)

    zone.fill("Europe/London")
    page.get_by_role("button", name="Create depot").click()
    expect(page.get_by_role("status")).to_contain_text("Depot Leeds North created")
    expect(page.get_by_role("heading", name="No circuits yet")).to_be_visible()
    page.screenshot(path=artifacts / "03-depot-without-circuits.png", full_page=True)

    # The grid connection, then a feeder under it.
    page.get_by_role("link", name="Add the grid connection (top-level circuit)").click()
    page.get_by_label("Name").fill("Grid connection")
    page.get_by_label("Max capacity (kW)").fill("800")
    page.get_by_label("Available capacity (kW)").fill("650")
    page.get_by_role("button", name="Add circuit").click()
    expect(page.get_by_role("status")).to_contain_text("Circuit Grid connection added.")

    page.get_by_role("link", name="Add child circuit under Grid connection").click()
    expect(page.get_by_label("Parent circuit")).to_have_value(re.compile(".+"))
    page.get_by_label("Name").fill("Feeder A")
    page.get_by_label("Max capacity (kW)").fill("250")
    page.get_by_role("button", name="Add circuit").click()

    top_level = page.locator("ul.tree > li.tree-item")
    expect(top_level).to_have_count(1)
    grid = top_level.filter(has=page.get_by_role("heading", name="Grid connection"))
    expect(grid.locator(".tree-children").get_by_role("heading", name="Feeder A")).to_be_visible()
    expect(grid.locator(".caps").first).to_contain_text("650.0 kW")

    # Some equipment, so the tree shows what hangs off each circuit.
    page.get_by_role("link", name="Add charger to Feeder A").click()
    page.get_by_label("Name").fill("Bay 1")
    page.get_by_label("OCPP identity").fill("LEEDS-CP-001")
    page.get_by_label("Max power (kW)").fill("150")
    page.get_by_role("button", name="Add charger").click()
    page.get_by_role("link", name="Add power source").click()
    page.get_by_label("Kind").select_option("BATTERY")
    page.get_by_label("State").select_option("IDLE")
    page.get_by_label("Rated power (kW)").fill("200")
    page.get_by_role("button", name="Add power source").click()
    feeder = grid.locator(".tree-children > li").filter(has_text="Feeder A")
    expect(feeder.locator(".components")).to_contain_text("Bay 1")
    page.screenshot(path=artifacts / "04-depot-tree.png", full_page=True)

    # Available capacity above the rating is refused beside that field.
    page.get_by_role("link", name="Edit circuit Feeder A").click()
    available = page.get_by_label("Available capacity (kW)")
    available.fill("300")
    page.get_by_role("button", name="Save circuit").click()
    expect(available).to_have_value("300")
    expect(available).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-available_capacity_kw-error")).to_contain_text(
        "300 kW is above the circuit rating"
    )
    page.screenshot(path=artifacts / "05-circuit-form-error.png", full_page=True)

    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("table")).to_contain_text("CircuitCreated")
    page.screenshot(path=artifacts / "06-depot-history.png", full_page=True)

    # htmx search swaps the table and updates the address.
    page.get_by_role("link", name="Depots", exact=True).first.click()
    page.get_by_label("Search depots by name").press_sequentially("zzz")
    expect(page).to_have_url(re.compile(r"/depots\?q=zzz$"))
    expect(page.get_by_role("heading", name="No depots match “zzz”")).to_be_visible()
    page.get_by_label("Search depots by name").fill("leeds")
    expect(page).to_have_url(re.compile(r"/depots\?q=leeds$"))
    expect(page.get_by_role("link", name="Leeds North")).to_be_visible()
    page.screenshot(path=artifacts / "07-depot-search.png")


def test_the_tree_stays_legible_on_a_phone(
    page: Page, accounts: Accounts, artifacts: Path, server_url: str
) -> None:
    account = accounts.make("manager")
    page.set_viewport_size(MOBILE)
    log_in(page, account.email, account.password)
    page.get_by_role("link", name="New depot").click()
    page.get_by_label("Name").fill("Oslo Harbour")
    page.get_by_label("Time zone").fill("Europe/Oslo")
    page.get_by_role("button", name="Create depot").click()
    for parent, name, rating in [("", "Grid", "400"), ("Grid", "Row 1", "200")]:
        if parent:
            page.get_by_role("link", name=f"Add child circuit under {parent}").click()
        else:
            page.get_by_role("link", name="Add the grid connection (top-level circuit)").click()
        page.get_by_label("Name").fill(name)
        page.get_by_label("Max capacity (kW)").fill(rating)
        page.get_by_role("button", name="Add circuit").click()
    expect(page.locator(".tree-children").get_by_role("heading", name="Row 1")).to_be_visible()
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, "the depot page scrolls sideways on a 390px screen"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=artifacts / "08-mobile-tree.png", full_page=True)
    page.get_by_role("link", name="Edit circuit Row 1").click()
    page.get_by_label("Max capacity (kW)").fill("a lot")
    page.get_by_role("button", name="Save circuit").click()
    expect(page.locator("#f-max_capacity_kw-error")).to_contain_text("enter a number in kW")
    page.screenshot(path=artifacts / "09-mobile-form-error.png", full_page=True)


def test_refusals_are_designed_pages(
    page: Page, accounts: Accounts, artifacts: Path, server_url: str
) -> None:
    manager = accounts.make("manager")
    log_in(page, manager.email, manager.password)
    page.get_by_role("link", name="New depot").click()
    page.get_by_label("Name").fill("Bergen Quay")
    page.get_by_label("Time zone").fill("Europe/Oslo")
    page.get_by_role("button", name="Create depot").click()
    page.get_by_role("link", name="Add the grid connection (top-level circuit)").click()
    page.get_by_label("Name").fill("Grid")
    page.get_by_label("Max capacity (kW)").fill("400")
    page.get_by_role("button", name="Add circuit").click()
    page.get_by_role("link", name="Delete depot").click()
    expect(page.get_by_role("main")).to_contain_text("cannot be deleted yet")
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    page.screenshot(path=artifacts / "10-delete-blocked.png")

    depot_url = page.url.removesuffix("/delete")
    page.locator(".user-menu summary").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_contain_text("You are logged out.")

    viewer = accounts.make("viewer")
    log_in(page, viewer.email, viewer.password)
    page.goto(depot_url)
    expect(page.get_by_role("heading", name="Grid")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^(Edit|Delete|Add)"))).to_have_count(0)
    response = page.goto(depot_url + "/edit")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="You can't make this change")).to_be_visible()
    page.screenshot(path=artifacts / "11-viewer-forbidden.png")
