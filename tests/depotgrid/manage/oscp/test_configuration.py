"""The OSCP configuration aggregate without a database: validation, edit and enable rules, the
event payloads and the fold (story "OSCP Binding and Connection Profile Management")."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from depotgrid.manage.errors import Conflict, ValidationFailed
from depotgrid.manage.events.store import RecordedEvent
from depotgrid.manage.oscp.configuration import (
    CREATED,
    DISABLED,
    ENABLED,
    INBOUND_TOKEN_ISSUED,
    PUBLICATION_INTERVALS,
    UPDATED,
    ConfigurationState,
    OAuth2ClientCredentials,
    OscpConfiguration,
    PublicationMode,
    SecretRef,
    TokenAuth,
    apply,
    created_data,
    edited,
    enable_blockers,
    replay,
    updated_data,
)
from depotgrid.manage.oscp.inputs import AuthInput, ConfigurationInput, check, settle
from depotgrid.oscp.enums import MeasurementConfiguration

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BINDING = {
    "group_id": "vector-leeds-1",
    "microgrid_id": "mg-1",
    "managed_scope_id": "scope-1",
    "endpoint_base_url": "https://cp.example.com/oscp/cp/2.0",
}


class Vault:
    """A seal that remembers what it was given, as the secret store would."""

    def __init__(self) -> None:
        self.sealed: dict[str, tuple[str, str]] = {}

    def __call__(self, purpose: str, plaintext: str) -> SecretRef:
        ref = SecretRef(f"ref-{len(self.sealed) + 1}")
        self.sealed[ref.id] = (purpose, plaintext)
        return ref


def checked_values(given: ConfigurationInput, current: OscpConfiguration | None = None) -> Any:
    checked, errors = check(given, current)
    assert errors == []
    return checked


def errors_of(
    given: ConfigurationInput, current: OscpConfiguration | None = None
) -> dict[str, str]:
    _, errors = check(given, current)
    return {error.field: error.reason for error in errors}


def event(version: int, event_type: str, data: dict[str, Any]) -> RecordedEvent:
    return RecordedEvent(
        position=version,
        stream_id="oscp-configuration-c1",
        stream_version=version,
        event_type=event_type,
        data=data,
        recorded_at=T0 + timedelta(minutes=version),
        actor="tester",
    )


def new_configuration(vault: Vault | None = None, **fields: Any) -> OscpConfiguration:
    given = ConfigurationInput(
        BINDING | fields, AuthInput("token", token="cp-issued-token"), {"X-Tenant": "acme"}
    )
    values = settle(checked_values(given), None, vault or Vault())
    return apply(None, event(1, CREATED, created_data("c1", values, "cred-1")))


def test_binding_story_omitted_profile_fields_take_the_vector_defaults() -> None:
    values = checked_values(ConfigurationInput(BINDING)).values
    assert values["oscp_version"] == "2.0"
    assert values["profile"] == "vector"
    assert values["measurement_publication_mode"] is PublicationMode.GROUP
    assert values["measurement_configuration"] is MeasurementConfiguration.INTERMITTENT
    assert values["measurement_publication_interval_seconds"] == 900


def test_binding_story_a_create_needs_every_binding_field() -> None:
    assert errors_of(ConfigurationInput({})) == dict.fromkeys(BINDING, "is required")


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("endpoint_base_url", "cp.example.com", "http:// or https:// URL"),
        ("endpoint_base_url", "ftp://cp.example.com", "http:// or https:// URL"),
        ("endpoint_base_url", "https://me:pw@cp.example.com", "user name or password"),
        ("endpoint_base_url", "https://cp.example.com/oscp?x=1", "query"),
        ("endpoint_base_url", "https://cp.example.com:99999", "port"),
        ("oscp_version", "2.1", 'only OSCP "2.0"'),
        ("profile", "acme", "vector"),
        ("measurement_publication_mode", "BOTH", "GROUP or ASSET"),
        ("measurement_configuration", "SOMETIMES", "CONTINUOUS or INTERMITTENT"),
        ("measurement_publication_interval_seconds", 901, "divides the hour"),
        ("measurement_publication_interval_seconds", 30, "divides the hour"),
        ("measurement_publication_interval_seconds", 7200, "divides the hour"),
        ("group_id", "   ", "must not be empty"),
        ("group_id", "a\nb", "control characters"),
        ("group_id", "g" * 201, "at most 200"),
    ],
)
def test_a_bad_field_is_named_with_how_to_fix_it(name: str, value: Any, reason: str) -> None:
    assert reason in errors_of(ConfigurationInput(BINDING | {name: value}))[name]


def test_publication_intervals_are_whole_minutes_that_align_to_the_hour() -> None:
    assert min(PUBLICATION_INTERVALS) == 60 and max(PUBLICATION_INTERVALS) == 3600
    assert all(s % 60 == 0 and 3600 % s == 0 for s in PUBLICATION_INTERVALS)
    assert 900 in PUBLICATION_INTERVALS


def test_the_endpoint_is_normalized() -> None:
    given = ConfigurationInput(
        BINDING | {"endpoint_base_url": " HTTPS://CP.Example.com/oscp/cp/2.0/ "}
    )
    assert checked_values(given).values["endpoint_base_url"] == "https://cp.example.com/oscp/cp/2.0"


@pytest.mark.parametrize(
    ("auth", "errors"),
    [
        (AuthInput("basic"), {"outbound_auth.kind": "must be one of"}),
        (AuthInput("token"), {"outbound_auth.token": "is required"}),
        (AuthInput("token", token="has space"), {"outbound_auth.token": "must not contain spaces"}),
        (
            AuthInput("token", token="t", client_id="x"),
            {"outbound_auth.client_id": "is not used with kind token"},
        ),
        (
            AuthInput("oauth2_client_credentials", token_url="nope", client_id=""),
            {
                "outbound_auth.token_url": "URL",
                "outbound_auth.client_id": "must not be empty",
                "outbound_auth.client_secret": "is required",
            },
        ),
    ],
)
def test_outbound_auth_is_checked_per_kind(auth: AuthInput, errors: dict[str, str]) -> None:
    found = errors_of(ConfigurationInput(BINDING, auth))
    assert found.keys() == errors.keys()
    for name, reason in errors.items():
        assert reason in found[name]


@pytest.mark.parametrize(
    ("headers", "name", "reason"),
    [
        ({"Authorization": "x"}, "static_headers.Authorization", "set by depotgrid"),
        ({"x-request-id": "x"}, "static_headers.x-request-id", "set by depotgrid"),
        ({"X-Correlation-ID": "x"}, "static_headers.X-Correlation-ID", "set by depotgrid"),
        ({"X-OSCP-Configuration-ID": "x"}, "static_headers.X-OSCP-Configuration-ID", "depotgrid"),
        ({"Content-Type": "text/plain"}, "static_headers.Content-Type", "set by depotgrid"),
        ({"Bad Name": "x"}, "static_headers.Bad Name", "not a valid header name"),
        ({"X-Tenant": "a\r\nb"}, "static_headers.X-Tenant", "single-line value"),
        ({"X-Tenant": "a", "x-tenant": "b"}, "static_headers.x-tenant", "given twice"),
        ({f"X-H{n}": "v" for n in range(21)}, "static_headers", "at most 20"),
    ],
)
def test_static_headers_refuse_reserved_and_malformed_ones(
    headers: dict[str, str], name: str, reason: str
) -> None:
    assert reason in errors_of(ConfigurationInput(BINDING, None, headers))[name]


def test_secrets_are_sealed_and_events_hold_only_references() -> None:
    vault = Vault()
    configuration = new_configuration(vault)
    assert isinstance(configuration.outbound_auth, TokenAuth)
    assert configuration.static_headers.names == ("X-Tenant",)
    assert {purpose for purpose, _ in vault.sealed.values()} == {"outbound_token", "static_headers"}
    stored = json.dumps(created_data("c1", vars(configuration), "cred-1"))
    assert "cp-issued-token" not in stored and "acme" not in stored
    assert '"secret_ref": "ref-1", "present": true' in stored
    assert configuration.secret_refs() == set(vault.sealed)


def test_an_edit_keeps_a_secret_left_out_unless_the_kind_changes() -> None:
    vault = Vault()
    current = new_configuration(vault)
    kept = checked_values(ConfigurationInput({}, AuthInput("token")), current)
    assert settle(kept, current, vault)["outbound_auth"] == current.outbound_auth
    switched = ConfigurationInput(
        {}, AuthInput("oauth2_client_credentials", token_url="https://a.b", client_id="fp")
    )
    assert errors_of(switched, current) == {"outbound_auth.client_secret": "is required"}


def test_an_oauth2_setup_keeps_its_non_secret_fields() -> None:
    vault = Vault()
    auth = AuthInput(
        "oauth2_client_credentials",
        token_url="https://auth.example.com/token",
        client_id="depotgrid",
        client_secret="s3cret",
        scope="oscp",
    )
    values = settle(checked_values(ConfigurationInput(BINDING, auth)), None, vault)
    assert values["outbound_auth"] == OAuth2ClientCredentials(
        "https://auth.example.com/token", "depotgrid", SecretRef("ref-1"), "oscp"
    )
    assert vault.sealed["ref-1"] == ("oauth2_client_secret", "s3cret")


def test_the_fold_rebuilds_the_configuration_at_every_version() -> None:
    first = new_configuration()
    changed = {"measurement_publication_interval_seconds": 300, "name": "Vector Leeds"}
    events = [
        event(1, CREATED, created_data("c1", vars(first), "cred-1")),
        event(2, UPDATED, updated_data(first, changed)),
        event(3, ENABLED, {"configuration_id": "c1"}),
        event(4, INBOUND_TOKEN_ISSUED, {"configuration_id": "c1", "credential_id": "cred-2"}),
        event(5, DISABLED, {"configuration_id": "c1"}),
        event(6, ENABLED, {"configuration_id": "c1"}),
    ]
    versions = replay(events)
    assert [v.version for v in versions] == [1, 2, 3, 4, 5, 6]
    assert versions[0] == first
    assert versions[1] == replace(first, **changed, version=2, updated_at=events[1].recorded_at)
    assert [(v.state, v.enabled) for v in versions] == [
        (ConfigurationState.CONFIGURED, False),
        (ConfigurationState.CONFIGURED, False),
        (ConfigurationState.CONFIGURED, True),
        (ConfigurationState.CONFIGURED, True),
        (ConfigurationState.DISABLED, False),
        (ConfigurationState.CONFIGURED, True),
    ]
    assert all(v.created_at == events[0].recorded_at for v in versions)


def test_the_fold_refuses_events_it_does_not_know() -> None:
    first = new_configuration()
    with pytest.raises(ValueError, match="starts with"):
        apply(None, event(1, ENABLED, {"configuration_id": "c1"}))
    with pytest.raises(ValueError, match="not an OSCP configuration event"):
        apply(first, event(2, "SomethingElse", {}))


def test_binding_fields_change_only_while_not_enabled() -> None:
    configured = new_configuration()
    assert edited(configured, {"group_id": "other"}) == {"group_id": "other"}
    enabled = replace(configured, enabled=True)
    with pytest.raises(Conflict) as refused:
        edited(enabled, {"group_id": "other", "managed_scope_id": "scope-2"})
    assert refused.value.code == "OSCP_DISABLE_FIRST"
    assert refused.value.details["fields"] == ["group_id", "managed_scope_id"]
    assert edited(
        enabled, {"measurement_publication_interval_seconds": 300, "group_id": "vector-leeds-1"}
    ) == {"measurement_publication_interval_seconds": 300}


def test_an_enabled_connection_must_stay_ready_to_enable() -> None:
    enabled = replace(new_configuration(), enabled=True)
    with pytest.raises(ValidationFailed) as refused:
        edited(enabled, {"measurement_publication_mode": PublicationMode.ASSET})
    assert [e.field for e in refused.value.errors] == ["reporting_asset_id"]


def test_binding_story_asset_mode_needs_a_reporting_asset_before_enable() -> None:
    asset = replace(new_configuration(), measurement_publication_mode=PublicationMode.ASSET)
    assert [e.field for e in enable_blockers(asset)] == ["reporting_asset_id"]
    assert enable_blockers(replace(asset, reporting_asset_id="depot-meter-1")) == []
    continuous = replace(
        asset,
        reporting_asset_id="depot-meter-1",
        measurement_configuration=MeasurementConfiguration.CONTINUOUS,
    )
    assert [e.field for e in enable_blockers(continuous)] == ["measurement_configuration"]
