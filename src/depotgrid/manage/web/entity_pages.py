"""Create, edit and delete pages for circuits, chargers, power sources and devices.

The same six routes are registered for every `EntityKind`:
`/depots/{depot_id}/<slug>/new`, `/<slug>/{id}/edit` and `/<slug>/{id}/delete` (GET shows,
POST does). A new form is preset from query parameters named like its select fields, e.g.
`/depots/D/chargers/new?circuit_id=C`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from depotgrid.manage.api.deps import Uow
from depotgrid.manage.errors import Conflict, ValidationFailed
from depotgrid.manage.legacy import service
from depotgrid.manage.legacy.views import DepotTree, depot_tree
from depotgrid.manage.web.entities import (
    KINDS,
    EntityKind,
    blockers,
    choices_for,
    display_name,
)
from depotgrid.manage.web.forms import domain_errors, form_view, initial_values, parse
from depotgrid.manage.web.page_route import PageRoute
from depotgrid.manage.web.rendering import render
from depotgrid.manage.web.session import PageWriter, PostedForm, flash

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def anchor(kind: EntityKind, entity_id: str) -> str:
    """The element id of an entity on the depot's overview, e.g. 'circuit-<id>'."""
    return f"{kind.slug.removesuffix('s')}-{entity_id}"


def register(kind: EntityKind) -> None:
    new, item = f"/depots/{{depot_id}}/{kind.slug}/new", f"/{kind.slug}/{{entity_id}}"
    pages: list[tuple[str, str, Callable[..., Response]]] = [
        (new, "GET", _new_page(kind)),
        (new, "POST", _create(kind)),
        (f"{item}/edit", "GET", _edit_page(kind)),
        (f"{item}/edit", "POST", _update(kind)),
        (f"{item}/delete", "GET", _confirm_page(kind)),
        (f"{item}/delete", "POST", _delete(kind)),
    ]
    for path, method, endpoint in pages:
        name = f"{method.lower()}_{kind.slug}_{path.rsplit('/', 1)[-1]}"
        router.add_api_route(path, endpoint, methods=[method], name=name)


def _new_page(kind: EntityKind) -> Callable[..., Response]:
    def page(request: Request, depot_id: str, _: PageWriter, uows: Uow) -> Response:
        with uows.read() as uow:
            tree = depot_tree(uow, depot_id)
        preset = {s.name: s.initial for s in kind.fields if s.initial}
        query = request.query_params
        preset |= {s.name: query[s.name] for s in kind.fields if s.choices and s.name in query}
        return form_page(request, kind, tree, None, preset, {})

    return page


def _create(kind: EntityKind) -> Callable[..., Response]:
    def create(
        request: Request, depot_id: str, user: PageWriter, form: PostedForm, uows: Uow
    ) -> Response:
        with uows.read() as uow:
            tree = depot_tree(uow, depot_id)
        parsed = parse(kind.fields, form, choices_for(tree, None))
        if parsed.errors:
            return form_page(request, kind, tree, None, form, parsed.errors, status=422)
        try:
            with uows.write() as uow:
                entity = kind.create(uow, user.email, depot_id, parsed.values)
                uow.commit()
        except (ValidationFailed, Conflict) as exc:
            return _refused(request, kind, tree, None, form, exc)
        flash(request, "success", f"{kind.title} {display_name(entity)} added.")
        return _back_to(kind, entity)

    return create


def _edit_page(kind: EntityKind) -> Callable[..., Response]:
    def page(request: Request, entity_id: str, _: PageWriter, uows: Uow) -> Response:
        with uows.read() as uow:
            entity = service.get(uow, kind.model, entity_id)
            tree = depot_tree(uow, entity.depot_id)
        return form_page(request, kind, tree, entity, initial_values(kind.fields, entity), {})

    return page


def _update(kind: EntityKind) -> Callable[..., Response]:
    def update(
        request: Request, entity_id: str, user: PageWriter, form: PostedForm, uows: Uow
    ) -> Response:
        with uows.read() as uow:
            entity = service.get(uow, kind.model, entity_id)
            tree = depot_tree(uow, entity.depot_id)
        parsed = parse(kind.fields, form, choices_for(tree, entity))
        if parsed.errors:
            return form_page(request, kind, tree, entity, form, parsed.errors, status=422)
        try:
            with uows.write() as uow:
                entity = kind.update(uow, user.email, entity_id, parsed.values)
                uow.commit()
        except (ValidationFailed, Conflict) as exc:
            return _refused(request, kind, tree, entity, form, exc)
        flash(request, "success", f"{kind.title} {display_name(entity)} saved.")
        return _back_to(kind, entity)

    return update


def _confirm_page(kind: EntityKind) -> Callable[..., Response]:
    def page(request: Request, entity_id: str, _: PageWriter, uows: Uow) -> Response:
        with uows.read() as uow:
            entity = service.get(uow, kind.model, entity_id)
            tree = depot_tree(uow, entity.depot_id)
        return confirm_page(request, kind, tree, entity)

    return page


def _delete(kind: EntityKind) -> Callable[..., Response]:
    def delete(
        request: Request, entity_id: str, user: PageWriter, _: PostedForm, uows: Uow
    ) -> Response:
        with uows.read() as uow:
            entity = service.get(uow, kind.model, entity_id)
        try:
            with uows.write() as uow:
                kind.delete(uow, user.email, entity_id)
                uow.commit()
        except Conflict as exc:
            with uows.read() as uow:
                tree = depot_tree(uow, entity.depot_id)
            return confirm_page(request, kind, tree, entity, error=exc.message, status=409)
        flash(request, "success", f"{kind.title} {display_name(entity)} deleted.")
        return RedirectResponse(f"/depots/{entity.depot_id}", status_code=303)

    return delete


def _refused(
    request: Request,
    kind: EntityKind,
    tree: DepotTree,
    entity: Any | None,
    form: Mapping[str, str],
    exc: ValidationFailed | Conflict,
) -> Response:
    errors, message = domain_errors(exc, kind.fields)
    status = 409 if isinstance(exc, Conflict) else 422
    return form_page(request, kind, tree, entity, form, errors, error=message, status=status)


def _back_to(kind: EntityKind, entity: Any) -> Response:
    return RedirectResponse(f"/depots/{entity.depot_id}#{anchor(kind, entity.id)}", status_code=303)


def form_page(
    request: Request,
    kind: EntityKind,
    tree: DepotTree,
    entity: Any | None,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    *,
    error: str = "",
    status: int = 200,
) -> Response:
    """The create or edit form of `kind`, with values as typed and errors beside the fields."""
    choices = choices_for(tree, entity)
    depot_url = f"/depots/{tree.id}"
    if entity is None:
        title, action, submit = f"New {kind.label}", f"{depot_url}/{kind.slug}/new", "Add"
        cancel_url = depot_url
    else:
        title, action = (
            f"Edit {kind.label} {display_name(entity)}",
            f"/{kind.slug}/{entity.id}/edit",
        )
        submit, cancel_url = "Save", f"{depot_url}#{anchor(kind, entity.id)}"
    form = form_view(
        kind.fields,
        values,
        errors,
        choices,
        title=title,
        action=action,
        submit=f"{submit} {kind.label}",
        cancel_url=cancel_url,
        error=error,
        intro=f"In depot {tree.name}.",
    )
    needs_circuit = kind.slug == "chargers" and not choices["circuits"]
    context = {
        "form": form,
        "depot": tree,
        "crumbs": [("Depots", "/depots"), (tree.name, f"/depots/{tree.id}")],
        "needs_circuit": needs_circuit,
    }
    return render(request, "form.html", context, status=status)


def confirm_page(
    request: Request,
    kind: EntityKind,
    tree: DepotTree,
    entity: Any,
    *,
    error: str = "",
    status: int = 200,
) -> Response:
    """Says exactly what will be deleted, or what must go first."""
    context = {
        "title": f"Delete {kind.label} {display_name(entity)}?",
        "crumbs": [("Depots", "/depots"), (tree.name, f"/depots/{tree.id}")],
        "what": f"the {kind.label} {display_name(entity)} of depot {tree.name}",
        "blockers": blockers(tree, entity),
        "blocker_hint": "Move them to another circuit or delete them first.",
        "error": error,
        "action": f"/{kind.slug}/{entity.id}/delete",
        "cancel_url": f"/depots/{tree.id}#{anchor(kind, entity.id)}",
        "consequence": "The deletion is recorded in the depot's history. It cannot be undone.",
    }
    return render(request, "confirm.html", context, status=status)


for _kind in KINDS:
    register(_kind)
