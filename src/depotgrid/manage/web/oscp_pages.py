"""OSCP pages (story "OSCP Binding and Connection Profile Management"; COR-16, COR-17, COR-18,
COR-34, COR-47): the list of configurations with their connection state, a detail page with the
live Connection card, the Outbound tab (publications with their attempts) and the History tab
(configuration and lifecycle events), create and edit forms, enable, disable and inbound-token
rotation, under `/connections` (`/oscp` is the protocol's own path, COR-45).

Every logged-in role may read; changes need `oscp:configure`, and their buttons are hidden
without it. Microgrid and managed scope are chosen from the canonical microgrid read API (the
scope select follows the microgrid through htmx). Secrets are write-only: forms never show
them, and the inbound token is shown once, on the page that answers the create or rotation.

Live state refreshes by htmx polling of small partial routes (`/connections/live`,
`/connections/{id}/live`, `/connections/{id}/outbound/live`), every `LIVE_SECONDS`: only the
live part is swapped, so scroll, open rows and forms stay put.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from depotgrid.manage.api.deps import Uow
from depotgrid.manage.api.oscp_configurations import Secrets
from depotgrid.manage.auth.model import Permission, User
from depotgrid.manage.errors import Conflict, FieldError, ValidationFailed
from depotgrid.manage.events.store import RecordedEvent
from depotgrid.manage.legacy.model import Depot
from depotgrid.manage.microgrid import service as microgrids
from depotgrid.manage.microgrid.model import MicrogridStatus
from depotgrid.manage.oscp import lifecycle, operations, service
from depotgrid.manage.oscp.configuration import (
    CREATED,
    DISABLED,
    ENABLED,
    FIELDS,
    INBOUND_TOKEN_ISSUED,
    INBOUND_TOKENS_RETIRED,
    PROFILES,
    PUBLICATION_INTERVALS,
    SUPPORTED_VERSIONS,
    UPDATED,
    AuthKind,
    OscpConfiguration,
    PublicationMode,
    encode,
)
from depotgrid.manage.oscp.connections import ConnectionRepository
from depotgrid.manage.oscp.inputs import AuthInput, ConfigurationInput, with_defaults
from depotgrid.manage.oscp.lifecycle import Connection, ConnectionState, ErrorCode
from depotgrid.manage.outbox import service as outbox
from depotgrid.manage.outbox.model import Attempt, OutboxState
from depotgrid.manage.outbox.service import Publication
from depotgrid.manage.unit_of_work import UnitOfWork
from depotgrid.manage.web.balancing_views import Moment, age_words
from depotgrid.manage.web.forms import Choices, FormField, FormView, display_value, form_view
from depotgrid.manage.web.page_route import PageRoute
from depotgrid.manage.web.rendering import render
from depotgrid.manage.web.session import PageUser, PermissionDenied, PostedForm, flash
from depotgrid.manage.web.views import DEFAULT_LIMIT, Pager, paging
from depotgrid.oscp.enums import MeasurementConfiguration

router = APIRouter(route_class=PageRoute, include_in_schema=False)

CRUMBS = [("OSCP", "/connections")]
LIVE_SECONDS = 2
"""How often the live parts of the OSCP pages (connection card, outbound list, list rows) poll."""
RECENT_PUBLICATIONS = 20
"""Publications read for the connection card: the latest, and the latest Register and Heartbeat."""
STATE_TONES = {
    ConnectionState.CONFIGURED.value: "grey",
    ConnectionState.DISABLED.value: "grey",
    ConnectionState.REGISTERING.value: "blue",
    ConnectionState.REGISTERED.value: "blue",
    ConnectionState.HANDSHAKING.value: "blue",
    ConnectionState.HANDSHAKEN.value: "blue",
    ConnectionState.ONLINE.value: "green",
    ConnectionState.OFFLINE.value: "red",
    ConnectionState.REGISTRATION_FAILED.value: "red",
    ConnectionState.HANDSHAKE_FAILED.value: "red",
}
"""The operator-facing state (`operations.state_of`) in the UI's colours (shared/UI.md)."""
STATE_WORDS = {
    ConnectionState.CONFIGURED.value: "Saved; nothing has been sent to the Capacity Provider.",
    ConnectionState.REGISTERING.value: "Registering: our Register, then the Capacity "
    "Provider's reply Register.",
    ConnectionState.REGISTERED.value: "Registered; the handshake starts next.",
    ConnectionState.REGISTRATION_FAILED.value: "Registration failed; no handshake until it "
    "registers.",
    ConnectionState.HANDSHAKING.value: "Handshake sent; waiting for the Capacity Provider's "
    "acknowledgement.",
    ConnectionState.HANDSHAKEN.value: "Behaviour negotiated; waiting for the Capacity "
    "Provider's first heartbeat.",
    ConnectionState.HANDSHAKE_FAILED.value: "Handshake failed; not ready for business messages.",
    ConnectionState.ONLINE.value: "Live: the Capacity Provider's heartbeats arrive in time.",
    ConnectionState.OFFLINE.value: "No heartbeat from the Capacity Provider before its threshold.",
    ConnectionState.DISABLED.value: "Switched off; no protocol traffic is sent or accepted.",
}
ERROR_LABELS = {
    ErrorCode.REGISTRATION_UNDELIVERABLE: "Our Register could not be delivered",
    ErrorCode.REGISTRATION_REFUSED: "The Capacity Provider refused our Register",
    ErrorCode.HANDSHAKE_REJECTED: "A handshake's required behaviour was refused",
    ErrorCode.HANDSHAKE_TIMEOUT: "Our handshake was not acknowledged in time",
    ErrorCode.HANDSHAKE_UNDELIVERABLE: "Our handshake could not be delivered",
    ErrorCode.ACKNOWLEDGE_UNDELIVERABLE: "Our handshake acknowledgement could not be delivered",
    ErrorCode.HEARTBEAT_MISSED: "The Capacity Provider's heartbeats stopped",
    ErrorCode.HEARTBEAT_SEND_FAILED: "Our heartbeat could not be delivered",
}
PUBLICATION_TONES = {
    OutboxState.PENDING: "blue",
    OutboxState.RETRYING: "yellow",
    OutboxState.DELIVERED: "green",
    OutboxState.DEAD: "red",
    OutboxState.EXPIRED: "yellow",
    OutboxState.CANCELLED: "grey",
}
LIFECYCLE_LABELS = {
    "OscpRegistrationStarted": ("Registration started", "blue"),
    "OscpRegistered": ("Registered", "blue"),
    "OscpRegistrationFailed": ("Registration failed", "red"),
    "OscpHandshakeSent": ("Handshake sent", "blue"),
    "OscpHandshaken": ("Handshaken", "blue"),
    "OscpHandshakeRejected": ("Handshake rejected", "red"),
    "OscpHandshakeTimedOut": ("Handshake timed out", "red"),
    "OscpHandshakeFailed": ("Handshake failed", "red"),
    "OscpConnectionOnline": ("Online", "green"),
    "OscpConnectionOffline": ("Offline", "red"),
    "OscpConnectionRecovered": ("Recovered", "green"),
    "OscpHeartbeatSendFailed": ("Heartbeat send failed", "yellow"),
    "OscpHeartbeatSendRecovered": ("Heartbeat send recovered", "green"),
    "OscpConnectionDisabled": ("Connection stopped", "grey"),
}
"""Connection lifecycle events (stream `oscp-connection-{id}`), in words and colour."""
UP_STATES = frozenset({ConnectionState.HANDSHAKEN.value, ConnectionState.ONLINE.value})
"""States that can be degraded: up, but with a tracked error (our heartbeats are refused)."""
INITIATORS = {"FP": "started by depotgrid", "CP": "started by the Capacity Provider"}
MAX_MICROGRIDS = 200
AUTH_FIELDS = ("token", "token_url", "client_id", "client_secret", "scope")
SECRET_FIELDS = frozenset({"token", "client_secret", "static_headers"})
"""Inputs never written back into a page, not even after a failed save."""
NOTES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    ENABLED: lambda _: "switched on",
    DISABLED: lambda _: "switched off: its group id and managed scope were released",
    INBOUND_TOKEN_ISSUED: lambda data: f"credential {data['credential_id'][:8]}… issued",
    INBOUND_TOKENS_RETIRED: lambda data: f"{len(data['credential_ids'])} credential(s) retired",
}
"""What an event without field changes did, in words."""
EVENT_LABELS = {
    CREATED: ("Created", "green"),
    UPDATED: ("Edited", "blue"),
    ENABLED: ("Enabled", "blue"),
    DISABLED: ("Disabled", "grey"),
    INBOUND_TOKEN_ISSUED: ("Inbound token issued", "blue"),
    INBOUND_TOKENS_RETIRED: ("Inbound tokens retired", "grey"),
}
FIELD_LABELS = {
    "name": "Name",
    "group_id": "Group id",
    "microgrid_id": "Microgrid",
    "managed_scope_id": "Managed scope",
    "endpoint_base_url": "Endpoint base URL",
    "oscp_version": "OSCP version",
    "profile": "Profile",
    "measurement_publication_mode": "Measurement publication mode",
    "measurement_configuration": "Measurement configuration",
    "measurement_publication_interval_seconds": "Publication interval",
    "reporting_asset_id": "Reporting asset id",
    "outbound_auth": "Outbound authentication",
    "static_headers": "Static headers",
}

SCOPE_FIELD = FormField(
    "managed_scope_id",
    "Managed scope",
    "select",
    choices="scopes",
    hint="The grid connection the partner's group limits; choose the microgrid first.",
)
FORM_FIELDS = (
    FormField("name", "Name", required=False, hint="How operators know it, e.g. Vector — Leeds."),
    FormField("microgrid_id", "Microgrid", "select", choices="microgrids", hint="By depot."),
    SCOPE_FIELD,
    FormField("group_id", "Group id", hint="The partner's capacity group id, e.g. vector-leeds-1."),
    FormField(
        "endpoint_base_url",
        "Endpoint base URL",
        hint="The Capacity Provider's OSCP 2.0 base URL, e.g. https://cp.example.com/oscp/cp/2.0",
        wide=True,
    ),
    FormField("oscp_version", "OSCP version", "select", choices="versions"),
    FormField("profile", "Profile", "select", choices="profiles"),
    FormField(
        "measurement_publication_mode",
        "Measurement publication mode",
        "select",
        choices="modes",
    ),
    FormField(
        "measurement_configuration",
        "Measurement configuration",
        "select",
        choices="measurement_configurations",
    ),
    FormField(
        "measurement_publication_interval_seconds",
        "Publication interval",
        "select",
        choices="intervals",
        hint="Windows align to the clock hour.",
    ),
    FormField(
        "reporting_asset_id",
        "Reporting asset id",
        required=False,
        hint="Required before enabling in ASSET mode.",
    ),
    FormField("auth_kind", "Kind", "select", choices="auth_kinds"),
    FormField(
        "token", "Token", required=False, hint="Kind Token: the token the Capacity Provider issued."
    ),
    FormField("token_url", "Token URL", required=False, hint="Kind OAuth2: the token endpoint."),
    FormField("client_id", "Client id", required=False, hint="Kind OAuth2."),
    FormField("client_secret", "Client secret", required=False, hint="Kind OAuth2."),
    FormField("scope", "Scope", required=False, hint="Kind OAuth2: scopes, space-separated."),
    FormField(
        "static_headers",
        "Static headers",
        "json",
        required=False,
        hint="One 'Name: value' per line, e.g. X-Tenant: leeds.",
        wide=True,
    ),
)
FORM_NAMES = frozenset(spec.name for spec in FORM_FIELDS)


def page_oscp_configurer(user: PageUser) -> User:
    """The logged-in user, if their role may create and change OSCP configurations."""
    if not user.can(Permission.OSCP_CONFIGURE):
        raise PermissionDenied(
            f"Your role ({user.role.value}) may view OSCP configurations but not change them. "
            "Ask a manager or an administrator."
        )
    return user


Configurer = Annotated[User, Depends(page_oscp_configurer)]


# --- View models ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Binding:
    """What a configuration's ids point at, for people: depot, microgrid status, scope."""

    depot_id: str | None
    depot_name: str
    timezone: str
    microgrid_active: bool
    scope_name: str
    circuit_id: str | None


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class ErrorBox:
    """The latest tracked connection error (COR-34): `none`, `error` or `cleared`."""

    kind: str
    code: str = ""
    label: str = ""
    message: str = ""
    at: Moment | None = None
    cleared_at: Moment | None = None


@dataclass(frozen=True)
class Row:
    configuration: OscpConfiguration
    binding: Binding
    state: str
    tone: str
    last_heartbeat: Moment | None
    error: ErrorBox


@dataclass(frozen=True)
class HistoryRow:
    number: int
    anchor: str
    stream: str
    """`configuration` (edits, enable, disable, tokens) or `connection` (the lifecycle)."""
    version: int
    """The configuration's version after the event."""
    time: str
    iso_time: str
    actor: str
    event_type: str
    label: str
    tone: str
    state: str
    """The operator-facing state after the event."""
    state_tone: str
    changes: list[Change]
    note: str
    configuration: list[tuple[str, str]]


@dataclass(frozen=True)
class AttemptView:
    number: int
    started: Moment
    duration_ms: int
    status: str
    tone: str
    error: str | None


@dataclass(frozen=True)
class PublicationView:
    """One outbound OSCP message of the connection, with its attempts and redacted body."""

    id: str
    message_type: str
    state: str
    tone: str
    request_id: str
    correlation_id: str | None
    created: Moment
    delivered: Moment | None
    next_attempt: Moment | None
    expires: Moment | None
    attempt_count: int
    last_status: str
    last_error: str | None
    body: str
    attempts: list[AttemptView]


@dataclass(frozen=True)
class NegotiatedView:
    heartbeat: str
    """How often the Capacity Provider wants our heartbeats."""
    measurement: str
    asked: str
    """How often we asked the Capacity Provider for heartbeats."""


@dataclass(frozen=True)
class Notice:
    """What the state means now: what failed, what happens next, what an operator can do."""

    tone: str
    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class EventView:
    label: str
    tone: str
    event_type: str
    at: Moment
    note: str


@dataclass(frozen=True)
class ConnectionCard:
    """The live lifecycle of one connection (COR-16, COR-17, COR-18, COR-34, COR-47)."""

    configuration_id: str
    state: str
    tone: str
    words: str
    enabled: bool
    degraded: bool
    """Up, but with a tracked error (e.g. our heartbeats are refused)."""
    version: str
    registered: Moment | None
    negotiated: NegotiatedView | None
    last_heartbeat: Moment | None
    offline_threshold: Moment | None
    next_heartbeat: Moment | None
    last_sent_heartbeat: PublicationView | None
    error: ErrorBox
    notice: Notice | None
    latest: PublicationView | None
    latest_event: EventView | None
    refreshed: Moment
    zone: str


def binding_of(uow: UnitOfWork, configuration: OscpConfiguration) -> Binding:
    microgrid = microgrids.repository(uow).get(configuration.microgrid_id)
    depot = uow.legacy.get(Depot, microgrid.depot_id) if microgrid else None
    nodes = {n.id: n for n in microgrids.nodes(uow, microgrid.id)} if microgrid else {}
    node = nodes.get(configuration.managed_scope_id)
    return Binding(
        depot_id=depot.id if depot else None,
        depot_name=depot.name if depot else "(depot deleted)",
        timezone=depot.timezone if depot else "UTC",
        microgrid_active=bool(microgrid and microgrid.active),
        scope_name=node.name if node else "(scope removed)",
        circuit_id=node.circuit_id if node else None,
    )


def shown(name: str, value: Any) -> str:
    """A field's stored (JSON) form for people; secrets only as 'set'."""
    if name == "outbound_auth":
        if value is None:
            return "none yet"
        if value["kind"] == AuthKind.TOKEN:
            return "token (secret set)"
        scope = f", scope {value['scope']}" if value["scope"] else ""
        return (
            f"OAuth2 client credentials: client {value['client_id']} at "
            f"{value['token_url']}{scope} (secret set)"
        )
    if name == "static_headers":
        return ", ".join(value["names"]) + " (values set)" if value["names"] else "none"
    if name == "measurement_publication_interval_seconds":
        return _interval(value)
    return display_value(value) or "—"


def _interval(seconds: int) -> str:
    return f"{seconds // 60} min ({seconds} s)"


def history_rows(
    entries: Sequence[operations.HistoryEntry], zone: ZoneInfo, *, first: int = 1
) -> list[HistoryRow]:
    """The merged history (configuration and connection events) for people; `first` numbers
    the first row."""
    rows = []
    for number, entry in enumerate(entries, start=first):
        event, after = entry.event, entry.configuration
        state = operations.state_of(after, Connection(after.id, state=entry.connection_state))
        lifecycle_event = event.stream_id == operations.connection_stream(after.id)
        if lifecycle_event:
            label, tone = LIFECYCLE_LABELS.get(event.event_type, (event.event_type, "grey"))
            changes: list[Change] = []
            note = lifecycle_note(event.data, zone)
        else:
            label, tone = EVENT_LABELS.get(event.event_type, (event.event_type, "grey"))
            changes = _changes(event)
            note = NOTES[event.event_type](event.data) if event.event_type in NOTES else ""
        rows.append(
            HistoryRow(
                number=number,
                anchor=f"event-{event.position}" if lifecycle_event else f"version-{after.version}",
                stream="connection" if lifecycle_event else "configuration",
                version=after.version,
                time=_local(event.recorded_at, zone),
                iso_time=event.recorded_at.astimezone(zone).isoformat(),
                actor=event.actor,
                event_type=event.event_type,
                label=label,
                tone=tone,
                state=state,
                state_tone=STATE_TONES.get(state, "grey"),
                changes=changes,
                note=note,
                configuration=[
                    (FIELD_LABELS[n], shown(n, encode(n, getattr(after, n)))) for n in FIELDS
                ]
                + [("Enabled", "yes" if after.enabled else "no")],
            )
        )
    return rows


def _changes(event: RecordedEvent) -> list[Change]:
    if event.event_type == CREATED:
        stored = event.data["configuration"]
        return [Change(FIELD_LABELS[n], "", shown(n, stored[n])) for n in FIELDS]
    return [
        Change(FIELD_LABELS[n], shown(n, c["from"]), shown(n, c["to"]))
        for n, c in event.data.get("changes", {}).items()
    ]


def lifecycle_note(data: Mapping[str, Any], zone: ZoneInfo) -> str:
    """What a lifecycle event recorded, in words: who started it, what failed, what was agreed."""
    parts = []
    if data.get("initiated_by") in INITIATORS:
        parts.append(INITIATORS[data["initiated_by"]])
    if data.get("attempt"):
        parts.append(f"attempt {data['attempt']}")
    if data.get("code"):
        parts.append(f"{data['code']}: {data.get('message', '')}")
    negotiated = data.get("negotiated")
    if negotiated:
        view = negotiated_view(
            lifecycle.Negotiated(
                negotiated.get("heartbeat_interval_seconds"),
                tuple(negotiated.get("measurement_configuration") or ()),
                negotiated.get("peer_heartbeat_interval_seconds"),
            )
        )
        parts.append(
            f"our heartbeats {view.heartbeat}; measurement configuration {view.measurement}; "
            f"the Capacity Provider's heartbeats {view.asked}"
        )
    for key, words in (
        ("last_heartbeat_at", "last heartbeat"),
        ("offline_threshold", "offline threshold"),
        ("offline_since", "offline since"),
        ("retry_at", "next handshake"),
    ):
        if data.get(key):
            parts.append(f"{words} {_local(datetime.fromisoformat(data[key]), zone)}")
    return "; ".join(parts)


def _local(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or "")


def when(value: datetime | None, zone: ZoneInfo, now: datetime) -> Moment | None:
    """A time in the depot's zone with its distance from now, if there is one."""
    return None if value is None else moment_at(value, zone, now)


def moment_at(value: datetime, zone: ZoneInfo, now: datetime) -> Moment:
    """A time in the depot's zone with its distance from now: '12 s ago' or 'in 4 s'."""
    seconds = (now - value).total_seconds()
    relative = (
        age_words(max(seconds, 0.0))
        if seconds > -1
        else "in " + age_words(-seconds).removesuffix(" ago")
    )
    return Moment(text=_local(value, zone), iso=value.astimezone(zone).isoformat(), ago=relative)


def _every(seconds: float | None, none: str) -> str:
    return f"every {seconds:g} s" if seconds else none


def negotiated_view(negotiated: lifecycle.Negotiated) -> NegotiatedView:
    return NegotiatedView(
        heartbeat=_every(negotiated.heartbeat_interval_seconds, "none wanted"),
        measurement=", ".join(negotiated.measurement_configuration) or "no preference",
        asked=_every(negotiated.peer_heartbeat_interval_seconds, "none asked"),
    )


def error_box(connection: Connection, zone: ZoneInfo, now: datetime) -> ErrorBox:
    """Deterministic: the latest error while one applies, else when the last one was cleared,
    else no error at all."""
    error = connection.last_error
    if error is not None:
        return ErrorBox(
            "error",
            code=error.code.value,
            label=ERROR_LABELS.get(error.code, error.code.value),
            message=error.message,
            at=when(error.at, zone, now),
        )
    if connection.error_cleared_at is not None:
        return ErrorBox("cleared", cleared_at=when(connection.error_cleared_at, zone, now))
    return ErrorBox("none")


def publication_view(publication: Publication, zone: ZoneInfo, now: datetime) -> PublicationView:
    entry = publication.entry
    if entry.last_status is not None:
        last_status = f"HTTP {entry.last_status}"
    elif entry.attempts:
        last_status = "no answer"
    else:
        last_status = "not sent" if entry.final else "not sent yet"
    return PublicationView(
        id=entry.id,
        message_type=entry.message_type,
        state=entry.state.value,
        tone=PUBLICATION_TONES[entry.state],
        request_id=entry.request_id,
        correlation_id=entry.correlation_id,
        created=moment_at(entry.created_at, zone, now),
        delivered=when(entry.delivered_at, zone, now),
        next_attempt=None if entry.final else when(entry.next_attempt_at, zone, now),
        expires=when(entry.expires_at, zone, now),
        attempt_count=entry.attempts,
        last_status=last_status,
        last_error=entry.last_error,
        body=json.dumps(outbox.redacted_body(entry), indent=2, ensure_ascii=False),
        attempts=[_attempt_view(a, zone, now) for a in publication.attempts],
    )


def _attempt_view(attempt: Attempt, zone: ZoneInfo, now: datetime) -> AttemptView:
    return AttemptView(
        number=attempt.number,
        started=moment_at(attempt.started_at, zone, now),
        duration_ms=attempt.duration_ms,
        status=f"HTTP {attempt.status}" if attempt.status is not None else "no answer",
        tone="green" if attempt.ok else "red",
        error=attempt.error,
    )


def latest_lifecycle_event(uow: UnitOfWork, configuration_id: str) -> RecordedEvent | None:
    """The connection's latest audit event (COR-47), read from the event store."""
    stream = operations.connection_stream(configuration_id)
    version = uow.events.current_version(stream)
    if version == 0:
        return None
    found = uow.events.read_stream(stream, offset=version - 1, limit=1)
    return found[0] if found else None


def connection_card(
    uow: UnitOfWork, configuration: OscpConfiguration, binding: Binding
) -> ConnectionCard:
    zone = ZoneInfo(binding.timezone)
    now = uow.clock.now()
    connection = operations.connection_of(uow, configuration.id)
    state = operations.state_of(configuration, connection)
    recent, _ = outbox.entries_for(uow, configuration.id, limit=RECENT_PUBLICATIONS, offset=0)
    views = [publication_view(p, zone, now) for p in recent]
    event = latest_lifecycle_event(uow, configuration.id)
    negotiated = (
        connection.state in lifecycle.NEGOTIATED_STATES and state != ConnectionState.DISABLED.value
    )
    return ConnectionCard(
        configuration_id=configuration.id,
        state=state,
        tone=STATE_TONES.get(state, "grey"),
        words=_state_words(state, configuration),
        enabled=configuration.enabled,
        degraded=state in UP_STATES and connection.last_error is not None,
        version=configuration.oscp_version,
        registered=when(connection.registered_at, zone, now),
        negotiated=negotiated_view(connection.negotiated) if connection.negotiated else None,
        last_heartbeat=when(connection.last_heartbeat_at, zone, now),
        offline_threshold=when(connection.offline_at, zone, now),
        next_heartbeat=when(connection.next_heartbeat_at, zone, now) if negotiated else None,
        last_sent_heartbeat=_last_sent_heartbeat(views),
        error=error_box(connection, zone, now),
        notice=_notice(state, configuration, connection, views, zone, now),
        latest=views[0] if views else None,
        latest_event=_event_view(event, zone, now) if event else None,
        refreshed=moment_at(now, zone, now),
        zone=binding.timezone,
    )


def _last_sent_heartbeat(views: Sequence[PublicationView]) -> PublicationView | None:
    """Our latest heartbeat with a result (tried, or given up); the queued one only when none
    has one yet."""
    heartbeats = [v for v in views if v.message_type == "Heartbeat"]
    settled = (v for v in heartbeats if v.attempt_count or v.state != OutboxState.PENDING.value)
    return next(settled, heartbeats[0] if heartbeats else None)


def _state_words(state: str, configuration: OscpConfiguration) -> str:
    if state == ConnectionState.CONFIGURED.value and configuration.enabled:
        return "Enabled; waiting for the Capacity Provider to register."
    return STATE_WORDS.get(state, "")


def _event_view(event: RecordedEvent, zone: ZoneInfo, now: datetime) -> EventView:
    label, tone = LIFECYCLE_LABELS.get(event.event_type, (event.event_type, "grey"))
    at = moment_at(event.recorded_at, zone, now)
    return EventView(label, tone, event.event_type, at, lifecycle_note(event.data, zone))


def _notice(
    state: str,
    configuration: OscpConfiguration,
    connection: Connection,
    publications: Sequence[PublicationView],
    zone: ZoneInfo,
    now: datetime,
) -> Notice | None:
    """The deterministic explanation of the states that need one: nothing sent yet, disabled,
    in progress, failed (what failed and the retry), offline."""
    error = error_box(connection, zone, now)
    what_failed = (
        f"What failed: {error.label} ({error.code}) at {error.at.text}: {error.message}"
        if error.kind == "error" and error.at
        else ""
    )
    register = next((p for p in publications if p.message_type == "Register"), None)
    if state == ConnectionState.CONFIGURED.value and not configuration.enabled:
        return Notice(
            "grey",
            "Not enabled yet — no protocol traffic",
            (
                "Nothing has been sent to or accepted from the Capacity Provider.",
                f"Enable the connection to send Register to {configuration.endpoint_base_url}.",
            ),
        )
    if state == ConnectionState.CONFIGURED.value:
        return Notice(
            "blue",
            "Waiting for the Capacity Provider to register",
            (
                "There are no outbound credentials, so depotgrid cannot send Register itself.",
                "The Capacity Provider registers with the inbound token it was given.",
            ),
        )
    if state == ConnectionState.DISABLED.value:
        return Notice(
            "grey",
            "Disabled — no protocol traffic",
            (
                "Queued messages are cancelled, not sent; calls from the Capacity Provider are "
                "refused.",
                "Enable the connection again to register afresh.",
            ),
        )
    if state == ConnectionState.REGISTERING.value:
        return _registering_notice(register)
    if state == ConnectionState.REGISTRATION_FAILED.value:
        given_up = (
            f"The Register ({register.request_id}) was given up after {register.attempt_count} "
            f"attempt{'' if register.attempt_count == 1 else 's'}: it stays listed under "
            "Outbound with every attempt."
            if register
            else "The Register stays listed under Outbound with every attempt."
        )
        lines = [what_failed, given_up, "Retry: disable the connection, then enable it again."]
        return Notice("red", "Registration failed", tuple(line for line in lines if line))
    if state == ConnectionState.HANDSHAKING.value:
        deadline = when(connection.handshake_deadline, zone, now)
        due = f" by {deadline.text} ({deadline.ago})" if deadline else ""
        return Notice(
            "blue",
            "Handshaking",
            (
                f"Handshake attempt {connection.handshake_attempts} sent; its acknowledgement "
                f"is due{due}.",
            ),
        )
    if state == ConnectionState.HANDSHAKE_FAILED.value:
        retry = when(connection.handshake_retry_at, zone, now)
        base = lifecycle.HANDSHAKE_RETRY_BASE.total_seconds()
        cap = lifecycle.HANDSHAKE_RETRY_CAP.total_seconds()
        retry_line = (
            f"Attempt {connection.handshake_attempts} failed; the handshake is sent again at "
            f"{retry.text} ({retry.ago}). Retries wait {base:g} s, doubling up to "
            f"{cap / 60:g} min."
            if retry
            else "No automatic retry: the Capacity Provider may send a new Handshake, or "
            "disable and enable the connection to start again."
        )
        lines = [what_failed, retry_line, "No business messages are sent until it is handshaken."]
        return Notice("red", "Handshake failed", tuple(line for line in lines if line))
    if state == ConnectionState.HANDSHAKEN.value:
        return Notice(
            "blue",
            "Handshaken — waiting for the first heartbeat",
            ("It becomes ONLINE when the Capacity Provider's first heartbeat arrives.",),
        )
    if state == ConnectionState.OFFLINE.value:
        last = when(connection.last_heartbeat_at, zone, now)
        threshold = when(connection.offline_at, zone, now)
        return Notice(
            "red",
            "Offline",
            (
                f"Last heartbeat {last.text if last else 'never'}; the offline threshold was "
                f"{threshold.text if threshold else 'not set'}.",
                "It returns to ONLINE with the next valid heartbeat; the audit keeps this period.",
            ),
        )
    return None


def _registering_notice(register: PublicationView | None) -> Notice:
    if register is None:
        return Notice("blue", "Registering", ("Register is being queued.",))
    if register.state == OutboxState.RETRYING.value:
        upcoming = register.next_attempt
        nxt = f" The next attempt is at {upcoming.text} ({upcoming.ago})." if upcoming else ""
        return Notice(
            "yellow",
            "Registering — delivery failing",
            (
                f"Register attempt {register.attempt_count} failed: {register.last_status}"
                f"{': ' + register.last_error if register.last_error else ''}.{nxt}",
                "Retries back off exponentially; the Register is kept until it is delivered or "
                "given up.",
            ),
        )
    if register.state == OutboxState.DELIVERED.value and register.delivered:
        return Notice(
            "blue",
            "Registering",
            (
                f"Register delivered at {register.delivered.text} ({register.last_status}); "
                "waiting for the Capacity Provider's reply Register.",
            ),
        )
    return Notice(
        "blue",
        "Registering",
        (f"Register queued at {register.created.text}; not delivered yet.",),
    )


def list_rows(uow: UnitOfWork, items: Sequence[OscpConfiguration]) -> list[Row]:
    """The list's rows: each configuration with its lifecycle state, heartbeat and error."""
    connections = ConnectionRepository(uow.connection).many([c.id for c in items])
    now = uow.clock.now()
    rows = []
    for configuration in items:
        binding = binding_of(uow, configuration)
        zone = ZoneInfo(binding.timezone)
        connection = connections[configuration.id]
        state = operations.state_of(configuration, connection)
        rows.append(
            Row(
                configuration,
                binding,
                state,
                STATE_TONES.get(state, "grey"),
                when(connection.last_heartbeat_at, zone, now),
                error_box(connection, zone, now),
            )
        )
    return rows


# --- Form -------------------------------------------------------------------------------------


def choices(uow: UnitOfWork, microgrid_id: str, *, with_none: bool) -> Choices:
    """Every choice of the form: active microgrids by depot, and the chosen one's scopes."""
    active, _ = microgrids.repository(uow).page(
        limit=MAX_MICROGRIDS, offset=0, status=MicrogridStatus.ACTIVE
    )
    listed = []
    for microgrid in active:
        depot = uow.legacy.get(Depot, microgrid.depot_id)
        listed.append((microgrid.id, depot.name if depot else microgrid.depot_id))
    kinds = [("token", "Token"), ("oauth2_client_credentials", "OAuth2 client credentials")]
    none = [("", "None yet: the Capacity Provider's Register supplies it")] if with_none else []
    return {
        "microgrids": sorted(listed, key=lambda choice: choice[1].lower()),
        "scopes": scope_choices(uow, microgrid_id),
        "versions": [(v, f"OSCP {v}") for v in SUPPORTED_VERSIONS],
        "profiles": [(p, p) for p in PROFILES],
        "modes": [
            (PublicationMode.GROUP.value, "GROUP: UpdateGroupMeasurements"),
            (PublicationMode.ASSET.value, "ASSET: UpdateAssetMeasurements"),
        ],
        "measurement_configurations": [(m.value, m.value) for m in MeasurementConfiguration],
        "intervals": [(str(s), _interval(s)) for s in PUBLICATION_INTERVALS],
        "auth_kinds": none + kinds,
    }


def scope_choices(uow: UnitOfWork, microgrid_id: str) -> list[tuple[str, str]]:
    """The managed scopes of an active microgrid, as the canonical read API lists them."""
    microgrid = microgrids.repository(uow).get(microgrid_id) if microgrid_id else None
    if microgrid is None:
        return []
    return [(s.scope_id, s.name) for s in microgrids.scopes(uow, microgrid.id)]


def initial_values(configuration: OscpConfiguration | None) -> dict[str, str]:
    """The form of a new configuration (vector defaults) or of an existing one (no secrets)."""
    if configuration is None:
        defaults = with_defaults({})
        shown_defaults = {name: display_value(encode(name, v)) for name, v in defaults.items()}
        return shown_defaults | {"auth_kind": AuthKind.TOKEN.value}
    values = {
        name: display_value(encode(name, getattr(configuration, name)))
        for name in FIELDS
        if name in FORM_NAMES and name != "static_headers"
    }
    auth = configuration.outbound_auth
    values["auth_kind"] = auth.kind.value if auth else ""
    if auth is not None and auth.kind is AuthKind.OAUTH2_CLIENT_CREDENTIALS:
        stored = encode("outbound_auth", auth)
        values |= {"token_url": stored["token_url"], "client_id": stored["client_id"]}
        values["scope"] = stored["scope"] or ""
    return values


def form_input(
    form: Mapping[str, str], *, editing: bool
) -> tuple[ConfigurationInput, dict[str, str]]:
    """What was typed as the service's input, and the errors only the form can find."""
    plain: dict[str, Any] = {
        name: form.get(name, "").strip() or None
        for name in FIELDS
        if name not in ("outbound_auth", "static_headers")
    }
    interval = plain["measurement_publication_interval_seconds"]
    if interval is not None and interval.isdigit():
        plain["measurement_publication_interval_seconds"] = int(interval)
    kind = form.get("auth_kind", "")
    auth = (
        AuthInput(kind, **{name: form.get(name, "").strip() or None for name in AUTH_FIELDS})
        if kind
        else None
    )
    headers, errors = _headers(form.get("static_headers", ""))
    if editing and not form.get("static_headers", "").strip():
        headers = {} if form.get("clear_static_headers") else None
    return ConfigurationInput(plain, auth, headers), errors


def _headers(text: str) -> tuple[dict[str, str] | None, dict[str, str]]:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None, {}
    found: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            return None, {"static_headers": f"line {number} needs the form 'Name: value'"}
        found[name.strip()] = value.strip()
    return found, {}


def form_errors(exc: ValidationFailed | Conflict) -> tuple[dict[str, str], str]:
    """The service's refusal beside the inputs (`outbound_auth.token` beside Token), and what
    belongs to no input, for above the form."""
    if isinstance(exc, Conflict):
        name = str(exc.details.get("field", ""))
        return ({name: exc.message}, "") if name in FORM_NAMES else ({}, exc.message)
    inline: dict[str, str] = {}
    for error in exc.errors:
        name = _input_name(error)
        inline[name] = "; ".join(filter(None, [inline.get(name), _reason(name, error.reason)]))
    return inline, ""


def _input_name(error: FieldError) -> str:
    name = error.field.removeprefix("outbound_auth.")
    if name == "kind":
        return "auth_kind"
    return "static_headers" if name.startswith("static_headers") else name


def _reason(name: str, reason: str) -> str:
    """Say how to fix it: 'is required' becomes 'choose the microgrid' or 'enter the token'."""
    if reason != "is required":
        return reason
    spec = next((s for s in FORM_FIELDS if s.name == name), None)
    if spec is None:
        return reason
    verb = "choose" if spec.kind == "select" else "enter"
    return f"{verb} the {spec.label.lower()}"


def oscp_form(
    values: Mapping[str, str],
    errors: Mapping[str, str],
    choices_: Choices,
    configuration: OscpConfiguration | None,
    *,
    error: str = "",
) -> FormView:
    editing = configuration is not None
    return form_view(
        FORM_FIELDS,
        values,
        errors,
        choices_,
        title=f"Edit {configuration.title}" if configuration else "New OSCP configuration",
        action=f"/connections/{configuration.id}/edit" if configuration else "/connections/new",
        submit="Save changes" if editing else "Create configuration",
        cancel_url=f"/connections/{configuration.id}" if configuration else "/connections",
        error=error,
    )


# --- Routes -----------------------------------------------------------------------------------


@router.get("/connections")
def list_configurations(
    request: Request,
    user: PageUser,
    uows: Uow,
    limit: str | None = None,
    offset: str | None = None,
) -> Response:
    return render(request, "oscp/list.html", _list_context(uows, user, limit, offset))


@router.get("/connections/live")
def list_live(
    request: Request,
    user: PageUser,
    uows: Uow,
    limit: str | None = None,
    offset: str | None = None,
) -> Response:
    """The list's table alone, for htmx polling: states, heartbeats and errors move."""
    context = _list_context(uows, user, limit, offset)
    return render(request, "oscp/_list_live.html", context, partial=True)


def _list_context(uows: Uow, user: User, limit: str | None, offset: str | None) -> dict[str, Any]:
    page_limit, page_offset = paging(limit, offset)
    with uows.read() as uow:
        items, total = service.page(uow, limit=page_limit, offset=page_offset)
        rows = list_rows(uow, items)
        now = uow.clock.now()
    pager = Pager("/connections", total, page_limit, page_offset)
    return {
        "rows": rows,
        "pager": pager,
        "live_url": _live_url("/connections/live", page_limit, page_offset),
        "refresh": LIVE_SECONDS,
        "refreshed": moment_at(now, ZoneInfo("UTC"), now),
        "can_configure": user.can(Permission.OSCP_CONFIGURE),
    }


def _live_url(path: str, limit: int, offset: int) -> str:
    query = {"offset": str(offset)} | ({"limit": str(limit)} if limit != DEFAULT_LIMIT else {})
    return f"{path}?{urlencode(query)}"


@router.get("/connections/new")
def new_configuration(
    request: Request, _: Configurer, uows: Uow, microgrid_id: str = ""
) -> Response:
    """The form with the vector defaults; the only microgrid, or `microgrid_id`, preselected."""
    with uows.read() as uow:
        listed = choices(uow, microgrid_id, with_none=True)
        if not microgrid_id and len(listed["microgrids"]) == 1:
            microgrid_id = listed["microgrids"][0][0]
            listed = dict(listed) | {"scopes": scope_choices(uow, microgrid_id)}
    values = initial_values(None) | {"microgrid_id": microgrid_id}
    return _form_page(request, oscp_form(values, {}, listed, None), None)


@router.post("/connections/new")
def create_configuration(
    request: Request, user: Configurer, form: PostedForm, uows: Uow, box: Secrets
) -> Response:
    given, errors = form_input(form, editing=False)
    try:
        with uows.write() as uow:
            configuration, token = service.create(uow, user.email, box, given)
            if errors:
                raise ValidationFailed([FieldError(n, r) for n, r in errors.items()])
            uow.commit()
    except (ValidationFailed, Conflict) as exc:
        inline, message = form_errors(exc)
        return _refused(request, uows, None, form, errors | inline, message, exc)
    return _token_page(request, configuration, token, created=True)


@router.get("/connections/scope-options")
def scope_options(request: Request, _: PageUser, uows: Uow, microgrid_id: str = "") -> Response:
    """The scope select for the chosen microgrid (htmx swaps it in)."""
    with uows.read() as uow:
        scopes = scope_choices(uow, microgrid_id)
    (field,) = form_view(
        [SCOPE_FIELD], {}, {}, {"scopes": scopes}, title="", action="", submit="", cancel_url=""
    ).fields
    return render(request, "oscp/_scope_field.html", {"f": field}, partial=True)


@router.get("/connections/{configuration_id}")
def configuration_detail(
    request: Request, configuration_id: str, user: PageUser, uows: Uow
) -> Response:
    with uows.read() as uow:
        configuration = service.get(uow, configuration_id)
        context = _detail_context(uow, configuration, user) | _record_context(uow, configuration)
    return render(request, "oscp/detail.html", context | {"tab": "overview"})


@router.get("/connections/{configuration_id}/live")
def connection_live(request: Request, configuration_id: str, user: PageUser, uows: Uow) -> Response:
    """The Connection card alone, for htmx polling: the rest of the page, its scroll and any
    form stay put. Out of band it also refreshes what the lifecycle changes elsewhere on the
    page: the header's state and heartbeat, the inbound tokens (a registration exchanges them)
    and the version."""
    with uows.read() as uow:
        configuration = service.get(uow, configuration_id)
        context = _detail_context(uow, configuration, user) | _record_context(uow, configuration)
    return render(request, "oscp/_connection_live.html", context | {"oob": True}, partial=True)


@router.get("/connections/{configuration_id}/outbound")
def outbound_tab(
    request: Request,
    configuration_id: str,
    user: PageUser,
    uows: Uow,
    limit: str | None = None,
    offset: str | None = None,
) -> Response:
    """Every outbound OSCP message of the connection, newest first, with its attempts."""
    with uows.read() as uow:
        configuration = service.get(uow, configuration_id)
        context = _detail_context(uow, configuration, user)
        context |= _outbound_context(uow, configuration_id, context["binding"], limit, offset)
    return render(request, "oscp/outbound.html", context | {"tab": "outbound"})


@router.get("/connections/{configuration_id}/outbound/live")
def outbound_live(
    request: Request,
    configuration_id: str,
    user: PageUser,
    uows: Uow,
    limit: str | None = None,
    offset: str | None = None,
) -> Response:
    """The outbound list alone (and the header's state, out of band), for htmx polling."""
    with uows.read() as uow:
        configuration = service.get(uow, configuration_id)
        context = _detail_context(uow, configuration, user)
        context |= _outbound_context(uow, configuration_id, context["binding"], limit, offset)
    return render(request, "oscp/_outbound_live.html", context | {"oob": True}, partial=True)


def _outbound_context(
    uow: UnitOfWork, configuration_id: str, binding: Binding, limit: str | None, offset: str | None
) -> dict[str, Any]:
    page_limit, page_offset = paging(limit, offset)
    zone = ZoneInfo(binding.timezone)
    now = uow.clock.now()
    found, total = outbox.entries_for(uow, configuration_id, limit=page_limit, offset=page_offset)
    path = f"/connections/{configuration_id}/outbound"
    return {
        "publications": [publication_view(p, zone, now) for p in found],
        "pager": Pager(path, total, page_limit, page_offset),
        "live_url": _live_url(f"{path}/live", page_limit, page_offset),
        "refreshed": moment_at(now, zone, now),
    }


@router.get("/connections/{configuration_id}/history")
def configuration_history(
    request: Request,
    configuration_id: str,
    user: PageUser,
    uows: Uow,
    limit: str | None = None,
    offset: str | None = None,
) -> Response:
    if not user.can(Permission.HISTORY_READ):
        raise PermissionDenied(f"Your role ({user.role.value}) may not read history.")
    page_limit, page_offset = paging(limit, offset)
    with uows.read() as uow:
        configuration = service.get(uow, configuration_id)
        context = _detail_context(uow, configuration, user)
        entries = operations.history(uow, configuration_id)
    zone = ZoneInfo(context["binding"].timezone)
    shown_entries = entries[page_offset : page_offset + page_limit]
    context |= {
        "tab": "history",
        "rows": history_rows(shown_entries, zone, first=page_offset + 1),
        "pager": Pager(
            f"/connections/{configuration_id}/history", len(entries), page_limit, page_offset
        ),
    }
    return render(request, "oscp/history.html", context)


@router.get("/connections/{configuration_id}/edit")
def edit_configuration(
    request: Request, configuration_id: str, _: Configurer, uows: Uow
) -> Response:
    with uows.read() as uow:
        configuration = service.get(uow, configuration_id)
        listed = choices(uow, configuration.microgrid_id, with_none=not configuration.outbound_auth)
    form = oscp_form(initial_values(configuration), {}, listed, configuration)
    return _form_page(request, form, configuration, expected_version=str(configuration.version))


@router.post("/connections/{configuration_id}/edit")
def update_configuration(
    request: Request,
    configuration_id: str,
    user: Configurer,
    form: PostedForm,
    uows: Uow,
    box: Secrets,
) -> Response:
    given, errors = form_input(form, editing=True)
    version = form.get("expected_version", "")
    try:
        with uows.write() as uow:
            configuration = service.update(
                uow,
                user.email,
                box,
                configuration_id,
                given,
                expected_version=int(version) if version.isdigit() else None,
            )
            if errors:
                raise ValidationFailed([FieldError(n, r) for n, r in errors.items()])
            uow.commit()
    except (ValidationFailed, Conflict) as exc:
        inline, message = form_errors(exc)
        with uows.read() as uow:
            current = service.get(uow, configuration_id)
        return _refused(request, uows, current, form, errors | inline, message, exc)
    flash(request, "success", f"OSCP configuration {configuration.title} saved.")
    return RedirectResponse(f"/connections/{configuration_id}", status_code=303)


@router.post("/connections/{configuration_id}/enable")
def enable_configuration(
    request: Request, configuration_id: str, user: Configurer, _: PostedForm, uows: Uow
) -> Response:
    """Switch on and start registration (the Register is persisted before any delivery); the
    detail page then follows the lifecycle live."""
    policy: operations.LifecyclePolicy = request.app.state.oscp_policy
    try:
        with uows.write() as uow:
            configuration = operations.enable(uow, user.email, configuration_id, policy)
            uow.commit()
    except Conflict as exc:
        flash(request, "error", f"Not enabled: {exc.message}")
    else:
        request.app.state.dispatcher.nudge()
        follows = (
            "Register is on its way to the Capacity Provider; the Connection card follows it."
            if configuration.outbound_auth
            else "It waits for the Capacity Provider to register with the inbound token."
        )
        flash(request, "success", f"OSCP configuration {configuration.title} enabled. {follows}")
    return RedirectResponse(f"/connections/{configuration_id}", status_code=303)


@router.get("/connections/{configuration_id}/disable")
def confirm_disable(request: Request, configuration_id: str, _: Configurer, uows: Uow) -> Response:
    with uows.read() as uow:
        configuration = service.get(uow, configuration_id)
    return _confirm_page(request, configuration, "disable")


@router.post("/connections/{configuration_id}/disable")
def disable_configuration(
    request: Request, configuration_id: str, user: Configurer, _: PostedForm, uows: Uow
) -> Response:
    """Switch off: the lifecycle stops, queued messages are cancelled rather than sent."""
    with uows.write() as uow:
        configuration = operations.disable(uow, user.email, configuration_id)
        uow.commit()
    request.app.state.dispatcher.nudge()  # cancels what was queued now, not at the next poll
    flash(
        request,
        "success",
        f"OSCP configuration {configuration.title} disabled. Its group id and scope are free.",
    )
    return RedirectResponse(f"/connections/{configuration_id}", status_code=303)


@router.get("/connections/{configuration_id}/inbound-token")
def confirm_rotation(request: Request, configuration_id: str, _: Configurer, uows: Uow) -> Response:
    with uows.read() as uow:
        configuration = service.get(uow, configuration_id)
    return _confirm_page(request, configuration, "rotate")


@router.post("/connections/{configuration_id}/inbound-token")
def rotate_inbound_token(
    request: Request, configuration_id: str, user: Configurer, _: PostedForm, uows: Uow
) -> Response:
    with uows.write() as uow:
        token = service.rotate_inbound_token(uow, user.email, configuration_id)
        configuration = service.get(uow, configuration_id)
        uow.commit()
    return _token_page(request, configuration, token, created=False)


def _detail_context(
    uow: UnitOfWork, configuration: OscpConfiguration, user: User
) -> dict[str, Any]:
    binding = binding_of(uow, configuration)
    return {
        "configuration": configuration,
        "binding": binding,
        "card": connection_card(uow, configuration, binding),
        "refresh": LIVE_SECONDS,
        "can_configure": user.can(Permission.OSCP_CONFIGURE),
        "can_admin": user.can(Permission.MICROGRID_ADMIN),
        "can_history": user.can(Permission.HISTORY_READ),
        "crumbs": CRUMBS,
        "auth": shown("outbound_auth", encode("outbound_auth", configuration.outbound_auth)),
        "headers": shown("static_headers", encode("static_headers", configuration.static_headers)),
        "interval": shown(
            "measurement_publication_interval_seconds",
            configuration.measurement_publication_interval_seconds,
        ),
    }


def _record_context(uow: UnitOfWork, configuration: OscpConfiguration) -> dict[str, Any]:
    """The valid inbound tokens and the configuration's times, in the depot's zone."""
    zone = ZoneInfo(binding_of(uow, configuration).timezone)
    tokens = service.inbound_credentials(uow, configuration.id)
    return {
        "tokens": tokens,
        "times": {
            "created": _local(configuration.created_at, zone),
            "updated": _local(configuration.updated_at, zone),
            "tokens": [_local(t.issued_at, zone) for t in tokens],
        },
    }


def _form_page(
    request: Request,
    form: FormView,
    configuration: OscpConfiguration | None,
    *,
    expected_version: str = "",
    status: int = 200,
) -> Response:
    """The form; an edit carries the version it was loaded at, so a stale save is refused."""
    crumbs = CRUMBS + (
        [(configuration.title, f"/connections/{configuration.id}")] if configuration else []
    )
    context = {
        "form": form,
        "fields": {f.name: f for f in form.fields},
        "configuration": configuration,
        "expected_version": expected_version,
        "crumbs": crumbs,
    }
    return render(request, "oscp/form.html", context, status=status)


def _refused(
    request: Request,
    uows: Uow,
    configuration: OscpConfiguration | None,
    form: Mapping[str, str],
    errors: Mapping[str, str],
    message: str,
    exc: ValidationFailed | Conflict,
) -> Response:
    """The form again, as typed (secrets excepted), with each error beside its field."""
    values = {k: v for k, v in form.items() if k not in SECRET_FIELDS}
    with uows.read() as uow:
        listed = choices(
            uow,
            values.get("microgrid_id", ""),
            with_none=configuration is None or not configuration.outbound_auth,
        )
    view = oscp_form(values, errors, listed, configuration, error=message)
    status = 409 if isinstance(exc, Conflict) else 422
    version = form.get("expected_version", "")
    return _form_page(request, view, configuration, expected_version=version, status=status)


def _token_page(
    request: Request, configuration: OscpConfiguration, token: str, *, created: bool
) -> Response:
    context = {
        "configuration": configuration,
        "token": token,
        "created": created,
        "crumbs": [*CRUMBS, (configuration.title, f"/connections/{configuration.id}")],
    }
    return render(request, "oscp/token.html", context, headers={"Cache-Control": "no-store"})


def _confirm_page(request: Request, configuration: OscpConfiguration, action: str) -> Response:
    context = {
        "configuration": configuration,
        "action": action,
        "crumbs": [*CRUMBS, (configuration.title, f"/connections/{configuration.id}")],
    }
    return render(request, "oscp/confirm.html", context)
