"""In-transaction reactions: a circuit or charger change rebalances its depot before it commits.

Registered in depotgrid.manage.handlers. A circuit update that moves its available capacity to or
from an operating envelope (the envelope write-through) is an ENVELOPE_CHANGE; other circuit
changes are CIRCUIT_CHANGE, charger changes CHARGER_CHANGE (plugging in, a new request).
"""

from __future__ import annotations

from typing import Any

from depotgrid.manage.balancing.service import Trigger, run_cycle
from depotgrid.manage.events.store import RecordedEvent
from depotgrid.manage.legacy.model import CapacitySource, Depot
from depotgrid.manage.unit_of_work import UnitOfWork

ENVELOPE_SOURCES = frozenset({CapacitySource.ENVELOPE.value, CapacitySource.SAFE_DEFAULT.value})


def rebalance_on_change(uow: UnitOfWork, event: RecordedEvent) -> None:
    """On Circuit{Created,Updated,Deleted} and Charger{Created,Updated,Deleted}: one cycle."""
    state: dict[str, Any] = event.data.get("state", {})
    depot_id = state.get("depot_id")
    if not depot_id or uow.legacy.get(Depot, str(depot_id)) is None:
        return  # the depot went later in the same transaction
    run_cycle(
        uow,
        event.actor,
        str(depot_id),
        trigger=trigger_of(event),
        trigger_ref=str(event.data.get("entity_id") or "") or None,
    )


def trigger_of(event: RecordedEvent) -> Trigger:
    if event.event_type.startswith("Charger"):
        return Trigger.CHARGER_CHANGE
    changes = event.data.get("changes", {})
    source = changes.get("available_capacity_source")
    if source is not None and {source.get("from"), source.get("to")} & ENVELOPE_SOURCES:
        return Trigger.ENVELOPE_CHANGE
    current = event.data.get("state", {}).get("available_capacity_source")
    if "available_capacity_kw" in changes and current == CapacitySource.ENVELOPE.value:
        return Trigger.ENVELOPE_CHANGE
    return Trigger.CIRCUIT_CHANGE
