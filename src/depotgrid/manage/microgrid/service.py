"""Provisioning, sync and retirement of each depot's canonical microgrid (COR-8), and its
managed scopes.

Every command runs in the caller's unit of work with the depot row locked, and records what it
did on the stream `microgrid-{depot_id}`: MicrogridProvisioned, MicrogridSynced (what changed,
old and new version), MicrogridProvisioningFailed (reason) and MicrogridRetired. A refused
provisioning stores no microgrid row and no node.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from depotgrid.common.ids import new_id
from depotgrid.manage.errors import Conflict, NotFound
from depotgrid.manage.events.store import NewEvent, RecordedEvent
from depotgrid.manage.legacy.model import Circuit, Depot
from depotgrid.manage.microgrid.model import (
    FailureCode,
    ManagedScope,
    Microgrid,
    MicrogridNode,
    MicrogridNotProvisionable,
    MicrogridStatus,
    NodeKind,
    ProvisioningFailure,
    SyncPlan,
    check_provisionable,
    reconcile,
)
from depotgrid.manage.microgrid.repository import MicrogridRepository
from depotgrid.manage.unit_of_work import UnitOfWork

PROVISIONED = "MicrogridProvisioned"
SYNCED = "MicrogridSynced"
FAILED = "MicrogridProvisioningFailed"
RETIRED = "MicrogridRetired"


def microgrid_stream(depot_id: str) -> str:
    return f"microgrid-{depot_id}"


def repository(uow: UnitOfWork) -> MicrogridRepository:
    return MicrogridRepository(uow.connection)


@dataclass(frozen=True)
class SyncOutcome:
    """What one sync did: provisioned, changed nodes, nothing, or failed to provision."""

    depot_id: str
    microgrid: Microgrid | None
    provisioned: bool = False
    plan: SyncPlan | None = None
    old_version: int | None = None
    failure: ProvisioningFailure | None = None

    @property
    def changed(self) -> bool:
        return self.provisioned or (self.plan is not None and self.plan.changed)

    @property
    def version(self) -> int | None:
        return self.microgrid.version if self.microgrid else None

    def describe(self) -> dict[str, list[dict[str, Any]]]:
        if self.plan is None:
            return {"added": [], "updated": [], "removed": []}
        return self.plan.describe()


class ProvisioningState(StrEnum):
    PROVISIONED = "PROVISIONED"
    FAILED = "FAILED"
    NOT_ATTEMPTED = "NOT_ATTEMPTED"
    RETIRED = "RETIRED"


@dataclass(frozen=True)
class ProvisioningStatus:
    depot_id: str
    state: ProvisioningState
    microgrid: Microgrid | None
    failure: ProvisioningFailure | None
    since: datetime | None
    """When the last microgrid event of the depot was recorded."""


def provision(
    uow: UnitOfWork, actor: str, depot_id: str, *, trigger: str = "provision"
) -> Microgrid:
    """Create the depot's microgrid from its circuits.

    Raises MicrogridNotProvisionable (code MICROGRID_NOT_PROVISIONABLE) when the depot has no
    top-level circuit, and Conflict MICROGRID_ALREADY_PROVISIONED when it has a microgrid.
    """
    _lock_depot(uow, depot_id)
    existing = repository(uow).active_for_depot(depot_id)
    if existing is not None:
        raise Conflict(
            f"depot {depot_id} already has microgrid {existing.id}",
            code="MICROGRID_ALREADY_PROVISIONED",
            details={"microgrid_id": existing.id},
        )
    return _provision(uow, actor, depot_id, _circuits(uow, depot_id), trigger)


def sync(uow: UnitOfWork, actor: str, depot_id: str, *, trigger: str) -> SyncOutcome:
    """Make the depot's microgrid mirror its circuits; provision it if missing and possible.

    Idempotent: a second sync finds nothing to change and records nothing. When the depot
    cannot be provisioned, the failure is recorded once (until the outcome changes) and
    returned, not raised.
    """
    _lock_depot(uow, depot_id)
    repo = repository(uow)
    circuits = _circuits(uow, depot_id)
    microgrid = repo.active_for_depot(depot_id, for_update=True)
    if microgrid is None:
        try:
            created = _provision(uow, actor, depot_id, circuits, trigger)
        except MicrogridNotProvisionable as exc:
            _record_failure(uow, actor, depot_id, exc.failure, trigger)
            return SyncOutcome(depot_id, None, failure=exc.failure)
        return SyncOutcome(depot_id, created, provisioned=True)
    plan = reconcile(microgrid.id, repo.nodes(microgrid.id), circuits, new_id=new_id)
    old_version = microgrid.version
    if not plan.changed:
        return SyncOutcome(depot_id, microgrid, plan=plan, old_version=old_version)
    if plan.version_changes:
        microgrid.version += 1
        repo.save(microgrid)
    repo.apply(plan)
    _record(
        uow,
        actor,
        depot_id,
        SYNCED,
        {
            "microgrid_id": microgrid.id,
            "depot_id": depot_id,
            "trigger": trigger,
            "old_version": old_version,
            "new_version": microgrid.version,
            "grid_connections": list(plan.new_grid_connections),
            **plan.describe(),
        },
    )
    return SyncOutcome(depot_id, microgrid, plan=plan, old_version=old_version)


def retire(uow: UnitOfWork, actor: str, depot_id: str, *, trigger: str) -> Microgrid | None:
    """Retire the depot's active microgrid (its depot is going); rows stay for audit."""
    repo = repository(uow)
    microgrid = repo.active_for_depot(depot_id, for_update=True)
    if microgrid is None:
        return None
    microgrid.status = MicrogridStatus.RETIRED
    repo.save(microgrid)
    _record(
        uow,
        actor,
        depot_id,
        RETIRED,
        {"microgrid_id": microgrid.id, "depot_id": depot_id, "trigger": trigger},
    )
    return microgrid


@dataclass(frozen=True)
class BackfillResult:
    depot_id: str
    created: Microgrid | None
    skipped_code: str | None = None
    skipped_reason: str | None = None


def backfill_depot(uow: UnitOfWork, actor: str, depot_id: str) -> BackfillResult:
    """Provision a depot that predates microgrids; skip it, saying why, when that is not done."""
    _lock_depot(uow, depot_id)
    existing = repository(uow).active_for_depot(depot_id)
    if existing is not None:
        return BackfillResult(
            depot_id, None, "ALREADY_PROVISIONED", "the depot already has an active microgrid"
        )
    outcome = sync(uow, actor, depot_id, trigger="backfill")
    if outcome.failure is not None:
        return BackfillResult(depot_id, None, outcome.failure.code.value, outcome.failure.reason)
    return BackfillResult(depot_id, outcome.microgrid)


def microgrid_for_depot(uow: UnitOfWork, depot_id: str) -> Microgrid | None:
    """The depot's ACTIVE microgrid, if it has one."""
    return repository(uow).active_for_depot(depot_id)


def get_microgrid(uow: UnitOfWork, microgrid_id: str) -> Microgrid:
    microgrid = repository(uow).get(microgrid_id)
    if microgrid is None:
        raise NotFound("microgrid", microgrid_id)
    return microgrid


def nodes(uow: UnitOfWork, microgrid_id: str) -> list[MicrogridNode]:
    return repository(uow).nodes(microgrid_id)


def scopes(uow: UnitOfWork, microgrid_id: str) -> list[ManagedScope]:
    """The managed scopes of an ACTIVE microgrid, in grid-connection order (none if retired)."""
    microgrid = get_microgrid(uow, microgrid_id)
    if not microgrid.active:
        return []
    connections = repository(uow).grid_connections(microgrid_id)
    return [ManagedScope.of(node) for node in connections if node.circuit_id is not None]


def scope(uow: UnitOfWork, microgrid_id: str, node_id: str) -> ManagedScope:
    """One managed scope; NotFound when the node is not a scope of this active microgrid."""
    for found in scopes(uow, microgrid_id):
        if found.node_id == node_id:
            return found
    raise NotFound("managed scope", node_id)


def scope_for_circuit(uow: UnitOfWork, circuit_id: str) -> ManagedScope | None:
    """The GRID_CONNECTION scope whose subtree holds `circuit_id`, in an active microgrid."""
    repo = repository(uow)
    node = repo.active_node_for_circuit(circuit_id)
    if node is None:
        return None
    by_id = {n.id: n for n in repo.nodes(node.microgrid_id)}
    seen: set[str] = set()
    current: MicrogridNode | None = node
    while current is not None and current.id not in seen:
        if current.kind is NodeKind.GRID_CONNECTION and current.circuit_id is not None:
            return ManagedScope.of(current)
        seen.add(current.id)
        current = by_id.get(current.parent_node_id) if current.parent_node_id else None
    return None


def provisioning_status(uow: UnitOfWork, depot_id: str) -> ProvisioningStatus:
    """Provisioned, failed (with the reason), retired, or never attempted."""
    microgrid = microgrid_for_depot(uow, depot_id)
    last = _last_event(uow, depot_id)
    since = last.recorded_at if last else None
    if microgrid is not None:
        return ProvisioningStatus(depot_id, ProvisioningState.PROVISIONED, microgrid, None, since)
    if last is not None and last.event_type == FAILED:
        failure = ProvisioningFailure(FailureCode(last.data["reason_code"]), last.data["reason"])
        return ProvisioningStatus(depot_id, ProvisioningState.FAILED, None, failure, since)
    if last is not None and last.event_type == RETIRED:
        return ProvisioningStatus(depot_id, ProvisioningState.RETIRED, None, None, since)
    return ProvisioningStatus(depot_id, ProvisioningState.NOT_ATTEMPTED, None, None, since)


def drift(uow: UnitOfWork, microgrid: Microgrid) -> SyncPlan:
    """What a resync would change: an empty plan when the nodes mirror the circuits."""
    repo = repository(uow)
    return reconcile(
        microgrid.id,
        repo.nodes(microgrid.id),
        _circuits(uow, microgrid.depot_id),
        new_id=new_id,
    )


def recent_events(uow: UnitOfWork, depot_id: str, limit: int = 10) -> list[RecordedEvent]:
    """The newest microgrid events of the depot, newest first."""
    stream = microgrid_stream(depot_id)
    total = uow.events.current_version(stream)
    events = uow.events.read_stream(stream, offset=max(total - limit, 0), limit=limit)
    return list(reversed(events))


def _provision(
    uow: UnitOfWork, actor: str, depot_id: str, circuits: list[Circuit], trigger: str
) -> Microgrid:
    failure = check_provisionable(circuits)
    if failure is not None:
        raise MicrogridNotProvisionable(depot_id, failure)
    microgrid = Microgrid(new_id(), depot_id, 1, MicrogridStatus.ACTIVE)
    plan = reconcile(microgrid.id, [], circuits, new_id=new_id)
    repo = repository(uow)
    repo.add(microgrid)
    repo.apply(plan)
    _record(
        uow,
        actor,
        depot_id,
        PROVISIONED,
        {
            "microgrid_id": microgrid.id,
            "depot_id": depot_id,
            "trigger": trigger,
            "version": microgrid.version,
            "grid_connections": [
                {"node_id": n.id, "circuit_id": n.circuit_id, "name": n.name}
                for n in plan.adds
                if n.kind is NodeKind.GRID_CONNECTION
            ],
            "node_count": len(plan.adds) - 1,
        },
    )
    return microgrid


def _record_failure(
    uow: UnitOfWork, actor: str, depot_id: str, failure: ProvisioningFailure, trigger: str
) -> None:
    """Record a provisioning failure, unless the last outcome was this very failure."""
    last = _last_event(uow, depot_id)
    if (
        last is not None
        and last.event_type == FAILED
        and last.data.get("reason_code") == failure.code.value
    ):
        return
    _record(
        uow,
        actor,
        depot_id,
        FAILED,
        {
            "depot_id": depot_id,
            "trigger": trigger,
            "reason_code": failure.code.value,
            "reason": failure.reason,
        },
    )


def _record(
    uow: UnitOfWork, actor: str, depot_id: str, event_type: str, data: dict[str, Any]
) -> None:
    stream = microgrid_stream(depot_id)
    uow.events.append(
        stream,
        uow.events.current_version(stream),
        [NewEvent(event_type, data)],
        actor=actor,
        recorded_at=uow.clock.now(),
    )


def _last_event(uow: UnitOfWork, depot_id: str) -> RecordedEvent | None:
    stream = microgrid_stream(depot_id)
    version = uow.events.current_version(stream)
    if version == 0:
        return None
    return uow.events.read_stream(stream, offset=version - 1, limit=1)[0]


def _lock_depot(uow: UnitOfWork, depot_id: str) -> Depot:
    depot = uow.legacy.get(Depot, depot_id, for_update=True)
    if depot is None:
        raise NotFound("depot", depot_id)
    return depot


def _circuits(uow: UnitOfWork, depot_id: str) -> list[Circuit]:
    return uow.legacy.all_in_depot(Circuit, depot_id)
