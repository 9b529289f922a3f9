"""Inbound OSCP handling (design §7 Protocol API, §9 workflows, §10 failure table): resolve the
session, authenticate, de-duplicate, decide the answer (`inbound.decide`), apply the session
transition, write the ledger entry and evaluate expectations, all in one transaction.

Resolution and authentication, before any rule:
- no or malformed Authorization                                   401 (WWW-Authenticate)
- no X-OSCP-Configuration-ID                                       422
- no session for that configuration id                            403
- `Token` that matches none of its sessions (current or, during a registration, previous
  token)                                                           403
- `Bearer` unknown or expired                                      401; another session's: 403
- no X-Request-ID                                                  422
- a repeated X-Request-ID: the prior answer, no new ledger entry (§10 "Duplicate message")
- the run is stopped                                               403

Failures before a session is known are still recorded, attributed to the configuration's
session when there is exactly one, otherwise unattributed (`GET /oscp-messages`).

Replies that must follow a 204 (the HandshakeAcknowledge to an FP Handshake, the Register reply
to an FP registration) are returned as `FollowUp`s for the edge to run after the response.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from depotgrid.common.clock import Clock
from depotgrid.common.ids import new_id
from depotgrid.oscp.headers import (
    CONFIGURATION_ID,
    CORRELATION_ID,
    REQUEST_ID,
    AuthScheme,
    parse_authorization,
)
from depotgrid.oscp.messages import Handshake, HandshakeAcknowledge, Heartbeat, Register
from depotgrid.oscp.routes import OSCP_VERSION, Endpoint
from depotgrid.sim.projections.oscp_cp.effects import save_session
from depotgrid.sim.projections.oscp_cp.inbound import (
    Answer,
    Inbound,
    Outcome,
    Problem,
    decide,
)
from depotgrid.sim.projections.oscp_cp.ledger import INBOUND, OUTBOUND, LedgerEntry, mask_headers
from depotgrid.sim.projections.oscp_cp.message_types import DATA_MESSAGES, message_type_for
from depotgrid.sim.projections.oscp_cp.repository import Candidate, token_hash
from depotgrid.sim.projections.oscp_cp.session import (
    RegistrationState,
    Session,
    acknowledgement_received,
    handshake_received,
    heartbeat_received,
    reset_for_registration,
)
from depotgrid.sim.runtime.port import stale_reason
from depotgrid.sim.runtime.run import RunState
from depotgrid.sim.scenarios.expectations import ObservedMessage, on_message
from depotgrid.sim.scenarios.overrides import DEFAULT_HOLD_SECONDS, Forcing, forcing_for
from depotgrid.sim.unit_of_work import SimUnitOfWork, SimUnitOfWorkFactory

FORECAST_TYPE = "UpdateGroupCapacityForecast"


@dataclass(frozen=True)
class FollowUp:
    """An outbound reply to send once the 204 has gone out."""

    kind: str
    """`acknowledge` or `register_reply`."""
    session_id: str
    correlation_id: str
    token: str | None = None
    cp_base_url: str | None = None


@dataclass(frozen=True)
class Reception:
    status: int
    body: dict[str, Any] | None
    ledger_entry_id: str | None
    hold_seconds: float = 0.0
    delay_seconds: float = 0.0
    follow_up: FollowUp | None = None
    duplicate_of: str | None = None
    www_authenticate: str | None = None


def error_body(reason: str, problems: tuple[Problem, ...] | list[dict[str, str]]) -> dict[str, Any]:
    """The OSCP `Error {message}` body, with the individual problems alongside."""
    errors = [
        {"field": p.field, "reason": p.reason}
        if isinstance(p, Problem)
        else {"field": p["field"], "reason": p["reason"]}
        for p in problems
    ]
    return {"message": reason, "errors": errors}


def body_snapshot(body: bytes) -> Any:
    """The body as the ledger stores it: the JSON value, or the text when it is not JSON."""
    try:
        return json.loads(body) if body else None
    except ValueError:
        return {"_unparsed": body.decode("utf-8", errors="replace")[:10000]}


def masked_body(message_type: str, body: Any) -> Any:
    """Register bodies carry a token: keep only its last 4 characters in the ledger."""
    if message_type == "Register" and isinstance(body, dict) and isinstance(body.get("token"), str):
        return {**body, "token": "…" + body["token"][-4:]}
    return body


class ForecastLedgerFacts:
    """`inbound.ForecastFacts` read from the session's outbound ledger entries."""

    def __init__(self, uow: SimUnitOfWork, session: Session) -> None:
        self._uow = uow
        self._session = session

    def was_sent(self, request_id: str) -> bool:
        entry = self._uow.ledger.outbound_request(self._session.id, request_id)
        return entry is not None and entry.message_type == FORECAST_TYPE

    def has_active(self, forecast_type: str, group_id: str, now: datetime) -> bool:
        for entry in self._uow.ledger.recent_outbound(self._session.id, FORECAST_TYPE, 50):
            body = entry.body if isinstance(entry.body, dict) else {}
            if entry.outcome != Outcome.ACCEPTED.value:
                continue
            if body.get("type") != forecast_type or body.get("group_id") != group_id:
                continue
            ends = [b.get("end_time", "") for b in body.get("forecasted_blocks", [])]
            if any(datetime.fromisoformat(end.replace("Z", "+00:00")) > now for end in ends):
                return True
        return False


class ProtocolService:
    def __init__(self, uows: SimUnitOfWorkFactory, clock: Clock) -> None:
        self._uows = uows
        self._clock = clock

    def receive(
        self, endpoint: Endpoint, headers: Mapping[str, str], body: bytes, cp_base_url: str
    ) -> Reception:
        wall = self._clock.now()
        try:
            with self._uows.write() as uow:
                reception = _Receipt(uow, endpoint, headers, body, cp_base_url, wall).handle()
                uow.commit()
        except _Repeated as repeated:
            # The unique dedupe key refused a second entry; everything above was rolled back.
            with self._uows.read() as uow:
                prior = uow.ledger.by_dedupe_key(repeated.dedupe_key)
            if prior is None:
                raise
            return _repeat(prior)
        return reception


class _Repeated(Exception):
    """An X-Request-ID this session already had: answer with the prior outcome."""

    def __init__(self, dedupe_key: str) -> None:
        super().__init__(dedupe_key)
        self.dedupe_key = dedupe_key


class _Receipt:
    """One inbound message being handled inside one unit of work."""

    def __init__(
        self,
        uow: SimUnitOfWork,
        endpoint: Endpoint,
        headers: Mapping[str, str],
        body: bytes,
        cp_base_url: str,
        wall: datetime,
    ) -> None:
        self.uow = uow
        self.endpoint = endpoint
        self.message_type = message_type_for(endpoint)
        self.headers = {name.lower(): value for name, value in headers.items()}
        self.body = body
        self.cp_base_url = cp_base_url
        self.wall = wall
        self.request_id = self._header(REQUEST_ID)
        self.correlation_id = self._header(CORRELATION_ID)

    def _header(self, name: str) -> str | None:
        value = self.headers.get(name.lower(), "").strip()
        return value or None

    def handle(self) -> Reception:
        credentials = parse_authorization(self.headers.get("authorization"))
        configuration_id = self._header(CONFIGURATION_ID)
        candidates = (
            self.uow.sessions.by_configuration_id(configuration_id) if configuration_id else []
        )
        lone = candidates[0].session if len(candidates) == 1 else None
        if credentials is None:
            return self._refuse(
                401,
                "Authorization",
                "missing or malformed: send 'Authorization: Token <token>' or 'Bearer <token>'",
                "auth",
                lone,
                www='Token realm="oscp-cp"',
            )
        if configuration_id is None:
            return self._refuse(
                422, CONFIGURATION_ID, "header is required to resolve the session", "header", None
            )
        if not candidates:
            return self._refuse(
                403,
                CONFIGURATION_ID,
                f"no session for configuration '{configuration_id}'",
                "routing",
                None,
            )
        hashed = token_hash(credentials.value)
        found: Candidate | None
        if credentials.scheme is AuthScheme.TOKEN:
            found = next(
                (c for c in candidates if hashed in (c.cp_token_hash, c.previous_cp_token_hash)),
                None,
            )
            if found is None:
                return self._refuse(
                    403,
                    "Authorization",
                    f"the token is not valid for configuration '{configuration_id}'",
                    "auth",
                    lone,
                )
        else:
            owner = self.uow.oauth.session_for(hashed, self.wall)
            if owner is None:
                return self._refuse(
                    401,
                    "Authorization",
                    "bearer token unknown or expired; request a new one at /oauth/token",
                    "auth",
                    lone,
                    www='Bearer error="invalid_token"',
                )
            found = next((c for c in candidates if c.session.id == owner), None)
            if found is None:
                return self._refuse(
                    403,
                    "Authorization",
                    f"the bearer token is not valid for configuration '{configuration_id}'",
                    "auth",
                    lone,
                )
        if self.request_id is None:
            return self._refuse(422, REQUEST_ID, "header is required", "header", found.session)
        return self._decide(found, f"{found.session.id}:{self.request_id}")

    def _decide(self, candidate: Candidate, dedupe_key: str) -> Reception:
        session = candidate.session
        record = self.uow.runs.get(session.run_id, with_world=False)
        assert record is not None
        now = record.run.logical_at(self.wall)
        if record.run.state is RunState.STOPPED:
            answer = Answer(
                403,
                Outcome.REJECTED,
                "the simulation run is stopped",
                (Problem("$", "the simulation run is stopped", "lifecycle"),),
            )
            return self._record(candidate, session, answer, now, dedupe_key, None)
        overrides = self.uow.overrides.open(session.id) if candidate.open_overrides else []
        forcing = forcing_for(overrides, self.message_type, now)
        inbound = Inbound(
            endpoint=self.endpoint,
            body=self.body,
            request_id=self.request_id or "",
            correlation_id=self.correlation_id,
            session=session,
            now=now,
            forcing=forcing,
            stale_reason=stale_reason(record, self.wall),
        )
        answer = decide(inbound, ForecastLedgerFacts(self.uow, session))
        after, answer, follow_up = self._apply(session, answer, forcing, now)
        return self._record(candidate, after, answer, now, dedupe_key, follow_up)

    def _apply(
        self, session: Session, answer: Answer, forcing: Forcing, now: datetime
    ) -> tuple[Session, Answer, FollowUp | None]:
        message = answer.message
        if answer.outcome is not Outcome.ACCEPTED or message is None:
            return session, answer, None
        request_id = self.request_id or ""
        if isinstance(message, Handshake):
            behaviour = message.required_behaviour
            after = handshake_received(
                session,
                request_id=request_id,
                heartbeat_interval=behaviour.heartbeat_interval if behaviour else None,
                measurement_configuration=tuple(
                    c.value for c in (behaviour.measurement_configuration if behaviour else [])
                ),
                now=now,
            )
            withheld = forcing.withhold_ack
            if withheld is not None:
                forced = replace(
                    answer,
                    forced=True,
                    override=withheld,
                    reason=f"acknowledgement withheld by scenario {withheld.mode.value}",
                )
                return after, forced, None
            return after, answer, FollowUp("acknowledge", session.id, request_id)
        if isinstance(message, HandshakeAcknowledge):
            behaviour = message.required_behaviour
            after = acknowledgement_received(
                session,
                heartbeat_interval=behaviour.heartbeat_interval if behaviour else None,
                measurement_configuration=(
                    tuple(c.value for c in behaviour.measurement_configuration)
                    if behaviour
                    else None
                ),
                now=now,
            )
            return after, answer, None
        if isinstance(message, Heartbeat):
            return heartbeat_received(session, message.offline_mode_at, now), answer, None
        if isinstance(message, Register):
            return self._register(session, message, answer, now)
        return session, answer, None

    def _register(
        self, session: Session, message: Register, answer: Answer, now: datetime
    ) -> tuple[Session, Answer, FollowUp | None]:
        """PROTOCOL.md §2, both roles: a reply to the CP's own Register, or the FP initiating."""
        version = next((v for v in message.version_url if v.version == OSCP_VERSION), None)
        if version is None:
            offered = ", ".join(v.version for v in message.version_url)
            reason = f"no OSCP {OSCP_VERSION} in version_url (offered: {offered})"
            refusal = Answer(
                501, Outcome.REJECTED, reason, (Problem("$.version_url", reason, "version"),)
            )
            return session, refusal, None
        is_reply = (
            session.registration_state is RegistrationState.PENDING
            and session.registration_request_id is not None
            and self.correlation_id in (None, session.registration_request_id)
        )
        base = replace(session, fp_token=message.token, fp_base_url=version.base_url.rstrip("/"))
        if is_reply:
            self.uow.sessions.set_tokens(session.id, clear_previous=True)
            registered = replace(
                base, registration_state=RegistrationState.REGISTERED, registration_request_id=None
            )
            return reset_for_registration(registered, now), answer, None
        secrets_row = self.uow.sessions.secrets(session.id)
        assert secrets_row is not None
        new_token = secrets.token_urlsafe(32)
        self.uow.sessions.set_tokens(
            session.id,
            cp_token_hash=token_hash(new_token),
            previous_cp_token_hash=secrets_row.cp_token_hash,
        )
        pending = replace(
            base, registration_state=RegistrationState.PENDING, registration_request_id=None
        )
        follow_up = FollowUp(
            "register_reply",
            session.id,
            self.request_id or "",
            token=new_token,
            cp_base_url=self.cp_base_url,
        )
        return reset_for_registration(pending, now), answer, follow_up

    def _record(
        self,
        candidate: Candidate,
        after: Session,
        answer: Answer,
        now: datetime,
        dedupe_key: str,
        follow_up: FollowUp | None,
    ) -> Reception:
        before = candidate.session
        entry = self._entry(
            before,
            outcome=answer.outcome.value,
            status=None if answer.outcome is Outcome.IGNORED else answer.status,
            problems=[p.as_json() for p in answer.problems],
            reason=answer.reason,
            forced=answer.forced,
            override_mode=answer.override.mode.value if answer.override else None,
            logical_at=now,
        )
        try:
            self.uow.ledger.append(entry, dedupe_key=dedupe_key)
        except IntegrityError:
            raise _Repeated(dedupe_key) from None
        if candidate.pending_expectations:
            self._observe(before, entry, now)
        if self.message_type in DATA_MESSAGES:
            after = after.emitting(
                "OscpOutboundMessageValidated",
                message_type=self.message_type,
                ledger_entry_id=entry.id,
                outcome=entry.outcome,
                forced=entry.forced,
            )
        save_session(self.uow, before, after, logical=now, wall=self.wall)
        return Reception(
            status=answer.status,
            body=None if answer.status == 204 else error_body(answer.reason or "", answer.problems),
            ledger_entry_id=entry.id,
            hold_seconds=answer.hold_seconds,
            delay_seconds=answer.delay_seconds,
            follow_up=follow_up,
        )

    def _observe(self, session: Session, entry: LedgerEntry, now: datetime) -> None:
        observed = ObservedMessage(
            ledger_entry_id=entry.id,
            message_type=entry.message_type,
            correlation_id=entry.correlation_id,
            outcome=entry.outcome,
            logical_at=now,
        )
        for _, expectation in self.uow.expectations.pending([session.id]):
            resolution = on_message(expectation, observed)
            if resolution is not None:
                self.uow.expectations.resolve(
                    session.id,
                    expectation.id,
                    resolution.status,
                    resolution.reason,
                    resolution.at,
                    resolution.ledger_entry_id,
                )

    def _entry(
        self,
        session: Session | None,
        *,
        outcome: str,
        status: int | None,
        problems: list[dict[str, str]],
        reason: str | None,
        forced: bool,
        override_mode: str | None,
        logical_at: datetime | None,
    ) -> LedgerEntry:
        return LedgerEntry(
            id=new_id(),
            session_id=session.id if session else None,
            run_id=session.run_id if session else None,
            direction=INBOUND,
            message_type=self.message_type,
            endpoint=self.endpoint.value,
            url=None,
            request_id=self.request_id,
            correlation_id=self.correlation_id,
            headers=mask_headers(self.headers),
            body=masked_body(self.message_type, body_snapshot(self.body)),
            outcome=outcome,
            http_status=status,
            validation_errors=problems,
            reason=reason,
            forced=forced,
            override_mode=override_mode,
            logical_at=logical_at,
            wall_at=self.wall,
            finalized_logical_at=logical_at,
            finalized_wall_at=self.wall,
        )

    def _refuse(
        self,
        status: int,
        field: str,
        reason: str,
        keyword: str,
        session: Session | None,
        www: str | None = None,
    ) -> Reception:
        """A refusal before the message is attributed to an authenticated session."""
        logical = None
        if session is not None:
            record = self.uow.runs.get(session.run_id, with_world=False)
            logical = record.run.logical_at(self.wall) if record else None
        text = f"{field}: {reason}"
        problem = {"field": field, "reason": reason, "keyword": keyword}
        entry = self._entry(
            session,
            outcome=Outcome.REJECTED.value,
            status=status,
            problems=[problem],
            reason=text,
            forced=False,
            override_mode=None,
            logical_at=logical,
        )
        self.uow.ledger.append(entry)
        return Reception(status, error_body(text, [problem]), entry.id, www_authenticate=www)


def _repeat(prior: LedgerEntry) -> Reception:
    """The prior answer to a repeated X-Request-ID, without a second ledger entry."""
    if prior.outcome == Outcome.IGNORED.value:
        return Reception(
            204, None, prior.id, hold_seconds=DEFAULT_HOLD_SECONDS, duplicate_of=prior.id
        )
    status = prior.http_status or 503
    body = None if status == 204 else error_body(prior.reason or "", prior.validation_errors)
    return Reception(status, body, prior.id, duplicate_of=prior.id)


__all__ = ["OUTBOUND", "FollowUp", "ProtocolService", "Reception"]
