"""Outbound OSCP delivery to the Flexibility Provider (design §9 workflows, §10 "BetterFleet
unreachable", and the rule "persist before send").

Every outbound message goes through three steps, each its own short transaction or none:

1. prepare (one transaction): build and schema-check the message (`depotgrid.oscp.client.
   prepare_request` refuses invalid OSCP), apply the pre-send session transition, and append
   the ledger entry as `pending` with the exact headers (Authorization masked) and body;
2. send (no transaction): one attempt through `AsyncOscpClient`, with `X-Request-ID`,
   `X-Correlation-ID` where the message answers another, and `X-OSCP-Configuration-ID`;
3. finalize (one transaction): the entry gets its outcome (`accepted` for 2xx, `rejected` for
   another status, `failed` when no answer came) and the post-delivery transition runs:

       Handshake                refused/failed -> offline (if still the pending handshake)
       HandshakeAcknowledge     accepted -> online; otherwise offline
       Heartbeat, forecast      delivery_outcome: degraded on failure, offline after 3 in a row
       UpdateGroupCapacityForecast  also the session's last forecast and the plan's result
       Register                 initiation refused -> registration failed; reply accepted ->
                                registered (and the previous token stops working)

Scheduled work takes steps 1 and 3 in batches, hundreds of heartbeats a tick: the scheduler
claims every due heartbeat in one transaction (the entries and session rows written by
executemany) and sends them only once it has committed; finished deliveries are finalized
together on the next tick. The pending entry is thus always committed before its request leaves.

After a restart, entries still `pending` are resumed by `redeliver_pending`: heartbeats are
finalized `indeterminate` (a late heartbeat means nothing), Register entries too (the token is
not stored in clear), everything else is sent again with the same X-Request-ID.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from depotgrid.common.clock import Clock
from depotgrid.common.ids import new_id
from depotgrid.oscp.client import AsyncOscpClient, DeliveryResult, prepare_request
from depotgrid.oscp.enums import CapacityForecastType, MeasurementConfiguration
from depotgrid.oscp.headers import CONFIGURATION_ID
from depotgrid.oscp.messages import (
    ForecastedBlock,
    Handshake,
    HandshakeAcknowledge,
    Heartbeat,
    OscpModel,
    Register,
    RequiredBehaviour,
    UpdateGroupCapacityForecast,
    VersionUrl,
    model_for,
    parse,
)
from depotgrid.oscp.routes import OSCP_VERSION, endpoint_for
from depotgrid.sim.errors import Conflict, NotFound
from depotgrid.sim.projections.oscp_cp.effects import save_session, save_sessions
from depotgrid.sim.projections.oscp_cp.inbound import Outcome
from depotgrid.sim.projections.oscp_cp.ledger import (
    OUTBOUND,
    Finalization,
    LedgerEntry,
    mask_headers,
)
from depotgrid.sim.projections.oscp_cp.message_types import message_type_for, schema_title_for
from depotgrid.sim.projections.oscp_cp.protocol import FollowUp, masked_body
from depotgrid.sim.projections.oscp_cp.repository import ForecastPlan, token_hash
from depotgrid.sim.projections.oscp_cp.service import SessionService, check_blocks
from depotgrid.sim.projections.oscp_cp.session import (
    LIVE,
    RegistrationState,
    Session,
    SessionState,
    acknowledgement_delivered,
    begin_cp_handshake,
    delivery_outcome,
    handshake_delivery_failed,
    heartbeat_claimed,
    heartbeat_deadline,
)
from depotgrid.sim.runtime.run import RunState
from depotgrid.sim.scenarios import forecasts
from depotgrid.sim.scenarios.overrides import forcing_for
from depotgrid.sim.unit_of_work import SimUnitOfWork, SimUnitOfWorkFactory

DELIVERY_TIMEOUT_S = 10.0
MAX_CONCURRENT_SENDS = 128
"""Deliveries in flight at once (more wait here): 1,500 sessions heartbeating every 5 s to an FP
answering in 200 ms keep about 60 in flight."""


@dataclass(frozen=True)
class Prepared:
    """A pending ledger entry and everything needed to send it."""

    entry: LedgerEntry
    message: OscpModel
    base_url: str
    token: str
    configuration_id: str
    claimed: Session | None = None
    """The session as the scheduler left it when claiming a heartbeat (None otherwise)."""


@dataclass(frozen=True)
class Delivery:
    """What a control command reports about one outbound message."""

    ledger_entry_id: str
    request_id: str
    delivery_status: str
    http_status: int | None
    error: str | None
    state: str


def outcome_of(result: DeliveryResult) -> Outcome:
    if result.ok:
        return Outcome.ACCEPTED
    return Outcome.REJECTED if result.status_code is not None else Outcome.FAILED


class Outbound:
    def __init__(
        self,
        uows: SimUnitOfWorkFactory,
        clock: Clock,
        sessions: SessionService,
        client: AsyncOscpClient,
        *,
        timeout: float = DELIVERY_TIMEOUT_S,
    ) -> None:
        self._uows = uows
        self._clock = clock
        self._sessions = sessions
        self._client = client
        self._timeout = timeout
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_SENDS)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._finished: list[tuple[Prepared, DeliveryResult]] = []

    # --- the three steps ------------------------------------------------------------------

    def prepare(
        self,
        uow: SimUnitOfWork,
        session: Session,
        message: OscpModel,
        *,
        logical: datetime,
        wall: datetime,
        correlation_id: str | None = None,
        request_id: str | None = None,
        token: str | None = None,
    ) -> Prepared:
        """Check, build and record (pending) one outbound message."""
        prepared = self._build(
            session,
            message,
            logical=logical,
            wall=wall,
            correlation_id=correlation_id,
            request_id=request_id,
            token=token,
        )
        uow.ledger.append(prepared.entry)
        return prepared

    def _build(
        self,
        session: Session,
        message: OscpModel,
        *,
        logical: datetime,
        wall: datetime,
        correlation_id: str | None = None,
        request_id: str | None = None,
        token: str | None = None,
    ) -> Prepared:
        """Check and build one outbound message and its pending ledger entry (not yet
        recorded)."""
        token = token or session.fp_token
        if not token:
            raise Conflict(
                "the session has no fp_token (the token the FP issued to this CP): create the "
                "session with fp_token, or register first",
                "NO_FP_TOKEN",
            )
        request_id = request_id or new_id()
        request = prepare_request(
            session.fp_base_url,
            message,
            token=token,
            request_id=request_id,
            correlation_id=correlation_id,
            static_headers={CONFIGURATION_ID: session.remote_configuration_id},
        )
        message_type = message_type_for(endpoint_for(message))
        entry = LedgerEntry(
            id=new_id(),
            session_id=session.id,
            run_id=session.run_id,
            direction=OUTBOUND,
            message_type=message_type,
            endpoint=endpoint_for(message).value,
            url=request.url,
            request_id=request_id,
            correlation_id=correlation_id,
            headers=mask_headers(request.headers),
            body=masked_body(message_type, message.to_wire()),
            outcome=Outcome.PENDING.value,
            http_status=None,
            validation_errors=[],
            reason=None,
            forced=False,
            override_mode=None,
            logical_at=logical,
            wall_at=wall,
        )
        return Prepared(entry, message, session.fp_base_url, token, session.remote_configuration_id)

    async def send(self, prepared: Prepared) -> DeliveryResult:
        entry = prepared.entry
        async with self._slots:
            return await self._client.send(
                prepared.base_url,
                prepared.message,
                token=prepared.token,
                request_id=entry.request_id or "",
                correlation_id=entry.correlation_id,
                static_headers={CONFIGURATION_ID: prepared.configuration_id},
                timeout=self._timeout,
            )

    def finalize(self, entry: LedgerEntry, result: DeliveryResult) -> Delivery:
        """Record the outcome and run the post-delivery transition, in one transaction."""
        wall = self._clock.now()
        with self._uows.write() as uow:
            logical = _logical_times(uow, [entry], wall)[entry.run_id]
            uow.ledger.finalize_all([_finalization(entry, result, logical, wall)])
            delivery = self._delivered(uow, entry, result, wall, logical)
            uow.commit()
        return delivery

    def flush(self) -> int:
        """Finalize every background delivery that has finished, in one transaction."""
        if not self._finished:
            return 0
        finished, self._finished = self._finished, []
        wall = self._clock.now()
        with self._uows.write() as uow:
            logical = _logical_times(uow, [prepared.entry for prepared, _ in finished], wall)
            uow.ledger.finalize_all(
                [
                    _finalization(p.entry, result, logical[p.entry.run_id], wall)
                    for p, result in finished
                ]
            )
            for prepared, result in finished:
                entry = prepared.entry
                self._delivered(uow, entry, result, wall, logical[entry.run_id], prepared.claimed)
            uow.commit()
        return len(finished)

    def _delivered(
        self,
        uow: SimUnitOfWork,
        entry: LedgerEntry,
        result: DeliveryResult,
        wall: datetime,
        logical: datetime | None,
        claimed: Session | None = None,
    ) -> Delivery:
        """The post-delivery transition of a finalized entry at `logical`, its run's time
        (None: the run is gone); a heartbeat accepted while the session was healthy changes
        nothing, so the session is not even read."""
        state = claimed.state.value if claimed else ""
        unchanged = (
            result.ok
            and claimed is not None
            and claimed.state is SessionState.ONLINE
            and claimed.consecutive_failures == 0
        )
        if not unchanged and logical is not None:
            session = uow.sessions.get(entry.session_id or "")
            if session is not None:
                after = self._after_delivery(uow, session, entry, result, logical, wall)
                state = save_session(uow, session, after, logical=logical, wall=wall).state.value
        return Delivery(
            entry.id,
            entry.request_id or "",
            outcome_of(result).value,
            result.status_code,
            result.error_text,
            state,
        )

    def _after_delivery(
        self,
        uow: SimUnitOfWork,
        session: Session,
        entry: LedgerEntry,
        result: DeliveryResult,
        now: datetime,
        wall: datetime,
    ) -> Session:
        detail = result.error_text or "accepted"
        kind = entry.message_type
        if kind == "Handshake":
            if result.ok:
                return session
            return handshake_delivery_failed(session, entry.request_id or "", detail, now)
        if kind == "HandshakeAcknowledge":
            return acknowledgement_delivered(
                session,
                handshake_request_id=entry.correlation_id or "",
                ok=result.ok,
                detail=detail,
                now=now,
            )
        if kind == "Register":
            if entry.correlation_id is None:
                if result.ok:
                    return session
                return replace(session, registration_state=RegistrationState.FAILED)
            if result.ok:
                uow.sessions.set_tokens(session.id, clear_previous=True)
                return replace(session, registration_state=RegistrationState.REGISTERED)
            return replace(session, registration_state=RegistrationState.FAILED)
        after = delivery_outcome(session, ok=result.ok, detail=detail, now=now)
        if kind == "UpdateGroupCapacityForecast":
            outcome = outcome_of(result).value
            plan = uow.plans.by_request_id(session.id, entry.request_id or "")
            after = replace(
                after,
                last_forecast={
                    "ledger_entry_id": entry.id,
                    "request_id": entry.request_id,
                    "delivery_status": outcome,
                    "http_status": result.status_code,
                    "error": result.error_text,
                    "type": entry.body.get("type") if isinstance(entry.body, dict) else None,
                    "sent_at": entry.logical_at.isoformat() if entry.logical_at else None,
                    "forecast_plan_id": plan.id if plan else None,
                },
            ).emitting("OscpForecastPublished", ledger_entry_id=entry.id, delivery_status=outcome)
            if plan is not None:
                uow.plans.update(plan.id, **_plan_result(plan, outcome, result, wall))
        return after

    def spawn(self, work: Awaitable[Any]) -> None:
        """Run `work` in the background, keeping a reference until it finishes."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver(self, prepared: Prepared) -> Delivery:
        result = await self.send(prepared)
        return self.finalize(prepared.entry, result)

    def _prepared_in_run(
        self,
        run_id: str,
        session_id: str,
        build: Callable[[SimUnitOfWork, Session, datetime, datetime], Prepared],
    ) -> Prepared:
        wall = self._clock.now()
        with self._uows.write() as uow:
            record = self._sessions.run(uow, run_id)
            session = self._sessions.session(uow, run_id, session_id)
            if record.run.state is RunState.STOPPED:
                raise Conflict("the run is stopped", "RUN_STOPPED")
            prepared = build(uow, session, record.run.logical_at(wall), wall)
            uow.commit()
        return prepared

    # --- commands -------------------------------------------------------------------------

    async def send_handshake(
        self,
        run_id: str,
        session_id: str,
        *,
        heartbeat_interval: float | None,
        measurement_configuration: list[MeasurementConfiguration] | None,
        ack_timeout_seconds: float | None,
    ) -> Delivery:
        """Capacity Provider-initiated handshake (design §9)."""

        def build(uow: SimUnitOfWork, session: Session, now: datetime, wall: datetime) -> Prepared:
            configurations = (
                [c.value for c in measurement_configuration]
                if measurement_configuration is not None
                else list(session.measurement_configuration)
            )
            interval = (
                heartbeat_interval
                if heartbeat_interval is not None
                else session.fp_heartbeat_interval
            )
            message = Handshake(
                required_behaviour=RequiredBehaviour(
                    heartbeat_interval=interval,
                    measurement_configuration=[MeasurementConfiguration(c) for c in configurations],
                )
            )
            prepared = self.prepare(uow, session, message, logical=now, wall=wall)
            after = begin_cp_handshake(
                session,
                request_id=prepared.entry.request_id or "",
                now=now,
                heartbeat_interval=interval,
                measurement_configuration=tuple(configurations),
                ack_timeout_seconds=ack_timeout_seconds or session.handshake_ack_timeout_seconds,
            )
            save_session(uow, session, after, logical=now, wall=wall)
            return prepared

        return await self._deliver(self._prepared_in_run(run_id, session_id, build))

    async def send_heartbeat(self, run_id: str, session_id: str) -> Delivery:
        """One heartbeat now, outside the schedule."""

        def build(uow: SimUnitOfWork, session: Session, now: datetime, wall: datetime) -> Prepared:
            _require_live(session, "heartbeats")
            interval = session.cp_heartbeat_interval or session.fp_heartbeat_interval or 60.0
            message = Heartbeat(offline_mode_at=heartbeat_deadline(now, interval))
            return self.prepare(uow, session, message, logical=now, wall=wall)

        return await self._deliver(self._prepared_in_run(run_id, session_id, build))

    async def send_forecast(
        self,
        run_id: str,
        session_id: str,
        forecast_type: CapacityForecastType,
        blocks: list[ForecastedBlock],
    ) -> tuple[Delivery, str]:
        """One controlled forecast now (design §7 send-forecast): a manual plan, sent at once."""
        check_blocks(blocks)
        plan_id = new_id()

        def build(uow: SimUnitOfWork, session: Session, now: datetime, wall: datetime) -> Prepared:
            _require_live(session, "forecasts")
            message = UpdateGroupCapacityForecast(
                group_id=session.group_id, type=forecast_type, forecasted_blocks=blocks
            )
            prepared = self.prepare(uow, session, message, logical=now, wall=wall)
            uow.plans.add(
                ForecastPlan(
                    id=plan_id,
                    session_id=session.id,
                    mode="manual",
                    status="sending",
                    spec={
                        "type": forecast_type.value,
                        "forecasted_blocks": [b.to_wire() for b in blocks],
                    },
                    due_at=None,
                    repeat_every_seconds=None,
                    occurrences=0,
                    last_ledger_entry_id=prepared.entry.id,
                    last_request_id=prepared.entry.request_id,
                    last_delivery_status="pending",
                    last_sent_at=now,
                    reason=None,
                    created_at=wall,
                    updated_at=wall,
                )
            )
            return prepared

        delivery = await self._deliver(self._prepared_in_run(run_id, session_id, build))
        return delivery, plan_id

    async def send_plan(self, run_id: str, session_id: str, plan_id: str) -> Delivery:
        """Send a stored plan now (manual plans, or a scheduled one ahead of time)."""

        def build(uow: SimUnitOfWork, session: Session, now: datetime, wall: datetime) -> Prepared:
            plan = uow.plans.get(session.id, plan_id)
            if plan is None:
                raise NotFound("forecast plan", plan_id)
            if plan.status == "cancelled":
                raise Conflict("the forecast plan is cancelled", "PLAN_CANCELLED")
            _require_live(session, "forecasts")
            return self._prepare_plan(uow, session, plan, now, wall)

        return await self._deliver(self._prepared_in_run(run_id, session_id, build))

    def _prepare_plan(
        self,
        uow: SimUnitOfWork,
        session: Session,
        plan: ForecastPlan,
        now: datetime,
        wall: datetime,
    ) -> Prepared:
        message = plan_message(session, plan, now)
        prepared = self.prepare(uow, session, message, logical=now, wall=wall)
        uow.plans.update(
            plan.id,
            status="sending",
            last_ledger_entry_id=prepared.entry.id,
            last_request_id=prepared.entry.request_id,
            last_delivery_status="pending",
            last_sent_at=now,
            updated_at=wall,
        )
        return prepared

    async def register(self, run_id: str, session_id: str, cp_base_url: str) -> Delivery:
        """Capacity Provider-initiated registration (PROTOCOL.md §2, steps 2-5)."""

        def build(uow: SimUnitOfWork, session: Session, now: datetime, wall: datetime) -> Prepared:
            if not session.fp_token:
                raise Conflict(
                    "registration needs fp_token: the token the FP issued to this CP out of band",
                    "NO_FP_TOKEN",
                )
            token_b = secrets.token_urlsafe(32)
            message = Register(
                token=token_b, version_url=[VersionUrl(version=OSCP_VERSION, base_url=cp_base_url)]
            )
            prepared = self.prepare(uow, session, message, logical=now, wall=wall)
            current = uow.sessions.secrets(session.id)
            assert current is not None
            uow.sessions.set_tokens(
                session.id,
                cp_token_hash=token_hash(token_b),
                previous_cp_token_hash=current.cp_token_hash,
            )
            after = replace(
                session,
                registration_state=RegistrationState.PENDING,
                registration_request_id=prepared.entry.request_id,
            )
            save_session(uow, session, after, logical=now, wall=wall)
            return prepared

        return await self._deliver(self._prepared_in_run(run_id, session_id, build))

    async def follow_up(self, follow_up: FollowUp) -> Delivery | None:
        """Send the reply an accepted inbound message calls for (after its 204)."""
        wall = self._clock.now()
        with self._uows.write() as uow:
            session = uow.sessions.get(follow_up.session_id)
            record = uow.runs.get(session.run_id) if session else None
            if session is None or record is None or record.run.state is RunState.STOPPED:
                return None
            now = record.run.logical_at(wall)
            if follow_up.kind == "acknowledge":
                if (
                    session.state is not SessionState.ACCEPTING_HANDSHAKE
                    or session.handshake_request_id != follow_up.correlation_id
                ):
                    return None
                message: OscpModel = HandshakeAcknowledge(
                    required_behaviour=RequiredBehaviour(
                        heartbeat_interval=session.fp_heartbeat_interval,
                        measurement_configuration=[
                            MeasurementConfiguration(c) for c in session.measurement_configuration
                        ],
                    )
                )
                token = None
            else:
                message = Register(
                    token=follow_up.token or "",
                    version_url=[
                        VersionUrl(version=OSCP_VERSION, base_url=follow_up.cp_base_url or "")
                    ],
                )
                token = session.fp_token
            try:
                prepared = self.prepare(
                    uow,
                    session,
                    message,
                    logical=now,
                    wall=wall,
                    correlation_id=follow_up.correlation_id,
                    token=token,
                )
            except Conflict:
                return None
            uow.commit()
        return await self._deliver(prepared)

    # --- scheduled work -------------------------------------------------------------------

    def claim_heartbeats(
        self, uow: SimUnitOfWork, run_id: str, now: datetime, wall: datetime, limit: int
    ) -> list[Prepared]:
        """Claim every due heartbeat of a run: record it pending (or suppressed) and schedule
        the next one, all rows in a few batched statements. Sending is the caller's, after the
        transaction commits."""
        due = uow.sessions.due_heartbeats(run_id, now, limit)
        if not due:
            return []
        overrides = uow.overrides.open_for([s.id for s in due])
        entries: list[LedgerEntry] = []
        prepared: list[Prepared] = []
        claims: list[tuple[Session, Session]] = []
        for session in due:
            after = heartbeat_claimed(session, now)
            claims.append((session, after))
            interval = session.cp_heartbeat_interval or 60.0
            message = Heartbeat(offline_mode_at=heartbeat_deadline(now, interval))
            forcing = forcing_for(overrides.get(session.id, []), "Heartbeat", now)
            if forcing.suppress is not None:
                entries.append(
                    _suppressed(session, message, forcing.suppress.mode.value, now, wall)
                )
            elif session.fp_token:
                ready = self._build(session, message, logical=now, wall=wall)
                prepared.append(replace(ready, claimed=after))
                entries.append(ready.entry)
        uow.ledger.append_all(entries)
        save_sessions(uow, claims, logical=now, wall=wall)
        return prepared

    def claim_plans(
        self, uow: SimUnitOfWork, run_id: str, now: datetime, wall: datetime
    ) -> list[Prepared]:
        """Claim due scheduled forecast plans; a plan whose session is not live is skipped."""
        prepared: list[Prepared] = []
        for plan in uow.plans.due(run_id, now):
            session = uow.sessions.get(plan.session_id)
            if session is None:
                continue
            if session.state not in LIVE or not session.fp_token:
                uow.plans.update(
                    plan.id,
                    **_reschedule(plan, now),
                    reason=f"skipped at {now.isoformat()}: session {session.state.value}",
                    updated_at=wall,
                )
                continue
            prepared.append(self._prepare_plan(uow, session, plan, now, wall))
            if plan.repeat_every_seconds:
                uow.plans.update(plan.id, **_reschedule(plan, now))
        return prepared

    def deliver_all(self, batch: list[Prepared]) -> None:
        """Send in the background; outcomes are finalized in batches by `flush`."""
        for prepared in batch:
            self.spawn(self._deliver_later(prepared))

    async def _deliver_later(self, prepared: Prepared) -> None:
        result = await self.send(prepared)
        self._finished.append((prepared, result))

    def pending_for_resume(
        self, uow: SimUnitOfWork, session_ids: list[str], wall: datetime
    ) -> list[Prepared]:
        """Entries left pending by a process that stopped: finalize or prepare to resend."""
        resend: list[Prepared] = []
        for entry in uow.ledger.pending(OUTBOUND, session_ids):
            session = uow.sessions.get(entry.session_id or "")
            if (
                entry.message_type in ("Heartbeat", "Register")
                or session is None
                or not session.fp_token
            ):
                uow.ledger.finalize(
                    entry.id,
                    outcome=Outcome.INDETERMINATE.value,
                    http_status=None,
                    reason="the simulator stopped before the outcome was known",
                    logical_at=None,
                    wall_at=wall,
                    duration_ms=None,
                )
                continue
            message = parse(model_for(schema_title_for(entry.message_type)), entry.body)
            resend.append(
                Prepared(
                    entry,
                    message,
                    session.fp_base_url,
                    session.fp_token,
                    session.remote_configuration_id,
                )
            )
        return resend


def _finalization(
    entry: LedgerEntry, result: DeliveryResult, logical: datetime | None, wall: datetime
) -> Finalization:
    return Finalization(
        entry.id,
        outcome_of(result).value,
        result.status_code,
        result.error_text,
        logical,
        wall,
        result.elapsed.total_seconds() * 1000,
    )


def _suppressed(
    session: Session, message: Heartbeat, mode: str, now: datetime, wall: datetime
) -> LedgerEntry:
    """The ledger entry of a heartbeat a scenario suppressed: recorded, never sent."""
    return LedgerEntry(
        id=new_id(),
        session_id=session.id,
        run_id=session.run_id,
        direction=OUTBOUND,
        message_type="Heartbeat",
        endpoint="heartbeat",
        url=None,
        request_id=None,
        correlation_id=None,
        headers={},
        body=message.to_wire(),
        outcome=Outcome.IGNORED.value,
        http_status=None,
        validation_errors=[],
        reason=f"not sent: suppressed by scenario {mode}",
        forced=True,
        override_mode=mode,
        logical_at=now,
        wall_at=wall,
        finalized_logical_at=now,
        finalized_wall_at=wall,
    )


def _logical_times(
    uow: SimUnitOfWork, entries: list[LedgerEntry], wall: datetime
) -> dict[str | None, datetime | None]:
    """Each entry's run's logical time at `wall` (None for a run that is gone), one read per
    run."""
    times: dict[str | None, datetime | None] = {}
    for run_id in {entry.run_id for entry in entries}:
        record = uow.runs.get(run_id, with_world=False) if run_id else None
        times[run_id] = record.run.logical_at(wall) if record else None
    return times


def _require_live(session: Session, what: str) -> None:
    if session.state not in LIVE:
        raise Conflict(
            f"the session is {session.state.value}; {what} are sent only while it is online or "
            "degraded (handshake first)",
            "SESSION_NOT_ONLINE",
            {"state": session.state.value},
        )


def plan_message(
    session: Session, plan: ForecastPlan, now: datetime
) -> UpdateGroupCapacityForecast:
    """The forecast a plan sends at logical time `now`."""
    spec = plan.spec
    base = CapacityForecastType(spec.get("type", "CONSUMPTION"))
    if "profile" in spec:
        profile = forecasts.Profile.model_validate(spec["profile"])
        return UpdateGroupCapacityForecast(
            group_id=session.group_id,
            type=forecasts.forecast_type(base, profile),
            forecasted_blocks=forecasts.blocks_for(profile, now),
        )
    return UpdateGroupCapacityForecast(
        group_id=session.group_id,
        type=base,
        forecasted_blocks=[ForecastedBlock.model_validate(b) for b in spec["forecasted_blocks"]],
    )


def _reschedule(plan: ForecastPlan, now: datetime) -> dict[str, Any]:
    if not plan.repeat_every_seconds or plan.due_at is None:
        return {"status": "skipped"}
    step = timedelta(seconds=plan.repeat_every_seconds)
    due = plan.due_at + step
    while due <= now:
        due += step
    return {"due_at": due, "status": "scheduled"}


def _plan_result(
    plan: ForecastPlan, outcome: str, result: DeliveryResult, wall: datetime
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "occurrences": plan.occurrences + 1,
        "last_delivery_status": outcome,
        "reason": result.error_text,
        "updated_at": wall,
    }
    if plan.status == "sending":
        values["status"] = "sent" if outcome == Outcome.ACCEPTED.value else "failed"
    return values
