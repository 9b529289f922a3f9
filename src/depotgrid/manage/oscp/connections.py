"""Persistence of the connection lifecycle read model and of processed inbound request ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection as SqlConnection
from sqlalchemy import RowMapping, insert, select, update
from sqlalchemy.exc import IntegrityError

from depotgrid.manage.oscp.lifecycle import (
    Connection,
    ConnectionState,
    ErrorCode,
    Negotiated,
    TrackedError,
    due_at,
)
from depotgrid.manage.oscp.tables import oscp_connections, oscp_inbound_requests

table = oscp_connections


class ConnectionRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._conn = connection

    def get(self, configuration_id: str, *, for_update: bool = False) -> Connection:
        """The connection's lifecycle; a configuration never enabled is CONFIGURED."""
        query = select(table).where(table.c.configuration_id == configuration_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return _connection(row._mapping) if row else Connection(configuration_id)

    def many(self, configuration_ids: list[str]) -> dict[str, Connection]:
        rows = self._conn.execute(
            select(table).where(table.c.configuration_id.in_(configuration_ids))
        )
        found = {row.configuration_id: _connection(row._mapping) for row in rows}
        return {i: found.get(i, Connection(i)) for i in configuration_ids}

    def save(self, connection: Connection, now: datetime) -> None:
        row = _row(connection, now)
        done = self._conn.execute(
            update(table).where(table.c.configuration_id == connection.configuration_id).values(row)
        )
        if done.rowcount == 0:
            self._conn.execute(
                insert(table).values(configuration_id=connection.configuration_id, **row)
            )

    def due(self, now: datetime, *, limit: int) -> list[str]:
        """Configurations whose timers are due, earliest first."""
        rows = self._conn.execute(
            select(table.c.configuration_id)
            .where(table.c.due_at <= now)
            .order_by(table.c.due_at)
            .limit(limit)
        )
        return [row.configuration_id for row in rows]


class InboundRequestRepository:
    """(peer, X-Request-ID) already processed (PROTOCOL.md §8.5)."""

    def __init__(self, connection: SqlConnection) -> None:
        self._conn = connection

    def claim(
        self, configuration_id: str, request_id: str, message_type: str, now: datetime
    ) -> bool:
        """Record the request id; False when it was processed before (answer 204, do nothing)."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    insert(oscp_inbound_requests).values(
                        configuration_id=configuration_id,
                        request_id=request_id,
                        message_type=message_type,
                        status=204,
                        received_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True


def _row(connection: Connection, now: datetime) -> dict[str, Any]:
    return {
        "state": connection.state.value,
        "registered_at": connection.registered_at,
        "negotiated": connection.negotiated.to_json() if connection.negotiated else None,
        "handshake_request_id": connection.handshake_request_id,
        "handshake_deadline": connection.handshake_deadline,
        "handshake_attempts": connection.handshake_attempts,
        "handshake_retry_at": connection.handshake_retry_at,
        "last_heartbeat_at": connection.last_heartbeat_at,
        "offline_at": connection.offline_at,
        "next_heartbeat_at": connection.next_heartbeat_at,
        "last_error": connection.last_error.to_json() if connection.last_error else None,
        "error_cleared_at": connection.error_cleared_at,
        "due_at": due_at(connection),
        "updated_at": now,
    }


def _connection(row: RowMapping) -> Connection:
    negotiated = row["negotiated"]
    error = row["last_error"]
    return Connection(
        configuration_id=row["configuration_id"],
        state=ConnectionState(row["state"]),
        registered_at=row["registered_at"],
        negotiated=Negotiated(
            heartbeat_interval_seconds=negotiated["heartbeat_interval_seconds"],
            measurement_configuration=tuple(negotiated["measurement_configuration"]),
            peer_heartbeat_interval_seconds=negotiated["peer_heartbeat_interval_seconds"],
        )
        if negotiated
        else None,
        handshake_request_id=row["handshake_request_id"],
        handshake_deadline=row["handshake_deadline"],
        handshake_attempts=row["handshake_attempts"],
        handshake_retry_at=row["handshake_retry_at"],
        last_heartbeat_at=row["last_heartbeat_at"],
        offline_at=row["offline_at"],
        next_heartbeat_at=row["next_heartbeat_at"],
        last_error=TrackedError(
            ErrorCode(error["code"]), error["message"], datetime.fromisoformat(error["at"])
        )
        if error
        else None,
        error_cleared_at=row["error_cleared_at"],
    )
