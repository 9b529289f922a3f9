"""OSCP configuration admin routes (binding story; issue #5 §1 and §9).

Secrets are write-only: a response reports whether each is set, never its value. The inbound
token the Capacity Provider must present appears exactly twice in its life: in the 201 of the
create, and in the answer of an inbound-token rotation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, Field

from depotgrid.manage.api.deps import Paging, Uow, require
from depotgrid.manage.api.schemas import Body, Page, Patch
from depotgrid.manage.auth.model import Permission, User
from depotgrid.manage.errors import ValidationFailed
from depotgrid.manage.oscp import operations, service
from depotgrid.manage.oscp.configuration import (
    OAuth2ClientCredentials,
    OscpConfiguration,
    TokenAuth,
)
from depotgrid.manage.oscp.connections import ConnectionRepository
from depotgrid.manage.oscp.inputs import AuthInput, ConfigurationInput
from depotgrid.manage.oscp.lifecycle import Connection
from depotgrid.manage.oscp.operations import LifecyclePolicy
from depotgrid.manage.oscp.secrets import SecretBox, secret_box
from depotgrid.manage.outbox import service as outbox
from depotgrid.manage.outbox.service import Publication

router = APIRouter(prefix="/api/oscp-configurations", tags=["oscp-configurations"])

Reader = Annotated[User, Depends(require(Permission.LEGACY_READ))]
HistoryReader = Annotated[User, Depends(require(Permission.HISTORY_READ))]
Configurer = Annotated[User, Depends(require(Permission.OSCP_CONFIGURE))]
NO_STORE = {"Cache-Control": "no-store"}
"""On answers that carry an inbound token: no cache may keep it."""


async def request_secret_box(request: Request) -> SecretBox:
    return secret_box(request.app.state.settings.secret_key)


Secrets = Annotated[SecretBox, Depends(request_secret_box)]


async def request_policy(request: Request) -> LifecyclePolicy:
    policy: LifecyclePolicy = request.app.state.oscp_policy
    return policy


Policy = Annotated[LifecyclePolicy, Depends(request_policy)]


class OutboundAuthIn(Body):
    kind: str = Field(description="`token` or `oauth2_client_credentials`.")
    token: str | None = Field(
        default=None,
        description="kind=token: the token the Capacity Provider issued to us (write-only). "
        "Leave out on an edit to keep the stored one.",
    )
    token_url: str | None = Field(default=None, description="kind=oauth2_client_credentials.")
    client_id: str | None = None
    client_secret: str | None = Field(
        default=None, description="Write-only; leave out on an edit to keep the stored one."
    )
    scope: str | None = None

    def to_input(self) -> AuthInput:
        return AuthInput(**self.model_dump())


class _Fields(Body):
    name: str | None = Field(default=None, max_length=200, description="Display name.")
    group_id: str | None = Field(
        default=None, description="The external OSCP capacity group id; unique while active."
    )
    microgrid_id: str | None = Field(default=None, description="From GET /api/microgrids.")
    managed_scope_id: str | None = Field(
        default=None, description="From GET /api/microgrids/{id}/scopes; unique while active."
    )
    endpoint_base_url: str | None = Field(
        default=None, description="The Capacity Provider's OSCP 2.0 base URL (http or https)."
    )
    oscp_version: str | None = Field(default=None, description='Only "2.0" (the default).')
    profile: str | None = Field(default=None, description='Partner profile; "vector" (default).')
    measurement_publication_mode: str | None = Field(
        default=None, description="GROUP (profile default) or ASSET."
    )
    measurement_configuration: str | None = Field(
        default=None, description="CONTINUOUS or INTERMITTENT (vector default)."
    )
    measurement_publication_interval_seconds: int | None = Field(
        default=None,
        description="Whole minutes dividing the hour, in seconds: 60 … 3600 (vector: 900).",
    )
    reporting_asset_id: str | None = Field(
        default=None, description="Required before enable when the mode is ASSET."
    )
    outbound_auth: OutboundAuthIn | None = None
    static_headers: dict[str, str] | None = Field(
        default=None,
        description="Extra headers on every outbound call; values are kept secret. On an edit "
        "the map replaces them all ({} removes them).",
    )

    def to_input(self, sent: dict[str, Any]) -> ConfigurationInput:
        auth = self.outbound_auth.to_input() if self.outbound_auth else None
        plain = {k: v for k, v in sent.items() if k not in ("outbound_auth", "static_headers")}
        return ConfigurationInput(plain, auth, self.static_headers)


class ConfigurationIn(_Fields):
    group_id: str
    microgrid_id: str
    managed_scope_id: str
    endpoint_base_url: str


class ConfigurationPatch(_Fields, Patch):
    nullable: ClassVar[frozenset[str]] = frozenset(
        {"name", "reporting_asset_id", "expected_version"}
    )
    expected_version: int | None = Field(
        default=None, description="Refuse the edit (409) unless this is the current version."
    )


class OutboundAuthOut(BaseModel):
    kind: str
    token_present: bool
    token_url: str | None
    client_id: str | None
    scope: str | None
    client_secret_present: bool


class NegotiatedOut(BaseModel):
    """The behaviour agreed in the latest accepted handshake exchange (COR-17)."""

    heartbeat_interval_seconds: float | None = Field(
        description="How often the Capacity Provider wants our heartbeats (null: none)."
    )
    measurement_configuration: list[str] = Field(
        description="How the Capacity Provider wants measurements aggregated (empty: any)."
    )
    peer_heartbeat_interval_seconds: float | None = Field(
        description="How often we asked the Capacity Provider for heartbeats."
    )


class ConnectionErrorOut(BaseModel):
    """The latest tracked connection error (COR-34); null when none applies."""

    code: str
    message: str
    at: datetime


class ConfigurationOut(BaseModel):
    id: str
    name: str | None
    group_id: str
    microgrid_id: str
    managed_scope_id: str
    endpoint_base_url: str
    oscp_version: str
    profile: str
    measurement_publication_mode: str
    measurement_configuration: str
    measurement_publication_interval_seconds: int
    reporting_asset_id: str | None
    outbound_auth: OutboundAuthOut | None
    static_headers: list[str] = Field(description="Header names; values are never shown.")
    state: str
    enabled: bool
    version: int
    negotiated: NegotiatedOut | None = None
    last_heartbeat_at: datetime | None = Field(
        default=None, description="When the Capacity Provider's last heartbeat arrived."
    )
    offline_threshold: datetime | None = Field(
        default=None,
        description="When the connection goes OFFLINE unless another heartbeat arrives first.",
    )
    registered_at: datetime | None = None
    last_error: ConnectionErrorOut | None = None
    error_cleared_at: datetime | None = Field(
        default=None, description="When the last tracked error was cleared (null: never)."
    )
    created_at: datetime
    updated_at: datetime


class ConfigurationWithTokenOut(ConfigurationOut):
    inbound_token: str = Field(
        description="The token the Capacity Provider must present. Shown only in this answer."
    )


class AttemptOut(BaseModel):
    number: int
    started_at: datetime
    duration_ms: int
    status: int | None = Field(description="The HTTP status; null when no answer arrived.")
    error: str | None


class PublicationOut(BaseModel):
    """One outbound OSCP message of the connection, with every attempt to deliver it."""

    id: str
    message_type: str
    request_id: str = Field(description="X-Request-ID, the same on every attempt.")
    correlation_id: str | None
    state: str = Field(description="PENDING, RETRYING, DELIVERED, DEAD, EXPIRED or CANCELLED.")
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime
    expires_at: datetime | None
    last_status: int | None
    last_error: str | None
    body: dict[str, Any] = Field(description="As sent, with secret values replaced by •••.")
    attempts: list[AttemptOut]


class HistoryEntryOut(BaseModel):
    version: int
    stream: str = Field(
        description="`configuration` (edits, enable, disable, tokens) or `connection` "
        "(registration, handshake, liveness)."
    )
    event_type: str
    recorded_at: datetime
    actor: str
    data: dict[str, Any] = Field(description="The event as stored: secrets only as references.")
    configuration: ConfigurationOut = Field(description="The configuration after this event.")


def configuration_view(
    configuration: OscpConfiguration, connection: Connection | None = None
) -> ConfigurationOut:
    """The configuration as the API shows it, with its connection's lifecycle when given."""
    lifecycle = connection or Connection(configuration.id)
    negotiated = lifecycle.negotiated
    error = lifecycle.last_error
    return ConfigurationOut(
        id=configuration.id,
        name=configuration.name,
        group_id=configuration.group_id,
        microgrid_id=configuration.microgrid_id,
        managed_scope_id=configuration.managed_scope_id,
        endpoint_base_url=configuration.endpoint_base_url,
        oscp_version=configuration.oscp_version,
        profile=configuration.profile,
        measurement_publication_mode=configuration.measurement_publication_mode.value,
        measurement_configuration=configuration.measurement_configuration.value,
        measurement_publication_interval_seconds=configuration.measurement_publication_interval_seconds,
        reporting_asset_id=configuration.reporting_asset_id,
        outbound_auth=_auth_view(configuration),
        static_headers=list(configuration.static_headers.names),
        state=operations.state_of(configuration, lifecycle),
        enabled=configuration.enabled,
        version=configuration.version,
        negotiated=NegotiatedOut(**negotiated.to_json()) if negotiated else None,
        last_heartbeat_at=lifecycle.last_heartbeat_at,
        offline_threshold=lifecycle.offline_at,
        registered_at=lifecycle.registered_at,
        last_error=ConnectionErrorOut(code=error.code.value, message=error.message, at=error.at)
        if error
        else None,
        error_cleared_at=lifecycle.error_cleared_at,
        created_at=configuration.created_at,
        updated_at=configuration.updated_at,
    )


def _auth_view(configuration: OscpConfiguration) -> OutboundAuthOut | None:
    auth = configuration.outbound_auth
    if auth is None:
        return None
    oauth = auth if isinstance(auth, OAuth2ClientCredentials) else None
    return OutboundAuthOut(
        kind=auth.kind.value,
        token_present=isinstance(auth, TokenAuth),
        token_url=oauth.token_url if oauth else None,
        client_id=oauth.client_id if oauth else None,
        scope=oauth.scope if oauth else None,
        client_secret_present=oauth is not None,
    )


def _with_token(configuration: OscpConfiguration, token: str) -> ConfigurationWithTokenOut:
    return ConfigurationWithTokenOut(
        **configuration_view(configuration).model_dump(), inbound_token=token
    )


@router.post("", status_code=201, response_model=ConfigurationWithTokenOut)
def create_configuration(
    body: ConfigurationIn, user: Configurer, uows: Uow, box: Secrets, response: Response
) -> ConfigurationWithTokenOut:
    """Bind a group_id to a managed scope with its connection profile: state CONFIGURED, not
    enabled, no protocol traffic. Omitted profile fields take the profile's defaults."""
    given = body.to_input(body.model_dump(exclude_unset=True))
    with uows.write() as uow:
        configuration, token = service.create(uow, user.email, box, given)
        uow.commit()
    response.headers.update(NO_STORE)
    return _with_token(configuration, token)


@router.get("", response_model=Page[ConfigurationOut])
def list_configurations(_: Reader, uows: Uow, paging: Paging) -> dict[str, Any]:
    with uows.read() as uow:
        items, total = service.page(uow, limit=paging.limit, offset=paging.offset)
        connections = ConnectionRepository(uow.connection).many([c.id for c in items])
    return {
        "items": [configuration_view(c, connections[c.id]) for c in items],
        "total": total,
        "limit": paging.limit,
        "offset": paging.offset,
    }


@router.get("/{configuration_id}", response_model=ConfigurationOut)
def get_configuration(
    configuration_id: str, _: Reader, uows: Uow, response: Response
) -> ConfigurationOut:
    """The configuration; its `ETag` is the version, for `If-Match` on PATCH."""
    with uows.read() as uow:
        configuration = service.get(uow, configuration_id)
        connection = operations.connection_of(uow, configuration_id)
    response.headers["ETag"] = f'"{configuration.version}"'
    return configuration_view(configuration, connection)


@router.patch("/{configuration_id}", response_model=ConfigurationOut)
def edit_configuration(
    configuration_id: str,
    body: ConfigurationPatch,
    user: Configurer,
    uows: Uow,
    box: Secrets,
    if_match: Annotated[str | None, Header(description='The version, e.g. "3".')] = None,
) -> ConfigurationOut:
    """Change the fields sent. Binding fields (group_id, microgrid, scope, endpoint, version)
    change only while the connection is not enabled (409 OSCP_DISABLE_FIRST); a stale
    `expected_version` or `If-Match` is refused with 409 OSCP_STALE_VERSION."""
    sent = body.changes()
    expected = _expected_version(sent.pop("expected_version", None), if_match)
    with uows.write() as uow:
        configuration = service.update(
            uow, user.email, box, configuration_id, body.to_input(sent), expected_version=expected
        )
        connection = operations.connection_of(uow, configuration_id)
        uow.commit()
    return configuration_view(configuration, connection)


@router.post("/{configuration_id}/enable", response_model=ConfigurationOut)
def enable_configuration(
    configuration_id: str, user: Configurer, uows: Uow, policy: Policy, request: Request
) -> ConfigurationOut:
    """Switch on and start registration: the Register is persisted before any delivery."""
    with uows.write() as uow:
        configuration = operations.enable(uow, user.email, configuration_id, policy)
        connection = operations.connection_of(uow, configuration_id)
        uow.commit()
    request.app.state.dispatcher.nudge()
    return configuration_view(configuration, connection)


@router.post("/{configuration_id}/disable", response_model=ConfigurationOut)
def disable_configuration(configuration_id: str, user: Configurer, uows: Uow) -> ConfigurationOut:
    """Switch off: no more protocol traffic; queued messages are cancelled, not sent."""
    with uows.write() as uow:
        configuration = operations.disable(uow, user.email, configuration_id)
        connection = operations.connection_of(uow, configuration_id)
        uow.commit()
    return configuration_view(configuration, connection)


@router.post("/{configuration_id}/inbound-token", response_model=ConfigurationWithTokenOut)
def rotate_inbound_token(
    configuration_id: str, user: Configurer, uows: Uow, response: Response
) -> ConfigurationWithTokenOut:
    """Issue a new inbound token and retire every other one at once; shows the new one once."""
    with uows.write() as uow:
        token = service.rotate_inbound_token(uow, user.email, configuration_id)
        configuration = service.get(uow, configuration_id)
        uow.commit()
    response.headers.update(NO_STORE)
    return _with_token(configuration, token)


@router.get("/{configuration_id}/history", response_model=Page[HistoryEntryOut])
def configuration_history(
    configuration_id: str, _: HistoryReader, uows: Uow, paging: Paging
) -> dict[str, Any]:
    """The configuration's events and its connection's lifecycle events, oldest first, each
    with the configuration as it stood after it."""
    with uows.read() as uow:
        entries = operations.history(uow, configuration_id)
    page = entries[paging.offset : paging.offset + paging.limit]
    return {
        "items": [_history_entry(entry) for entry in page],
        "total": len(entries),
        "limit": paging.limit,
        "offset": paging.offset,
    }


@router.get("/{configuration_id}/outbound", response_model=Page[PublicationOut])
def outbound_publications(
    configuration_id: str, _: Reader, uows: Uow, paging: Paging
) -> dict[str, Any]:
    """The connection's outbound OSCP messages, newest first, each with its delivery attempts."""
    with uows.read() as uow:
        service.get(uow, configuration_id)
        publications, total = outbox.entries_for(
            uow, configuration_id, limit=paging.limit, offset=paging.offset
        )
    return {
        "items": [_publication(p) for p in publications],
        "total": total,
        "limit": paging.limit,
        "offset": paging.offset,
    }


def _publication(publication: Publication) -> PublicationOut:
    entry = publication.entry
    return PublicationOut(
        id=entry.id,
        message_type=entry.message_type,
        request_id=entry.request_id,
        correlation_id=entry.correlation_id,
        state=entry.state.value,
        created_at=entry.created_at,
        delivered_at=entry.delivered_at,
        next_attempt_at=entry.next_attempt_at,
        expires_at=entry.expires_at,
        last_status=entry.last_status,
        last_error=entry.last_error,
        body=outbox.redacted_body(entry),
        attempts=[
            AttemptOut(
                number=a.number,
                started_at=a.started_at,
                duration_ms=a.duration_ms,
                status=a.status,
                error=a.error,
            )
            for a in publication.attempts
        ],
    )


def _history_entry(entry: operations.HistoryEntry) -> HistoryEntryOut:
    event = entry.event
    return HistoryEntryOut(
        version=event.stream_version,
        stream=event.stream_id.split("-", 2)[1],
        event_type=event.event_type,
        recorded_at=event.recorded_at,
        actor=event.actor,
        data=event.data,
        configuration=configuration_view(
            entry.configuration, Connection(entry.configuration.id, state=entry.connection_state)
        ),
    )


def _expected_version(body_value: int | None, if_match: str | None) -> int | None:
    """The version the edit was made on, from the body or `If-Match` (they must agree)."""
    header_value = None
    if if_match is not None:
        text = if_match.strip().removeprefix("W/").strip('"')
        if not text.isdigit():
            raise ValidationFailed.single("If-Match", 'must be a version, e.g. "3"')
        header_value = int(text)
    if body_value is not None and header_value is not None and body_value != header_value:
        raise ValidationFailed.single("expected_version", "disagrees with the If-Match header")
    return body_value if body_value is not None else header_value
