"""The OperatingEnvelope and the rules that decide what it means at a moment (COR-19).

An envelope limits one managed scope of a microgrid with time blocks of maximum import power.
It carries no protocol fields: a source kind and an opaque reference say where it came from.
While a PRIMARY block covers now, the scope's circuit gets min(rating, block max import) as its
available capacity; when none does, a circuit the envelope path had set returns to its safe
default (the non-envelope path). FALLBACK envelopes are kept for the fallback policy and never
apply by themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from itertools import pairwise

from depotgrid.manage.errors import FieldError, ValidationFailed
from depotgrid.manage.legacy.model import CapacitySource, Circuit


class EnvelopeKind(StrEnum):
    PRIMARY = "PRIMARY"
    FALLBACK = "FALLBACK"


class EnvelopeStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    WITHDRAWN = "WITHDRAWN"
    SUPERSEDED = "SUPERSEDED"


TERMINAL = frozenset({EnvelopeStatus.EXPIRED, EnvelopeStatus.WITHDRAWN, EnvelopeStatus.SUPERSEDED})


@dataclass(frozen=True)
class EnvelopeBlock:
    start: datetime
    end: datetime
    max_import_kw: float
    max_export_kw: float | None = None

    def covers(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class OperatingEnvelope:
    id: str
    microgrid_id: str
    depot_id: str
    scope_id: str
    circuit_id: str
    kind: EnvelopeKind
    source_kind: str
    source_reference: str
    blocks: tuple[EnvelopeBlock, ...]
    status: EnvelopeStatus
    created_at: datetime
    status_changed_at: datetime
    superseded_by: str | None = None

    @property
    def valid_from(self) -> datetime:
        return self.blocks[0].start

    @property
    def valid_to(self) -> datetime:
        return self.blocks[-1].end

    def block_at(self, moment: datetime) -> EnvelopeBlock | None:
        return next((b for b in self.blocks if b.covers(moment)), None)

    def status_at(self, moment: datetime) -> EnvelopeStatus:
        """SCHEDULED before its first block, ACTIVE until its last ends, then EXPIRED."""
        if self.status in TERMINAL:
            return self.status
        if moment < self.valid_from:
            return EnvelopeStatus.SCHEDULED
        if moment < self.valid_to:
            return EnvelopeStatus.ACTIVE
        return EnvelopeStatus.EXPIRED

    def moved_to(
        self, status: EnvelopeStatus, at: datetime, *, by: str | None = None
    ) -> OperatingEnvelope:
        return replace(
            self,
            status=status,
            status_changed_at=at,
            superseded_by=by if by else self.superseded_by,
        )

    def overlaps(self, other: OperatingEnvelope) -> bool:
        return self.valid_from < other.valid_to and other.valid_from < self.valid_to


def check_blocks(blocks: Sequence[EnvelopeBlock]) -> tuple[EnvelopeBlock, ...]:
    """Blocks are non-empty, timezone-aware, each start before its end, and do not overlap."""
    if not blocks:
        raise ValidationFailed.single("blocks", "needs at least one block")
    errors: list[FieldError] = []
    for n, block in enumerate(blocks):
        where = f"blocks[{n}]"
        if block.start.tzinfo is None or block.end.tzinfo is None:
            errors.append(
                FieldError(where, "start and end need a time zone, e.g. 2026-01-01T10:00Z")
            )
            continue
        if block.end <= block.start:
            errors.append(FieldError(f"{where}.end", "must be after start"))
        if block.max_import_kw < 0:
            errors.append(FieldError(f"{where}.max_import_kw", "must be zero or more"))
        if block.max_export_kw is not None and block.max_export_kw < 0:
            errors.append(FieldError(f"{where}.max_export_kw", "must be zero or more"))
    if errors:
        raise ValidationFailed(errors)
    order = sorted(range(len(blocks)), key=lambda n: blocks[n].start)
    for before, after in pairwise(order):
        if blocks[after].start < blocks[before].end:
            raise ValidationFailed.single(
                f"blocks[{after}].start",
                f"overlaps blocks[{before}], which ends {blocks[before].end.isoformat()}; "
                "blocks must not overlap",
            )
    return tuple(blocks[n] for n in order)


def superseded_by(
    new: OperatingEnvelope, existing: Iterable[OperatingEnvelope]
) -> list[OperatingEnvelope]:
    """Live envelopes of the same kind and scope whose window the new one overlaps."""
    return [
        old
        for old in existing
        if old.id != new.id
        and old.status not in TERMINAL
        and old.kind is new.kind
        and old.scope_id == new.scope_id
        and old.overlaps(new)
    ]


def in_force(
    envelopes: Iterable[OperatingEnvelope], moment: datetime
) -> tuple[OperatingEnvelope, EnvelopeBlock] | None:
    """The PRIMARY envelope and block in force at `moment`; the newest wins an overlap."""
    candidates = [
        (envelope, block)
        for envelope in envelopes
        if envelope.kind is EnvelopeKind.PRIMARY
        and envelope.status not in TERMINAL
        and (block := envelope.block_at(moment)) is not None
    ]
    return max(candidates, key=lambda pair: (pair[0].created_at, pair[0].id), default=None)


@dataclass(frozen=True)
class CapacityTarget:
    """What the scope's circuit available capacity should be now, and why."""

    available_capacity_kw: float
    source: CapacitySource
    envelope_id: str | None


def capacity_target(
    circuit: Circuit, envelopes: Iterable[OperatingEnvelope], moment: datetime
) -> CapacityTarget | None:
    """The write-through for one circuit at `moment`; None when the envelope path leaves it alone.

    A PRIMARY block in force sets min(rating, block max import). Without one, a circuit the
    envelope path had set goes back to its safe default; any other circuit is not touched.
    """
    found = in_force(envelopes, moment)
    if found:
        envelope, block = found
        kw = min(circuit.max_capacity_kw, block.max_import_kw)
        return CapacityTarget(kw, CapacitySource.ENVELOPE, envelope.id)
    if circuit.available_capacity_source is CapacitySource.ENVELOPE:
        return CapacityTarget(circuit.safe_default_capacity_kw, CapacitySource.SAFE_DEFAULT, None)
    return None


def next_boundary(envelopes: Iterable[OperatingEnvelope], moment: datetime) -> datetime | None:
    """The next block start or end after `moment`: when the scope's capacity may next change."""
    upcoming = [
        edge
        for envelope in envelopes
        if envelope.status not in TERMINAL
        for block in envelope.blocks
        for edge in (block.start, block.end)
        if edge > moment
    ]
    return min(upcoming, default=None)
