"""The OSCP Capacity Provider session lifecycle (design §3 OscpCapacityProviderSession and
OscpNegotiatedBehaviour, §4 invariants, §9 workflows, §10 failure rules).

    offline --send-handshake--> awaiting_handshake_acknowledge --FP ack (correlated)--> online
    any state --FP Handshake (204)--> accepting_handshake --our ack delivered (2xx)--> online
    online --outbound delivery fails--> degraded --next delivery succeeds--> online
    online|degraded --peer liveness expires | 3 failed deliveries in a row--> offline
    accepting|awaiting --acknowledgement deadline passes--> offline (OscpSessionTimedOut)
    any --run stopped | re-registration--> offline

Negotiated behaviour. `fp_heartbeat_interval` is what the CP requires of the FP (sent in the CP's
Handshake or HandshakeAcknowledge). `cp_heartbeat_interval` is the interval the CP sends at: the
FP's `heartbeat_interval` when the FP stated one, otherwise the CP's own (a symmetric default,
so a peer that acknowledges with an empty behaviour, as SN does, still gets heartbeats).

Timers, all in the run's logical time:
- heartbeats: the first is due as the session comes online, then every `cp_heartbeat_interval`;
  each carries `offline_mode_at = sent + 2 x interval + 1 s` (PROTOCOL.md §4: at least twice the
  interval plus the scheduler's granularity).
- liveness: on going online `peer_offline_at = now + 3 x fp_heartbeat_interval` (grace for the
  first beat); each FP heartbeat sets it to min(offline_mode_at, now + 3 x fp_heartbeat_interval)
  (PROTOCOL.md §8.4), or to offline_mode_at when the CP required no heartbeats.
- handshake: an acknowledgement deadline `handshake_ack_timeout_seconds` after the handshake.

Recovery after offline is explicit (§10 rule 5): nothing here leaves `offline` except a new
handshake in either direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

HEARTBEAT_MARGIN_FACTOR = 2.0
HEARTBEAT_MARGIN_EXTRA = timedelta(seconds=1)
LIVENESS_FACTOR = 3.0
FAILURES_TO_OFFLINE = 3
DEFAULT_ACK_TIMEOUT_SECONDS = 30.0
MAX_HEARTBEAT_INTERVAL = 24 * 3600.0


class SessionState(StrEnum):
    OFFLINE = "offline"
    ACCEPTING_HANDSHAKE = "accepting_handshake"
    AWAITING_HANDSHAKE_ACKNOWLEDGE = "awaiting_handshake_acknowledge"
    ONLINE = "online"
    DEGRADED = "degraded"


class RegistrationState(StrEnum):
    UNREGISTERED = "unregistered"
    PENDING = "pending"
    REGISTERED = "registered"
    FAILED = "failed"


LIVE = frozenset({SessionState.ONLINE, SessionState.DEGRADED})
HANDSHAKING = frozenset(
    {SessionState.ACCEPTING_HANDSHAKE, SessionState.AWAITING_HANDSHAKE_ACKNOWLEDGE}
)


@dataclass(frozen=True)
class SessionEvent:
    event_type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Session:
    id: str
    run_id: str
    managed_scope_id: str
    remote_configuration_id: str
    group_id: str
    fp_base_url: str
    measurement_publication_mode: str
    measurement_configuration: tuple[str, ...]
    scenario_preset: str
    state: SessionState
    state_reason: str
    state_changed_at: datetime
    registration_state: RegistrationState
    registration_request_id: str | None
    fp_token: str | None
    oauth_client_id: str | None
    oauth_token_ttl_seconds: int
    fp_heartbeat_interval: float | None
    cp_heartbeat_interval: float | None
    fp_required_measurement_configuration: tuple[str, ...] | None
    handshake_request_id: str | None
    handshake_deadline_at: datetime | None
    handshake_ack_timeout_seconds: float
    next_heartbeat_at: datetime | None
    last_heartbeat_sent_at: datetime | None
    last_heartbeat_received_at: datetime | None
    peer_offline_at: datetime | None
    consecutive_failures: int
    last_forecast: dict[str, Any] | None
    version: int
    events: tuple[SessionEvent, ...] = field(default=(), compare=False)
    """Events produced by the transition that built this value (not persisted on the row)."""

    def emitting(self, event_type: str, **data: Any) -> Session:
        return replace(self, events=(*self.events, SessionEvent(event_type, data)))


def _moved(session: Session, state: SessionState, reason: str, now: datetime) -> Session:
    if session.state is state and session.state_reason == reason:
        return session
    changed = replace(session, state=state, state_reason=reason, state_changed_at=now)
    return changed.emitting(
        "ProjectionStateChanged",
        from_state=session.state.value,
        to_state=state.value,
        reason=reason,
    )


def go_offline(session: Session, now: datetime, reason: str) -> Session:
    """Offline: heartbeats stop, timers are cleared; history is kept (§10 rule 1)."""
    stopped = replace(
        session,
        next_heartbeat_at=None,
        peer_offline_at=None,
        handshake_deadline_at=None,
        handshake_request_id=None,
    )
    return _moved(stopped, SessionState.OFFLINE, reason, now)


def heartbeat_deadline(sent_at: datetime, interval: float) -> datetime:
    """The `offline_mode_at` the CP promises in a heartbeat sent at `sent_at`."""
    return sent_at + timedelta(seconds=interval * HEARTBEAT_MARGIN_FACTOR) + HEARTBEAT_MARGIN_EXTRA


def begin_cp_handshake(
    session: Session,
    *,
    request_id: str,
    now: datetime,
    heartbeat_interval: float | None,
    measurement_configuration: tuple[str, ...],
    ack_timeout_seconds: float,
) -> Session:
    """The CP posts a Handshake: wait for the FP's correlated acknowledgement."""
    waiting = replace(
        session,
        fp_heartbeat_interval=heartbeat_interval,
        measurement_configuration=measurement_configuration,
        handshake_request_id=request_id,
        handshake_ack_timeout_seconds=ack_timeout_seconds,
        handshake_deadline_at=now + timedelta(seconds=ack_timeout_seconds),
        next_heartbeat_at=None,
        peer_offline_at=None,
    )
    return _moved(
        waiting,
        SessionState.AWAITING_HANDSHAKE_ACKNOWLEDGE,
        "handshake sent; waiting for the FP's HandshakeAcknowledge",
        now,
    ).emitting("OscpHandshakeSent", request_id=request_id)


def handshake_delivery_failed(
    session: Session, request_id: str, detail: str, now: datetime
) -> Session:
    """The CP's Handshake was refused or never arrived: offline, unless already superseded."""
    if (
        session.state is not SessionState.AWAITING_HANDSHAKE_ACKNOWLEDGE
        or session.handshake_request_id != request_id
    ):
        return session
    return go_offline(session, now, f"handshake not delivered: {detail}")


def _go_online(session: Session, now: datetime, cp_interval: float | None, why: str) -> Session:
    fp_interval = session.fp_heartbeat_interval
    online = replace(
        session,
        cp_heartbeat_interval=cp_interval,
        handshake_request_id=None,
        handshake_deadline_at=None,
        next_heartbeat_at=now if cp_interval else None,
        peer_offline_at=(
            now + timedelta(seconds=fp_interval * LIVENESS_FACTOR) if fp_interval else None
        ),
        consecutive_failures=0,
    )
    return _moved(online, SessionState.ONLINE, why, now)


def acknowledgement_received(
    session: Session,
    *,
    heartbeat_interval: float | None,
    measurement_configuration: tuple[str, ...] | None,
    now: datetime,
) -> Session:
    """The FP acknowledged the CP's Handshake (state and correlation already checked)."""
    with_fp = replace(
        session,
        fp_required_measurement_configuration=(
            measurement_configuration
            if measurement_configuration is not None
            else session.fp_required_measurement_configuration
        ),
    )
    interval = (
        heartbeat_interval if heartbeat_interval is not None else session.fp_heartbeat_interval
    )
    return _go_online(with_fp, now, interval, "handshake acknowledged by the FP")


def handshake_received(
    session: Session,
    *,
    request_id: str,
    heartbeat_interval: float | None,
    measurement_configuration: tuple[str, ...],
    now: datetime,
) -> Session:
    """The FP posted a Handshake: acknowledge it (the acknowledgement is sent after the 204)."""
    accepting = replace(
        session,
        cp_heartbeat_interval=(
            heartbeat_interval if heartbeat_interval is not None else session.fp_heartbeat_interval
        ),
        fp_required_measurement_configuration=measurement_configuration,
        handshake_request_id=request_id,
        handshake_deadline_at=now + timedelta(seconds=session.handshake_ack_timeout_seconds),
        next_heartbeat_at=None,
        peer_offline_at=None,
    )
    return _moved(
        accepting,
        SessionState.ACCEPTING_HANDSHAKE,
        "handshake received from the FP; acknowledging",
        now,
    ).emitting("OscpHandshakeReceived", request_id=request_id)


def acknowledgement_delivered(
    session: Session, *, handshake_request_id: str, ok: bool, detail: str, now: datetime
) -> Session:
    """The outcome of the CP's HandshakeAcknowledge: online when the FP accepted it."""
    if (
        session.state is not SessionState.ACCEPTING_HANDSHAKE
        or session.handshake_request_id != handshake_request_id
    ):
        return session
    if not ok:
        return go_offline(session, now, f"handshake acknowledgement not accepted: {detail}")
    return _go_online(
        session, now, session.cp_heartbeat_interval, "handshake acknowledged; FP accepted"
    ).emitting("OscpHandshakeAcknowledgeSent", correlation_id=handshake_request_id)


def heartbeat_received(session: Session, offline_mode_at: datetime, now: datetime) -> Session:
    """An accepted FP heartbeat refreshes liveness."""
    deadline = offline_mode_at
    if session.fp_heartbeat_interval:
        deadline = min(
            offline_mode_at,
            now + timedelta(seconds=session.fp_heartbeat_interval * LIVENESS_FACTOR),
        )
    return replace(session, last_heartbeat_received_at=now, peer_offline_at=deadline)


def heartbeat_claimed(session: Session, now: datetime) -> Session:
    """A due heartbeat is being sent: schedule the next one without drift, or from now if the
    schedule fell behind by more than an interval (after a pause, a tick or a restart)."""
    interval = session.cp_heartbeat_interval
    if not interval or session.next_heartbeat_at is None:
        return replace(session, next_heartbeat_at=None)
    step = timedelta(seconds=interval)
    following = session.next_heartbeat_at + step
    if following <= now:
        following = now + step
    return replace(session, next_heartbeat_at=following, last_heartbeat_sent_at=now)


def delivery_outcome(session: Session, *, ok: bool, detail: str, now: datetime) -> Session:
    """The outcome of a heartbeat or forecast delivery (§10 "BetterFleet unreachable")."""
    if session.state not in LIVE:
        return session
    if ok:
        healthy = replace(session, consecutive_failures=0)
        if session.state is SessionState.DEGRADED:
            return _moved(healthy, SessionState.ONLINE, "deliveries succeed again", now)
        return healthy
    failures = session.consecutive_failures + 1
    failing = replace(session, consecutive_failures=failures)
    if failures >= FAILURES_TO_OFFLINE:
        return go_offline(
            failing, now, f"{failures} deliveries in a row failed; last: {detail}"
        ).emitting("OscpSessionTimedOut", cause="fp_unreachable", detail=detail)
    return _moved(failing, SessionState.DEGRADED, f"delivery failed: {detail}", now)


def expired(session: Session, now: datetime) -> Session | None:
    """The session after its liveness or acknowledgement deadline passed, or None."""
    if session.state in LIVE and session.peer_offline_at and now >= session.peer_offline_at:
        since = session.last_heartbeat_received_at
        reason = (
            f"no heartbeat from the FP since {since.isoformat() if since else 'going online'}; "
            f"liveness expired at {session.peer_offline_at.isoformat()}"
        )
        return go_offline(session, now, reason).emitting(
            "OscpSessionTimedOut", cause="liveness_expired"
        )
    if (
        session.state in HANDSHAKING
        and session.handshake_deadline_at
        and now >= session.handshake_deadline_at
    ):
        what = (
            "no HandshakeAcknowledge from the FP"
            if session.state is SessionState.AWAITING_HANDSHAKE_ACKNOWLEDGE
            else "the CP's HandshakeAcknowledge was not completed"
        )
        reason = f"handshake timed out: {what} within {session.handshake_ack_timeout_seconds:g} s"
        return go_offline(session, now, reason).emitting(
            "OscpSessionTimedOut", cause="handshake_timeout", state=session.state.value
        )
    return None


def reset_for_registration(session: Session, now: datetime) -> Session:
    """Re-registration resets the handshake state (PROTOCOL.md §2)."""
    reset = replace(
        session,
        cp_heartbeat_interval=None,
        fp_required_measurement_configuration=None,
        consecutive_failures=0,
    )
    if session.state is SessionState.OFFLINE:
        return reset
    return go_offline(reset, now, "registration renewed; handshake state reset")
