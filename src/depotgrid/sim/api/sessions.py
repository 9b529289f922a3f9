"""OSCP Capacity Provider control routes (design §7 Control API, plus register, send-heartbeat,
session detail, overrides, expectations, forecast plans and the ledger)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from depotgrid.oscp.enums import CapacityForecastType, MeasurementConfiguration
from depotgrid.oscp.messages import ForecastedBlock
from depotgrid.oscp.routes import Role, base_path
from depotgrid.sim.api import views
from depotgrid.sim.errors import NotFound, ValidationFailed
from depotgrid.sim.projections.oscp_cp import message_types
from depotgrid.sim.projections.oscp_cp.ledger import LedgerFilter
from depotgrid.sim.projections.oscp_cp.outbound import Delivery
from depotgrid.sim.projections.oscp_cp.service import (
    ExpectationIn,
    ForecastPlanIn,
    OverridePatch,
    SessionIn,
)
from depotgrid.sim.projections.oscp_cp.session import MAX_HEARTBEAT_INTERVAL
from depotgrid.sim.services import SimServices, services

router = APIRouter(tags=["oscp sessions"])
SESSIONS = "/simulation-runs/{run_id}/oscp-sessions"
SESSION = SESSIONS + "/{session_id}"
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]


class HandshakeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    heartbeat_interval_seconds: float | None = Field(
        default=None, ge=1, le=MAX_HEARTBEAT_INTERVAL, description="Heartbeats required of the FP."
    )
    measurement_configuration: list[MeasurementConfiguration] | None = None
    ack_timeout_seconds: float | None = Field(default=None, gt=0, le=24 * 3600)


class ForecastIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: CapacityForecastType
    forecasted_blocks: list[ForecastedBlock] = Field(min_length=1, max_length=1000)


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cp_base_url: str | None = Field(
        default=None, max_length=2000, description="Default: this server's /oscp/cp/2.0."
    )


class PresetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preset: str = Field(min_length=1, max_length=200)


def cp_base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + base_path(Role.CP)


def session_view(sim: SimServices, run_id: str, session_id: str) -> dict[str, Any]:
    wall = sim.clock.now()
    with sim.uows.read() as uow:
        record = sim.sessions.run(uow, run_id)
        session = sim.sessions.session(uow, run_id, session_id)
        now = record.run.logical_at(wall)
        return views.session(
            session,
            logical_now=now,
            has_cp_token=uow.sessions.secrets(session_id) is not None,
            overrides=sim.sessions.active_overrides(uow, session, now),
        )


def _delivery(delivery: Delivery) -> dict[str, Any]:
    return {
        "ledger_entry_id": delivery.ledger_entry_id,
        "request_id": delivery.request_id,
        "delivery_status": delivery.delivery_status,
        "http_status": delivery.http_status,
        "error": delivery.error,
    }


@router.post(SESSIONS, status_code=201)
async def create_session(run_id: str, body: SessionIn, request: Request) -> dict[str, Any]:
    """Attach one OSCP Capacity Provider session to a run; returns `cp_token` once."""
    sim = services(request)
    with sim.uows.write() as uow:
        created = sim.sessions.create(uow, run_id, body, sim.clock.now())
        uow.commit()
    view = session_view(sim, run_id, created.session.id)
    return {
        "session_id": created.session.id,
        "state": created.session.state.value,
        "cp_token": created.cp_token,
        "cp_base_url": cp_base_url(request),
        **{k: v for k, v in view.items() if k not in ("session_id", "state")},
    }


@router.get(SESSIONS)
async def list_sessions(run_id: str, request: Request) -> dict[str, Any]:
    sim = services(request)
    with sim.uows.read() as uow:
        sim.sessions.run(uow, run_id)
        ids = [s.id for s in uow.sessions.for_run(run_id)]
    return {"sessions": [session_view(sim, run_id, i) for i in ids]}


@router.get(SESSION)
async def get_session(run_id: str, session_id: str, request: Request) -> dict[str, Any]:
    """State, negotiated behaviour, timers, tokens' presence, last forecast result."""
    return session_view(services(request), run_id, session_id)


@router.post(SESSION + "/commands/send-handshake")
async def send_handshake(
    run_id: str,
    session_id: str,
    request: Request,
    body: Annotated[HandshakeIn | None, Body()] = None,
) -> dict[str, Any]:
    """The CP initiates the handshake; the session waits for the FP's acknowledgement."""
    sim = services(request)
    body = body or HandshakeIn()
    delivery = await sim.outbound.send_handshake(
        run_id,
        session_id,
        heartbeat_interval=body.heartbeat_interval_seconds,
        measurement_configuration=body.measurement_configuration,
        ack_timeout_seconds=body.ack_timeout_seconds,
    )
    state = session_view(sim, run_id, session_id)["state"]
    return {**_delivery(delivery), "state": state}


@router.post(SESSION + "/commands/send-forecast")
async def send_forecast(
    run_id: str, session_id: str, body: ForecastIn, request: Request
) -> dict[str, Any]:
    """Send one controlled UpdateGroupCapacityForecast now."""
    sim = services(request)
    delivery, plan_id = await sim.outbound.send_forecast(
        run_id, session_id, body.type, body.forecasted_blocks
    )
    return {**_delivery(delivery), "forecast_plan_id": plan_id}


@router.post(SESSION + "/commands/send-heartbeat")
async def send_heartbeat(run_id: str, session_id: str, request: Request) -> dict[str, Any]:
    """One heartbeat now, outside the schedule."""
    sim = services(request)
    delivery = await sim.outbound.send_heartbeat(run_id, session_id)
    return {**_delivery(delivery), "state": delivery.state}


@router.post(SESSION + "/commands/register")
async def register(
    run_id: str,
    session_id: str,
    request: Request,
    body: Annotated[RegisterIn | None, Body()] = None,
) -> dict[str, Any]:
    """The CP starts registration (PROTOCOL.md §2) with the session's fp_token."""
    sim = services(request)
    url = (body.cp_base_url if body else None) or cp_base_url(request)
    delivery = await sim.outbound.register(run_id, session_id, url)
    view = session_view(sim, run_id, session_id)
    return {**_delivery(delivery), "registration_state": view["registration_state"]}


@router.post(SESSION + "/commands/apply-preset")
async def apply_preset(
    run_id: str, session_id: str, body: PresetIn, request: Request
) -> dict[str, Any]:
    """Replace the session's overrides by a preset's."""
    sim = services(request)
    with sim.uows.write() as uow:
        active = sim.sessions.apply_preset(uow, run_id, session_id, body.preset, sim.clock.now())
        uow.commit()
    return {
        "session_id": session_id,
        "scenario_preset": body.preset,
        "overrides": [views.override(o) for o in active],
    }


@router.patch(SESSION + "/overrides")
async def patch_overrides(
    run_id: str, session_id: str, body: OverridePatch, request: Request
) -> dict[str, Any]:
    """Apply a time-bounded override, clear one (`clear: true`), or clear all (`mode: none`)."""
    sim = services(request)
    with sim.uows.write() as uow:
        state, active = sim.sessions.patch_overrides(uow, run_id, session_id, body, sim.clock.now())
        uow.commit()
    return {
        "session_id": session_id,
        "override_state": state,
        "overrides": [views.override(o) for o in active],
    }


@router.get(SESSION + "/overrides")
async def get_overrides(run_id: str, session_id: str, request: Request) -> dict[str, Any]:
    sim = services(request)
    wall = sim.clock.now()
    with sim.uows.read() as uow:
        record = sim.sessions.run(uow, run_id)
        session = sim.sessions.session(uow, run_id, session_id)
        active = sim.sessions.active_overrides(uow, session, record.run.logical_at(wall))
        history = uow.overrides.history(session_id)
    return {
        "active": [views.override(o) for o in active],
        "history": [views.override_record(r) for r in history],
    }


def _ledger_filter(
    direction: str | None,
    message_type: list[str] | None,
    outcome: str | None,
    forced: bool | None,
    after_seq: int | None,
    **scope: Any,
) -> LedgerFilter:
    types: list[str] = []
    for index, name in enumerate(message_type or []):
        known = message_types.normalise(name)
        if known is None:
            raise ValidationFailed.single(
                f"message_type[{index}]", f"unknown message type '{name}'"
            )
        types.append(known)
    return LedgerFilter(
        direction=direction,
        message_types=types,
        outcome=outcome,
        forced=forced,
        after_seq=after_seq,
        **scope,
    )


Direction = Annotated[Literal["inbound", "outbound"] | None, Query()]
OutcomeQ = Annotated[
    Literal["pending", "accepted", "rejected", "ignored", "indeterminate", "failed"] | None,
    Query(),
]


@router.get(SESSION + "/messages")
async def messages(
    run_id: str,
    session_id: str,
    request: Request,
    direction: Direction = None,
    message_type: Annotated[list[str] | None, Query()] = None,
    outcome: OutcomeQ = None,
    forced: bool | None = None,
    after_seq: Annotated[int | None, Query(ge=0)] = None,
    limit: Limit = 500,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The session's message ledger, oldest first, filterable by direction, type and outcome."""
    sim = services(request)
    where = _ledger_filter(
        direction, message_type, outcome, forced, after_seq, session_id=session_id
    )
    with sim.uows.read() as uow:
        sim.sessions.session(uow, run_id, session_id)
        items, total = uow.ledger.search(where, limit=limit, offset=offset)
    return {
        "messages": [views.ledger_entry(e) for e in items],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get(SESSION + "/messages/{entry_id}")
async def message(run_id: str, session_id: str, entry_id: str, request: Request) -> dict[str, Any]:
    sim = services(request)
    with sim.uows.read() as uow:
        sim.sessions.session(uow, run_id, session_id)
        entry = uow.ledger.get(entry_id)
    if entry is None or entry.session_id != session_id:
        raise NotFound("ledger entry", entry_id)
    return views.ledger_entry(entry)


@router.get("/oscp-messages")
async def all_messages(
    request: Request,
    unattributed: bool = False,
    direction: Direction = None,
    message_type: Annotated[list[str] | None, Query()] = None,
    outcome: OutcomeQ = None,
    forced: bool | None = None,
    limit: Limit = 500,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The whole ledger, or (`unattributed=true`) requests no session could be named for."""
    sim = services(request)
    where = _ledger_filter(
        direction, message_type, outcome, forced, None, unattributed=unattributed
    )
    with sim.uows.read() as uow:
        items, total = uow.ledger.search(where, limit=limit, offset=offset)
    return {
        "messages": [views.ledger_entry(e) for e in items],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.post(SESSION + "/expectations", status_code=201)
async def add_expectation(
    run_id: str, session_id: str, body: ExpectationIn, request: Request
) -> dict[str, Any]:
    sim = services(request)
    with sim.uows.write() as uow:
        record = sim.sessions.add_expectation(uow, run_id, session_id, body, sim.clock.now())
        uow.commit()
    return views.expectation(record)


@router.get(SESSION + "/expectations")
async def list_expectations(run_id: str, session_id: str, request: Request) -> dict[str, Any]:
    sim = services(request)
    with sim.uows.read() as uow:
        sim.sessions.session(uow, run_id, session_id)
        items = uow.expectations.for_session(session_id)
    return {"expectations": [views.expectation(e) for e in items]}


@router.get(SESSION + "/expectations/{expectation_id}")
async def get_expectation(
    run_id: str, session_id: str, expectation_id: str, request: Request
) -> dict[str, Any]:
    sim = services(request)
    with sim.uows.read() as uow:
        sim.sessions.session(uow, run_id, session_id)
        found = uow.expectations.get(session_id, expectation_id)
    if found is None:
        raise NotFound("expectation", expectation_id)
    return views.expectation(found)


@router.post(SESSION + "/forecast-plans", status_code=201)
async def add_plan(
    run_id: str, session_id: str, body: ForecastPlanIn, request: Request
) -> dict[str, Any]:
    """A manual plan (send it with .../commands/send) or one scheduled on logical time."""
    sim = services(request)
    with sim.uows.write() as uow:
        plan = sim.sessions.add_plan(uow, run_id, session_id, body, sim.clock.now())
        uow.commit()
    return views.plan(plan)


@router.get(SESSION + "/forecast-plans")
async def list_plans(run_id: str, session_id: str, request: Request) -> dict[str, Any]:
    sim = services(request)
    with sim.uows.read() as uow:
        sim.sessions.session(uow, run_id, session_id)
        items = uow.plans.for_session(session_id)
    return {"forecast_plans": [views.plan(p) for p in items]}


@router.get(SESSION + "/forecast-plans/{plan_id}")
async def get_plan(run_id: str, session_id: str, plan_id: str, request: Request) -> dict[str, Any]:
    sim = services(request)
    with sim.uows.read() as uow:
        sim.sessions.session(uow, run_id, session_id)
        found = uow.plans.get(session_id, plan_id)
    if found is None:
        raise NotFound("forecast plan", plan_id)
    return views.plan(found)


@router.post(SESSION + "/forecast-plans/{plan_id}/commands/{command}")
async def plan_command(
    run_id: str,
    session_id: str,
    plan_id: str,
    command: Literal["send", "cancel"],
    request: Request,
) -> dict[str, Any]:
    sim = services(request)
    if command == "cancel":
        with sim.uows.write() as uow:
            plan = sim.sessions.cancel_plan(uow, run_id, session_id, plan_id, sim.clock.now())
            uow.commit()
        return views.plan(plan)
    delivery = await sim.outbound.send_plan(run_id, session_id, plan_id)
    return {**_delivery(delivery), "forecast_plan_id": plan_id}
