"""The OSCP configuration aggregate (story "OSCP Binding and Connection Profile Management").

A configuration is one partner connection: it binds an external OSCP `group_id` to one managed
scope of a canonical microgrid, and carries the connection profile used with that partner
(endpoint, version, partner profile, measurement publication settings, authentication). It is
event-sourced: `apply` folds its events into the configuration at any version, and the
projection the service keeps is that same fold, so history and current state cannot disagree.

Secrets never live here. The outbound token, the OAuth2 client secret and static header values
are stored encrypted by `oscp.secrets`; the aggregate and its events hold only `SecretRef`s.

Plain Python: the rules of edit and enable, the event payloads and the fold; what an operator
typed is checked in `oscp.inputs`. See docs/oscp.md, "Configuration".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from depotgrid.manage.errors import Conflict, FieldError, ValidationFailed
from depotgrid.oscp.enums import MeasurementConfiguration

CREATED = "OscpConfigurationCreated"
UPDATED = "OscpConfigurationUpdated"
ENABLED = "OscpConfigurationEnabled"
DISABLED = "OscpConfigurationDisabled"
INBOUND_TOKEN_ISSUED = "OscpInboundTokenIssued"
INBOUND_TOKENS_RETIRED = "OscpInboundTokensRetired"

SUPPORTED_VERSIONS = ("2.0",)
PUBLICATION_INTERVALS = tuple(
    minutes * 60 for minutes in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)
)
"""Whole minutes that divide the hour, so every measurement window starts on a clock-hour
boundary (SN offers 1, 5, 10, 15, 20, 30 and 60 minutes; these include them)."""


class PublicationMode(StrEnum):
    GROUP = "GROUP"
    """UpdateGroupMeasurements for the bound group."""
    ASSET = "ASSET"
    """UpdateAssetMeasurements under one reporting asset identity (the Vector asset profile)."""


class ConfigurationState(StrEnum):
    CONFIGURED = "CONFIGURED"
    """Saved, holding its group_id and scope; enabled or not, no protocol traffic yet."""
    DISABLED = "DISABLED"
    """Switched off by an operator: releases its group_id and scope."""


class AuthKind(StrEnum):
    TOKEN = "token"
    OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials"


@dataclass(frozen=True)
class Profile:
    """A partner profile: what a partner expects for the profile fields an operator leaves out."""

    name: str
    measurement_publication_mode: PublicationMode
    measurement_configuration: MeasurementConfiguration
    measurement_publication_interval_seconds: int


VECTOR = Profile("vector", PublicationMode.GROUP, MeasurementConfiguration.INTERMITTENT, 900)
PROFILES = {VECTOR.name: VECTOR}


@dataclass(frozen=True)
class SecretRef:
    """Where an encrypted secret is stored (`oscp.secrets`); never the secret itself."""

    id: str

    def to_json(self) -> dict[str, Any]:
        return {"secret_ref": self.id, "present": True}


@dataclass(frozen=True)
class TokenAuth:
    """`Authorization: Token <t>`, where t is the token the Capacity Provider issued to us."""

    token: SecretRef
    kind: ClassVar[AuthKind] = AuthKind.TOKEN


@dataclass(frozen=True)
class OAuth2ClientCredentials:
    """`Authorization: Bearer <access token>` from a client-credentials grant (PROTOCOL.md §7)."""

    token_url: str
    client_id: str
    client_secret: SecretRef
    scope: str | None
    kind: ClassVar[AuthKind] = AuthKind.OAUTH2_CLIENT_CREDENTIALS


OutboundAuth = TokenAuth | OAuth2ClientCredentials


@dataclass(frozen=True)
class StaticHeaders:
    """Extra headers on every outbound call: names in the clear, all values as one secret."""

    names: tuple[str, ...] = ()
    values: SecretRef | None = None


@dataclass(frozen=True)
class OscpConfiguration:
    id: str
    name: str | None
    group_id: str
    microgrid_id: str
    managed_scope_id: str
    endpoint_base_url: str
    oscp_version: str
    profile: str
    measurement_publication_mode: PublicationMode
    measurement_configuration: MeasurementConfiguration
    measurement_publication_interval_seconds: int
    reporting_asset_id: str | None
    outbound_auth: OutboundAuth | None
    static_headers: StaticHeaders
    state: ConfigurationState
    enabled: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def active(self) -> bool:
        """Holds its group_id and managed scope (every state but DISABLED)."""
        return self.state is not ConfigurationState.DISABLED

    @property
    def title(self) -> str:
        return self.name or self.group_id

    def secret_refs(self) -> set[str]:
        refs = {self.static_headers.values} if self.static_headers.values else set()
        if isinstance(self.outbound_auth, TokenAuth):
            refs.add(self.outbound_auth.token)
        elif isinstance(self.outbound_auth, OAuth2ClientCredentials):
            refs.add(self.outbound_auth.client_secret)
        return {ref.id for ref in refs}


FIELDS = (
    "name",
    "group_id",
    "microgrid_id",
    "managed_scope_id",
    "endpoint_base_url",
    "oscp_version",
    "profile",
    "measurement_publication_mode",
    "measurement_configuration",
    "measurement_publication_interval_seconds",
    "reporting_asset_id",
    "outbound_auth",
    "static_headers",
)
"""What an operator configures, in display order; the rest is state."""
BINDING_FIELDS = frozenset(
    {"group_id", "microgrid_id", "managed_scope_id", "endpoint_base_url", "oscp_version"}
)
"""What registration ties to the partner: changed only while the connection is not enabled."""


# --- Rules of edit and enable -----------------------------------------------------------------


def edited(current: OscpConfiguration, values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields `values` really changes; refused when the change is not allowed now.

    Binding fields change only while the connection is not enabled (409 OSCP_DISABLE_FIRST);
    an enabled connection must stay ready to enable (422 naming the field).
    """
    changed = {k: v for k, v in values.items() if getattr(current, k) != v}
    binding = sorted(BINDING_FIELDS & changed.keys())
    if binding and current.enabled:
        raise Conflict(
            f"{', '.join(binding)} cannot change while OSCP configuration {current.id} is "
            "enabled: disable it first, then edit, then enable it again",
            code="OSCP_DISABLE_FIRST",
            details={"field": binding[0], "fields": binding, "configuration_id": current.id},
        )
    if current.enabled:
        blockers = enable_blockers(replace(current, **changed))
        if blockers:
            raise ValidationFailed(blockers)
    return changed


def enable_blockers(configuration: OscpConfiguration) -> list[FieldError]:
    """What must be set before the connection can be enabled (or while it is)."""
    blockers = []
    asset = configuration.measurement_publication_mode is PublicationMode.ASSET
    if asset and not configuration.reporting_asset_id:
        blockers.append(
            FieldError(
                "reporting_asset_id",
                "is required when measurement_publication_mode is ASSET: set the reporting "
                "asset identity the partner expects",
            )
        )
    intermittent = configuration.measurement_configuration is MeasurementConfiguration.INTERMITTENT
    if asset and configuration.profile == VECTOR.name and not intermittent:
        blockers.append(
            FieldError(
                "measurement_configuration",
                "must be INTERMITTENT for the vector profile in ASSET mode",
            )
        )
    return blockers


def not_ready(configuration: OscpConfiguration, blockers: list[FieldError]) -> Conflict:
    """The refusal of an enable that `blockers` prevent, naming the fields."""
    return Conflict(
        f"OSCP configuration {configuration.id} cannot be enabled: "
        + "; ".join(f"{e.field} {e.reason}" for e in blockers),
        code="OSCP_CONFIGURATION_INCOMPLETE",
        details={
            "field": blockers[0].field,
            "errors": [{"field": e.field, "reason": e.reason} for e in blockers],
        },
    )


# --- Events and the fold ----------------------------------------------------------------------


class RecordedFact(Protocol):
    """What the fold needs of a stored event (events.store.RecordedEvent has it)."""

    @property
    def event_type(self) -> str: ...
    @property
    def data(self) -> Mapping[str, Any]: ...
    @property
    def stream_version(self) -> int: ...
    @property
    def recorded_at(self) -> datetime: ...


def created_data(
    configuration_id: str, values: Mapping[str, Any], credential_id: str
) -> dict[str, Any]:
    return {
        "configuration_id": configuration_id,
        "configuration": {name: encode(name, values[name]) for name in FIELDS},
        "inbound_credential_id": credential_id,
    }


def updated_data(current: OscpConfiguration, changed: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "configuration_id": current.id,
        "changes": {
            name: {"from": encode(name, getattr(current, name)), "to": encode(name, value)}
            for name, value in changed.items()
        },
    }


def apply(current: OscpConfiguration | None, event: RecordedFact) -> OscpConfiguration:
    """The configuration after `event`: the one fold behind the projection and the history."""
    if event.event_type == CREATED:
        return _created(event)
    if current is None:
        raise ValueError(f"an OSCP configuration's history starts with {CREATED}")
    step = STEPS.get(event.event_type)
    if step is None:
        raise ValueError(f"{event.event_type} is not an OSCP configuration event")
    after = step(current, event.data)
    return replace(after, version=event.stream_version, updated_at=event.recorded_at)


def replay(events: Iterable[RecordedFact]) -> list[OscpConfiguration]:
    """The configuration at each version, in order."""
    versions: list[OscpConfiguration] = []
    for event in events:
        versions.append(apply(versions[-1] if versions else None, event))
    return versions


def _created(event: RecordedFact) -> OscpConfiguration:
    fields = event.data["configuration"]
    return OscpConfiguration(
        id=event.data["configuration_id"],
        **{name: decode(name, fields[name]) for name in FIELDS},
        state=ConfigurationState.CONFIGURED,
        enabled=False,
        version=event.stream_version,
        created_at=event.recorded_at,
        updated_at=event.recorded_at,
    )


def _updated(current: OscpConfiguration, data: Mapping[str, Any]) -> OscpConfiguration:
    return replace(
        current, **{name: decode(name, change["to"]) for name, change in data["changes"].items()}
    )


def _enabled(current: OscpConfiguration, _: Mapping[str, Any]) -> OscpConfiguration:
    state = ConfigurationState.CONFIGURED if not current.active else current.state
    return replace(current, enabled=True, state=state)


def _disabled(current: OscpConfiguration, _: Mapping[str, Any]) -> OscpConfiguration:
    return replace(current, enabled=False, state=ConfigurationState.DISABLED)


def _unchanged(current: OscpConfiguration, _: Mapping[str, Any]) -> OscpConfiguration:
    return current


STEPS: dict[str, Callable[[OscpConfiguration, Mapping[str, Any]], OscpConfiguration]] = {
    UPDATED: _updated,
    ENABLED: _enabled,
    DISABLED: _disabled,
    INBOUND_TOKEN_ISSUED: _unchanged,
    INBOUND_TOKENS_RETIRED: _unchanged,
}
"""Every event after CREATED on a configuration's stream, and what it changes. A new event type
(e.g. a lifecycle transition) must be added here, or `apply` refuses it."""


# --- JSON form (events and the projection) ----------------------------------------------------


def encode(name: str, value: Any) -> Any:
    """A field as events and the projection store it: secrets only as references."""
    if name == "outbound_auth":
        return _auth_json(value)
    if name == "static_headers":
        return {
            "names": list(value.names),
            "values": value.values.to_json() if value.values else None,
        }
    return value.value if isinstance(value, StrEnum) else value


def decode(name: str, raw: Any) -> Any:
    if name == "outbound_auth":
        return _auth_from_json(raw)
    if name == "static_headers":
        return StaticHeaders(tuple(raw["names"]), _ref(raw["values"]))
    if name == "measurement_publication_mode":
        return PublicationMode(raw)
    if name == "measurement_configuration":
        return MeasurementConfiguration(raw)
    return raw


def _auth_json(auth: OutboundAuth | None) -> dict[str, Any] | None:
    if isinstance(auth, TokenAuth):
        return {"kind": auth.kind.value, "token": auth.token.to_json()}
    if isinstance(auth, OAuth2ClientCredentials):
        return {
            "kind": auth.kind.value,
            "token_url": auth.token_url,
            "client_id": auth.client_id,
            "client_secret": auth.client_secret.to_json(),
            "scope": auth.scope,
        }
    return None


def _auth_from_json(raw: Mapping[str, Any] | None) -> OutboundAuth | None:
    if raw is None:
        return None
    if raw["kind"] == AuthKind.TOKEN:
        return TokenAuth(SecretRef(raw["token"]["secret_ref"]))
    return OAuth2ClientCredentials(
        raw["token_url"],
        raw["client_id"],
        SecretRef(raw["client_secret"]["secret_ref"]),
        raw["scope"],
    )


def _ref(raw: Mapping[str, Any] | None) -> SecretRef | None:
    return SecretRef(raw["secret_ref"]) if raw else None
