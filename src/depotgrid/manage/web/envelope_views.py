"""View models shared by the depot's Envelopes tab (story "Canonical Scoped Operating Envelope
View and History"; issue #3 §5): an envelope and its blocks as people read them, the microgrid's
envelope history, and what withdrawing an envelope would do.

Times are in the depot's zone, with the zone's abbreviation on every time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from depotgrid.manage.envelopes.model import (
    EnvelopeBlock,
    EnvelopeStatus,
    OperatingEnvelope,
    in_force,
)
from depotgrid.manage.envelopes.repository import EnvelopeRepository
from depotgrid.manage.errors import NotFound
from depotgrid.manage.legacy.model import Circuit, Depot
from depotgrid.manage.microgrid import service as microgrids
from depotgrid.manage.microgrid.model import Microgrid
from depotgrid.manage.unit_of_work import UnitOfWork
from depotgrid.manage.web.balancing_views import Moment, moment
from depotgrid.manage.web.views import Pager

STATUS_TONES = {
    EnvelopeStatus.ACTIVE: "green",
    EnvelopeStatus.SCHEDULED: "blue",
    EnvelopeStatus.EXPIRED: "grey",
    EnvelopeStatus.WITHDRAWN: "grey",
    EnvelopeStatus.SUPERSEDED: "grey",
}


@dataclass(frozen=True)
class BlockView:
    start: Moment
    end: Moment
    window: str
    max_import_kw: float
    max_export_kw: float | None
    in_force: bool


@dataclass(frozen=True)
class EnvelopeView:
    id: str
    scope_id: str
    scope_name: str
    circuit_id: str
    kind: str
    status: str
    tone: str
    source_kind: str
    source_reference: str
    window: str
    created: Moment
    status_changed: Moment
    superseded_by: str | None
    blocks: list[BlockView]
    live: bool

    @property
    def import_text(self) -> str:
        """'120.0 kW', or the range over several blocks: '80.0 to 120.0 kW'."""
        low = min(b.max_import_kw for b in self.blocks)
        high = max(b.max_import_kw for b in self.blocks)
        return f"{low:,.1f} kW" if low == high else f"{low:,.1f} to {high:,.1f} kW"


@dataclass(frozen=True)
class EnvelopeHistory:
    rows: list[EnvelopeView]
    pager: Pager


@dataclass(frozen=True)
class WithdrawPreview:
    microgrid_id: str
    envelope: EnvelopeView
    circuit_name: str
    outcome: str


def local_text(value: datetime, zone: ZoneInfo, *, date: bool = True) -> str:
    """'2026-05-01 14:30 BST': seconds only when they are not zero."""
    local = value.astimezone(zone)
    fmt = ("%Y-%m-%d " if date else "") + ("%H:%M:%S" if local.second else "%H:%M")
    return f"{local.strftime(fmt)} {local.tzname() or ''}".strip()


def window_text(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """'2026-05-01 10:00 BST → 14:00 BST', the end's date only when it differs."""
    same_day = start.astimezone(zone).date() == end.astimezone(zone).date()
    return f"{local_text(start, zone)} → {local_text(end, zone, date=not same_day)}"


def local_moment(value: datetime, zone: ZoneInfo, now: datetime) -> Moment:
    """`value` in the depot's zone, with its age: `balancing_views.moment` for a known time."""
    shown = moment(value, zone, now)
    assert shown is not None
    return shown


def block_view(block: EnvelopeBlock, zone: ZoneInfo, now: datetime, *, live: bool) -> BlockView:
    return BlockView(
        start=local_moment(block.start, zone, now),
        end=local_moment(block.end, zone, now),
        window=window_text(block.start, block.end, zone),
        max_import_kw=block.max_import_kw,
        max_export_kw=block.max_export_kw,
        in_force=live and block.covers(now),
    )


def envelope_view(
    envelope: OperatingEnvelope, names: Mapping[str, str], zone: ZoneInfo, now: datetime
) -> EnvelopeView:
    live = envelope.status in (EnvelopeStatus.ACTIVE, EnvelopeStatus.SCHEDULED)
    return EnvelopeView(
        id=envelope.id,
        scope_id=envelope.scope_id,
        scope_name=names.get(envelope.scope_id) or f"removed scope {envelope.scope_id[:8]}…",
        circuit_id=envelope.circuit_id,
        kind=envelope.kind.value,
        status=envelope.status.value,
        tone=STATUS_TONES[envelope.status],
        source_kind=envelope.source_kind,
        source_reference=envelope.source_reference,
        window=window_text(envelope.valid_from, envelope.valid_to, zone),
        created=local_moment(envelope.created_at, zone, now),
        status_changed=local_moment(envelope.status_changed_at, zone, now),
        superseded_by=envelope.superseded_by,
        blocks=[block_view(b, zone, now, live=live) for b in envelope.blocks],
        live=live,
    )


def envelope_history(
    uow: UnitOfWork, depot: Depot, microgrid: Microgrid, limit: int, offset: int
) -> EnvelopeHistory:
    """Every envelope of the microgrid, newest first: expired, withdrawn and superseded too."""
    zone, now = ZoneInfo(depot.timezone), uow.clock.now()
    names = _scope_names(uow, depot, microgrid)
    items, total = EnvelopeRepository(uow.connection).page(microgrid.id, limit=limit, offset=offset)
    return EnvelopeHistory(
        rows=[envelope_view(e, names, zone, now) for e in items],
        pager=Pager(f"/depots/{depot.id}/envelopes", total, limit, offset),
    )


def _scope_names(uow: UnitOfWork, depot: Depot, microgrid: Microgrid) -> dict[str, str]:
    circuits = {c.id: c.name for c in uow.legacy.all_in_depot(Circuit, depot.id)}
    names = {s.scope_id: s.name for s in microgrids.scopes(uow, microgrid.id)}
    nodes = microgrids.nodes(uow, microgrid.id)
    return {n.id: circuits.get(n.circuit_id or "", n.name) for n in nodes} | names


def withdraw_preview(uow: UnitOfWork, depot: Depot, envelope_id: str) -> WithdrawPreview:
    """The envelope and, in words, what withdrawing it does to its circuit now."""
    envelope = EnvelopeRepository(uow.connection).get(envelope_id)
    if envelope is None or envelope.depot_id != depot.id:
        raise NotFound("envelope", envelope_id)
    zone, now = ZoneInfo(depot.timezone), uow.clock.now()
    microgrid = microgrids.get_microgrid(uow, envelope.microgrid_id)
    circuit = uow.legacy.get(Circuit, envelope.circuit_id)
    view = envelope_view(envelope, _scope_names(uow, depot, microgrid), zone, now)
    if circuit is None:
        return WithdrawPreview(
            microgrid.id, view, "its circuit (removed)", "Its circuit no longer exists."
        )
    rest = [
        e
        for e in EnvelopeRepository(uow.connection).live_for_scope(envelope.scope_id)
        if e.id != envelope.id
    ]
    outcome = withdraw_outcome(circuit, envelope, rest, now)
    return WithdrawPreview(microgrid.id, view, circuit.name, outcome)


def withdraw_outcome(
    circuit: Circuit,
    envelope: OperatingEnvelope,
    rest: Sequence[OperatingEnvelope],
    now: datetime,
) -> str:
    """What the write-through does once `envelope` is gone and `rest` stay live."""
    found = in_force(rest, now)
    if found:
        other, block = found
        kw = min(circuit.max_capacity_kw, block.max_import_kw)
        return (
            f"The circuit {circuit.name} takes the limit of envelope {other.id[:8]}…, which is "
            f"also in force: {kw:,.1f} kW."
        )
    if in_force([envelope], now) is None:
        return (
            f"It is not in force now, so the circuit {circuit.name} keeps its capacity of "
            f"{min(circuit.available_capacity_kw, circuit.max_capacity_kw):,.1f} kW; it will not "
            "apply later."
        )
    return (
        f"The circuit {circuit.name} returns to its safe default of "
        f"{circuit.safe_default_capacity_kw:,.1f} kW (source SAFE_DEFAULT), and the depot is "
        "rebalanced."
    )
