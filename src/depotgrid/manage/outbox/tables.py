"""Tables of the outbox: one row per outbound publication, one per attempt to send it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from depotgrid.manage.db.metadata import UtcDateTime, metadata

outbox_entries = Table(
    "outbox_entries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("destination_id", String(200), nullable=False),
    Column("message_type", String(100), nullable=False),
    Column("path", String(200), nullable=False),
    Column("body", JSON, nullable=False),
    Column("request_id", String(200), nullable=False, unique=True),
    Column("correlation_id", String(200), nullable=True),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    # The claim lease: which dispatcher holds the entry, and until when (see dispatcher.py).
    Column("claimed_by", String(200), nullable=True),
    Column("claimed_until", UtcDateTime, nullable=True),
    Index("ix_outbox_entries_due", "state", "next_attempt_at"),
    Index("ix_outbox_entries_destination", "destination_id", "created_at"),
)

outbox_attempts = Table(
    "outbox_attempts",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column(
        "entry_id",
        String(36),
        ForeignKey("outbox_entries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("number", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("status", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("response_excerpt", Text, nullable=True),
    # One row per attempt number: a second delivery of the same attempt cannot be recorded.
    UniqueConstraint("entry_id", "number", name="uq_outbox_attempts_entry_number"),
)
