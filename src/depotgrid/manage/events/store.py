"""The one append-only event store.

Each stream (an aggregate such as a depot) is a gapless sequence of versions; (stream_id,
stream_version) is unique, so two writers that loaded the same version cannot both append:
the second gets a ConcurrencyError and retries from fresh state. `position` gives every event
a total order for projections and feeds. See docs/decisions/0001-event-store.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    Integer,
    String,
    Table,
    UniqueConstraint,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from depotgrid.manage.db.metadata import UtcDateTime, metadata

events_table = Table(
    "events",
    metadata,
    Column(
        "position",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("stream_id", String(200), nullable=False, index=True),
    Column("stream_version", Integer, nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("data", JSON, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("actor", String(320), nullable=False),
    UniqueConstraint("stream_id", "stream_version", name="uq_events_stream_version"),
)


class ConcurrencyError(Exception):
    """The stream moved on since it was read; reload and try again."""


@dataclass(frozen=True)
class NewEvent:
    event_type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class RecordedEvent:
    position: int
    stream_id: str
    stream_version: int
    event_type: str
    data: dict[str, Any]
    recorded_at: datetime
    actor: str


class EventStore:
    """SQL event store inside the caller's transaction, so state and events commit together."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self.appended: list[RecordedEvent] = []
        """Events appended through this store, in order: the unit of work publishes them."""

    def current_version(self, stream_id: str) -> int:
        found = self._conn.scalar(
            select(func.max(events_table.c.stream_version)).where(
                events_table.c.stream_id == stream_id
            )
        )
        return int(found or 0)

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        actor: str,
        recorded_at: datetime,
    ) -> list[RecordedEvent]:
        """Append `events` after `expected_version`; raise ConcurrencyError if it is not current."""
        if self.current_version(stream_id) != expected_version:
            raise ConcurrencyError(f"stream {stream_id} is not at version {expected_version}")
        rows: list[dict[str, Any]] = [
            {
                "stream_id": stream_id,
                "stream_version": expected_version + offset,
                "event_type": event.event_type,
                "data": event.data,
                "recorded_at": recorded_at,
                "actor": actor,
            }
            for offset, event in enumerate(events, start=1)
        ]
        try:
            result = self._conn.execute(
                insert(events_table).returning(
                    events_table.c.position, sort_by_parameter_order=True
                ),
                rows,
            )
            positions = list(result.scalars())
        except IntegrityError as exc:
            raise ConcurrencyError(f"stream {stream_id} was appended to concurrently") from exc
        recorded = [
            RecordedEvent(position=pos, **row) for pos, row in zip(positions, rows, strict=True)
        ]
        self.appended.extend(recorded)
        return recorded

    def read_stream(
        self, stream_id: str, *, offset: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        query = (
            select(events_table)
            .where(events_table.c.stream_id == stream_id)
            .order_by(events_table.c.stream_version)
            .offset(offset)
            .limit(limit)
        )
        return [RecordedEvent(**row._mapping) for row in self._conn.execute(query)]

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        query = (
            select(events_table)
            .where(events_table.c.position > after_position)
            .order_by(events_table.c.position)
            .limit(limit)
        )
        return [RecordedEvent(**row._mapping) for row in self._conn.execute(query)]
