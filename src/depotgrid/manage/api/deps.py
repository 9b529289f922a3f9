"""Dependencies shared by API routes: units of work and the authenticated principal."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request

from depotgrid.manage.auth import service as auth
from depotgrid.manage.auth.model import Permission, User
from depotgrid.manage.unit_of_work import UnitOfWorkFactory

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"


async def uow_factory(request: Request) -> UnitOfWorkFactory:
    # async: FastAPI would send a sync dependency through the thread pool for nothing.
    factory: UnitOfWorkFactory = request.app.state.uow
    return factory


Uow = Annotated[UnitOfWorkFactory, Depends(uow_factory)]


def current_user(request: Request, uows: Uow) -> User:
    """The caller, from a Bearer token or the UI session cookie (which needs CSRF on writes)."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("the Authorization header must be 'Bearer <token>'")
        with uows.read() as uow:
            user = auth.user_for_token(uow, token.strip())
        if user is None:
            raise _unauthorized("the API token is not valid")
        return user
    user_id = request.session.get("user_id") if "session" in request.scope else None
    if user_id:
        if request.method not in SAFE_METHODS and not _csrf_ok(request):
            raise HTTPException(403, f"the {CSRF_HEADER} header is missing or wrong")
        with uows.read() as uow:
            user = uow.auth.user_by_id(user_id)
        if user is not None:
            return user
    raise _unauthorized("authentication required: send 'Authorization: Bearer <token>'")


CurrentUser = Annotated[User, Depends(current_user)]


def require(permission: Permission) -> Callable[[User], Awaitable[User]]:
    async def check(user: CurrentUser) -> User:
        if not user.can(permission):
            raise HTTPException(
                403, f"role {user.role.value} may not do this (needs {permission.value})"
            )
        return user

    return check


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def _csrf_ok(request: Request) -> bool:
    sent = request.headers.get(CSRF_HEADER, "")
    expected = request.session.get("csrf", "")
    return bool(sent) and secrets.compare_digest(sent, expected)


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


class PageParams:
    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=200, description="Items per page.")] = 50,
        offset: Annotated[int, Query(ge=0, description="Items to skip.")] = 0,
    ) -> None:
        self.limit = limit
        self.offset = offset


Paging = Annotated[PageParams, Depends()]
