"""Depot pages over real HTTP: list, search, paging, forms, permissions, CSRF and deletion."""

from __future__ import annotations

import re

import httpx

from tests.depotgrid.manage.api.helpers import create_circuit, create_depot
from tests.depotgrid.manage.web.ui_client import UiClient


def depot_count(api: httpx.Client) -> int:
    return int(api.get("/api/depots").json()["total"])


def test_the_empty_depot_list_says_what_to_do_next(manager_ui: UiClient) -> None:
    page = manager_ui.get("/depots")
    assert page.status_code == 200
    assert "No depots yet — create the first one" in page.text
    assert 'href="/depots/new"' in page.text


def test_the_depot_list_shows_names_and_time_zones(manager_ui: UiClient, api: httpx.Client) -> None:
    create_depot(api, "Leeds North", "Europe/London")
    create_depot(api, "Oslo Harbour", "Europe/Oslo")
    page = manager_ui.get("/depots")
    assert "Leeds North" in page.text
    assert "Europe/Oslo" in page.text
    assert "Showing 1\u20132 of 2" in page.text


def test_search_finds_by_name_and_says_when_nothing_matches(
    manager_ui: UiClient, api: httpx.Client
) -> None:
    create_depot(api, "Leeds North")
    create_depot(api, "Oslo Harbour")
    found = manager_ui.get("/depots", params={"q": "oslo"})
    assert "Oslo Harbour" in found.text
    assert "Leeds North" not in found.text
    missing = manager_ui.get("/depots", params={"q": "zzz"})
    assert "No depots match “zzz”" in missing.text


def test_an_htmx_search_returns_only_the_results(manager_ui: UiClient, api: httpx.Client) -> None:
    create_depot(api, "Leeds North")
    fragment = manager_ui.get("/depots", params={"q": "leeds"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "Leeds North" in fragment.text
    assert "HX-Request" in fragment.headers["vary"]


def test_the_list_pages_with_limit_and_offset(manager_ui: UiClient, api: httpx.Client) -> None:
    for name in ("Alpha", "Bravo", "Charlie"):
        create_depot(api, name)
    first = manager_ui.get("/depots", params={"limit": "2"})
    assert "Showing 1\u20132 of 3" in first.text
    assert "Charlie" not in first.text
    assert 'href="/depots?offset=2&amp;limit=2"' in first.text
    second = manager_ui.get("/depots", params={"limit": "2", "offset": "2"})
    assert "Showing 3\u20133 of 3" in second.text
    assert "Charlie" in second.text


def test_nonsense_paging_falls_back_to_the_first_page(manager_ui: UiClient) -> None:
    assert manager_ui.get("/depots", params={"limit": "lots", "offset": "-4"}).status_code == 200


def test_creating_a_depot_redirects_to_it_with_a_message(
    manager_ui: UiClient, api: httpx.Client
) -> None:
    manager_ui.get("/depots/new")
    response = manager_ui.post("/depots/new", {"name": "Leeds North", "timezone": "Europe/London"})
    assert response.status_code == 303
    page = manager_ui.follow(response)
    assert "Depot Leeds North created" in page.text
    assert "Add the grid connection (top-level circuit)" in page.text
    assert depot_count(api) == 1


def test_an_unknown_time_zone_is_shown_beside_the_field_as_typed(
    manager_ui: UiClient, api: httpx.Client
) -> None:
    manager_ui.get("/depots/new")
    response = manager_ui.post("/depots/new", {"name": "Leeds North", "timezone": "Mars/Base"})
    assert response.status_code == 422
    error = re.search(
        r'<p class="field-error" id="f-timezone-error">(.*?)</p>', response.text, re.S
    )
    assert error is not None
    assert "is not an IANA time zone" in error.group(1)
    assert 'aria-describedby="f-timezone-hint f-timezone-error"' in response.text
    assert 'value="Mars/Base"' in response.text
    assert 'value="Leeds North"' in response.text
    assert depot_count(api) == 0


def test_a_missing_name_is_an_inline_error(manager_ui: UiClient) -> None:
    manager_ui.get("/depots/new")
    response = manager_ui.post("/depots/new", {"name": "  ", "timezone": "Europe/London"})
    assert response.status_code == 422
    assert 'id="f-name-error"' in response.text
    assert "Enter the name" in response.text


def test_a_post_without_the_csrf_token_is_refused_and_creates_nothing(
    manager_ui: UiClient, api: httpx.Client
) -> None:
    manager_ui.get("/depots/new")
    form = {"name": "Leeds North", "timezone": "Europe/London"}
    missing = manager_ui.post("/depots/new", form, csrf="")
    wrong = manager_ui.post("/depots/new", form, csrf="not-the-token")
    assert missing.status_code == 403
    assert wrong.status_code == 403
    assert "nothing was changed" in wrong.text
    assert depot_count(api) == 0


def test_a_viewer_cannot_open_the_new_depot_form_nor_post_it(
    viewer_ui: UiClient, api: httpx.Client
) -> None:
    page = viewer_ui.get("/depots/new")
    assert page.status_code == 403
    assert "may view depots but not change them" in page.text
    posted = viewer_ui.post("/depots/new", {"name": "Leeds", "timezone": "Europe/London"})
    assert posted.status_code == 403
    assert depot_count(api) == 0


def test_a_viewer_sees_no_buttons_that_change_things(
    viewer_ui: UiClient, api: httpx.Client
) -> None:
    depot = create_depot(api, "Leeds North")
    circuit = create_circuit(api, depot["id"], "Grid")
    listing = viewer_ui.get("/depots")
    assert 'href="/depots/new"' not in listing.text
    detail = viewer_ui.get(f"/depots/{depot['id']}")
    assert detail.status_code == 200
    assert "Grid" in detail.text
    for href in (f"/depots/{depot['id']}/edit", f"/circuits/{circuit['id']}/delete", "/new"):
        assert href not in detail.text
    assert viewer_ui.get(f"/circuits/{circuit['id']}/edit").status_code == 403


def test_editing_a_depot_saves_the_change(manager_ui: UiClient, api: httpx.Client) -> None:
    depot = create_depot(api, "Leeds North")
    form = manager_ui.get(f"/depots/{depot['id']}/edit")
    assert 'value="Leeds North"' in form.text
    response = manager_ui.post(
        f"/depots/{depot['id']}/edit", {"name": "Leeds South", "timezone": "Europe/Oslo"}
    )
    assert response.status_code == 303
    stored = api.get(f"/api/depots/{depot['id']}").json()
    assert (stored["name"], stored["timezone"]) == ("Leeds South", "Europe/Oslo")


def test_deleting_a_depot_with_circuits_shows_the_conflict(
    manager_ui: UiClient, api: httpx.Client
) -> None:
    depot = create_depot(api, "Leeds North")
    create_circuit(api, depot["id"], "Grid")
    confirm = manager_ui.get(f"/depots/{depot['id']}/delete")
    assert "cannot be deleted yet" in confirm.text
    assert "<li>1 circuit</li>" in confirm.text
    response = manager_ui.post(f"/depots/{depot['id']}/delete", {})
    assert response.status_code == 409
    assert "depot Leeds North still has 1 circuit; delete them first" in response.text
    assert depot_count(api) == 1


def test_deleting_an_empty_depot_after_confirming(manager_ui: UiClient, api: httpx.Client) -> None:
    depot = create_depot(api, "Leeds North")
    confirm = manager_ui.get(f"/depots/{depot['id']}/delete")
    assert "This deletes the depot Leeds North (Europe/London)" in confirm.text
    response = manager_ui.post(f"/depots/{depot['id']}/delete", {})
    assert response.headers["location"] == "/depots"
    assert "Depot Leeds North deleted" in manager_ui.follow(response).text
    assert depot_count(api) == 0


def test_an_unknown_depot_is_a_404_page(manager_ui: UiClient) -> None:
    page = manager_ui.get("/depots/no-such-depot")
    assert page.status_code == 404
    assert "This depot does not exist" in page.text
    assert page.headers["content-type"].startswith("text/html")


def test_the_depot_header_shows_counts_and_the_tabs(
    manager_ui: UiClient, api: httpx.Client
) -> None:
    depot = create_depot(api, "Leeds North")
    create_circuit(api, depot["id"], "Grid")
    page = manager_ui.get(f"/depots/{depot['id']}")
    assert re.search(r">1</span>\s*<span class=\"fact-label\">circuit<", page.text)
    assert f'href="/depots/{depot["id"]}/history"' in page.text


def test_history_lists_changes_newest_first_in_depot_local_time(
    manager_ui: UiClient, api: httpx.Client
) -> None:
    depot = create_depot(api, "Leeds North", "Asia/Tokyo")
    api.patch(f"/api/depots/{depot['id']}", json={"name": "Leeds South"})
    page = manager_ui.get(f"/depots/{depot['id']}/history")
    assert page.status_code == 200
    assert "Newest first · times in Asia/Tokyo" in page.text
    assert "JST" in page.text
    updated, created = page.text.index("DepotUpdated"), page.text.index("DepotCreated")
    assert updated < created
    assert re.search(r"Leeds North</span>\s*<span aria-label=\"to\">→</span>\s*<span", page.text)
    assert "Showing 1\u20132 of 2 events" in page.text
