"""JSON views of sim state for the control and inspection API and the UI (read models only)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from depotgrid.sim.configuration.repository import ConfigurationSummary, ConfigurationVersion
from depotgrid.sim.projections.oscp_cp.ledger import LedgerEntry
from depotgrid.sim.projections.oscp_cp.repository import (
    ExpectationRecord,
    ForecastPlan,
    OverrideRecord,
)
from depotgrid.sim.projections.oscp_cp.session import Session
from depotgrid.sim.runtime.repository import EventRecord, RunRecord
from depotgrid.sim.runtime.world import to_json
from depotgrid.sim.scenarios.overrides import Override


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def configuration(summary: ConfigurationSummary, versions: list[int]) -> dict[str, Any]:
    return {
        "id": summary.id,
        "name": summary.name,
        "latest_version": summary.latest_version,
        "versions": versions,
        "created_at": iso(summary.created_at),
        "updated_at": iso(summary.updated_at),
    }


def configuration_version(found: ConfigurationVersion) -> dict[str, Any]:
    return {
        "id": found.configuration_id,
        "version": found.version,
        "created_at": iso(found.created_at),
        **found.document.model_dump(mode="json"),
    }


def run(record: RunRecord, wall: datetime, sessions: list[Session] | None = None) -> dict[str, Any]:
    r = record.run
    view: dict[str, Any] = {
        "id": r.id,
        "name": r.name,
        "state": r.state.value,
        "configuration_id": r.configuration_id,
        "configuration_version": r.configuration_version,
        "logical_time": iso(r.logical_at(wall)),
        "speed_factor": r.clock.speed,
        "tick_seconds": r.tick_seconds,
        "lease": {"owner": record.lease_owner, "expires_at": iso(record.lease_expires_at)},
        "checkpoint": {
            "logical_at": iso(record.checkpoint_logical_at),
            "wall_at": iso(record.checkpoint_wall_at),
        },
        "world": {"nodes": to_json(record.world)},
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
    }
    if sessions is not None:
        view["oscp_sessions"] = [
            {
                "session_id": s.id,
                "state": s.state.value,
                "remote_configuration_id": s.remote_configuration_id,
            }
            for s in sessions
        ]
    return view


def override(
    item: Override, ended_at: datetime | None = None, end_reason: str | None = None
) -> dict[str, Any]:
    return {
        "id": item.id,
        "mode": item.mode.value,
        "message_types": sorted(item.message_types) if item.message_types is not None else None,
        "delay_seconds": item.delay_seconds,
        "hold_seconds": item.hold_seconds,
        "until": iso(item.until_at),
        "source": item.source,
        "created_at": iso(item.created_logical_at),
        "ended_at": iso(ended_at),
        "end_reason": end_reason,
    }


def override_record(record: OverrideRecord) -> dict[str, Any]:
    return override(record.override, record.ended_at, record.end_reason)


def session(
    item: Session,
    *,
    logical_now: datetime,
    has_cp_token: bool,
    overrides: list[Override],
) -> dict[str, Any]:
    return {
        "session_id": item.id,
        "simulation_run_id": item.run_id,
        "managed_scope_id": item.managed_scope_id,
        "remote_configuration_id": item.remote_configuration_id,
        "betterfleet_base_url": item.fp_base_url,
        "group_id": item.group_id,
        "measurement_publication_mode": item.measurement_publication_mode,
        "measurement_configuration": list(item.measurement_configuration),
        "scenario_preset": item.scenario_preset,
        "state": item.state.value,
        "state_reason": item.state_reason,
        "state_changed_at": iso(item.state_changed_at),
        "registration_state": item.registration_state.value,
        "negotiated_behaviour": {
            "heartbeat_interval_seconds_required_of_fp": item.fp_heartbeat_interval,
            "heartbeat_interval_seconds_sent_by_cp": item.cp_heartbeat_interval,
            "measurement_configuration_required_of_fp": list(item.measurement_configuration),
            "measurement_configuration_required_by_fp": (
                list(item.fp_required_measurement_configuration)
                if item.fp_required_measurement_configuration is not None
                else None
            ),
        },
        "timers": {
            "logical_now": iso(logical_now),
            "next_heartbeat_at": iso(item.next_heartbeat_at),
            "last_heartbeat_sent_at": iso(item.last_heartbeat_sent_at),
            "last_heartbeat_received_at": iso(item.last_heartbeat_received_at),
            "peer_offline_at": iso(item.peer_offline_at),
            "handshake_deadline_at": iso(item.handshake_deadline_at),
            "handshake_ack_timeout_seconds": item.handshake_ack_timeout_seconds,
        },
        "pending_handshake_request_id": item.handshake_request_id,
        "consecutive_delivery_failures": item.consecutive_failures,
        "tokens": {
            "fp_token": item.fp_token is not None,
            "cp_token": has_cp_token,
            "oauth_client_id": item.oauth_client_id,
        },
        "last_forecast": item.last_forecast,
        "overrides": [override(o) for o in overrides],
    }


def ledger_entry(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "seq": entry.seq,
        "session_id": entry.session_id,
        "direction": entry.direction,
        "message_type": entry.message_type,
        "endpoint": entry.endpoint,
        "url": entry.url,
        "request_id": entry.request_id,
        "correlation_id": entry.correlation_id,
        "headers": entry.headers,
        "body": entry.body,
        "outcome": entry.outcome,
        "http_status": entry.http_status,
        "validation_errors": entry.validation_errors,
        "reason": entry.reason,
        "forced": entry.forced,
        "override_mode": entry.override_mode,
        "logical_time": iso(entry.logical_at),
        "wall_time": iso(entry.wall_at),
        "finalized_logical_time": iso(entry.finalized_logical_at),
        "finalized_wall_time": iso(entry.finalized_wall_at),
        "duration_ms": entry.duration_ms,
    }


def expectation(record: ExpectationRecord) -> dict[str, Any]:
    e = record.expectation
    return {
        "id": e.id,
        "session_id": record.session_id,
        "description": record.description,
        "polarity": e.polarity.value,
        "message_type": e.message_type,
        "correlation_id": e.correlation_id,
        "outcome": e.required_outcome,
        "requires_online": e.requires_online,
        "window_start": iso(e.window_start_at),
        "deadline": iso(e.deadline_at),
        "status": e.status.value,
        "reason": record.reason,
        "matched_ledger_entry_id": record.matched_ledger_entry_id,
        "resolved_at": iso(record.resolved_at),
    }


def plan(item: ForecastPlan) -> dict[str, Any]:
    view = asdict(item)
    for name in ("due_at", "last_sent_at", "created_at", "updated_at"):
        view[name] = iso(view[name])
    view["forecast_plan_id"] = view.pop("id")
    return view


def event(record: EventRecord) -> dict[str, Any]:
    return {
        "position": record.position,
        "event_type": record.event_type,
        "session_id": record.session_id,
        "data": record.data,
        "logical_time": iso(record.logical_at),
        "recorded_at": iso(record.recorded_at),
    }
