"""Logging in and out, and what happens to visitors who are not logged in."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Accounts
from tests.depotgrid.manage.web.ui_client import UiClient


@pytest.mark.parametrize(
    ("path", "next_path"),
    [
        ("/depots", "/depots"),
        ("/depots/new", "/depots/new"),
        ("/depots?q=north&offset=50", "/depots%3Fq%3Dnorth%26offset%3D50"),
        ("/circuits/abc/edit", "/circuits/abc/edit"),
    ],
)
def test_a_page_redirects_anonymous_visitors_to_login_and_back(
    server_url: str, accounts: Accounts, path: str, next_path: str
) -> None:
    with UiClient(server_url) as ui:
        response = ui.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={next_path}"


def test_the_root_redirects_to_the_depot_list(server_url: str, accounts: Accounts) -> None:
    with UiClient(server_url) as ui:
        response = ui.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/depots"


def test_logging_in_returns_to_the_page_asked_for(server_url: str, accounts: Accounts) -> None:
    account = accounts.make("operator")
    with UiClient(server_url) as ui:
        response = ui.login(account, next_path="/depots?q=north")
        assert response.status_code == 303
        assert response.headers["location"] == "/depots?q=north"
        page = ui.follow(response)
    assert page.status_code == 200
    assert account.email in page.text
    assert "operator" in page.text
    assert 'action="/logout"' in page.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
def test_login_never_redirects_to_another_site(
    server_url: str, accounts: Accounts, target: str
) -> None:
    with UiClient(server_url) as ui:
        response = ui.login(accounts.make("manager"), next_path=target)
    assert response.headers["location"] == "/depots"


def test_a_wrong_password_shows_the_form_again_with_the_email_kept(
    server_url: str, accounts: Accounts
) -> None:
    account = accounts.make("manager")
    with UiClient(server_url) as ui:
        ui.get("/login")
        response = ui.post("/login", {"email": account.email, "password": "wrong-password"})
        assert response.status_code == 422
        assert "do not match an account" in response.text
        assert f'value="{account.email}"' in response.text
        assert ui.get("/depots").status_code == 303


def test_login_without_the_csrf_token_is_refused(server_url: str, accounts: Accounts) -> None:
    account = accounts.make("manager")
    with UiClient(server_url) as ui:
        ui.get("/login")
        response = ui.post(
            "/login", {"email": account.email, "password": account.password}, csrf=""
        )
        assert response.status_code == 403
        assert ui.get("/depots").status_code == 303


def test_logging_out_ends_the_session(manager_ui: UiClient) -> None:
    assert manager_ui.get("/depots").status_code == 200
    response = manager_ui.post("/logout", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    login_page = manager_ui.follow(response)
    assert "You are logged out." in login_page.text
    assert manager_ui.get("/depots").status_code == 303


def test_logging_out_needs_a_post(manager_ui: UiClient) -> None:
    assert manager_ui.http.get("/logout").status_code == 405
    assert manager_ui.get("/depots").status_code == 200


def test_unknown_page_gets_an_html_not_found_page_but_api_stays_json(server_url: str) -> None:
    page = httpx.get(f"{server_url}/no-such-page", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert "Page not found" in page.text
    api = httpx.get(f"{server_url}/api/nope", headers={"accept": "text/html"})
    assert api.status_code == 404
    assert api.json()["message"] == "Not Found"
