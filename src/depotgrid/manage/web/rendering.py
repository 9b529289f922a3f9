"""Templates, their filters, and `render`: every UI response goes through here."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from depotgrid.manage.api.deps import csrf_token
from depotgrid.manage.auth.model import Permission, User
from depotgrid.manage.web.session import pop_flashes

WEB = Path(__file__).parent
TEMPLATES_DIR = WEB / "templates"
STATIC_DIR = WEB / "static"

PRODUCT = "depotgrid"


def format_kw(value: float | None) -> str:
    """Power in kW with one decimal, as every page shows it."""
    return "—" if value is None else f"{value:,.1f} kW"


@cache
def static_url(path: str) -> str:
    """The URL of a static file, versioned by its content so browsers never keep a stale copy."""
    file = STATIC_DIR / path
    version = hashlib.sha256(file.read_bytes()).hexdigest()[:10] if file.is_file() else "missing"
    return f"/static/{path}?v={version}"


templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.filters["kw"] = format_kw
templates.env.globals["static"] = static_url
templates.env.globals["product"] = PRODUCT


def page_user_or_none(request: Request) -> User | None:
    """The user a page dependency loaded for this request, if any."""
    user = getattr(request.state, "user", None)
    return user if isinstance(user, User) else None


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    partial: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render a template with what every page needs: the user, the CSRF token, flash messages.

    A `partial` (an htmx fragment) leaves flash messages for the next full page.
    """
    user = page_user_or_none(request)
    base: dict[str, Any] = {
        "user": user,
        "can_write": user is not None and user.can(Permission.LEGACY_WRITE),
        "csrf": csrf_token(request),
        "flashes": [] if partial else pop_flashes(request),
    }
    return templates.TemplateResponse(
        request, name, base | dict(context or {}), status_code=status, headers=headers
    )


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    """A designed error page: what failed, why, and where to go next."""
    return render(
        request, "error.html", {"status": status, "title": title, "message": message}, status=status
    )


def http_error_page(request: Request, status: int, message: str) -> Response:
    """The page a browser gets for an HTTP error outside the UI's own routes (e.g. a bad URL)."""
    titles = {404: "Page not found", 405: "Not allowed here"}
    return error_page(request, status, titles.get(status, "Something went wrong"), message)
