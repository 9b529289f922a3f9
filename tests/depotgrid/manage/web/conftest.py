"""Fixtures of the UI page tests: browser-like clients logged in through the login form."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Accounts, client_for
from tests.depotgrid.manage.web.ui_client import UiClient


@pytest.fixture
def manager_ui(server_url: str, accounts: Accounts) -> Iterator[UiClient]:
    with UiClient(server_url) as ui:
        assert ui.login(accounts.make("manager")).status_code == 303
        yield ui


@pytest.fixture
def viewer_ui(server_url: str, accounts: Accounts) -> Iterator[UiClient]:
    with UiClient(server_url) as ui:
        assert ui.login(accounts.make("viewer")).status_code == 303
        yield ui


@pytest.fixture
def api(server_url: str, accounts: Accounts) -> Iterator[httpx.Client]:
    """The JSON API as a manager, to set up state quickly and to check what the UI stored."""
    with client_for(server_url, accounts.make("manager")) as client:
        yield client
