"""Browser fixtures: Playwright's sync API driving Debian's Chromium against the live server.

Playwright never downloads a browser here: it launches the system `chromium`. Screenshots go
to test-artifacts/ at the repository root (gitignored) for people to look at.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "the UI tests need Debian's chromium: apt-get install chromium (scripts/test does)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, server_url: str) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the live server; fails on any off-site request."""
    context = browser.new_context(base_url=server_url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    off_site: list[str] = []
    context.on(
        "request",
        lambda request: (
            None if request.url.startswith(server_url) else off_site.append(request.url)
        ),
    )
    page = context.new_page()
    yield page
    context.close()
    assert off_site == [], f"the UI must work offline, but it fetched {off_site}"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
