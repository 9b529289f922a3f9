"""Persistence of operating envelopes: rows in, plain OperatingEnvelope out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, select, update

from depotgrid.manage.envelopes.model import (
    TERMINAL,
    EnvelopeBlock,
    EnvelopeKind,
    EnvelopeStatus,
    OperatingEnvelope,
)
from depotgrid.manage.envelopes.tables import operating_envelopes as table

LIVE = [status.value for status in EnvelopeStatus if status not in TERMINAL]


class EnvelopeRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, envelope: OperatingEnvelope) -> None:
        self._conn.execute(insert(table).values(**_row(envelope)))

    def save_status(self, envelope: OperatingEnvelope) -> None:
        self._conn.execute(
            update(table)
            .where(table.c.id == envelope.id)
            .values(
                status=envelope.status.value,
                status_changed_at=envelope.status_changed_at,
                superseded_by=envelope.superseded_by,
            )
        )

    def get(self, envelope_id: str) -> OperatingEnvelope | None:
        row = self._conn.execute(select(table).where(table.c.id == envelope_id)).first()
        return _envelope(row._mapping) if row else None

    def live_for_scope(self, scope_id: str) -> list[OperatingEnvelope]:
        rows = self._conn.execute(
            select(table).where(table.c.scope_id == scope_id, table.c.status.in_(LIVE))
        )
        return [_envelope(row._mapping) for row in rows]

    def live(self) -> list[OperatingEnvelope]:
        rows = self._conn.execute(select(table).where(table.c.status.in_(LIVE)))
        return [_envelope(row._mapping) for row in rows]

    def page(
        self,
        microgrid_id: str,
        *,
        limit: int,
        offset: int,
        scope_id: str | None = None,
        status: str | None = None,
    ) -> tuple[list[OperatingEnvelope], int]:
        conditions = [table.c.microgrid_id == microgrid_id]
        if scope_id:
            conditions.append(table.c.scope_id == scope_id)
        if status:
            conditions.append(table.c.status == status)
        total = self._conn.scalar(select(func.count()).select_from(table).where(*conditions))
        rows = self._conn.execute(
            select(table)
            .where(*conditions)
            .order_by(table.c.created_at.desc(), table.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [_envelope(row._mapping) for row in rows], int(total or 0)


def _row(envelope: OperatingEnvelope) -> dict[str, Any]:
    return {
        "id": envelope.id,
        "microgrid_id": envelope.microgrid_id,
        "depot_id": envelope.depot_id,
        "scope_id": envelope.scope_id,
        "circuit_id": envelope.circuit_id,
        "kind": envelope.kind.value,
        "source_kind": envelope.source_kind,
        "source_reference": envelope.source_reference,
        "blocks": [_block_json(block) for block in envelope.blocks],
        "valid_from": envelope.valid_from,
        "valid_to": envelope.valid_to,
        "status": envelope.status.value,
        "created_at": envelope.created_at,
        "status_changed_at": envelope.status_changed_at,
        "superseded_by": envelope.superseded_by,
    }


def _block_json(block: EnvelopeBlock) -> dict[str, Any]:
    return {
        "start": block.start.isoformat(),
        "end": block.end.isoformat(),
        "max_import_kw": block.max_import_kw,
        "max_export_kw": block.max_export_kw,
    }


def _envelope(row: RowMapping) -> OperatingEnvelope:
    blocks = tuple(
        EnvelopeBlock(
            start=datetime.fromisoformat(b["start"]),
            end=datetime.fromisoformat(b["end"]),
            max_import_kw=float(b["max_import_kw"]),
            max_export_kw=None if b["max_export_kw"] is None else float(b["max_export_kw"]),
        )
        for b in row["blocks"]
    )
    return OperatingEnvelope(
        id=row["id"],
        microgrid_id=row["microgrid_id"],
        depot_id=row["depot_id"],
        scope_id=row["scope_id"],
        circuit_id=row["circuit_id"],
        kind=EnvelopeKind(row["kind"]),
        source_kind=row["source_kind"],
        source_reference=row["source_reference"],
        blocks=blocks,
        status=EnvelopeStatus(row["status"]),
        created_at=row["created_at"],
        status_changed_at=row["status_changed_at"],
        superseded_by=row["superseded_by"],
    )
