"""The depot's Envelopes tab (story "Canonical Scoped Operating Envelope View and History";
issue #3 §5): scope cards with a chart, a submit form, the history, and withdrawal.

Every logged-in role may read the tab; submitting and withdrawing need `envelopes:write`, and the
buttons are hidden without it. The scope cards refresh themselves from a partial route, so the
form and the scroll position stay put.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from depotgrid.manage.api.deps import Uow
from depotgrid.manage.auth.model import Permission, User
from depotgrid.manage.envelopes import service
from depotgrid.manage.envelopes.model import OperatingEnvelope
from depotgrid.manage.errors import Conflict, ValidationFailed
from depotgrid.manage.legacy import service as legacy
from depotgrid.manage.legacy.model import Circuit, Depot
from depotgrid.manage.legacy.views import DepotTree, depot_tree
from depotgrid.manage.microgrid import service as microgrids
from depotgrid.manage.unit_of_work import UnitOfWork, UnitOfWorkFactory
from depotgrid.manage.web import envelope_form as forms
from depotgrid.manage.web import envelope_views as views
from depotgrid.manage.web.envelope_cards import EnvelopeTab, envelope_tab
from depotgrid.manage.web.page_route import PageRoute
from depotgrid.manage.web.rendering import error_page, render
from depotgrid.manage.web.session import PageUser, PermissionDenied, PostedForm, flash
from depotgrid.manage.web.views import paging

router = APIRouter(route_class=PageRoute, include_in_schema=False)

REFRESH_SECONDS = 5
CRUMBS = [("Depots", "/depots")]


def page_envelope_writer(user: PageUser) -> User:
    """The logged-in user, if their role may submit and withdraw envelopes."""
    if not user.can(Permission.ENVELOPES_WRITE):
        raise PermissionDenied(
            f"Your role ({user.role.value}) may view envelopes but not submit or withdraw "
            "them. Ask a manager or an administrator."
        )
    return user


EnvelopeWriter = Annotated[User, Depends(page_envelope_writer)]


@router.get("/depots/{depot_id}/envelopes")
def envelopes_tab(
    request: Request,
    depot_id: str,
    _: PageUser,
    uows: Uow,
    limit: str | None = None,
    offset: str | None = None,
) -> Response:
    with uows.read() as uow:
        context = _tab_context(uow, depot_id, limit, offset)
        tab: EnvelopeTab = context["page"]
        values = forms.initial_values(tab.scopes, ZoneInfo(tab.timezone), uow.clock.now())
    return _render_tab(request, context, values, {})


@router.get("/depots/{depot_id}/envelopes/live")
def live_cards(request: Request, depot_id: str, user: PageUser, uows: Uow) -> Response:
    """The scope cards alone, for htmx polling."""
    with uows.read() as uow:
        tree = depot_tree(uow, depot_id)
        tab = envelope_tab(uow, _depot(uow, depot_id))
    context = {
        "depot": tree,
        "page": tab,
        "refresh": REFRESH_SECONDS,
        "can_submit": user.can(Permission.ENVELOPES_WRITE),
    }
    return render(request, "envelopes/_live.html", context, partial=True)


@router.post("/depots/{depot_id}/envelopes")
def submit_envelope(
    request: Request, depot_id: str, user: EnvelopeWriter, form: PostedForm, uows: Uow
) -> Response:
    with uows.read() as uow:
        depot = _depot(uow, depot_id)
        microgrid = microgrids.microgrid_for_depot(uow, depot_id)
        scopes = microgrids.scopes(uow, microgrid.id) if microgrid else []
    if microgrid is None or not scopes:
        return error_page(
            request,
            409,
            "This depot has no managed scope",
            "An envelope limits a grid connection of the depot's microgrid, and there is none. "
            "Go back to the Envelopes tab: it says why.",
        )
    submission, errors = forms.parse_submission(form, scopes, ZoneInfo(depot.timezone))
    if submission is None:
        return _refused(request, uows, depot_id, form, errors)
    try:
        with uows.write() as uow:
            envelope = _submit(uow, user.email, microgrid.id, submission)
            circuit = uow.legacy.get(Circuit, envelope.circuit_id)
            uow.commit()
    except ValidationFailed as exc:
        return _refused(request, uows, depot_id, form, forms.field_errors(exc))
    flash(
        request,
        "success",
        f"Envelope {envelope.id[:8]}… submitted ({envelope.status.value}).{_capacity(circuit)}",
    )
    return RedirectResponse(f"/depots/{depot_id}/envelopes", status_code=303)


@router.get("/depots/{depot_id}/envelopes/{envelope_id}/withdraw")
def confirm_withdraw(
    request: Request, depot_id: str, envelope_id: str, _: EnvelopeWriter, uows: Uow
) -> Response:
    with uows.read() as uow:
        tree = depot_tree(uow, depot_id)
        preview = views.withdraw_preview(uow, _depot(uow, depot_id), envelope_id)
    return _confirm_page(request, tree, preview)


@router.post("/depots/{depot_id}/envelopes/{envelope_id}/withdraw")
def withdraw_envelope(
    request: Request,
    depot_id: str,
    envelope_id: str,
    user: EnvelopeWriter,
    _: PostedForm,
    uows: Uow,
) -> Response:
    with uows.read() as uow:
        tree = depot_tree(uow, depot_id)
        preview = views.withdraw_preview(uow, _depot(uow, depot_id), envelope_id)
    envelope = preview.envelope
    try:
        with uows.write() as uow:
            service.withdraw(uow, user.email, preview.microgrid_id, envelope.scope_id, envelope.id)
            circuit = uow.legacy.get(Circuit, envelope.circuit_id)
            uow.commit()
    except Conflict as exc:
        return _confirm_page(request, tree, preview, error=exc.message, status=409)
    flash(request, "success", f"Envelope {envelope.id[:8]}… withdrawn.{_capacity(circuit)}")
    return RedirectResponse(f"/depots/{depot_id}/envelopes", status_code=303)


def _submit(
    uow: UnitOfWork, actor: str, microgrid_id: str, submission: forms.Submission
) -> OperatingEnvelope:
    return service.submit(
        uow,
        actor,
        microgrid_id,
        submission.scope_id,
        kind=submission.kind,
        source_kind=submission.source_kind,
        source_reference=submission.source_reference,
        blocks=[submission.block],
    )


def _capacity(circuit: Circuit | None) -> str:
    """' Main intake now has 120.0 kW available (ENVELOPE).', for the flash message."""
    if circuit is None:
        return ""
    kw = min(circuit.available_capacity_kw, circuit.max_capacity_kw)
    source = circuit.available_capacity_source.value
    return f" {circuit.name} now has {kw:,.1f} kW available ({source})."


def _depot(uow: UnitOfWork, depot_id: str) -> Depot:
    """The depot; NotFound (a 404 page) for an unknown id."""
    return legacy.get(uow, Depot, depot_id)


def _tab_context(
    uow: UnitOfWork, depot_id: str, limit: str | None, offset: str | None
) -> dict[str, Any]:
    tree = depot_tree(uow, depot_id)
    depot = _depot(uow, depot_id)
    tab = envelope_tab(uow, depot)
    page_limit, page_offset = paging(limit, offset)
    history = (
        views.envelope_history(uow, depot, tab.microgrid, page_limit, page_offset)
        if tab.microgrid
        else None
    )
    return {"depot": tree, "page": tab, "history": history}


def _refused(
    request: Request,
    uows: UnitOfWorkFactory,
    depot_id: str,
    form: Mapping[str, str],
    errors: Mapping[str, str],
) -> Response:
    """The tab again, with the form as typed and each error beside its field (422)."""
    with uows.read() as uow:
        context = _tab_context(uow, depot_id, None, None)
    return _render_tab(request, context, form, errors, status=422)


def _render_tab(
    request: Request,
    context: Mapping[str, Any],
    values: Mapping[str, str],
    errors: Mapping[str, str],
    *,
    status: int = 200,
) -> Response:
    tab: EnvelopeTab = context["page"]
    tree: DepotTree = context["depot"]
    user = getattr(request.state, "user", None)
    form = forms.envelope_form(values, errors, tab.scopes, action=f"/depots/{tree.id}/envelopes")
    full = dict(context) | {
        "form": form,
        "fields": {f.name: f for f in form.fields},
        "source_kinds": forms.SOURCE_KINDS,
        "can_submit": bool(user and user.can(Permission.ENVELOPES_WRITE)),
        "can_admin": bool(user and user.can(Permission.MICROGRID_ADMIN)),
        "tab": "envelopes",
        "crumbs": CRUMBS,
        "refresh": REFRESH_SECONDS,
    }
    return render(request, "envelopes/tab.html", full, status=status)


def _confirm_page(
    request: Request,
    tree: DepotTree,
    preview: views.WithdrawPreview,
    *,
    error: str = "",
    status: int = 200,
) -> Response:
    context = {
        "depot": tree,
        "preview": preview,
        "error": error,
        "crumbs": [*CRUMBS, (tree.name, f"/depots/{tree.id}/envelopes")],
    }
    return render(request, "envelopes/withdraw.html", context, status=status)
