"""The (role, endpoint) table of PROTOCOL.md §1."""

from __future__ import annotations

import pytest

from depotgrid.oscp import messages
from depotgrid.oscp.routes import (
    ENDPOINT_MODELS,
    ROUTES,
    Endpoint,
    Role,
    UnknownRouteError,
    base_path,
    endpoint_for,
    message_for,
    path_for,
    route_for,
    routes_for,
    url_for,
)
from tests.depotgrid.oscp.examples import EXAMPLES


def test_flexibility_provider_receives_these_messages() -> None:
    assert {route.endpoint: route.model for route in routes_for(Role.FP)} == {
        Endpoint.REGISTER: messages.Register,
        Endpoint.HANDSHAKE: messages.Handshake,
        Endpoint.HANDSHAKE_ACKNOWLEDGE: messages.HandshakeAcknowledge,
        Endpoint.HEARTBEAT: messages.Heartbeat,
        Endpoint.UPDATE_GROUP_CAPACITY_FORECAST: messages.UpdateGroupCapacityForecast,
    }


def test_capacity_provider_receives_these_messages() -> None:
    assert {route.endpoint: route.model for route in routes_for("cp")} == {
        Endpoint.REGISTER: messages.Register,
        Endpoint.HANDSHAKE: messages.Handshake,
        Endpoint.HANDSHAKE_ACKNOWLEDGE: messages.HandshakeAcknowledge,
        Endpoint.HEARTBEAT: messages.Heartbeat,
        Endpoint.ADJUST_GROUP_CAPACITY_FORECAST: messages.AdjustGroupCapacityForecast,
        Endpoint.GROUP_CAPACITY_COMPLIANCE_ERROR: messages.GroupCapacityComplianceError,
        Endpoint.UPDATE_GROUP_MEASUREMENTS: messages.UpdateGroupMeasurements,
        Endpoint.UPDATE_ASSET_MEASUREMENTS: messages.UpdateAssetMeasurement,
    }


def test_paths_follow_the_base_path_convention() -> None:
    assert base_path(Role.FP) == "/oscp/fp/2.0"
    assert path_for("fp", "update_group_capacity_forecast") == (
        "/oscp/fp/2.0/update_group_capacity_forecast"
    )
    assert path_for(Role.CP, Endpoint.GROUP_CAPACITY_COMPLIANCE_ERROR) == (
        "/oscp/cp/2.0/group_capacity_compliance_error"
    )
    for route in ROUTES:
        assert route.path == f"/oscp/{route.receiver}/2.0/{route.endpoint}"


def test_message_for_looks_up_by_role_and_endpoint() -> None:
    assert message_for("cp", "update_asset_measurements") is messages.UpdateAssetMeasurements
    assert message_for(Role.FP, Endpoint.HEARTBEAT) is messages.Heartbeat


@pytest.mark.parametrize(
    ("role", "endpoint"),
    [
        ("fp", "adjust_group_capacity_forecast"),  # SN's CO -> FP extension is not served
        ("fp", "update_group_measurements"),
        ("cp", "update_group_capacity_forecast"),
        ("fp", "handshake_acknowledgment"),  # AP's spelling (PROTOCOL.md §8.12)
        ("dso", "register"),
    ],
)
def test_unknown_routes_are_lookup_errors(role: str, endpoint: str) -> None:
    with pytest.raises(UnknownRouteError):
        message_for(role, endpoint)


def test_senders_say_who_may_call_each_route() -> None:
    assert route_for("fp", "update_group_capacity_forecast").senders == {Role.CP, Role.CO}
    assert route_for("fp", "handshake").senders == {Role.CP}
    assert route_for("cp", "update_group_measurements").senders == {Role.FP}


def test_register_also_takes_put_and_delete() -> None:
    assert route_for("fp", "register").methods == ("POST", "PUT", "DELETE")
    assert route_for("fp", "heartbeat").methods == ("POST",)


def test_every_endpoint_has_one_model_and_every_message_one_endpoint() -> None:
    assert set(ENDPOINT_MODELS) == set(Endpoint)
    for endpoint, model in ENDPOINT_MODELS.items():
        assert endpoint_for(model) is endpoint
    assert endpoint_for(EXAMPLES["Heartbeat"]) is Endpoint.HEARTBEAT
    with pytest.raises(UnknownRouteError):
        endpoint_for(messages.ForecastedBlock)


def test_url_for_joins_base_url_and_endpoint() -> None:
    base = "https://fp.example/oscp/fp/2.0"
    assert url_for(base, Endpoint.HEARTBEAT) == f"{base}/heartbeat"
    assert url_for(base + "/", "heartbeat") == f"{base}/heartbeat"
    assert url_for(base, Endpoint.HEARTBEAT, path="/alt/beat") == f"{base}/alt/beat"
