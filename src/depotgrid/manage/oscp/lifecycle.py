"""The connection lifecycle of one OSCP configuration, as a pure state machine (COR-16, COR-17,
COR-18, COR-34; PROTOCOL.md §2-§4).

Each step takes the current `Connection` and the time and returns a `Step`: the next
`Connection`, the audit events to append (material transitions only, never one per heartbeat)
and the OSCP messages to put in the outbox. The service around it loads and saves the
connection, appends the events and enqueues the messages in one transaction.

    CONFIGURED --enable--> REGISTERING --CP's reply Register--> REGISTERED --> HANDSHAKING
    HANDSHAKING --acknowledge--> HANDSHAKEN --first heartbeat--> ONLINE <--> OFFLINE
    a CP-initiated Register or Handshake is accepted from any enabled state.
    Failures: REGISTRATION_FAILED (Register dead), HANDSHAKE_FAILED (rejected, timed out,
    acknowledgement undeliverable); a failed handshake is retried with backoff.

Timing rules (documented in docs/oscp.md):
- our heartbeats carry `offline_mode_at = sent + 2 x interval + 1 s`;
- the CP is offline once now passes min(its last `offline_mode_at`, receipt + 3 x the interval
  we required of it);
- a Handshake not acknowledged within `HANDSHAKE_ACK_TIMEOUT` fails; it is sent again after
  `retry_delay(attempt)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from depotgrid.common.ids import new_id
from depotgrid.manage.events.store import NewEvent
from depotgrid.oscp.messages import format_datetime
from depotgrid.oscp.routes import base_path

OSCP_VERSION = "2.0"
HANDSHAKE_ACK_TIMEOUT = timedelta(seconds=30)
HEARTBEAT_MARGIN = timedelta(seconds=1)
LIVENESS_FACTOR = 3
MIN_HEARTBEAT_INTERVAL = 1.0
MAX_HEARTBEAT_INTERVAL = 86_400.0
HANDSHAKE_RETRY_BASE = timedelta(seconds=5)
HANDSHAKE_RETRY_CAP = timedelta(minutes=5)


class ConnectionState(StrEnum):
    CONFIGURED = "CONFIGURED"
    REGISTERING = "REGISTERING"
    REGISTERED = "REGISTERED"
    REGISTRATION_FAILED = "REGISTRATION_FAILED"
    HANDSHAKING = "HANDSHAKING"
    HANDSHAKEN = "HANDSHAKEN"
    HANDSHAKE_FAILED = "HANDSHAKE_FAILED"
    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"
    DISABLED = "DISABLED"


NEGOTIATED_STATES = frozenset(
    {ConnectionState.HANDSHAKEN, ConnectionState.ONLINE, ConnectionState.OFFLINE}
)
"""States in which the handshake has completed: heartbeats flow, business messages may."""


class ErrorCode(StrEnum):
    """The tracked connection errors (COR-34); docs/oscp.md explains each."""

    REGISTRATION_UNDELIVERABLE = "REGISTRATION_UNDELIVERABLE"
    REGISTRATION_REFUSED = "REGISTRATION_REFUSED"
    HANDSHAKE_REJECTED = "HANDSHAKE_REJECTED"
    HANDSHAKE_TIMEOUT = "HANDSHAKE_TIMEOUT"
    HANDSHAKE_UNDELIVERABLE = "HANDSHAKE_UNDELIVERABLE"
    ACKNOWLEDGE_UNDELIVERABLE = "ACKNOWLEDGE_UNDELIVERABLE"
    HEARTBEAT_MISSED = "HEARTBEAT_MISSED"
    HEARTBEAT_SEND_FAILED = "HEARTBEAT_SEND_FAILED"


@dataclass(frozen=True)
class TrackedError:
    code: ErrorCode
    message: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message, "at": self.at.isoformat()}


@dataclass(frozen=True)
class Negotiated:
    """The behaviour agreed in the latest accepted handshake exchange."""

    heartbeat_interval_seconds: float | None
    """How often the CP wants our heartbeats (None: it wants none)."""
    measurement_configuration: tuple[str, ...]
    """How the CP wants measurements aggregated (empty: no preference)."""
    peer_heartbeat_interval_seconds: float | None
    """How often we asked the CP to send heartbeats."""

    def to_json(self) -> dict[str, Any]:
        return {
            "heartbeat_interval_seconds": self.heartbeat_interval_seconds,
            "measurement_configuration": list(self.measurement_configuration),
            "peer_heartbeat_interval_seconds": self.peer_heartbeat_interval_seconds,
        }


@dataclass(frozen=True)
class Connection:
    """The lifecycle read model of one configuration's connection."""

    configuration_id: str
    state: ConnectionState = ConnectionState.CONFIGURED
    registered_at: datetime | None = None
    negotiated: Negotiated | None = None
    handshake_request_id: str | None = None
    handshake_deadline: datetime | None = None
    handshake_attempts: int = 0
    handshake_retry_at: datetime | None = None
    last_heartbeat_at: datetime | None = None
    """When the CP's last accepted heartbeat arrived."""
    offline_at: datetime | None = None
    """When the CP counts as offline unless another heartbeat arrives first."""
    next_heartbeat_at: datetime | None = None
    last_error: TrackedError | None = None
    error_cleared_at: datetime | None = None


@dataclass(frozen=True)
class Outgoing:
    """An OSCP message to persist in the outbox (body in wire form)."""

    message_type: str
    body: dict[str, Any]
    correlation_id: str | None = None
    expires_at: datetime | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Step:
    connection: Connection
    events: tuple[NewEvent, ...] = ()
    outgoing: tuple[Outgoing, ...] = ()


@dataclass(frozen=True)
class Profile:
    """What this side asks of the CP, from the configuration."""

    fp_base_url: str
    """Our public base URL (scheme and host); the OSCP base path is appended."""
    heartbeat_interval_seconds: float
    measurement_configuration: tuple[str, ...]
    handshake_ack_timeout: timedelta = field(default=HANDSHAKE_ACK_TIMEOUT)

    @property
    def version_url(self) -> list[dict[str, str]]:
        base = self.fp_base_url.rstrip("/") + base_path("fp")
        return [{"version": OSCP_VERSION, "base_url": base}]

    def required_behaviour(self) -> dict[str, Any]:
        return {
            "heartbeat_interval": self.heartbeat_interval_seconds,
            "measurement_configuration": list(self.measurement_configuration),
        }


class Refusal(Exception):
    """An inbound message this connection cannot take; `status` is the HTTP answer."""

    def __init__(self, status: int, message: str, step: Step | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.step = step
        """Audit to record even though the message was refused."""


# ---------- registration ----------


def enable(connection: Connection, profile: Profile, new_token: str, now: datetime) -> Step:
    """Start registration: send Register with a fresh token for the CP to use on us."""
    started = _event("OscpRegistrationStarted", connection, now, initiated_by="FP")
    return Step(
        replace(connection, state=ConnectionState.REGISTERING, negotiated=None),
        (started,),
        (Outgoing("Register", {"token": new_token, "version_url": profile.version_url}),),
    )


def disable(connection: Connection, now: datetime) -> Step:
    return Step(
        replace(
            connection,
            state=ConnectionState.DISABLED,
            handshake_request_id=None,
            handshake_deadline=None,
            handshake_retry_at=None,
            next_heartbeat_at=None,
            offline_at=None,
        ),
        (_event("OscpConnectionDisabled", connection, now),),
    )


def register_received(
    connection: Connection,
    profile: Profile,
    body: dict[str, Any],
    request_id: str,
    new_token: str,
    now: datetime,
) -> Step:
    """The CP's Register: the reply to ours (we are REGISTERING), or its own initiation, which
    we answer with our reply Register carrying `new_token`. Either way the token in its body is
    the one we use on it from now on (the service stores it)."""
    if not any(v.get("version") == OSCP_VERSION for v in body.get("version_url", [])):
        raise Refusal(501, f"no OSCP {OSCP_VERSION} entry in version_url")
    if connection.state is ConnectionState.DISABLED:
        raise Refusal(403, "this OSCP connection is disabled")
    if connection.state is ConnectionState.REGISTERING:
        return _registered(connection, profile, now, initiated_by="FP")
    reply = Outgoing(
        "Register",
        {"token": new_token, "version_url": profile.version_url},
        correlation_id=request_id,
    )
    started = _event("OscpRegistrationStarted", connection, now, initiated_by="CP")
    reset = replace(connection, state=ConnectionState.REGISTERING, negotiated=None)
    return Step(reset, (started,), (reply,))


def reply_register_delivered(connection: Connection, profile: Profile, now: datetime) -> Step:
    """Our reply to a CP-initiated registration got its 204: the exchange is complete."""
    if connection.state is not ConnectionState.REGISTERING:
        return Step(connection)
    return _registered(connection, profile, now, initiated_by="CP")


def register_failed(
    connection: Connection, now: datetime, reason: str, *, final: bool, refused: bool
) -> Step:
    """A Register attempt failed; `final` when the outbox gave up on it."""
    code = ErrorCode.REGISTRATION_REFUSED if refused else ErrorCode.REGISTRATION_UNDELIVERABLE
    error = TrackedError(code, reason, now)
    if not final or connection.state is not ConnectionState.REGISTERING:
        return Step(replace(connection, last_error=error))
    failed = replace(connection, state=ConnectionState.REGISTRATION_FAILED, last_error=error)
    return Step(failed, (_event("OscpRegistrationFailed", connection, now, **error.to_json()),))


def _registered(
    connection: Connection, profile: Profile, now: datetime, *, initiated_by: str
) -> Step:
    registered = replace(
        connection, state=ConnectionState.REGISTERED, registered_at=now, negotiated=None
    )
    event = _event("OscpRegistered", connection, now, initiated_by=initiated_by)
    return then(
        Step(_cleared(registered, now), (event,)),
        start_handshake(_cleared(registered, now), profile, now, attempt=1),
    )


# ---------- handshake ----------


def start_handshake(
    connection: Connection, profile: Profile, now: datetime, *, attempt: int
) -> Step:
    """Send our Handshake (FP -> CP) and wait for its acknowledgement."""
    request_id = new_id()
    handshaking = replace(
        connection,
        state=ConnectionState.HANDSHAKING,
        handshake_request_id=request_id,
        handshake_deadline=now + profile.handshake_ack_timeout,
        handshake_attempts=attempt,
        handshake_retry_at=None,
    )
    message = Outgoing(
        "Handshake",
        {"required_behaviour": profile.required_behaviour()},
        request_id=request_id,
        expires_at=now + profile.handshake_ack_timeout,
    )
    sent = _event("OscpHandshakeSent", connection, now, request_id=request_id, attempt=attempt)
    return Step(handshaking, (sent,), (message,))


def handshake_received(
    connection: Connection,
    profile: Profile,
    body: dict[str, Any],
    request_id: str,
    now: datetime,
) -> Step:
    """The CP's Handshake: accept its required behaviour and acknowledge it (correlated), or
    refuse it with 422 and a recorded rejection. Accepted means HANDSHAKEN at once: the CP may
    start heartbeats as soon as our acknowledgement reaches it."""
    if connection.state in (
        ConnectionState.CONFIGURED,
        ConnectionState.DISABLED,
        ConnectionState.REGISTERING,
        ConnectionState.REGISTRATION_FAILED,
    ):
        raise Refusal(409, f"no handshake in state {connection.state.value}: register first")
    behaviour = body.get("required_behaviour", {})
    problem = unacceptable(behaviour, profile)
    if problem:
        rejected = _handshake_rejected(connection, now, problem, request_id)
        raise Refusal(422, f"required_behaviour refused: {problem}", rejected)
    negotiated = _negotiated(behaviour, profile)
    acknowledge = Outgoing(
        "HandshakeAcknowledge",
        {"required_behaviour": profile.required_behaviour()},
        correlation_id=request_id,
    )
    return _handshaken(connection, negotiated, now, request_id, initiated_by="CP", ack=acknowledge)


def acknowledge_received(
    connection: Connection,
    profile: Profile,
    body: dict[str, Any],
    correlation_id: str,
    now: datetime,
) -> Step:
    """The CP acknowledges our Handshake; its required behaviour is what it wants of us."""
    if connection.handshake_request_id is None:
        raise Refusal(409, "no handshake of ours is waiting for an acknowledgement")
    if correlation_id != connection.handshake_request_id:
        raise Refusal(
            409,
            f"X-Correlation-ID {correlation_id} does not name our pending handshake "
            f"{connection.handshake_request_id}",
        )
    behaviour = body.get("required_behaviour", {})
    problem = unacceptable(behaviour, profile)
    if problem:
        raise Refusal(
            422,
            f"required_behaviour refused: {problem}",
            _handshake_rejected(connection, now, problem, correlation_id),
        )
    negotiated = _negotiated(behaviour, profile)
    return _handshaken(connection, negotiated, now, correlation_id, initiated_by="FP", ack=None)


def unacceptable(behaviour: dict[str, Any], profile: Profile) -> str | None:
    """Why a required behaviour cannot be honoured, or None. Our profile's measurement
    configuration must be among those the CP accepts (an empty list accepts any)."""
    interval = behaviour.get("heartbeat_interval")
    if interval is not None and not (
        MIN_HEARTBEAT_INTERVAL <= float(interval) <= MAX_HEARTBEAT_INTERVAL
    ):
        return (
            f"heartbeat_interval {interval} s is outside "
            f"{MIN_HEARTBEAT_INTERVAL:g}..{MAX_HEARTBEAT_INTERVAL:g} s"
        )
    wanted = behaviour.get("measurement_configuration") or []
    if wanted and not set(wanted) & set(profile.measurement_configuration):
        return (
            f"measurement_configuration {wanted} does not include this connection's "
            f"{list(profile.measurement_configuration)}"
        )
    return None


def handshake_timed_out(connection: Connection, now: datetime) -> Step:
    """No acknowledgement by the deadline: visible failure, and a retry scheduled."""
    if (
        connection.state is not ConnectionState.HANDSHAKING
        or connection.handshake_deadline is None
        or now < connection.handshake_deadline
    ):
        return Step(connection)
    error = TrackedError(
        ErrorCode.HANDSHAKE_TIMEOUT,
        f"no HandshakeAcknowledge for handshake {connection.handshake_request_id} by its "
        f"deadline {connection.handshake_deadline.isoformat()}",
        now,
    )
    retry_at = now + retry_delay(connection.handshake_attempts)
    failed = replace(
        connection,
        state=ConnectionState.HANDSHAKE_FAILED,
        handshake_request_id=None,
        handshake_deadline=None,
        handshake_retry_at=retry_at,
        last_error=error,
    )
    event = _event(
        "OscpHandshakeTimedOut",
        connection,
        now,
        **error.to_json(),
        retry_at=retry_at.isoformat(),
        attempt=connection.handshake_attempts,
    )
    return Step(failed, (event,))


def retry_handshake(connection: Connection, profile: Profile, now: datetime) -> Step:
    """A failed handshake whose retry time has come is sent again."""
    if (
        connection.state is not ConnectionState.HANDSHAKE_FAILED
        or connection.handshake_retry_at is None
        or now < connection.handshake_retry_at
    ):
        return Step(connection)
    return start_handshake(connection, profile, now, attempt=connection.handshake_attempts + 1)


def retry_delay(attempt: int) -> timedelta:
    """5 s, 10 s, 20 s ... capped at 5 min: a CP that is down is not hammered."""
    delay: timedelta = HANDSHAKE_RETRY_BASE * 2 ** max(0, attempt - 1)
    return min(delay, HANDSHAKE_RETRY_CAP)


def acknowledge_failed(connection: Connection, now: datetime, reason: str) -> Step:
    """Our HandshakeAcknowledge could not be delivered: the CP never learnt we agreed."""
    error = TrackedError(ErrorCode.ACKNOWLEDGE_UNDELIVERABLE, reason, now)
    failed = replace(
        connection,
        state=ConnectionState.HANDSHAKE_FAILED,
        next_heartbeat_at=None,
        last_error=error,
        handshake_retry_at=now + retry_delay(connection.handshake_attempts + 1),
    )
    return Step(failed, (_event("OscpHandshakeFailed", connection, now, **error.to_json()),))


def handshake_undeliverable(connection: Connection, now: datetime, reason: str) -> Step:
    """Our Handshake could not be delivered at all: fail now rather than at the deadline."""
    if connection.state is not ConnectionState.HANDSHAKING:
        return Step(connection)
    error = TrackedError(ErrorCode.HANDSHAKE_UNDELIVERABLE, reason, now)
    retry_at = now + retry_delay(connection.handshake_attempts)
    failed = replace(
        connection,
        state=ConnectionState.HANDSHAKE_FAILED,
        handshake_request_id=None,
        handshake_deadline=None,
        handshake_retry_at=retry_at,
        last_error=error,
    )
    event = _event("OscpHandshakeFailed", connection, now, **error.to_json())
    return Step(failed, (event,))


def _negotiated(behaviour: dict[str, Any], profile: Profile) -> Negotiated:
    interval = behaviour.get("heartbeat_interval")
    return Negotiated(
        heartbeat_interval_seconds=float(interval) if interval is not None else None,
        measurement_configuration=tuple(behaviour.get("measurement_configuration") or ()),
        peer_heartbeat_interval_seconds=profile.heartbeat_interval_seconds,
    )


def _handshaken(
    connection: Connection,
    negotiated: Negotiated,
    now: datetime,
    request_id: str,
    *,
    initiated_by: str,
    ack: Outgoing | None,
) -> Step:
    handshaken = replace(
        _cleared(connection, now),
        state=ConnectionState.HANDSHAKEN,
        negotiated=negotiated,
        handshake_request_id=None,
        handshake_deadline=None,
        handshake_retry_at=None,
        handshake_attempts=0,
        next_heartbeat_at=now if negotiated.heartbeat_interval_seconds else None,
        offline_at=None,
    )
    event = _event(
        "OscpHandshaken",
        connection,
        now,
        initiated_by=initiated_by,
        request_id=request_id,
        negotiated=negotiated.to_json(),
    )
    return Step(handshaken, (event,), (ack,) if ack else ())


def _handshake_rejected(
    connection: Connection, now: datetime, problem: str, request_id: str
) -> Step:
    error = TrackedError(ErrorCode.HANDSHAKE_REJECTED, problem, now)
    failed = replace(connection, state=ConnectionState.HANDSHAKE_FAILED, last_error=error)
    event = _event(
        "OscpHandshakeRejected", connection, now, request_id=request_id, **error.to_json()
    )
    return Step(failed, (event,))


# ---------- heartbeats and liveness ----------


def heartbeat_received(connection: Connection, offline_mode_at: datetime, now: datetime) -> Step:
    """The CP is alive until min(its promise, now + 3 x the interval we asked for)."""
    if connection.state not in NEGOTIATED_STATES:
        raise Refusal(409, f"no heartbeat in state {connection.state.value}: handshake first")
    deadline = offline_mode_at
    asked = connection.negotiated.peer_heartbeat_interval_seconds if connection.negotiated else None
    if asked:
        deadline = min(deadline, now + timedelta(seconds=LIVENESS_FACTOR * asked))
    alive = replace(
        connection, state=ConnectionState.ONLINE, last_heartbeat_at=now, offline_at=deadline
    )
    if connection.state is ConnectionState.ONLINE:
        return Step(alive)
    if connection.state is ConnectionState.OFFLINE:
        recovered = _cleared(alive, now) if _is_liveness_error(connection) else alive
        event = _event(
            "OscpConnectionRecovered",
            connection,
            now,
            offline_since=connection.offline_at.isoformat() if connection.offline_at else None,
        )
        return Step(recovered, (event,))
    return Step(alive, (_event("OscpConnectionOnline", connection, now),))


def liveness_expired(connection: Connection, now: datetime) -> Step:
    """ONLINE past the CP's deadline -> OFFLINE, with the last heartbeat and the threshold."""
    if (
        connection.state is not ConnectionState.ONLINE
        or connection.offline_at is None
        or now <= connection.offline_at
    ):
        return Step(connection)
    last = connection.last_heartbeat_at.isoformat() if connection.last_heartbeat_at else "never"
    error = TrackedError(
        ErrorCode.HEARTBEAT_MISSED,
        f"no heartbeat from the CP since {last}; "
        f"its deadline was {connection.offline_at.isoformat()}",
        now,
    )
    offline = replace(connection, state=ConnectionState.OFFLINE, last_error=error)
    event = _event(
        "OscpConnectionOffline",
        connection,
        now,
        last_heartbeat_at=connection.last_heartbeat_at.isoformat()
        if connection.last_heartbeat_at
        else None,
        offline_threshold=connection.offline_at.isoformat(),
        **error.to_json(),
    )
    return Step(offline, (event,))


def heartbeat_due(connection: Connection, now: datetime) -> Step:
    """Our next heartbeat, if the CP asked for them and it is time."""
    interval = connection.negotiated.heartbeat_interval_seconds if connection.negotiated else None
    if (
        connection.state not in NEGOTIATED_STATES
        or not interval
        or connection.next_heartbeat_at is None
        or now < connection.next_heartbeat_at
    ):
        return Step(connection)
    period = timedelta(seconds=interval)
    message = Outgoing(
        "Heartbeat",
        {"offline_mode_at": format_datetime(now + 2 * period + HEARTBEAT_MARGIN)},
        expires_at=now + period,
    )
    return Step(replace(connection, next_heartbeat_at=now + period), (), (message,))


def heartbeat_send_failed(connection: Connection, now: datetime, reason: str) -> Step:
    """Surface a failed heartbeat; the audit event only when the error is new."""
    error = TrackedError(ErrorCode.HEARTBEAT_SEND_FAILED, reason, now)
    failing = replace(connection, last_error=error)
    previous = connection.last_error
    if previous is not None and previous.code is error.code and connection.error_cleared_at is None:
        return Step(failing)
    return Step(failing, (_event("OscpHeartbeatSendFailed", connection, now, **error.to_json()),))


def heartbeat_sent(connection: Connection, now: datetime) -> Step:
    """A delivered heartbeat clears a heartbeat-send error."""
    if (
        connection.last_error is None
        or connection.last_error.code is not ErrorCode.HEARTBEAT_SEND_FAILED
    ):
        return Step(connection)
    return Step(_cleared(connection, now), (_event("OscpHeartbeatSendRecovered", connection, now),))


# ---------- helpers ----------


def _is_liveness_error(connection: Connection) -> bool:
    return (
        connection.last_error is not None
        and connection.last_error.code is ErrorCode.HEARTBEAT_MISSED
    )


def _cleared(connection: Connection, now: datetime) -> Connection:
    if connection.last_error is None:
        return connection
    return replace(connection, last_error=None, error_cleared_at=now)


def _event(event_type: str, connection: Connection, now: datetime, **data: Any) -> NewEvent:
    return NewEvent(
        event_type,
        {
            "configuration_id": connection.configuration_id,
            "from_state": connection.state.value,
            "at": now.isoformat(),
            **data,
        },
    )


def due_at(connection: Connection) -> datetime | None:
    """The earliest moment a timer of this connection needs the lifecycle job."""
    timers = {
        ConnectionState.HANDSHAKING: (connection.handshake_deadline,),
        ConnectionState.HANDSHAKE_FAILED: (connection.handshake_retry_at,),
        ConnectionState.HANDSHAKEN: (connection.next_heartbeat_at,),
        ConnectionState.ONLINE: (connection.next_heartbeat_at, connection.offline_at),
        ConnectionState.OFFLINE: (connection.next_heartbeat_at,),
    }.get(connection.state, ())
    moments = [t for t in timers if t is not None]
    return min(moments) if moments else None


def run_timers(connection: Connection, profile: Profile, now: datetime) -> Step:
    """Every timer that is due, in order: handshake timeout and retry, liveness, our heartbeat."""
    timers: tuple[Callable[[Connection], Step], ...] = (
        lambda c: handshake_timed_out(c, now),
        lambda c: retry_handshake(c, profile, now),
        lambda c: liveness_expired(c, now),
        lambda c: heartbeat_due(c, now),
    )
    result = Step(connection)
    for timer in timers:
        result = then(result, timer(result.connection))
    return result


def then(first: Step, second: Step) -> Step:
    """`second` taken from where `first` left the connection: both steps' events and messages."""
    return Step(second.connection, first.events + second.events, first.outgoing + second.outgoing)
