"""Tables of OSCP configurations: the projection, the encrypted secrets, the inbound tokens,
the connection lifecycle read model and the inbound request ids already processed.

The projection holds every non-secret field of each configuration's current state. Active
uniqueness is the database's job: partial unique indexes allow one active (not DISABLED)
configuration per group_id and per managed scope, on SQLite and PostgreSQL alike, so two
concurrent requests cannot both win.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Index, Integer, String, Table, Text

from depotgrid.manage.db.metadata import UtcDateTime, metadata

DISABLED = "DISABLED"

oscp_configurations = Table(
    "oscp_configurations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=True),
    Column("group_id", String(200), nullable=False),
    # No foreign keys: a configuration stays auditable after its microgrid is retired.
    Column("microgrid_id", String(36), nullable=False, index=True),
    Column("managed_scope_id", String(36), nullable=False),
    Column("endpoint_base_url", String(500), nullable=False),
    Column("oscp_version", String(10), nullable=False),
    Column("profile", String(50), nullable=False),
    Column("measurement_publication_mode", String(10), nullable=False),
    Column("measurement_configuration", String(20), nullable=False),
    Column("measurement_publication_interval_seconds", Integer, nullable=False),
    Column("reporting_asset_id", String(200), nullable=True),
    Column("outbound_auth", JSON, nullable=True),
    Column("static_headers", JSON, nullable=False),
    Column("state", String(30), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

ACTIVE = oscp_configurations.c.state != DISABLED

Index(
    "uq_oscp_configurations_active_group_id",
    oscp_configurations.c.group_id,
    unique=True,
    sqlite_where=ACTIVE,
    postgresql_where=ACTIVE,
)
Index(
    "uq_oscp_configurations_active_scope",
    oscp_configurations.c.managed_scope_id,
    unique=True,
    sqlite_where=ACTIVE,
    postgresql_where=ACTIVE,
)

oscp_secrets = Table(
    "oscp_secrets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("configuration_id", String(36), nullable=False, index=True),
    Column("purpose", String(50), nullable=False),
    Column("ciphertext", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

oscp_inbound_tokens = Table(
    "oscp_inbound_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("configuration_id", String(36), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("retired_at", UtcDateTime, nullable=True),
)

oscp_connections = Table(
    "oscp_connections",
    metadata,
    Column("configuration_id", String(36), primary_key=True),
    Column("state", String(30), nullable=False),
    Column("registered_at", UtcDateTime, nullable=True),
    Column("negotiated", JSON, nullable=True),
    Column("handshake_request_id", String(100), nullable=True),
    Column("handshake_deadline", UtcDateTime, nullable=True),
    Column("handshake_attempts", Integer, nullable=False),
    Column("handshake_retry_at", UtcDateTime, nullable=True),
    Column("last_heartbeat_at", UtcDateTime, nullable=True),
    Column("offline_at", UtcDateTime, nullable=True),
    Column("next_heartbeat_at", UtcDateTime, nullable=True),
    Column("last_error", JSON, nullable=True),
    Column("error_cleared_at", UtcDateTime, nullable=True),
    Column("due_at", UtcDateTime, nullable=True, index=True),
    Column("updated_at", UtcDateTime, nullable=False),
)
"""The lifecycle of each configuration's connection (`oscp.lifecycle.Connection`). `due_at` is
the earliest of its timers, so the lifecycle job reads only the connections that have work."""

oscp_inbound_requests = Table(
    "oscp_inbound_requests",
    metadata,
    Column("configuration_id", String(36), primary_key=True),
    Column("request_id", String(200), primary_key=True),
    Column("message_type", String(60), nullable=False),
    Column("status", Integer, nullable=False),
    Column("received_at", UtcDateTime, nullable=False, index=True),
)
"""(peer, X-Request-ID) of every processed inbound message: a repeat gets 204 and no effect."""
