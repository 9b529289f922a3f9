"""Every sim table (prefixed `sim_`), on sim's own MetaData.

Times named `*_at` are logical (the run's clock) unless they are named `wall_*` or say so;
`created_at`/`updated_at`/`recorded_at` are wall time.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
)

from depotgrid.sim.db.metadata import UtcDateTime, metadata

ID = 36

configurations = Table(
    "sim_configurations",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("latest_version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

configuration_versions = Table(
    "sim_configuration_versions",
    metadata,
    Column(
        "configuration_id",
        String(ID),
        ForeignKey("sim_configurations.id"),
        primary_key=True,
    ),
    Column("version", Integer, primary_key=True),
    Column("document", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

runs = Table(
    "sim_runs",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("configuration_id", String(ID), nullable=False, index=True),
    Column("configuration_version", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("speed_factor", Float, nullable=False),
    Column("tick_seconds", Float, nullable=False),
    Column("anchor_wall", UtcDateTime, nullable=False),
    Column("anchor_logical", UtcDateTime, nullable=False),
    Column("lease_owner", String(300), nullable=True),
    Column("lease_expires_at", UtcDateTime, nullable=True, comment="wall time"),
    Column("world", JSON, nullable=False),
    Column("checkpoint_logical_at", UtcDateTime, nullable=True),
    Column("checkpoint_wall_at", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(
        ["configuration_id", "configuration_version"],
        ["sim_configuration_versions.configuration_id", "sim_configuration_versions.version"],
        name="fk_sim_runs_configuration_version",
    ),
)

events = Table(
    "sim_events",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(ID), nullable=True, index=True),
    Column("session_id", String(ID), nullable=True, index=True),
    Column("event_type", String(100), nullable=False),
    Column("data", JSON, nullable=False),
    Column("logical_at", UtcDateTime, nullable=True),
    Column("recorded_at", UtcDateTime, nullable=False),
)

oscp_sessions = Table(
    "sim_oscp_sessions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("run_id", String(ID), ForeignKey("sim_runs.id"), nullable=False, index=True),
    Column("managed_scope_id", String(200), nullable=False),
    Column("remote_configuration_id", String(200), nullable=False, index=True),
    Column("group_id", String(200), nullable=False),
    Column("fp_base_url", String(2000), nullable=False),
    Column("measurement_publication_mode", String(10), nullable=False),
    Column("measurement_configuration", JSON, nullable=False),
    Column("scenario_preset", String(100), nullable=False),
    Column("state", String(40), nullable=False),
    Column("state_reason", String(500), nullable=False),
    Column("state_changed_at", UtcDateTime, nullable=False),
    Column("registration_state", String(20), nullable=False),
    Column("registration_request_id", String(200), nullable=True),
    Column("cp_token_hash", String(64), nullable=False, index=True),
    Column("previous_cp_token_hash", String(64), nullable=True),
    Column("fp_token", String(500), nullable=True),
    Column("oauth_client_id", String(200), nullable=True, unique=True),
    Column("oauth_secret_hash", String(64), nullable=True),
    Column("oauth_token_ttl_seconds", Integer, nullable=False),
    Column("fp_heartbeat_interval", Float, nullable=True),
    Column("cp_heartbeat_interval", Float, nullable=True),
    Column("fp_required_measurement_configuration", JSON, nullable=True),
    Column("handshake_request_id", String(200), nullable=True),
    Column("handshake_deadline_at", UtcDateTime, nullable=True),
    Column("handshake_ack_timeout_seconds", Float, nullable=False),
    Column("next_heartbeat_at", UtcDateTime, nullable=True, index=True),
    Column("last_heartbeat_sent_at", UtcDateTime, nullable=True),
    Column("last_heartbeat_received_at", UtcDateTime, nullable=True),
    Column("peer_offline_at", UtcDateTime, nullable=True, index=True),
    Column("consecutive_failures", Integer, nullable=False),
    Column("last_forecast", JSON, nullable=True),
    Column(
        "open_overrides",
        Integer,
        nullable=False,
        server_default="0",
        comment="overrides not yet ended; lets the protocol path skip their query when 0",
    ),
    Column(
        "pending_expectations",
        Integer,
        nullable=False,
        server_default="0",
        comment="expectations still pending; lets the protocol path skip their query when 0",
    ),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("uq_sim_oscp_sessions_run_remote", "run_id", "remote_configuration_id", unique=True),
)

oscp_ledger = Table(
    "sim_oscp_ledger",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(ID), nullable=False, unique=True),
    Column("session_id", String(ID), nullable=True),
    Column("run_id", String(ID), nullable=True),
    Column("direction", String(10), nullable=False),
    Column("message_type", String(60), nullable=False),
    Column("endpoint", String(60), nullable=False),
    Column("url", String(2000), nullable=True),
    Column("request_id", String(200), nullable=True),
    Column("correlation_id", String(200), nullable=True),
    Column("headers", JSON, nullable=False),
    Column("body", JSON, nullable=True),
    Column("outcome", String(20), nullable=False),
    Column("http_status", Integer, nullable=True),
    Column("validation_errors", JSON, nullable=False),
    Column("reason", String(2000), nullable=True),
    Column("forced", Boolean, nullable=False),
    Column("override_mode", String(60), nullable=True),
    Column("dedupe_key", String(300), nullable=True, unique=True),
    Column("logical_at", UtcDateTime, nullable=True),
    Column("wall_at", UtcDateTime, nullable=False),
    Column("finalized_logical_at", UtcDateTime, nullable=True),
    Column("finalized_wall_at", UtcDateTime, nullable=True),
    Column("duration_ms", Float, nullable=True),
    Index("ix_sim_oscp_ledger_session_seq", "session_id", "seq"),
    Index("ix_sim_oscp_ledger_session_request", "session_id", "request_id"),
    Index("ix_sim_oscp_ledger_outcome", "outcome"),
)

oscp_overrides = Table(
    "sim_oscp_overrides",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("session_id", String(ID), ForeignKey("sim_oscp_sessions.id"), nullable=False),
    Column("mode", String(60), nullable=False),
    Column("message_types", JSON, nullable=True),
    Column("delay_seconds", Float, nullable=True),
    Column("hold_seconds", Float, nullable=True),
    Column("until_at", UtcDateTime, nullable=False),
    Column("source", String(120), nullable=False),
    Column("created_logical_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("end_reason", String(20), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_sim_oscp_overrides_session_ended", "session_id", "ended_at"),
)

oscp_expectations = Table(
    "sim_oscp_expectations",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("session_id", String(ID), ForeignKey("sim_oscp_sessions.id"), nullable=False),
    Column("description", String(500), nullable=False),
    Column("polarity", String(20), nullable=False),
    Column("message_type", String(60), nullable=False),
    Column("correlation_id", String(200), nullable=True),
    Column("required_outcome", String(20), nullable=True),
    Column("requires_online", Boolean, nullable=False),
    Column("window_start_at", UtcDateTime, nullable=False),
    Column("deadline_at", UtcDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("matched_ledger_entry_id", String(ID), nullable=True),
    Column("reason", String(500), nullable=True),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_sim_oscp_expectations_session_status", "session_id", "status"),
)

oscp_forecast_plans = Table(
    "sim_oscp_forecast_plans",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("session_id", String(ID), ForeignKey("sim_oscp_sessions.id"), nullable=False),
    Column("mode", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("due_at", UtcDateTime, nullable=True),
    Column("repeat_every_seconds", Float, nullable=True),
    Column("occurrences", Integer, nullable=False),
    Column("last_ledger_entry_id", String(ID), nullable=True),
    Column("last_request_id", String(200), nullable=True),
    Column("last_delivery_status", String(20), nullable=True),
    Column("last_sent_at", UtcDateTime, nullable=True),
    Column("reason", String(500), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_sim_oscp_forecast_plans_status_due", "status", "due_at"),
)

oauth_tokens = Table(
    "sim_oauth_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("session_id", String(ID), ForeignKey("sim_oscp_sessions.id"), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, comment="wall time"),
    Column("issued_at", UtcDateTime, nullable=False),
)
