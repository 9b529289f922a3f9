"""Which OSCP 2.0 role receives which message, at which path (PROTOCOL.md §1).

Every message is an HTTP POST of JSON to `<base_url>/<endpoint>`; a role's base URL is
conventionally `https://host/oscp/{fp|cp|co}/2.0`, exchanged in Register. Success is always
204 with an empty body; a "reply" is always a separate, later request.

    sender                                   receiver
      | POST {base_url}/{endpoint}              |
      | Authorization: Token <receiver-issued>  |
      | X-Request-ID: <uuid>                    |
      | {payload}                               |
      |---------------------------------------->|
      |<----------------------- 204 No Content -|

Beyond the standard table (the SDK's), this project:
- serves `handshake` on the CP as well as the FP, as PROTOCOL.md recommends, so either side can
  start the Handshake, and accepts `handshake_acknowledge` on the FP from a CP;
- serves `update_asset_measurements` on the CP (the Vector partner profile sends asset
  measurements to the Capacity Provider, as SN can);
- lists PUT and DELETE on `register` (SDK, AP; semantics unverified) besides POST.
Outbound paths can be overridden per peer (§8.12) through `url_for(..., path=...)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from depotgrid.oscp.messages import (
    AdjustGroupCapacityForecast,
    GroupCapacityComplianceError,
    Handshake,
    HandshakeAcknowledge,
    Heartbeat,
    OscpModel,
    Register,
    UpdateAssetMeasurement,
    UpdateGroupCapacityForecast,
    UpdateGroupMeasurements,
)

OSCP_VERSION = "2.0"


class Role(StrEnum):
    FP = "fp"
    """Flexibility Provider: depotgrid manage."""
    CP = "cp"
    """Capacity Provider: the DSO or site EMS; depotgrid sim's projection."""
    CO = "co"
    """Capacity Optimizer (optional)."""


class Endpoint(StrEnum):
    REGISTER = "register"
    HANDSHAKE = "handshake"
    HANDSHAKE_ACKNOWLEDGE = "handshake_acknowledge"
    HEARTBEAT = "heartbeat"
    UPDATE_GROUP_CAPACITY_FORECAST = "update_group_capacity_forecast"
    ADJUST_GROUP_CAPACITY_FORECAST = "adjust_group_capacity_forecast"
    GROUP_CAPACITY_COMPLIANCE_ERROR = "group_capacity_compliance_error"
    UPDATE_GROUP_MEASUREMENTS = "update_group_measurements"
    UPDATE_ASSET_MEASUREMENTS = "update_asset_measurements"


ENDPOINT_MODELS: Mapping[Endpoint, type[OscpModel]] = {
    Endpoint.REGISTER: Register,
    Endpoint.HANDSHAKE: Handshake,
    Endpoint.HANDSHAKE_ACKNOWLEDGE: HandshakeAcknowledge,
    Endpoint.HEARTBEAT: Heartbeat,
    Endpoint.UPDATE_GROUP_CAPACITY_FORECAST: UpdateGroupCapacityForecast,
    Endpoint.ADJUST_GROUP_CAPACITY_FORECAST: AdjustGroupCapacityForecast,
    Endpoint.GROUP_CAPACITY_COMPLIANCE_ERROR: GroupCapacityComplianceError,
    Endpoint.UPDATE_GROUP_MEASUREMENTS: UpdateGroupMeasurements,
    Endpoint.UPDATE_ASSET_MEASUREMENTS: UpdateAssetMeasurement,
}
"""Each endpoint carries exactly one message model, whichever role receives it."""

_MODEL_ENDPOINTS: Mapping[type[OscpModel], Endpoint] = {
    model: endpoint for endpoint, model in ENDPOINT_MODELS.items()
}


class UnknownRouteError(LookupError):
    """The role does not receive this endpoint, or the name is no OSCP endpoint."""


@dataclass(frozen=True)
class Route:
    receiver: Role
    endpoint: Endpoint
    senders: frozenset[Role]
    methods: tuple[str, ...] = ("POST",)

    @property
    def model(self) -> type[OscpModel]:
        return ENDPOINT_MODELS[self.endpoint]

    @property
    def path(self) -> str:
        return f"{base_path(self.receiver)}/{self.endpoint}"


def _route(receiver: Role, endpoint: Endpoint, *senders: Role) -> Route:
    methods = ("POST", "PUT", "DELETE") if endpoint is Endpoint.REGISTER else ("POST",)
    return Route(receiver, endpoint, frozenset(senders), methods)


FP, CP, CO = Role.FP, Role.CP, Role.CO

ROUTES: tuple[Route, ...] = (
    _route(FP, Endpoint.REGISTER, CP, CO),
    _route(FP, Endpoint.HANDSHAKE, CP),
    _route(FP, Endpoint.HANDSHAKE_ACKNOWLEDGE, CP, CO),
    _route(FP, Endpoint.HEARTBEAT, CP, CO),
    _route(FP, Endpoint.UPDATE_GROUP_CAPACITY_FORECAST, CP, CO),
    _route(CP, Endpoint.REGISTER, FP),
    _route(CP, Endpoint.HANDSHAKE, FP),
    _route(CP, Endpoint.HANDSHAKE_ACKNOWLEDGE, FP),
    _route(CP, Endpoint.HEARTBEAT, FP),
    _route(CP, Endpoint.ADJUST_GROUP_CAPACITY_FORECAST, FP),
    _route(CP, Endpoint.GROUP_CAPACITY_COMPLIANCE_ERROR, FP),
    _route(CP, Endpoint.UPDATE_GROUP_MEASUREMENTS, FP),
    _route(CP, Endpoint.UPDATE_ASSET_MEASUREMENTS, FP),
    _route(CO, Endpoint.REGISTER, FP),
    _route(CO, Endpoint.HANDSHAKE, FP),
    _route(CO, Endpoint.HEARTBEAT, FP),
    _route(CO, Endpoint.UPDATE_GROUP_CAPACITY_FORECAST, FP),
    _route(CO, Endpoint.UPDATE_ASSET_MEASUREMENTS, FP),
)
"""Every (receiving role, endpoint) pair, with the roles allowed to send it."""

_BY_KEY: Mapping[tuple[Role, Endpoint], Route] = {
    (route.receiver, route.endpoint): route for route in ROUTES
}


def base_path(role: Role | str) -> str:
    """`/oscp/{fp|cp|co}/2.0`, the conventional path of a role's base URL."""
    return f"/oscp/{_role(role)}/{OSCP_VERSION}"


def route_for(role: Role | str, endpoint: Endpoint | str) -> Route:
    """The route a role serves for an endpoint; UnknownRouteError if it serves none."""
    key = (_role(role), _endpoint(endpoint))
    if key not in _BY_KEY:
        raise UnknownRouteError(f"the {key[0].name} does not receive {key[1]}")
    return _BY_KEY[key]


def message_for(role: Role | str, endpoint: Endpoint | str) -> type[OscpModel]:
    """The message model a role receives at an endpoint; UnknownRouteError if none."""
    return route_for(role, endpoint).model


def path_for(role: Role | str, endpoint: Endpoint | str) -> str:
    """`/oscp/{role}/2.0/{endpoint}`; UnknownRouteError if the role does not receive it."""
    return route_for(role, endpoint).path


def routes_for(role: Role | str) -> tuple[Route, ...]:
    """Every route a role serves, in table order."""
    receiver = _role(role)
    return tuple(route for route in ROUTES if route.receiver is receiver)


def endpoint_for(message: OscpModel | type[OscpModel]) -> Endpoint:
    """The endpoint a message is posted to; UnknownRouteError for shared types such as Error."""
    model = message if isinstance(message, type) else type(message)
    if model not in _MODEL_ENDPOINTS:
        raise UnknownRouteError(f"{model.__name__} is not sent to any endpoint")
    return _MODEL_ENDPOINTS[model]


def url_for(base_url: str, endpoint: Endpoint | str, *, path: str | None = None) -> str:
    """`<base_url>/<endpoint>`, or `<base_url>/<path>` when the peer overrides the path."""
    tail = (path if path is not None else str(_endpoint(endpoint))).lstrip("/")
    return f"{base_url.rstrip('/')}/{tail}"


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise UnknownRouteError(f"{role!r} is not an OSCP role") from None


def _endpoint(endpoint: Endpoint | str) -> Endpoint:
    try:
        return Endpoint(endpoint)
    except ValueError:
        raise UnknownRouteError(f"{endpoint!r} is not an OSCP endpoint") from None
