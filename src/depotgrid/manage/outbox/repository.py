"""Persistence of the outbox on the unit of work's connection: rows in, plain entries out.

Claiming selects the due rows, then leases them with a conditional UPDATE, in one transaction.
On PostgreSQL the selection locks with `FOR UPDATE SKIP LOCKED`, so concurrent claimers skip
each other's rows instead of waiting; SQLite ignores the lock clause and serializes writers
anyway (BEGIN IMMEDIATE). The UPDATE repeats the claim condition, so a row claimed meanwhile is
never claimed twice. (Two statements on purpose: as `UPDATE ... WHERE id IN (SELECT ... LIMIT n
FOR UPDATE SKIP LOCKED)` PostgreSQL may run the subquery once per row and lease more than n.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)

from depotgrid.manage.outbox.model import DUE_STATES, Attempt, OutboxEntry, OutboxState
from depotgrid.manage.outbox.tables import outbox_attempts as attempts
from depotgrid.manage.outbox.tables import outbox_entries as entries

_ENTRY_COLUMNS = [
    entries.c[name]
    for name in (
        "id",
        "destination_id",
        "message_type",
        "path",
        "body",
        "request_id",
        "correlation_id",
        "state",
        "attempts",
        "next_attempt_at",
        "expires_at",
        "created_at",
        "delivered_at",
        "last_status",
        "last_error",
    )
]


class OutboxRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, entry: OutboxEntry) -> None:
        self._conn.execute(insert(entries).values(**_row(entry)))

    def claim(
        self, *, worker: str, now: datetime, until: datetime, limit: int
    ) -> list[OutboxEntry]:
        """Lease up to `limit` due entries to `worker` until `until`, oldest due first."""
        due = self._conn.scalars(
            select(entries.c.id)
            .where(_claimable(now))
            .order_by(entries.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not due:
            return []
        claimed = self._conn.execute(
            update(entries)
            .where(entries.c.id.in_(due), _claimable(now))
            .values(claimed_by=worker, claimed_until=until)
            .returning(*_ENTRY_COLUMNS)
        )
        found = [_entry(row._mapping) for row in claimed]
        return sorted(found, key=lambda entry: (entry.next_attempt_at, entry.created_at))

    def settle(self, settled: Sequence[OutboxEntry], *, worker: str) -> set[str]:
        """Store the entries' new states and release them, where `worker` still holds them;
        the ids stored. Rows still held are locked first, so no claimer can take one between
        the check and the write."""
        held = set(
            self._conn.scalars(
                select(entries.c.id)
                .where(entries.c.id.in_([entry.id for entry in settled]))
                .where(entries.c.claimed_by == worker)
                .with_for_update()
            )
        )
        rows = [_settled_row(entry) for entry in settled if entry.id in held]
        if rows:
            self._conn.execute(
                update(entries).where(
                    entries.c.id == bindparam("entry_id"), entries.c.claimed_by == worker
                ),
                rows,
            )
        return held

    def add_attempts(self, tried: Sequence[Attempt]) -> None:
        if tried:
            self._conn.execute(insert(attempts), [asdict(attempt) for attempt in tried])

    def page(
        self, destination_id: str, *, limit: int, offset: int
    ) -> tuple[list[OutboxEntry], int]:
        """A destination's entries, newest first."""
        mine = entries.c.destination_id == destination_id
        total = self._conn.scalar(select(func.count()).select_from(entries).where(mine))
        rows = self._conn.execute(
            select(*_ENTRY_COLUMNS)
            .where(mine)
            .order_by(entries.c.created_at.desc(), entries.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [_entry(row._mapping) for row in rows], int(total or 0)

    def attempts_of(self, entry_ids: Sequence[str]) -> dict[str, list[Attempt]]:
        """Every attempt of each entry, in order."""
        found: dict[str, list[Attempt]] = {entry_id: [] for entry_id in entry_ids}
        rows = self._conn.execute(
            select(attempts)
            .where(attempts.c.entry_id.in_(list(entry_ids)))
            .order_by(attempts.c.entry_id, attempts.c.number)
        )
        for row in rows:
            values = dict(row._mapping)
            del values["id"]
            found[values["entry_id"]].append(Attempt(**values))
        return found


def _claimable(now: datetime) -> ColumnElement[bool]:
    return and_(
        entries.c.state.in_([state.value for state in DUE_STATES]),
        entries.c.next_attempt_at <= now,
        or_(entries.c.claimed_until.is_(None), entries.c.claimed_until <= now),
    )


def _row(entry: OutboxEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "destination_id": entry.destination_id,
        "message_type": entry.message_type,
        "path": entry.path,
        "body": entry.body,
        "request_id": entry.request_id,
        "correlation_id": entry.correlation_id,
        "state": entry.state.value,
        "attempts": entry.attempts,
        "next_attempt_at": entry.next_attempt_at,
        "expires_at": entry.expires_at,
        "created_at": entry.created_at,
        "delivered_at": entry.delivered_at,
        "last_status": entry.last_status,
        "last_error": entry.last_error,
    }


def _settled_row(entry: OutboxEntry) -> dict[str, Any]:
    return {
        "entry_id": entry.id,
        "state": entry.state.value,
        "attempts": entry.attempts,
        "next_attempt_at": entry.next_attempt_at,
        "delivered_at": entry.delivered_at,
        "last_status": entry.last_status,
        "last_error": entry.last_error,
        "claimed_by": None,
        "claimed_until": None,
    }


def _entry(row: RowMapping) -> OutboxEntry:
    values = dict(row)
    values["state"] = OutboxState(values["state"])
    return OutboxEntry(**values)
