"""Depot pages: the list with search, the detail tabs, and create, edit and delete."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from depotgrid.manage.api.deps import Uow
from depotgrid.manage.auth.model import Permission
from depotgrid.manage.errors import Conflict, ValidationFailed
from depotgrid.manage.legacy import service
from depotgrid.manage.legacy.model import Depot
from depotgrid.manage.legacy.views import DepotTree, depot_tree
from depotgrid.manage.web import views
from depotgrid.manage.web.forms import FormField, domain_errors, form_view, initial_values, parse
from depotgrid.manage.web.page_route import PageRoute
from depotgrid.manage.web.rendering import render
from depotgrid.manage.web.session import (
    PageUser,
    PageWriter,
    PermissionDenied,
    PostedForm,
    flash,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)

CRUMBS = [("Depots", "/depots")]

DEPOT_FIELDS = (
    FormField("name", "Name", hint="How operators know the depot, e.g. Leeds North.", wide=True),
    FormField(
        "timezone",
        "Time zone",
        "timezone",
        hint="An IANA time zone, e.g. Europe/London; start typing to pick one.",
        wide=True,
    ),
)


@cache
def timezone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


@router.get("/depots")
def list_depots(
    request: Request,
    _: PageUser,
    uows: Uow,
    q: str = "",
    limit: str | None = None,
    offset: str | None = None,
) -> Response:
    page_limit, page_offset = views.paging(limit, offset)
    with uows.read() as uow:
        listing = views.depot_list(uow, q.strip()[:200], page_limit, page_offset)
    fragment = _is_fragment(request)
    template = "depots/_results.html" if fragment else "depots/list.html"
    return render(
        request, template, {"listing": listing}, partial=fragment, headers={"Vary": "HX-Request"}
    )


@router.get("/depots/new")
def new_depot(request: Request, _: PageWriter) -> Response:
    return _depot_form(request, None, {}, {})


@router.post("/depots/new")
def create_depot(request: Request, user: PageWriter, form: PostedForm, uows: Uow) -> Response:
    parsed = parse(DEPOT_FIELDS, form, {})
    if parsed.errors:
        return _depot_form(request, None, form, parsed.errors, status=422)
    try:
        with uows.write() as uow:
            depot = service.create_depot(uow, user.email, **parsed.values)
            uow.commit()
    except ValidationFailed as exc:
        errors, message = domain_errors(exc, DEPOT_FIELDS)
        return _depot_form(request, None, form, errors, error=message, status=422)
    flash(request, "success", f"Depot {depot.name} created. Add its grid connection next.")
    return RedirectResponse(f"/depots/{depot.id}", status_code=303)


@router.get("/depots/{depot_id}")
def depot_overview(request: Request, depot_id: str, _: PageUser, uows: Uow) -> Response:
    with uows.read() as uow:
        overview = views.overview(uow, depot_tree(uow, depot_id))
    context = {"depot": overview.tree, "overview": overview, "tab": "overview", "crumbs": CRUMBS}
    return render(request, "depots/overview.html", context)


@router.get("/depots/{depot_id}/history")
def depot_history(
    request: Request,
    depot_id: str,
    user: PageUser,
    uows: Uow,
    limit: str | None = None,
    offset: str | None = None,
) -> Response:
    if not user.can(Permission.HISTORY_READ):
        raise PermissionDenied(f"Your role ({user.role.value}) may not read depot history.")
    page_limit, page_offset = views.paging(limit, offset)
    with uows.read() as uow:
        tree = depot_tree(uow, depot_id)
        history = views.history(uow, tree, page_limit, page_offset)
    context = {"depot": tree, "history": history, "tab": "history", "crumbs": CRUMBS}
    return render(request, "depots/history.html", context)


@router.get("/depots/{depot_id}/edit")
def edit_depot(request: Request, depot_id: str, _: PageWriter, uows: Uow) -> Response:
    with uows.read() as uow:
        depot = service.get(uow, Depot, depot_id)
    return _depot_form(request, depot, initial_values(DEPOT_FIELDS, depot), {})


@router.post("/depots/{depot_id}/edit")
def update_depot(
    request: Request, depot_id: str, user: PageWriter, form: PostedForm, uows: Uow
) -> Response:
    with uows.read() as uow:
        depot = service.get(uow, Depot, depot_id)
    parsed = parse(DEPOT_FIELDS, form, {})
    if parsed.errors:
        return _depot_form(request, depot, form, parsed.errors, status=422)
    try:
        with uows.write() as uow:
            depot = service.update_depot(uow, user.email, depot_id, parsed.values)
            uow.commit()
    except ValidationFailed as exc:
        errors, message = domain_errors(exc, DEPOT_FIELDS)
        return _depot_form(request, depot, form, errors, error=message, status=422)
    flash(request, "success", f"Depot {depot.name} saved.")
    return RedirectResponse(f"/depots/{depot.id}", status_code=303)


@router.get("/depots/{depot_id}/delete")
def confirm_delete_depot(request: Request, depot_id: str, _: PageWriter, uows: Uow) -> Response:
    with uows.read() as uow:
        tree = depot_tree(uow, depot_id)
    return _confirm_page(request, tree)


@router.post("/depots/{depot_id}/delete")
def delete_depot(
    request: Request, depot_id: str, user: PageWriter, _: PostedForm, uows: Uow
) -> Response:
    try:
        with uows.write() as uow:
            tree = depot_tree(uow, depot_id)
            service.delete_depot(uow, user.email, depot_id)
            uow.commit()
    except Conflict as exc:
        with uows.read() as uow:
            tree = depot_tree(uow, depot_id)
        return _confirm_page(request, tree, error=exc.message, status=409)
    flash(request, "success", f"Depot {tree.name} deleted. Its history is kept.")
    return RedirectResponse("/depots", status_code=303)


def _is_fragment(request: Request) -> bool:
    """An htmx request for the results only (a history restore wants the whole page)."""
    headers = request.headers
    return bool(headers.get("HX-Request")) and not headers.get("HX-History-Restore-Request")


def _depot_form(
    request: Request,
    depot: Depot | None,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    *,
    error: str = "",
    status: int = 200,
) -> Response:
    action = f"/depots/{depot.id}/edit" if depot else "/depots/new"
    form = form_view(
        DEPOT_FIELDS,
        values,
        errors,
        {},
        title=f"Edit depot {depot.name}" if depot else "New depot",
        action=action,
        submit="Save depot" if depot else "Create depot",
        cancel_url=f"/depots/{depot.id}" if depot else "/depots",
        error=error,
    )
    crumbs = [("Depots", "/depots")] + ([(depot.name, f"/depots/{depot.id}")] if depot else [])
    context: dict[str, Any] = {"form": form, "crumbs": crumbs, "timezones": timezone_names()}
    return render(request, "form.html", context, status=status)


def _confirm_page(
    request: Request, tree: DepotTree, *, error: str = "", status: int = 200
) -> Response:
    attached = [_count(count, label) for label, count in tree.counts.items() if count]
    context = {
        "title": f"Delete depot {tree.name}?",
        "crumbs": [("Depots", "/depots"), (tree.name, f"/depots/{tree.id}")],
        "what": f"the depot {tree.name} ({tree.timezone})",
        "blockers": attached,
        "blocker_hint": "A depot can only be deleted once it is empty: delete its circuits, "
        "chargers, power sources and devices first.",
        "error": error,
        "action": f"/depots/{tree.id}/delete",
        "cancel_url": f"/depots/{tree.id}",
        "consequence": "Its history is kept for audit. This cannot be undone.",
    }
    return render(request, "confirm.html", context, status=status)


def _count(count: int, plural_label: str) -> str:
    """'1 circuit', '2 power sources'."""
    words = plural_label.replace("_", " ")
    return f"{count} {words.removesuffix('s') if count == 1 else words}"
