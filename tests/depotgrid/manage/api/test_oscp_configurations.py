"""OSCP configurations over HTTP (story "OSCP Binding and Connection Profile Management"; issue
#5 §1 and the admin API contract of §9)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from depotgrid.manage.microgrid import service as microgrids
from depotgrid.manage.oscp import service
from depotgrid.manage.oscp.secrets import outbound_secrets, secret_box
from depotgrid.manage.oscp.tables import oscp_configurations, oscp_inbound_tokens, oscp_secrets
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from depotgrid.settings import Settings
from tests.conftest import Accounts, client_for
from tests.depotgrid.manage.api.helpers import create_circuit, create_depot, errors_by_field

URL = "/api/oscp-configurations"
TOKEN = "cp-issued-token-7f3a9c"
CLIENT_SECRET = "oauth-client-secret-51d0"
HEADER_VALUE = "tenant-value-e2b8"


@dataclass(frozen=True)
class Site:
    depot_id: str
    microgrid_id: str
    scope_ids: tuple[str, str]


@pytest.fixture
def site(api: httpx.Client, uows: UnitOfWorkFactory) -> Site:
    """A depot whose microgrid has two managed scopes (two grid connections)."""
    depot = create_depot(api, "Leeds North")
    create_circuit(api, depot["id"], "Intake A")
    create_circuit(api, depot["id"], "Intake B")
    with uows.read() as uow:
        microgrid = microgrids.microgrid_for_depot(uow, depot["id"])
        assert microgrid is not None
        first, second = (s.scope_id for s in microgrids.scopes(uow, microgrid.id))
    return Site(depot["id"], microgrid.id, (first, second))


def contract(site: Site, **overrides: Any) -> dict[str, Any]:
    """The create request of the issue's admin API contract."""
    return {
        "group_id": "vector-leeds-1",
        "microgrid_id": site.microgrid_id,
        "managed_scope_id": site.scope_ids[0],
        "endpoint_base_url": "https://cp.example.com/oscp/cp/2.0",
        "oscp_version": "2.0",
        "profile": "vector",
        "measurement_publication_mode": "ASSET",
        "measurement_configuration": "INTERMITTENT",
        "measurement_publication_interval_seconds": 900,
        "reporting_asset_id": "leeds-meter-1",
        "outbound_auth": {"kind": "token", "token": TOKEN},
        "static_headers": {"X-Tenant": HEADER_VALUE},
    } | overrides


def create(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(URL, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def stored_counts(uows: UnitOfWorkFactory) -> tuple[int, int, int, int]:
    """(configurations, their events, secrets, inbound tokens) in the database."""
    with uows.read() as uow:
        conn = uow.connection
        events = [e for e in uow.events.read_all() if e.stream_id.startswith("oscp-configuration")]
        return (
            conn.scalar(select(func.count()).select_from(oscp_configurations)) or 0,
            len(events),
            conn.scalar(select(func.count()).select_from(oscp_secrets)) or 0,
            conn.scalar(select(func.count()).select_from(oscp_inbound_tokens)) or 0,
        )


def test_binding_story_contract_request_creates_a_configured_connection(
    api: httpx.Client, site: Site
) -> None:
    response = api.post(URL, json=contract(site))
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    assert created["state"] == "CONFIGURED" and created["enabled"] is False
    assert len(created["inbound_token"]) >= 40
    read = api.get(f"{URL}/{created['id']}")
    assert read.headers["etag"] == '"1"'
    shown = read.json()
    assert "inbound_token" not in shown
    assert shown == {k: v for k, v in created.items() if k != "inbound_token"}
    expected = contract(site)
    for name in (
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
    ):
        assert shown[name] == expected[name], name
    assert shown["outbound_auth"] == {
        "kind": "token",
        "token_present": True,
        "token_url": None,
        "client_id": None,
        "scope": None,
        "client_secret_present": False,
    }
    assert shown["static_headers"] == ["X-Tenant"]
    assert (shown["negotiated"], shown["last_heartbeat_at"], shown["last_error"]) == (
        None,
        None,
        None,
    )
    assert shown["version"] == 1


def test_binding_story_omitted_profile_fields_take_the_vector_defaults(
    api: httpx.Client, site: Site
) -> None:
    body = {
        k: v
        for k, v in contract(site).items()
        if k
        in ("group_id", "microgrid_id", "managed_scope_id", "endpoint_base_url", "outbound_auth")
    }
    created = create(api, body)
    assert created["oscp_version"] == "2.0" and created["profile"] == "vector"
    assert created["measurement_configuration"] == "INTERMITTENT"
    assert created["measurement_publication_interval_seconds"] == 900
    assert created["measurement_publication_mode"] == "GROUP"
    assert created["static_headers"] == [] and created["reporting_asset_id"] is None


def test_a_configuration_may_wait_for_the_capacity_provider_to_supply_the_outbound_token(
    api: httpx.Client, site: Site
) -> None:
    body = contract(site)
    del body["outbound_auth"]
    assert create(api, body)["outbound_auth"] is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"endpoint_base_url": "cp.example.com"}, "endpoint_base_url"),
        ({"oscp_version": "2.1"}, "oscp_version"),
        ({"profile": "acme"}, "profile"),
        ({"measurement_publication_mode": "BOTH"}, "measurement_publication_mode"),
        ({"measurement_configuration": "SOMETIMES"}, "measurement_configuration"),
        (
            {"measurement_publication_interval_seconds": 7200},
            "measurement_publication_interval_seconds",
        ),
        (
            {"measurement_publication_interval_seconds": 901},
            "measurement_publication_interval_seconds",
        ),
        ({"group_id": ""}, "group_id"),
        ({"microgrid_id": "no-such-microgrid"}, "microgrid_id"),
        ({"managed_scope_id": "no-such-scope"}, "managed_scope_id"),
        ({"outbound_auth": {"kind": "basic"}}, "outbound_auth.kind"),
        ({"outbound_auth": {"kind": "token"}}, "outbound_auth.token"),
        (
            {
                "outbound_auth": {
                    "kind": "oauth2_client_credentials",
                    "token_url": "https://a.b/t",
                    "client_id": "fp",
                }
            },
            "outbound_auth.client_secret",
        ),
        ({"static_headers": {"Authorization": "Token x"}}, "static_headers.Authorization"),
        ({"static_headers": {"X-Request-ID": "fixed"}}, "static_headers.X-Request-ID"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    api: httpx.Client, uows: UnitOfWorkFactory, site: Site, overrides: dict[str, Any], field: str
) -> None:
    response = api.post(URL, json=contract(site, **overrides))
    assert response.status_code == 422, response.text
    assert field in errors_by_field(response), response.text
    assert api.get(URL).json()["total"] == 0
    assert stored_counts(uows) == (0, 0, 0, 0)


def test_binding_story_group_id_and_scope_are_unique_while_active(
    api: httpx.Client, site: Site
) -> None:
    first = create(api, contract(site))
    same_group = api.post(URL, json=contract(site, managed_scope_id=site.scope_ids[1]))
    assert same_group.status_code == 409
    assert same_group.json()["code"] == "OSCP_GROUP_ID_IN_USE"
    assert same_group.json()["details"] == {"field": "group_id", "configuration_id": first["id"]}
    same_scope = api.post(URL, json=contract(site, group_id="vector-leeds-2"))
    assert same_scope.status_code == 409
    assert same_scope.json()["code"] == "OSCP_SCOPE_IN_USE"
    assert same_scope.json()["details"]["configuration_id"] == first["id"]

    assert api.post(f"{URL}/{first['id']}/disable").json()["state"] == "DISABLED"
    second = create(api, contract(site))
    again = api.post(f"{URL}/{first['id']}/enable")
    assert again.status_code == 409
    assert again.json()["code"] == "OSCP_GROUP_ID_IN_USE"
    assert again.json()["details"]["configuration_id"] == second["id"]
    assert api.get(f"{URL}/{first['id']}").json()["state"] == "DISABLED"
    moved = api.patch(f"{URL}/{second['id']}", json={"group_id": "vector-leeds-9"})
    assert moved.status_code == 200, moved.text
    stolen = api.patch(f"{URL}/{second['id']}", json={"managed_scope_id": site.scope_ids[1]})
    assert stolen.status_code == 200
    assert api.post(f"{URL}/{first['id']}/enable").json()["enabled"] is True


@pytest.mark.parametrize("clash", ["group_id", "managed_scope_id"])
def test_concurrent_creates_of_one_binding_leave_exactly_one(
    server_url: str, accounts: Accounts, uows: UnitOfWorkFactory, site: Site, clash: str
) -> None:
    """Two requests at once: the database's unique index, not a read, decides the winner."""
    bodies = [
        contract(site, managed_scope_id=site.scope_ids[0]),
        contract(site, managed_scope_id=site.scope_ids[1]),
    ]
    if clash == "managed_scope_id":
        bodies = [contract(site, group_id="vector-a"), contract(site, group_id="vector-b")]
    clients = [client_for(server_url, accounts.make("manager")) for _ in bodies]
    barrier = threading.Barrier(len(bodies))
    answers: list[httpx.Response] = []

    def post(client: httpx.Client, body: dict[str, Any]) -> None:
        barrier.wait()
        answers.append(client.post(URL, json=body))

    threads = [
        threading.Thread(target=post, args=pair) for pair in zip(clients, bodies, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    assert sorted(a.status_code for a in answers) == [201, 409]
    (refused,) = (a.json() for a in answers if a.status_code == 409)
    code = "OSCP_GROUP_ID_IN_USE" if clash == "group_id" else "OSCP_SCOPE_IN_USE"
    assert refused["code"] == code
    assert stored_counts(uows)[:2] == (1, 1)


def test_binding_story_asset_mode_cannot_be_enabled_without_a_reporting_asset(
    api: httpx.Client, site: Site
) -> None:
    created = create(api, contract(site, reporting_asset_id=None))
    refused = api.post(f"{URL}/{created['id']}/enable")
    assert refused.status_code == 409
    assert refused.json()["code"] == "OSCP_CONFIGURATION_INCOMPLETE"
    assert refused.json()["details"]["field"] == "reporting_asset_id"
    assert "reporting_asset_id" in refused.json()["message"]
    assert api.get(f"{URL}/{created['id']}").json()["enabled"] is False

    api.patch(f"{URL}/{created['id']}", json={"reporting_asset_id": "leeds-meter-1"})
    enabled = api.post(f"{URL}/{created['id']}/enable")
    assert enabled.status_code == 200
    assert (enabled.json()["state"], enabled.json()["enabled"]) == ("REGISTERING", True)
    assert api.post(f"{URL}/{created['id']}/enable").json()["version"] == enabled.json()["version"]
    cleared = api.patch(f"{URL}/{created['id']}", json={"reporting_asset_id": None})
    assert cleared.status_code == 422
    assert "reporting_asset_id" in errors_by_field(cleared)


def test_binding_fields_change_only_after_disable(api: httpx.Client, site: Site) -> None:
    created = create(api, contract(site))
    api.post(f"{URL}/{created['id']}/enable")
    refused = api.patch(
        f"{URL}/{created['id']}", json={"endpoint_base_url": "https://other.example"}
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "OSCP_DISABLE_FIRST"
    assert refused.json()["details"]["field"] == "endpoint_base_url"
    profile = api.patch(
        f"{URL}/{created['id']}", json={"measurement_publication_interval_seconds": 300}
    )
    assert profile.status_code == 200 and profile.json()["enabled"] is True

    api.post(f"{URL}/{created['id']}/disable")
    moved = api.patch(
        f"{URL}/{created['id']}", json={"endpoint_base_url": "https://other.example/"}
    )
    assert moved.status_code == 200
    assert moved.json()["endpoint_base_url"] == "https://other.example"
    assert moved.json()["state"] == "DISABLED"


def test_an_edit_that_changes_nothing_records_nothing(api: httpx.Client, site: Site) -> None:
    created = create(api, contract(site))
    same = api.patch(
        f"{URL}/{created['id']}", json={"group_id": "vector-leeds-1", "profile": "vector"}
    )
    assert same.status_code == 200 and same.json()["version"] == 1
    assert api.get(f"{URL}/{created['id']}/history").json()["total"] == 1


def test_a_stale_edit_is_refused_with_the_current_version(api: httpx.Client, site: Site) -> None:
    created = create(api, contract(site))
    path = f"{URL}/{created['id']}"
    assert api.patch(path, json={"name": "Vector Leeds", "expected_version": 1}).status_code == 200
    stale = api.patch(path, json={"name": "Lost update", "expected_version": 1})
    assert stale.status_code == 409
    assert stale.json()["code"] == "OSCP_STALE_VERSION"
    assert stale.json()["details"] == {"current_version": 2, "expected_version": 1}
    assert api.patch(path, json={"name": "Lost"}, headers={"If-Match": '"1"'}).status_code == 409
    fresh = api.patch(path, json={"name": "Vector Leeds 2"}, headers={"If-Match": '"2"'})
    assert fresh.status_code == 200 and fresh.json()["version"] == 3
    assert api.get(path).json()["name"] == "Vector Leeds 2"


def test_history_reconstructs_the_configuration_at_each_version(
    api: httpx.Client, site: Site
) -> None:
    created = create(api, contract(site))
    path = f"{URL}/{created['id']}"
    api.patch(path, json={"measurement_publication_interval_seconds": 300, "name": "Leeds"})
    api.post(f"{path}/enable")
    api.post(f"{path}/disable")
    api.post(f"{path}/inbound-token")
    history = api.get(f"{path}/history").json()
    assert history["total"] == 9
    items = history["items"]
    assert [(i["stream"], i["event_type"]) for i in items] == [
        ("configuration", "OscpConfigurationCreated"),
        ("configuration", "OscpConfigurationUpdated"),
        ("configuration", "OscpConfigurationEnabled"),
        ("configuration", "OscpInboundTokenIssued"),
        ("connection", "OscpRegistrationStarted"),
        ("configuration", "OscpConfigurationDisabled"),
        ("connection", "OscpConnectionDisabled"),
        ("configuration", "OscpInboundTokenIssued"),
        ("configuration", "OscpInboundTokensRetired"),
    ]
    assert [i["version"] for i in items if i["stream"] == "configuration"] == [1, 2, 3, 4, 5, 6, 7]
    at = [i["configuration"] for i in items]
    assert at[0]["measurement_publication_interval_seconds"] == 900 and at[0]["name"] is None
    assert at[1]["measurement_publication_interval_seconds"] == 300 and at[1]["name"] == "Leeds"
    assert items[1]["data"]["changes"]["name"] == {"from": None, "to": "Leeds"}
    assert [(c["state"], c["enabled"]) for c in at] == [
        ("CONFIGURED", False),
        ("CONFIGURED", False),
        ("CONFIGURED", True),
        ("CONFIGURED", True),
        ("REGISTERING", True),
        ("DISABLED", False),
        ("DISABLED", False),
        ("DISABLED", False),
        ("DISABLED", False),
    ]
    current = api.get(path).json()
    assert {k: v for k, v in at[-1].items() if k in ("state", "version", "enabled", "name")} == {
        k: current[k] for k in ("state", "version", "enabled", "name")
    }
    page = api.get(f"{path}/history", params={"offset": 4, "limit": 1}).json()
    assert [i["event_type"] for i in page["items"]] == ["OscpRegistrationStarted"]
    assert page["items"][0]["configuration"] == at[4]
    assert api.get(f"{URL}/no-such-id/history").status_code == 404


def test_secrets_never_appear_in_events_or_answers_but_reach_the_dispatcher(
    api: httpx.Client, uows: UnitOfWorkFactory, settings: Settings, site: Site
) -> None:
    created = create(api, contract(site))
    inbound = created["inbound_token"]
    path = f"{URL}/{created['id']}"
    oauth = {
        "kind": "oauth2_client_credentials",
        "token_url": "https://auth.example.com/token",
        "client_id": "depotgrid",
        "client_secret": CLIENT_SECRET,
        "scope": "oscp",
    }
    edited = api.patch(path, json={"outbound_auth": oauth})
    assert edited.json()["outbound_auth"]["client_secret_present"] is True
    rotated = api.post(f"{path}/inbound-token").json()["inbound_token"]

    answers = [
        api.get(path).text,
        api.get(URL).text,
        api.get(f"{path}/history").text,
        edited.text,
    ]
    with uows.read() as uow:
        events = json.dumps([e.data for e in uow.events.read_all()])
        ciphertexts = " ".join(uow.connection.scalars(select(oscp_secrets.c.ciphertext)))
        hashes = " ".join(uow.connection.scalars(select(oscp_inbound_tokens.c.token_hash)))
        configuration = service.get(uow, created["id"])
        plaintext = outbound_secrets(uow, secret_box(settings.secret_key), configuration)
    for secret in (TOKEN, CLIENT_SECRET, HEADER_VALUE, inbound, rotated):
        assert secret not in events, secret
        assert secret not in ciphertexts and secret not in hashes, secret
        assert all(secret not in answer for answer in answers), secret
    assert (plaintext.token, plaintext.client_secret) == (None, CLIENT_SECRET)
    assert plaintext.static_headers == {"X-Tenant": HEADER_VALUE}
    assert CLIENT_SECRET not in repr(plaintext)


def test_a_replaced_secret_is_deleted(
    api: httpx.Client, uows: UnitOfWorkFactory, settings: Settings, site: Site
) -> None:
    created = create(api, contract(site))
    assert stored_counts(uows)[2] == 2
    path = f"{URL}/{created['id']}"
    api.patch(
        path, json={"outbound_auth": {"kind": "token", "token": "new-token"}, "static_headers": {}}
    )
    assert stored_counts(uows)[2] == 1
    with uows.read() as uow:
        configuration = service.get(uow, created["id"])
        plaintext = outbound_secrets(uow, secret_box(settings.secret_key), configuration)
    assert (plaintext.token, plaintext.static_headers) == ("new-token", {})
    kept = api.patch(path, json={"outbound_auth": {"kind": "token"}})
    assert kept.status_code == 200 and kept.json()["version"] == 2


def test_inbound_tokens_authenticate_until_retired(
    api: httpx.Client, uows: UnitOfWorkFactory, site: Site
) -> None:
    created = create(api, contract(site))
    first = created["inbound_token"]
    with uows.write() as uow:
        second = service.issue_inbound_token(uow, "registration", created["id"])
        uow.commit()
    with uows.read() as uow:
        assert service.authenticate_inbound(uow, first) == created["id"]
        assert service.authenticate_inbound(uow, second) == created["id"]
        assert service.authenticate_inbound(uow, "not-a-token") is None
    with uows.write() as uow:
        service.retire_inbound_tokens(uow, "registration", created["id"], keep=second)
        uow.commit()
    with uows.read() as uow:
        assert service.authenticate_inbound(uow, first) is None
        assert service.authenticate_inbound(uow, second) == created["id"]

    rotated = api.post(f"{URL}/{created['id']}/inbound-token")
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    third = rotated.json()["inbound_token"]
    with uows.read() as uow:
        assert service.authenticate_inbound(uow, second) is None
        assert service.authenticate_inbound(uow, third) == created["id"]


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_only_oscp_configurers_change_configurations(
    server_url: str, accounts: Accounts, api: httpx.Client, site: Site, role: str
) -> None:
    created = create(api, contract(site))
    with client_for(server_url, accounts.make(role)) as client:
        assert client.get(f"{URL}/{created['id']}").status_code == 200
        assert client.post(URL, json=contract(site, group_id="x")).status_code == 403
        assert client.post(f"{URL}/{created['id']}/enable").status_code == 403
        assert client.patch(f"{URL}/{created['id']}", json={"name": "x"}).status_code == 403
