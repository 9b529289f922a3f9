"""Commands on operating envelopes, and the write-through to the scope's circuit (COR-19).

Every change locks the depot first, so envelope changes and the circuit updates they cause are
serialized with every other change to the depot. The write-through goes through the legacy
circuit command (audited, actor `envelope:<id>`), whose event triggers the rebalance.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from depotgrid.common.ids import new_id
from depotgrid.manage.envelopes.model import (
    TERMINAL,
    EnvelopeBlock,
    EnvelopeKind,
    EnvelopeStatus,
    OperatingEnvelope,
    capacity_target,
    check_blocks,
    superseded_by,
)
from depotgrid.manage.envelopes.repository import EnvelopeRepository
from depotgrid.manage.errors import Conflict, NotFound, ValidationFailed
from depotgrid.manage.events.store import NewEvent, RecordedEvent
from depotgrid.manage.legacy import service as legacy
from depotgrid.manage.legacy.model import Circuit, Depot
from depotgrid.manage.microgrid import service as microgrids
from depotgrid.manage.unit_of_work import UnitOfWork

SCHEDULER = "scheduler"
TRANSITION_EVENTS = {
    EnvelopeStatus.SCHEDULED: "OperatingEnvelopeScheduled",
    EnvelopeStatus.ACTIVE: "OperatingEnvelopeActivated",
    EnvelopeStatus.EXPIRED: "OperatingEnvelopeExpired",
}


def submit(
    uow: UnitOfWork,
    actor: str,
    microgrid_id: str,
    scope_id: str,
    *,
    kind: EnvelopeKind,
    source_kind: str,
    source_reference: str,
    blocks: Sequence[EnvelopeBlock],
) -> OperatingEnvelope:
    """Store a new envelope for a scope, supersede the ones it replaces, apply it if in force."""
    microgrid = microgrids.get_microgrid(uow, microgrid_id)
    scope = microgrids.scope(uow, microgrid_id, scope_id)
    _lock_depot(uow, microgrid.depot_id)
    now = uow.clock.now()
    ordered = check_blocks(blocks)
    if ordered[-1].end <= now:
        raise ValidationFailed.single("blocks", "every block has already ended; nothing to apply")
    draft = OperatingEnvelope(
        id=new_id(),
        microgrid_id=microgrid_id,
        depot_id=microgrid.depot_id,
        scope_id=scope_id,
        circuit_id=scope.circuit_id,
        kind=kind,
        source_kind=source_kind,
        source_reference=source_reference,
        blocks=ordered,
        status=EnvelopeStatus.SCHEDULED,
        created_at=now,
        status_changed_at=now,
    )
    envelope = draft.moved_to(draft.status_at(now), now)
    repo = EnvelopeRepository(uow.connection)
    replaced = superseded_by(envelope, repo.live_for_scope(scope_id))
    repo.add(envelope)
    _record(uow, actor, envelope, "OperatingEnvelopeSubmitted")
    for old in replaced:
        gone = old.moved_to(EnvelopeStatus.SUPERSEDED, now, by=envelope.id)
        repo.save_status(gone)
        _record(uow, actor, gone, "OperatingEnvelopeSuperseded")
    _apply_scope(uow, scope.circuit_id, scope_id, now)
    return envelope


def withdraw(
    uow: UnitOfWork, actor: str, microgrid_id: str, scope_id: str, envelope_id: str
) -> OperatingEnvelope:
    envelope = get(uow, microgrid_id, envelope_id)
    if envelope.scope_id != scope_id:
        raise NotFound("envelope", envelope_id)
    _lock_depot(uow, envelope.depot_id)
    if envelope.status in TERMINAL:
        raise Conflict(
            f"envelope {envelope_id} is already {envelope.status.value}; nothing to withdraw",
            code="ENVELOPE_NOT_LIVE",
            details={"status": envelope.status.value},
        )
    now = uow.clock.now()
    gone = envelope.moved_to(EnvelopeStatus.WITHDRAWN, now)
    EnvelopeRepository(uow.connection).save_status(gone)
    _record(uow, actor, gone, "OperatingEnvelopeWithdrawn")
    _apply_scope(uow, envelope.circuit_id, scope_id, now)
    return gone


def apply_due(uow: UnitOfWork) -> int:
    """Move envelopes across block boundaries as the clock passes them; returns changes made.

    Run by the scheduler on the injected clock, so boundaries take effect with no request.
    """
    now = uow.clock.now()
    repo = EnvelopeRepository(uow.connection)
    scopes: dict[str, str] = {}
    changed = 0
    for envelope in sorted(repo.live(), key=lambda e: (e.depot_id, e.id)):
        scopes[envelope.scope_id] = envelope.circuit_id
        status = envelope.status_at(now)
        if status is not envelope.status:
            _lock_depot(uow, envelope.depot_id)
            moved = envelope.moved_to(status, now)
            repo.save_status(moved)
            _record(uow, SCHEDULER, moved, TRANSITION_EVENTS[status])
            changed += 1
    for scope_id, circuit_id in sorted(scopes.items()):
        changed += _apply_scope(uow, circuit_id, scope_id, now)
    return changed


def withdraw_for_removed_circuit(uow: UnitOfWork, event: RecordedEvent) -> None:
    """In-transaction handler: a deleted circuit takes its scope's live envelopes with it."""
    circuit_id = event.data["entity_id"]
    repo = EnvelopeRepository(uow.connection)
    now = uow.clock.now()
    for envelope in repo.live():
        if envelope.circuit_id == circuit_id:
            gone = envelope.moved_to(EnvelopeStatus.WITHDRAWN, now)
            repo.save_status(gone)
            _record(uow, event.actor, gone, "OperatingEnvelopeWithdrawn")


def get(uow: UnitOfWork, microgrid_id: str, envelope_id: str) -> OperatingEnvelope:
    envelope = EnvelopeRepository(uow.connection).get(envelope_id)
    if envelope is None or envelope.microgrid_id != microgrid_id:
        raise NotFound("envelope", envelope_id)
    return envelope


def _apply_scope(uow: UnitOfWork, circuit_id: str, scope_id: str, now: datetime) -> int:
    """Write the scope's capacity through to its circuit when it differs; 1 if it did."""
    circuit = uow.legacy.get(Circuit, circuit_id)
    if circuit is None:
        return 0
    live = EnvelopeRepository(uow.connection).live_for_scope(scope_id)
    target = capacity_target(circuit, live, now)
    if target is None or (
        target.available_capacity_kw == circuit.available_capacity_kw
        and target.source is circuit.available_capacity_source
    ):
        return 0
    legacy.update_circuit(
        uow,
        f"envelope:{target.envelope_id}" if target.envelope_id else SCHEDULER,
        circuit_id,
        {
            "available_capacity_kw": target.available_capacity_kw,
            "available_capacity_source": target.source,
        },
    )
    return 1


def _lock_depot(uow: UnitOfWork, depot_id: str) -> None:
    if uow.legacy.get(Depot, depot_id, for_update=True) is None:
        raise NotFound("depot", depot_id)


def _record(uow: UnitOfWork, actor: str, envelope: OperatingEnvelope, event_type: str) -> None:
    stream = f"envelopes-{envelope.microgrid_id}"
    data = {
        "envelope_id": envelope.id,
        "scope_id": envelope.scope_id,
        "circuit_id": envelope.circuit_id,
        "kind": envelope.kind.value,
        "status": envelope.status.value,
        "source": {"kind": envelope.source_kind, "reference": envelope.source_reference},
        "valid_from": envelope.valid_from.isoformat(),
        "valid_to": envelope.valid_to.isoformat(),
        "superseded_by": envelope.superseded_by,
    }
    uow.events.append(
        stream,
        uow.events.current_version(stream),
        [NewEvent(event_type, data)],
        actor=actor,
        recorded_at=uow.clock.now(),
    )
