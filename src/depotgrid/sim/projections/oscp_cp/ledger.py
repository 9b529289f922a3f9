"""The OSCP message ledger (design §3 OscpMessageLedgerEntry, §4 "message ledger entries are
append-only; an outcome update may only finalize an existing ledger entry", §10).

One entry per message attempt or receipt: direction (`inbound` = received by the simulator,
`outbound` = sent by it), message type, headers (Authorization masked), body snapshot, outcome,
HTTP status, validation errors, reason, whether a scenario forced the outcome, logical and wall
time.

- Outbound entries are written `pending` before the message is sent and finalized once with the
  outcome (persist before send); `finalize` refuses an entry that is not pending.
- Inbound entries are written once, final, when the answer is decided.
- `dedupe_key` (session + X-Request-ID) is set on authenticated inbound entries and is unique:
  a repeated X-Request-ID finds the prior entry and gets its answer, never a second entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    bindparam,
    func,
    insert,
    select,
    update,
)

from depotgrid.sim.db.tables import oscp_ledger

INBOUND = "inbound"
OUTBOUND = "outbound"
PENDING = "pending"
_SECRET_HEADERS = frozenset({"authorization"})


class LedgerError(Exception):
    """An attempt to change an entry that is already final."""


@dataclass(frozen=True)
class LedgerEntry:
    id: str
    session_id: str | None
    run_id: str | None
    direction: str
    message_type: str
    endpoint: str
    url: str | None
    request_id: str | None
    correlation_id: str | None
    headers: dict[str, str]
    body: Any
    outcome: str
    http_status: int | None
    validation_errors: list[dict[str, str]]
    reason: str | None
    forced: bool
    override_mode: str | None
    logical_at: datetime | None
    wall_at: datetime
    finalized_logical_at: datetime | None = None
    finalized_wall_at: datetime | None = None
    duration_ms: float | None = None
    seq: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class LedgerFilter:
    session_id: str | None = None
    unattributed: bool = False
    direction: str | None = None
    message_types: Sequence[str] = ()
    outcome: str | None = None
    forced: bool | None = None
    after_seq: int | None = None


@dataclass(frozen=True)
class Finalization:
    """The outcome `Ledger.finalize_all` gives one pending entry."""

    entry_id: str
    outcome: str
    http_status: int | None
    reason: str | None
    logical_at: datetime | None
    wall_at: datetime
    duration_ms: float | None

    def parameters(self) -> dict[str, Any]:
        return {
            "b_id": self.entry_id,
            "outcome": self.outcome,
            "http_status": self.http_status,
            "reason": self.reason,
            "finalized_logical_at": self.logical_at,
            "finalized_wall_at": self.wall_at,
            "duration_ms": self.duration_ms,
        }


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers as the ledger keeps them: credentials reduced to scheme and last 4 characters."""
    masked: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS:
            scheme, _, secret = value.partition(" ")
            masked[name] = f"{scheme} …{secret[-4:]}" if secret else "…"
        else:
            masked[name] = value
    return masked


class Ledger:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def append(self, entry: LedgerEntry, *, dedupe_key: str | None = None) -> None:
        self._conn.execute(_INSERT, _row(entry, dedupe_key))

    def append_all(self, entries: Sequence[LedgerEntry]) -> None:
        """Append several entries (no dedupe keys) in one executemany."""
        if entries:
            self._conn.execute(_INSERT, [_row(entry, None) for entry in entries])

    def finalize(
        self,
        entry_id: str,
        *,
        outcome: str,
        http_status: int | None,
        reason: str | None,
        logical_at: datetime | None,
        wall_at: datetime,
        duration_ms: float | None,
        validation_errors: list[dict[str, str]] | None = None,
    ) -> None:
        """Give a pending entry its outcome; LedgerError if it is not pending."""
        final = Finalization(
            entry_id, outcome, http_status, reason, logical_at, wall_at, duration_ms
        )
        if validation_errors is None:
            result = self._conn.execute(_FINALIZE, final.parameters())
        else:
            result = self._conn.execute(
                _FINALIZE_WITH_ERRORS,
                {**final.parameters(), "validation_errors": validation_errors},
            )
        if result.rowcount != 1:
            raise LedgerError(f"ledger entry {entry_id} is not pending; entries are final once")

    def finalize_all(self, finals: Sequence[Finalization]) -> None:
        """`finalize` several pending entries in one executemany; LedgerError unless every
        one was pending."""
        if not finals:
            return
        result = self._conn.execute(_FINALIZE, [final.parameters() for final in finals])
        if result.rowcount != len(finals):
            ids = ", ".join(final.entry_id for final in finals)
            raise LedgerError(f"ledger entries {ids}: not all pending; entries are final once")

    def get(self, entry_id: str) -> LedgerEntry | None:
        row = self._conn.execute(select(oscp_ledger).where(oscp_ledger.c.id == entry_id)).first()
        return _entry(row._mapping) if row else None

    def by_dedupe_key(self, key: str) -> LedgerEntry | None:
        row = self._conn.execute(select(oscp_ledger).where(oscp_ledger.c.dedupe_key == key)).first()
        return _entry(row._mapping) if row else None

    def outbound_request(self, session_id: str, request_id: str) -> LedgerEntry | None:
        """The outbound entry of this session with this X-Request-ID."""
        row = self._conn.execute(
            select(oscp_ledger).where(
                oscp_ledger.c.session_id == session_id,
                oscp_ledger.c.direction == OUTBOUND,
                oscp_ledger.c.request_id == request_id,
            )
        ).first()
        return _entry(row._mapping) if row else None

    def recent_outbound(self, session_id: str, message_type: str, limit: int) -> list[LedgerEntry]:
        rows = self._conn.execute(
            select(oscp_ledger)
            .where(
                oscp_ledger.c.session_id == session_id,
                oscp_ledger.c.direction == OUTBOUND,
                oscp_ledger.c.message_type == message_type,
            )
            .order_by(oscp_ledger.c.seq.desc())
            .limit(limit)
        )
        return [_entry(row._mapping) for row in rows]

    def pending(self, direction: str, session_ids: Sequence[str]) -> list[LedgerEntry]:
        if not session_ids:
            return []
        rows = self._conn.execute(
            select(oscp_ledger)
            .where(
                oscp_ledger.c.outcome == PENDING,
                oscp_ledger.c.direction == direction,
                oscp_ledger.c.session_id.in_(session_ids),
            )
            .order_by(oscp_ledger.c.seq)
        )
        return [_entry(row._mapping) for row in rows]

    def search(
        self, where: LedgerFilter, *, limit: int, offset: int, newest_first: bool = False
    ) -> tuple[list[LedgerEntry], int]:
        conditions: list[ColumnElement[bool]] = []
        if where.unattributed:
            conditions.append(oscp_ledger.c.session_id.is_(None))
        elif where.session_id is not None:
            conditions.append(oscp_ledger.c.session_id == where.session_id)
        if where.direction:
            conditions.append(oscp_ledger.c.direction == where.direction)
        if where.message_types:
            conditions.append(oscp_ledger.c.message_type.in_(where.message_types))
        if where.outcome:
            conditions.append(oscp_ledger.c.outcome == where.outcome)
        if where.forced is not None:
            conditions.append(oscp_ledger.c.forced == where.forced)
        if where.after_seq is not None:
            conditions.append(oscp_ledger.c.seq > where.after_seq)
        total = (
            self._conn.scalar(select(func.count()).select_from(oscp_ledger).where(*conditions)) or 0
        )
        order = oscp_ledger.c.seq.desc() if newest_first else oscp_ledger.c.seq
        rows = self._conn.execute(
            select(oscp_ledger).where(*conditions).order_by(order).limit(limit).offset(offset)
        )
        return [_entry(row._mapping) for row in rows], int(total)

    def count(self) -> int:
        return int(self._conn.scalar(select(func.count()).select_from(oscp_ledger)) or 0)


_COLUMNS = (
    "id",
    "session_id",
    "run_id",
    "direction",
    "message_type",
    "endpoint",
    "url",
    "request_id",
    "correlation_id",
    "headers",
    "body",
    "outcome",
    "http_status",
    "validation_errors",
    "reason",
    "forced",
    "override_mode",
    "logical_at",
    "wall_at",
    "finalized_logical_at",
    "finalized_wall_at",
    "duration_ms",
)


_INSERT = insert(oscp_ledger)
_FINALIZE_COLUMNS = (
    "outcome",
    "http_status",
    "reason",
    "finalized_logical_at",
    "finalized_wall_at",
    "duration_ms",
)


def _finalize(columns: Sequence[str]) -> Any:
    """`UPDATE ... WHERE id = :b_id AND outcome = 'pending'`, built once (parameters apart)."""
    return (
        update(oscp_ledger)
        .where(oscp_ledger.c.id == bindparam("b_id"), oscp_ledger.c.outcome == PENDING)
        .values({name: bindparam(name) for name in columns})
    )


_FINALIZE = _finalize(_FINALIZE_COLUMNS)
_FINALIZE_WITH_ERRORS = _finalize((*_FINALIZE_COLUMNS, "validation_errors"))


def _row(entry: LedgerEntry, dedupe_key: str | None) -> dict[str, Any]:
    return {**{name: getattr(entry, name) for name in _COLUMNS}, "dedupe_key": dedupe_key}


def _entry(row: RowMapping) -> LedgerEntry:
    return LedgerEntry(**{name: row[name] for name in _COLUMNS}, seq=row["seq"])
