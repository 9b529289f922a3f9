"""Logging in and out of the operator UI, and the front door."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from depotgrid.manage.api.deps import Uow
from depotgrid.manage.auth.service import authenticate
from depotgrid.manage.web.page_route import PageRoute
from depotgrid.manage.web.rendering import render
from depotgrid.manage.web.session import HOME, PostedForm, flash, log_in, log_out, safe_next

router = APIRouter(route_class=PageRoute, include_in_schema=False)

BAD_LOGIN = "That email and password do not match an account. Check both and try again."


@router.get("/")
def home() -> Response:
    return RedirectResponse(HOME, status_code=303)


@router.get("/login")
def login_form(request: Request, uows: Uow, next: str | None = None) -> Response:
    target = safe_next(next)
    if _logged_in(request, uows):
        return RedirectResponse(target, status_code=303)
    return _login_page(request, email="", target=target)


@router.post("/login")
def login(request: Request, form: PostedForm, uows: Uow) -> Response:
    email = form.get("email", "").strip()
    password = form.get("password", "")
    target = safe_next(form.get("next"))
    with uows.read() as uow:
        user = authenticate(uow, email, password) if email and password else None
    if user is None:
        return _login_page(request, email=email, target=target, error=BAD_LOGIN, status=422)
    log_in(request, user)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, _: PostedForm) -> Response:
    log_out(request)
    flash(request, "success", "You are logged out.")
    return RedirectResponse("/login", status_code=303)


def _logged_in(request: Request, uows: Uow) -> bool:
    user_id = request.session.get("user_id")
    if not user_id:
        return False
    with uows.read() as uow:
        return uow.auth.user_by_id(str(user_id)) is not None


def _login_page(
    request: Request, *, email: str, target: str, error: str = "", status: int = 200
) -> Response:
    context = {"email": email, "next": target, "error": error}
    return render(request, "login.html", context, status=status)
