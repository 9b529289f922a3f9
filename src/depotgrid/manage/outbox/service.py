"""Putting messages in the outbox, in the caller's transaction, and reading them back.

`enqueue` writes the entry with the state change that caused it (one unit of work): if the
transaction rolls back, nothing is sent; once it commits, the dispatcher will deliver it. The
body is checked against its OSCP schema here, so an invalid message is refused at the source
and never persisted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from depotgrid.common.ids import new_id
from depotgrid.manage.outbox.model import Attempt, OutboxEntry, OutboxState
from depotgrid.manage.outbox.repository import OutboxRepository
from depotgrid.manage.unit_of_work import UnitOfWork
from depotgrid.oscp.messages import checked_wire, model_for, parse
from depotgrid.oscp.routes import Role, endpoint_for, route_for

RECEIVER = Role.CP
"""Manage is the Flexibility Provider: its outbound messages go to the Capacity Provider."""

REDACTED = "•••"
SECRET_FIELDS = frozenset({"token"})
"""Body fields never shown: Register carries the token the peer must use to call us."""


@dataclass(frozen=True)
class Publication:
    """An entry with every attempt to send it, for the connection detail page."""

    entry: OutboxEntry
    attempts: tuple[Attempt, ...]


def enqueue(
    uow: UnitOfWork,
    *,
    destination_id: str,
    message_type: str,
    body: dict[str, Any],
    correlation_id: str | None = None,
    expires_at: datetime | None = None,
    request_id: str | None = None,
) -> OutboxEntry:
    """Persist one outbound OSCP message in `uow`'s transaction; the caller commits.

    `message_type` is the schema title (`Register`, `Heartbeat`, ...). Raises OscpPayloadError
    (every schema error, with its wire path) for an invalid body, UnknownSchemaError for an
    unknown title, UnknownRouteError for a message the Capacity Provider does not receive, and
    ValueError for an unusable header value; nothing is stored then. `request_id` (a new UUID
    unless given) is the X-Request-ID of every attempt; an entry past `expires_at` is not sent.
    """
    model = model_for(message_type)
    wire = checked_wire(parse(model, body, strict=True))
    route = route_for(RECEIVER, endpoint_for(model))
    request_id = request_id or new_id()
    _require_header_value("request_id", request_id)
    if correlation_id is not None:
        _require_header_value("correlation_id", correlation_id)
    now = uow.clock.now()
    entry = OutboxEntry(
        id=new_id(),
        destination_id=destination_id,
        message_type=model.schema_title,
        path=route.endpoint.value,
        body=wire,
        request_id=request_id,
        correlation_id=correlation_id,
        state=OutboxState.PENDING,
        attempts=0,
        next_attempt_at=now,
        expires_at=expires_at,
        created_at=now,
    )
    OutboxRepository(uow.connection).add(entry)
    return entry


def entries_for(
    uow: UnitOfWork, destination_id: str, *, limit: int, offset: int
) -> tuple[list[Publication], int]:
    """A page of a destination's publications, newest first, each with its attempts; the total."""
    repo = OutboxRepository(uow.connection)
    found, total = repo.page(destination_id, limit=limit, offset=offset)
    tried = repo.attempts_of([entry.id for entry in found])
    return [Publication(entry, tuple(tried[entry.id])) for entry in found], total


def redacted_body(entry: OutboxEntry) -> dict[str, Any]:
    """The body for display, with secret values (Register's `token`) replaced by •••."""
    return _redact(entry.body)


def _redact(value: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: REDACTED if key in SECRET_FIELDS else _redact_any(item) for key, item in value.items()
    }


def _redact_any(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _redact(value)
    if isinstance(value, list):
        return [_redact_any(item) for item in value]
    return value


def _require_header_value(name: str, value: str) -> None:
    if not value.strip() or "\r" in value or "\n" in value:
        raise ValueError(f"{name} must be a non-empty single-line value")
