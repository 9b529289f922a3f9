"""The depot's Microgrid tab (COR-8): for system admins, the canonical microgrid from the grid
connections down, its version and status, drift from the circuit tree, and a Resync action.

Without a microgrid the tab says why (the provisioning failure reason) and offers to try again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from depotgrid.manage.api.deps import Uow
from depotgrid.manage.auth.model import Permission, User
from depotgrid.manage.events.store import RecordedEvent
from depotgrid.manage.legacy.views import DepotTree, depot_tree
from depotgrid.manage.microgrid import service
from depotgrid.manage.microgrid.model import NodeKind, SyncPlan
from depotgrid.manage.microgrid.service import ProvisioningStatus, SyncOutcome
from depotgrid.manage.microgrid.views import NodeView, node_tree
from depotgrid.manage.unit_of_work import UnitOfWork
from depotgrid.manage.web.page_route import PageRoute
from depotgrid.manage.web.rendering import render
from depotgrid.manage.web.session import PageUser, PermissionDenied, PostedForm, flash

router = APIRouter(route_class=PageRoute, include_in_schema=False)

CRUMBS = [("Depots", "/depots")]
KIND_LABELS = {NodeKind.GRID_CONNECTION.value: "Grid connection", NodeKind.CIRCUIT.value: "Circuit"}
EVENT_LABELS = {
    service.PROVISIONED: ("Provisioned", "green"),
    service.SYNCED: ("Synced", "blue"),
    service.FAILED: ("Provisioning failed", "red"),
    service.RETIRED: ("Retired", "grey"),
}
STATE_BADGES = {
    service.ProvisioningState.PROVISIONED: ("Provisioned", "green"),
    service.ProvisioningState.FAILED: ("Provisioning failed", "red"),
    service.ProvisioningState.NOT_ATTEMPTED: ("Not provisioned yet", "grey"),
    service.ProvisioningState.RETIRED: ("Retired", "grey"),
}


def page_microgrid_admin(user: PageUser) -> User:
    """The logged-in user, if their role may see and repair microgrids."""
    if not user.can(Permission.MICROGRID_ADMIN):
        raise PermissionDenied(
            f"Your role ({user.role.value}) may not open the Microgrid tab: it is for system "
            "administrators. The circuit tree is on the depot's Overview tab."
        )
    return user


MicrogridAdmin = Annotated[User, Depends(page_microgrid_admin)]


@dataclass(frozen=True)
class DriftItem:
    what: str
    detail: str


@dataclass(frozen=True)
class ActivityRow:
    time: str
    iso_time: str
    actor: str
    label: str
    tone: str
    summary: str


@dataclass(frozen=True)
class MicrogridPage:
    status: ProvisioningStatus
    badge: tuple[str, str]
    nodes: list[NodeView]
    grid_connections: int
    drift: list[DriftItem]
    activity: list[ActivityRow]
    timezone: str

    @property
    def since(self) -> str:
        if self.status.since is None:
            return ""
        local = self.status.since.astimezone(ZoneInfo(self.timezone))
        return local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or "")


@router.get("/depots/{depot_id}/microgrid")
def microgrid_tab(request: Request, depot_id: str, _: MicrogridAdmin, uows: Uow) -> Response:
    with uows.read() as uow:
        tree = depot_tree(uow, depot_id)
        page = _page(uow, tree)
    context: dict[str, Any] = {
        "depot": tree,
        "page": page,
        "kinds": KIND_LABELS,
        "tab": "microgrid",
        "crumbs": CRUMBS,
    }
    return render(request, "depots/microgrid.html", context)


@router.post("/depots/{depot_id}/microgrid/resync")
def resync(
    request: Request, depot_id: str, user: MicrogridAdmin, _: PostedForm, uows: Uow
) -> Response:
    with uows.write() as uow:
        outcome = service.sync(uow, user.email, depot_id, trigger="resync")
        uow.commit()
    kind, text = _flash_text(outcome)
    flash(request, kind, text)
    return RedirectResponse(f"/depots/{depot_id}/microgrid", status_code=303)


def _page(uow: UnitOfWork, tree: DepotTree) -> MicrogridPage:
    status = service.provisioning_status(uow, tree.id)
    nodes: list[NodeView] = []
    drift: list[DriftItem] = []
    if status.microgrid is not None:
        nodes = node_tree(service.nodes(uow, status.microgrid.id))
        drift = _drift_items(service.drift(uow, status.microgrid))
    zone = ZoneInfo(tree.timezone)
    return MicrogridPage(
        status=status,
        badge=STATE_BADGES[status.state],
        nodes=nodes,
        grid_connections=sum(1 for n in nodes if n.kind == NodeKind.GRID_CONNECTION.value),
        drift=drift,
        activity=[_activity(e, zone) for e in service.recent_events(uow, tree.id)],
        timezone=tree.timezone,
    )


def _drift_items(plan: SyncPlan) -> list[DriftItem]:
    items = [
        DriftItem(f"{KIND_LABELS.get(n.kind.value, n.kind.value)} {n.name}", "missing: no node")
        for n in plan.adds
        if n.kind is not NodeKind.ROOT
    ]
    items += [
        DriftItem(
            f"{KIND_LABELS.get(c.after.kind.value, c.after.kind.value)} {c.after.name}",
            "; ".join(
                f"{field.replace('_', ' ')} {change['from']} → {change['to']}"
                for field, change in c.fields().items()
            ),
        )
        for c in plan.updates
        if c.after.kind is not NodeKind.ROOT
    ]
    items += [
        DriftItem(f"Node {n.name}", "mirrors no circuit: will be removed") for n in plan.removes
    ]
    if any(n.kind is NodeKind.ROOT for n in plan.adds):
        items.append(DriftItem("Internal root", "missing"))
    return items


def _activity(event: RecordedEvent, zone: ZoneInfo) -> ActivityRow:
    label, tone = EVENT_LABELS.get(event.event_type, (event.event_type, "grey"))
    local = event.recorded_at.astimezone(zone)
    return ActivityRow(
        time=local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or ""),
        iso_time=local.isoformat(),
        actor=event.actor,
        label=label,
        tone=tone,
        summary=_event_summary(event),
    )


def _event_summary(event: RecordedEvent) -> str:
    data = event.data
    trigger = f" (after {data['trigger']})" if data.get("trigger") else ""
    if event.event_type == service.PROVISIONED:
        count = len(data.get("grid_connections", []))
        return f"version {data.get('version')}, {count} grid connection(s){trigger}"
    if event.event_type == service.SYNCED:
        counts = ", ".join(
            f"{len(data.get(key, []))} {key}" for key in ("added", "updated", "removed")
        )
        return f"{counts}; version {data.get('old_version')} → {data.get('new_version')}{trigger}"
    if event.event_type == service.FAILED:
        return f"{data.get('reason_code')}: {data.get('reason')}{trigger}"
    return trigger.strip(" ()")


def _flash_text(outcome: SyncOutcome) -> tuple[Any, str]:
    if outcome.failure is not None:
        return "error", f"No microgrid was provisioned: {outcome.failure.reason}."
    assert outcome.microgrid is not None
    if outcome.provisioned:
        return "success", f"Microgrid provisioned (version {outcome.microgrid.version})."
    if not outcome.changed:
        return "success", (
            f"Already in sync with the circuits; nothing changed (version "
            f"{outcome.microgrid.version})."
        )
    described = outcome.describe()
    counts = ", ".join(f"{len(described[key])} {key}" for key in ("added", "updated", "removed"))
    return "success", (
        f"Resynced: {counts}; version {outcome.old_version} → {outcome.microgrid.version}."
    )
