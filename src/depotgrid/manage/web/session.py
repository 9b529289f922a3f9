"""Who is at the screen: the session's user, CSRF-checked form posts and flash messages.

The UI keeps `user_id`, the CSRF token and pending flash messages in the signed session
cookie. Failures raise the exceptions below; `PageRoute` turns them into pages or redirects.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Literal
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request

from depotgrid.manage.api.deps import Uow, csrf_token
from depotgrid.manage.auth.model import Permission, User

FlashKind = Literal["success", "error"]
CSRF_FIELD = "csrf_token"
HOME = "/depots"


class LoginRequired(Exception):
    """Nobody is logged in; after logging in, go back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PermissionDenied(Exception):
    """The logged-in user's role may not do this."""


class CsrfRejected(Exception):
    """A form post without the session's CSRF token: it may come from another site."""


def page_user(request: Request, uows: Uow) -> User:
    """The logged-in user; kept on `request.state` so error pages can show the user menu."""
    user_id = request.session.get("user_id")
    user = None
    if user_id:
        with uows.read() as uow:
            user = uow.auth.user_by_id(str(user_id))
    if user is None:
        raise LoginRequired(_here(request))
    request.state.user = user
    return user


PageUser = Annotated[User, Depends(page_user)]


def page_writer(user: PageUser) -> User:
    """The logged-in user, if their role may change the depot model."""
    if not user.can(Permission.LEGACY_WRITE):
        raise PermissionDenied(
            f"Your role ({user.role.value}) may view depots but not change them. "
            "Ask a manager or an administrator to make this change."
        )
    return user


PageWriter = Annotated[User, Depends(page_writer)]


async def posted_form(request: Request) -> dict[str, str]:
    """The posted form's text fields, once its CSRF token matches the session's."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not expected or not secrets.compare_digest(sent, expected):
        raise CsrfRejected()
    return {key: value for key, value in form.items() if isinstance(value, str)}


PostedForm = Annotated[dict[str, str], Depends(posted_form)]


def log_in(request: Request, user: User) -> None:
    """Start a fresh session for `user` (a new CSRF token too, against session fixation)."""
    request.session.clear()
    request.session["user_id"] = user.id
    csrf_token(request)


def log_out(request: Request) -> None:
    request.session.clear()


def flash(request: Request, kind: FlashKind, text: str) -> None:
    """Queue a message for the next page rendered in this session."""
    pending = list(request.session.get("flash", []))
    pending.append({"kind": kind, "text": text})
    request.session["flash"] = pending


def pop_flashes(request: Request) -> list[dict[str, str]]:
    pending = request.session.pop("flash", [])
    return [dict(item) for item in pending]


def safe_next(value: str | None) -> str:
    """A local path to go to after logging in; anything else (another site) goes home."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return HOME
    return value


def login_url(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='/')}"


def _here(request: Request) -> str:
    """The path to come back to; a form post comes back to the page that shows the form."""
    path = request.url.path
    query = request.url.query
    return f"{path}?{query}" if query and request.method == "GET" else path
