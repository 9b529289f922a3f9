"""Load-balancing pages: a circuit's page, the depot's Cycles tab and a cycle's detail.

The circuit page and the Cycles tab refresh themselves with htmx polling: an htmx request gets
only the live part of the page, so scroll position and the rest of the page stay put.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from depotgrid.manage.api.deps import Uow
from depotgrid.manage.auth.model import Permission
from depotgrid.manage.balancing import service as balancing
from depotgrid.manage.legacy.model import Depot
from depotgrid.manage.legacy.views import depot_tree
from depotgrid.manage.web import balancing_views as views
from depotgrid.manage.web.page_route import PageRoute
from depotgrid.manage.web.rendering import render
from depotgrid.manage.web.session import PageUser, PermissionDenied, PostedForm, flash
from depotgrid.manage.web.views import paging

router = APIRouter(route_class=PageRoute, include_in_schema=False)

REFRESH_SECONDS = 10


def _live(request: Request) -> bool:
    headers = request.headers
    return bool(headers.get("HX-Request")) and not headers.get("HX-History-Restore-Request")


@router.get("/circuits/{circuit_id}")
def circuit_page(request: Request, circuit_id: str, _: PageUser, uows: Uow) -> Response:
    with uows.read() as uow:
        page = views.circuit_page(uow, circuit_id)
    crumbs = [
        ("Depots", "/depots"),
        (page.depot.name, f"/depots/{page.depot.id}"),
        *[(name, f"/circuits/{cid}") for name, cid in page.path],
    ]
    live = _live(request)
    context = {"page": page, "crumbs": crumbs, "refresh": REFRESH_SECONDS}
    template = "balancing/_circuit_live.html" if live else "balancing/circuit.html"
    return render(request, template, context, partial=live, headers={"Vary": "HX-Request"})


@router.get("/depots/{depot_id}/cycles")
def cycles_tab(
    request: Request,
    depot_id: str,
    _: PageUser,
    uows: Uow,
    limit: str | None = None,
    offset: str | None = None,
) -> Response:
    page_limit, page_offset = paging(limit, offset)
    with uows.read() as uow:
        tree = depot_tree(uow, depot_id)
        depot = uow.legacy.get(Depot, depot_id)
        assert depot is not None
        listing = views.cycle_list(uow, depot, page_limit, page_offset)
    live = _live(request)
    context = {
        "depot": tree,
        "listing": listing,
        "tab": "cycles",
        "crumbs": [("Depots", "/depots")],
        "refresh": REFRESH_SECONDS,
        "can_rebalance": _can_rebalance(request),
    }
    template = "balancing/_cycles_live.html" if live else "balancing/cycles.html"
    return render(request, template, context, partial=live, headers={"Vary": "HX-Request"})


@router.get("/depots/{depot_id}/cycles/{cycle_id}")
def cycle_page(request: Request, depot_id: str, cycle_id: str, _: PageUser, uows: Uow) -> Response:
    with uows.read() as uow:
        tree = depot_tree(uow, depot_id)
        depot = uow.legacy.get(Depot, depot_id)
        assert depot is not None
        detail = views.cycle_detail(uow, depot, cycle_id)
    context = {
        "depot": tree,
        "detail": detail,
        "tab": "cycles",
        "crumbs": [("Depots", "/depots"), (tree.name, f"/depots/{tree.id}/cycles")],
    }
    return render(request, "balancing/cycle.html", context)


@router.post("/depots/{depot_id}/rebalance")
def rebalance(
    request: Request, depot_id: str, user: PageUser, _: PostedForm, uows: Uow
) -> Response:
    if not user.can(Permission.OPERATIONS_WRITE):
        raise PermissionDenied(
            f"Your role ({user.role.value}) may not rebalance a depot. Ask an operator, a "
            "manager or an administrator."
        )
    with uows.write() as uow:
        cycle = balancing.run_cycle(uow, user.email, depot_id, trigger=balancing.Trigger.MANUAL)
        uow.commit()
    flash(
        request,
        "success",
        f"Cycle #{cycle.sequence} ran: {cycle.total_allocated_kw:.1f} kW allocated.",
    )
    return RedirectResponse(f"/depots/{depot_id}/cycles/{cycle.id}", status_code=303)


def _can_rebalance(request: Request) -> bool:
    user = getattr(request.state, "user", None)
    return bool(user is not None and user.can(Permission.OPERATIONS_WRITE))
