"""A browser-like HTTP client for UI tests: keeps the session cookie and the CSRF token."""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx

from tests.conftest import Account

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class UiClient:
    """Logs in through the form and posts forms with the session's CSRF token."""

    def __init__(self, server_url: str) -> None:
        self.http = httpx.Client(base_url=server_url, follow_redirects=False, timeout=10)
        self.csrf = ""

    def __enter__(self) -> UiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def get(self, url: str, **kwargs: object) -> httpx.Response:
        response = self.http.get(url, **kwargs)  # type: ignore[arg-type]
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def login(self, account: Account, next_path: str = "") -> httpx.Response:
        self.get(f"/login?next={next_path}" if next_path else "/login")
        return self.post(
            "/login", {"email": account.email, "password": account.password, "next": next_path}
        )

    def post(self, url: str, data: Mapping[str, str], *, csrf: str | None = None) -> httpx.Response:
        """Post a form; `csrf` overrides the token ('' sends none)."""
        token = self.csrf if csrf is None else csrf
        body = dict(data) | ({"csrf_token": token} if token else {})
        response = self.http.post(url, data=body)
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def follow(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code == 303, (response.status_code, response.text[:500])
        return self.get(response.headers["location"])
