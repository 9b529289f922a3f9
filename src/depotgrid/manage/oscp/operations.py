"""OSCP connection operations: the lifecycle state machine (`oscp.lifecycle`) applied to stored
connections, in units of work (COR-16, COR-17, COR-18, COR-34, COR-47).

Every step is applied the same way (`apply`): the connection's read model is saved, its audit
events are appended to the stream `oscp-connection-{id}`, and its messages go to the outbox, all
in the caller's transaction, so a message is persisted before any delivery and together with the
state change that caused it. Lifecycle events have their own stream so that heartbeats going
online and offline never make an operator's edit of the configuration stale.

Three drivers: operator commands (enable, disable), inbound protocol messages (`receive`), and
time (`run_due`, the scheduler's job); plus the outbox's delivery outcomes (`outcome_handlers`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from depotgrid.manage.errors import NotFound
from depotgrid.manage.events.store import NewEvent, RecordedEvent
from depotgrid.manage.oscp import lifecycle, service
from depotgrid.manage.oscp.configuration import (
    ConfigurationState,
    OscpConfiguration,
)
from depotgrid.manage.oscp.connections import ConnectionRepository, InboundRequestRepository
from depotgrid.manage.oscp.inputs import AuthInput, ConfigurationInput
from depotgrid.manage.oscp.lifecycle import Connection, ConnectionState, Profile, Refusal, Step
from depotgrid.manage.oscp.secrets import SecretBox
from depotgrid.manage.outbox import service as outbox
from depotgrid.manage.outbox.handlers import OutcomeHandlers
from depotgrid.manage.outbox.model import OutboxEntry, OutboxState, Outcome
from depotgrid.manage.unit_of_work import UnitOfWork, UnitOfWorkFactory
from depotgrid.oscp.messages import Heartbeat, parse

LIFECYCLE_ACTOR = "oscp-lifecycle"
DUE_BATCH = 500
MAX_HISTORY = 10_000


@dataclass(frozen=True)
class LifecyclePolicy:
    """Deployment-wide settings of every connection's lifecycle."""

    fp_base_url: str
    """This manage's public URL; the CP reaches us at `<fp_base_url>/oscp/fp/2.0`."""
    heartbeat_interval_seconds: float
    """How often we ask each CP to send heartbeats."""
    box: SecretBox
    """Seals the token a CP gives us at registration."""
    handshake_ack_timeout: timedelta = lifecycle.HANDSHAKE_ACK_TIMEOUT

    def profile(self, configuration: OscpConfiguration) -> Profile:
        return Profile(
            fp_base_url=self.fp_base_url,
            heartbeat_interval_seconds=self.heartbeat_interval_seconds,
            measurement_configuration=(configuration.measurement_configuration.value,),
            handshake_ack_timeout=self.handshake_ack_timeout,
        )


def connection_stream(configuration_id: str) -> str:
    return f"oscp-connection-{configuration_id}"


def apply(uow: UnitOfWork, step: Step, *, actor: str = LIFECYCLE_ACTOR) -> Connection:
    """Save the step's connection, append its events, enqueue its messages: one transaction.

    Each event records the state the step left the connection in, so history can show it."""
    connection = step.connection
    now = uow.clock.now()
    ConnectionRepository(uow.connection).save(connection, now)
    if step.events:
        stream = connection_stream(connection.configuration_id)
        version = uow.events.current_version(stream)
        events = [
            NewEvent(e.event_type, {**e.data, "state": connection.state.value}) for e in step.events
        ]
        uow.events.append(stream, version, events, actor=actor, recorded_at=now)
    for message in step.outgoing:
        outbox.enqueue(
            uow,
            destination_id=connection.configuration_id,
            message_type=message.message_type,
            body=message.body,
            correlation_id=message.correlation_id,
            expires_at=message.expires_at,
            request_id=message.request_id,
        )
    return connection


def state_of(configuration: OscpConfiguration, connection: Connection) -> str:
    """What operators see: DISABLED when switched off, else the connection's lifecycle state."""
    if configuration.state is ConfigurationState.DISABLED:
        return ConfigurationState.DISABLED.value
    return connection.state.value


def connection_of(uow: UnitOfWork, configuration_id: str) -> Connection:
    return ConnectionRepository(uow.connection).get(configuration_id)


@dataclass(frozen=True)
class HistoryEntry:
    event: RecordedEvent
    configuration: OscpConfiguration
    """The configuration as it stood after the event."""
    connection_state: ConnectionState
    """The connection's lifecycle state after the event."""


def history(uow: UnitOfWork, configuration_id: str) -> list[HistoryEntry]:
    """The configuration's events and its connection's lifecycle events, in the order they
    happened: edits, enables and disables, registrations, handshakes, going online and offline."""
    configured, _ = service.history(uow, configuration_id, limit=MAX_HISTORY, offset=0)
    lifecycle_events = uow.events.read_stream(
        connection_stream(configuration_id), limit=MAX_HISTORY
    )
    merged = sorted(
        [(event, after) for event, after in configured]
        + [(event, None) for event in lifecycle_events],
        key=lambda pair: pair[0].position,
    )
    entries: list[HistoryEntry] = []
    configuration = configured[0][1]
    state = ConnectionState.CONFIGURED
    for event, after in merged:
        configuration = after or configuration
        if after is None:
            state = ConnectionState(event.data.get("state", state.value))
        entries.append(HistoryEntry(event, configuration, state))
    return entries


# ---------- operator commands ----------


def enable(
    uow: UnitOfWork, actor: str, configuration_id: str, policy: LifecyclePolicy
) -> OscpConfiguration:
    """Switch the connection on and start registration (Register persisted before delivery).

    Without an outbound token we cannot call the CP: the connection then waits, CONFIGURED and
    enabled, for the CP to register with the inbound token.
    """
    was_enabled = service.get(uow, configuration_id).enabled
    configuration = service.enable(uow, actor, configuration_id)
    if was_enabled or configuration.outbound_auth is None:
        return configuration
    repo = ConnectionRepository(uow.connection)
    connection = repo.get(configuration_id, for_update=True)
    token = service.issue_inbound_token(uow, actor, configuration_id)
    now = uow.clock.now()
    apply(uow, lifecycle.enable(connection, policy.profile(configuration), token, now), actor=actor)
    return service.get(uow, configuration_id)


def disable(uow: UnitOfWork, actor: str, configuration_id: str) -> OscpConfiguration:
    """Switch the connection off: no more traffic; queued messages are cancelled at delivery."""
    configuration = service.disable(uow, actor, configuration_id)
    connection = ConnectionRepository(uow.connection).get(configuration_id, for_update=True)
    if connection.state is not ConnectionState.DISABLED:
        apply(uow, lifecycle.disable(connection, uow.clock.now()), actor=actor)
    return configuration


# ---------- inbound protocol messages ----------


@dataclass(frozen=True)
class Inbound:
    """One received OSCP message, authenticated to a configuration."""

    configuration_id: str
    message_type: str
    body: dict[str, Any]
    request_id: str
    correlation_id: str | None
    token: str | None
    """The inbound token it came with (None for an authenticated user)."""


def receive(uow: UnitOfWork, message: Inbound, policy: LifecyclePolicy) -> bool:
    """Process one lifecycle message; False when its X-Request-ID was processed before (the
    caller answers 204 and does nothing). Raises Refusal with the HTTP status to answer; a
    refusal that carries a step has already recorded its audit in this transaction."""
    configuration = service.get(uow, message.configuration_id)
    if not configuration.enabled:
        raise Refusal(403, f"OSCP connection {configuration.id} is disabled")
    now = uow.clock.now()
    requests = InboundRequestRepository(uow.connection)
    if not requests.claim(configuration.id, message.request_id, message.message_type, now):
        return False
    connection = ConnectionRepository(uow.connection).get(configuration.id, for_update=True)
    handler = RECEIVERS[message.message_type]
    try:
        step = handler(uow, configuration, connection, message, policy, now)
    except Refusal as refusal:
        if refusal.step is not None:
            apply(uow, refusal.step)
        raise
    apply(uow, step)
    return True


def _register(
    uow: UnitOfWork,
    configuration: OscpConfiguration,
    connection: Connection,
    message: Inbound,
    policy: LifecyclePolicy,
    now: datetime,
) -> Step:
    """Store the CP's token for our calls; finish our exchange or answer theirs."""
    profile = policy.profile(configuration)
    replying = connection.state is not ConnectionState.REGISTERING
    new_token = (
        service.issue_inbound_token(uow, LIFECYCLE_ACTOR, configuration.id) if replying else ""
    )
    step = lifecycle.register_received(
        connection, profile, message.body, message.request_id, new_token, now
    )
    _store_peer_token(uow, policy, configuration.id, str(message.body["token"]))
    if not replying and message.token is not None:
        service.retire_inbound_tokens(uow, LIFECYCLE_ACTOR, configuration.id, keep=message.token)
    return step


def _handshake(
    uow: UnitOfWork,
    configuration: OscpConfiguration,
    connection: Connection,
    message: Inbound,
    policy: LifecyclePolicy,
    now: datetime,
) -> Step:
    profile = policy.profile(configuration)
    return lifecycle.handshake_received(connection, profile, message.body, message.request_id, now)


def _acknowledge(
    uow: UnitOfWork,
    configuration: OscpConfiguration,
    connection: Connection,
    message: Inbound,
    policy: LifecyclePolicy,
    now: datetime,
) -> Step:
    if not message.correlation_id:
        raise Refusal(422, "X-Correlation-ID is required: the X-Request-ID of our Handshake")
    profile = policy.profile(configuration)
    return lifecycle.acknowledge_received(
        connection, profile, message.body, message.correlation_id, now
    )


def _heartbeat(
    uow: UnitOfWork,
    configuration: OscpConfiguration,
    connection: Connection,
    message: Inbound,
    policy: LifecyclePolicy,
    now: datetime,
) -> Step:
    beat = parse(Heartbeat, message.body)
    return lifecycle.heartbeat_received(connection, beat.offline_mode_at, now)


Receiver = Callable[
    [UnitOfWork, OscpConfiguration, Connection, Inbound, LifecyclePolicy, datetime], Step
]
RECEIVERS: Mapping[str, Receiver] = {
    "Register": _register,
    "Handshake": _handshake,
    "HandshakeAcknowledge": _acknowledge,
    "Heartbeat": _heartbeat,
}
"""The lifecycle messages a Flexibility Provider receives, by schema title."""


def _store_peer_token(
    uow: UnitOfWork, policy: LifecyclePolicy, configuration_id: str, token: str
) -> None:
    """The token a CP sends in Register is the one we use on it from now on (PROTOCOL.md §2)."""
    configuration = service.get(uow, configuration_id)
    if (
        configuration.outbound_auth is not None
        and configuration.outbound_auth.kind.value != "token"
    ):
        return  # an OAuth2 partner authenticates our calls with bearer tokens, not this one
    change = ConfigurationInput(fields={}, outbound_auth=AuthInput(kind="token", token=token))
    service.update(uow, LIFECYCLE_ACTOR, policy.box, configuration_id, change)


# ---------- time ----------


def run_due(uows: UnitOfWorkFactory, policy: LifecyclePolicy) -> int:
    """The lifecycle job: every connection whose timers are due, in one transaction."""
    with uows.write() as uow:
        now = uow.clock.now()
        repo = ConnectionRepository(uow.connection)
        changed = 0
        for configuration_id in repo.due(now, limit=DUE_BATCH):
            try:
                configuration = service.get(uow, configuration_id)
            except NotFound:
                continue
            if not configuration.enabled:
                continue
            connection = repo.get(configuration_id, for_update=True)
            step = lifecycle.run_timers(connection, policy.profile(configuration), now)
            if step.connection != connection or step.outgoing:
                apply(uow, step)
                changed += 1
        uow.commit()
    return changed


# ---------- delivery outcomes ----------


def outcome_handlers(policy: LifecyclePolicy) -> OutcomeHandlers:
    """The outbox outcome table for lifecycle messages."""
    return {
        "Register": [partial(_register_outcome, policy=policy)],
        "Handshake": [_handshake_outcome],
        "HandshakeAcknowledge": [_acknowledge_outcome],
        "Heartbeat": [_heartbeat_outcome],
    }


def _register_outcome(
    uow: UnitOfWork, entry: OutboxEntry, outcome: Outcome, *, policy: LifecyclePolicy
) -> None:
    connection = _locked(uow, entry)
    if connection is None:
        return
    now = uow.clock.now()
    if outcome.state is OutboxState.DELIVERED:
        if entry.correlation_id is None:
            return  # our initiation arrived; the CP's reply Register completes the exchange
        configuration = service.get(uow, entry.destination_id)
        keep = str(entry.body["token"])
        service.retire_inbound_tokens(uow, LIFECYCLE_ACTOR, entry.destination_id, keep=keep)
        apply(
            uow, lifecycle.reply_register_delivered(connection, policy.profile(configuration), now)
        )
        return
    refused = outcome.attempt is not None and outcome.attempt.status is not None
    apply(
        uow,
        lifecycle.register_failed(
            connection, now, _reason(outcome), final=outcome.final, refused=refused
        ),
    )


def _handshake_outcome(uow: UnitOfWork, entry: OutboxEntry, outcome: Outcome) -> None:
    connection = _locked(uow, entry)
    if (
        connection is None
        or not outcome.final
        or outcome.state is OutboxState.DELIVERED
        or connection.handshake_request_id != entry.request_id
    ):
        return
    apply(uow, lifecycle.handshake_undeliverable(connection, uow.clock.now(), _reason(outcome)))


def _acknowledge_outcome(uow: UnitOfWork, entry: OutboxEntry, outcome: Outcome) -> None:
    connection = _locked(uow, entry)
    if connection is None or not outcome.final or outcome.state is OutboxState.DELIVERED:
        return
    apply(uow, lifecycle.acknowledge_failed(connection, uow.clock.now(), _reason(outcome)))


def _heartbeat_outcome(uow: UnitOfWork, entry: OutboxEntry, outcome: Outcome) -> None:
    connection = _locked(uow, entry)
    if connection is None or outcome.state in (OutboxState.EXPIRED, OutboxState.CANCELLED):
        return
    now = uow.clock.now()
    if outcome.state is OutboxState.DELIVERED:
        step = lifecycle.heartbeat_sent(connection, now)
    else:
        step = lifecycle.heartbeat_send_failed(connection, now, _reason(outcome))
    if step.connection != connection:
        apply(uow, step)


def _locked(uow: UnitOfWork, entry: OutboxEntry) -> Connection | None:
    """The entry's connection, locked; None when it was disabled meanwhile."""
    connection = ConnectionRepository(uow.connection).get(entry.destination_id, for_update=True)
    return None if connection.state is ConnectionState.DISABLED else connection


def _reason(outcome: Outcome) -> str:
    attempt = outcome.attempt
    status = f"HTTP {attempt.status}" if attempt and attempt.status is not None else None
    parts = [p for p in (status, outcome.reason) if p]
    return ": ".join(parts) or outcome.state.value
