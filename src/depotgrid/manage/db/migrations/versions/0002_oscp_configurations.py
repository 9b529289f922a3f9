"""OSCP configurations: projection with active-uniqueness indexes, encrypted secrets, inbound
tokens (binding story).

Revision ID: 0002_oscp_configurations
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import depotgrid.manage.db.metadata

revision: str = "0002_oscp_configurations"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UtcDateTime = depotgrid.manage.db.metadata.UtcDateTime
ACTIVE = sa.text("state != 'DISABLED'")


def upgrade() -> None:
    op.create_table(
        "oscp_configurations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("group_id", sa.String(200), nullable=False),
        sa.Column("microgrid_id", sa.String(36), nullable=False),
        sa.Column("managed_scope_id", sa.String(36), nullable=False),
        sa.Column("endpoint_base_url", sa.String(500), nullable=False),
        sa.Column("oscp_version", sa.String(10), nullable=False),
        sa.Column("profile", sa.String(50), nullable=False),
        sa.Column("measurement_publication_mode", sa.String(10), nullable=False),
        sa.Column("measurement_configuration", sa.String(20), nullable=False),
        sa.Column("measurement_publication_interval_seconds", sa.Integer(), nullable=False),
        sa.Column("reporting_asset_id", sa.String(200), nullable=True),
        sa.Column("outbound_auth", sa.JSON(), nullable=True),
        sa.Column("static_headers", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(30), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oscp_configurations")),
    )
    op.create_index(
        op.f("ix_oscp_configurations_microgrid_id"), "oscp_configurations", ["microgrid_id"]
    )
    # One active (not DISABLED) configuration per group_id and per managed scope.
    for name, column in (
        ("uq_oscp_configurations_active_group_id", "group_id"),
        ("uq_oscp_configurations_active_scope", "managed_scope_id"),
    ):
        op.create_index(
            name,
            "oscp_configurations",
            [column],
            unique=True,
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        )

    op.create_table(
        "oscp_secrets",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("configuration_id", sa.String(36), nullable=False),
        sa.Column("purpose", sa.String(50), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oscp_secrets")),
    )
    op.create_index(op.f("ix_oscp_secrets_configuration_id"), "oscp_secrets", ["configuration_id"])

    op.create_table(
        "oscp_inbound_tokens",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("configuration_id", sa.String(36), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("issued_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oscp_inbound_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_oscp_inbound_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_oscp_inbound_tokens_configuration_id"),
        "oscp_inbound_tokens",
        ["configuration_id"],
    )

    op.create_table(
        "oscp_connections",
        sa.Column("configuration_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(30), nullable=False),
        sa.Column("registered_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("negotiated", sa.JSON(), nullable=True),
        sa.Column("handshake_request_id", sa.String(100), nullable=True),
        sa.Column("handshake_deadline", UtcDateTime(timezone=True), nullable=True),
        sa.Column("handshake_attempts", sa.Integer(), nullable=False),
        sa.Column("handshake_retry_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_heartbeat_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("offline_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("next_heartbeat_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.JSON(), nullable=True),
        sa.Column("error_cleared_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("due_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("configuration_id", name=op.f("pk_oscp_connections")),
    )
    op.create_index(op.f("ix_oscp_connections_due_at"), "oscp_connections", ["due_at"])

    op.create_table(
        "oscp_inbound_requests",
        sa.Column("configuration_id", sa.String(36), nullable=False),
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("message_type", sa.String(60), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("received_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "configuration_id", "request_id", name=op.f("pk_oscp_inbound_requests")
        ),
    )
    op.create_index(
        op.f("ix_oscp_inbound_requests_received_at"), "oscp_inbound_requests", ["received_at"]
    )


def downgrade() -> None:
    op.drop_table("oscp_inbound_requests")
    op.drop_table("oscp_connections")
    op.drop_table("oscp_inbound_tokens")
    op.drop_table("oscp_secrets")
    op.drop_table("oscp_configurations")
