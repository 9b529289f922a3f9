"""The OSCP connection pages over real HTTP (story "OSCP Binding and Connection Profile
Management"; COR-16, COR-17, COR-18, COR-34, COR-47): list and empty state, the form with
choices from the microgrid read API and its inline errors, the inbound token shown once, detail,
history, enable and disable, the Connection card in every lifecycle state, the outbound list with
its attempts, and the live partials the pages poll."""

from __future__ import annotations

import asyncio
import html
import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from depotgrid.manage.app import oscp_policy
from depotgrid.manage.microgrid import service as microgrids
from depotgrid.manage.oscp import operations, service
from depotgrid.manage.oscp.connections import ConnectionRepository
from depotgrid.manage.oscp.lifecycle import (
    Connection,
    ConnectionState,
    ErrorCode,
    Negotiated,
    TrackedError,
)
from depotgrid.manage.oscp.peers import OscpDestinations
from depotgrid.manage.outbox.dispatcher import Dispatcher
from depotgrid.manage.outbox.retry import RetryPolicy
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from depotgrid.settings import Settings
from tests.conftest import free_port
from tests.depotgrid.manage.api.helpers import create_circuit, create_depot
from tests.depotgrid.manage.web.ui_client import UiClient

TOKEN = "cp-issued-token-90ab"
HEADER_VALUE = "tenant-secret-77cd"
SHOWN_TOKEN = re.compile(r'id="token-value" type="text" class="mono" value="([^"]+)"')


def make_depot(
    api: httpx.Client, uows: UnitOfWorkFactory, name: str = "Leeds North"
) -> dict[str, Any]:
    depot = create_depot(api, name)
    create_circuit(api, depot["id"], "Main intake")
    create_circuit(api, depot["id"], "Solar intake")
    with uows.read() as uow:
        microgrid = microgrids.microgrid_for_depot(uow, depot["id"])
        assert microgrid is not None
        scopes = microgrids.scopes(uow, microgrid.id)
    return {"depot": depot, "microgrid_id": microgrid.id, "scopes": scopes}


def form(site: dict[str, Any], **overrides: str) -> dict[str, str]:
    return {
        "name": "Vector Leeds",
        "microgrid_id": site["microgrid_id"],
        "managed_scope_id": site["scopes"][0].scope_id,
        "group_id": "vector-leeds-1",
        "endpoint_base_url": "https://cp.example.com/oscp/cp/2.0",
        "oscp_version": "2.0",
        "profile": "vector",
        "measurement_publication_mode": "GROUP",
        "measurement_configuration": "INTERMITTENT",
        "measurement_publication_interval_seconds": "900",
        "reporting_asset_id": "",
        "auth_kind": "token",
        "token": TOKEN,
        "static_headers": f"X-Tenant: {HEADER_VALUE}",
    } | overrides


def create_through_form(ui: UiClient, site: dict[str, Any], **overrides: str) -> tuple[str, str]:
    """(configuration id, inbound token shown once)."""
    ui.get("/connections/new")
    page = ui.post("/connections/new", form(site, **overrides))
    assert page.status_code == 200, page.text
    token = SHOWN_TOKEN.search(page.text)
    configuration = re.search(r'href="/connections/([0-9a-f-]{36})"', page.text)
    assert token and configuration
    return configuration.group(1), token.group(1)


def test_the_list_says_what_to_do_when_empty(manager_ui: UiClient, viewer_ui: UiClient) -> None:
    page = manager_ui.get("/connections")
    assert page.status_code == 200
    assert "No OSCP connections yet" in page.text
    assert 'href="/connections/new"' in page.text
    assert 'href="/connections"' in manager_ui.get("/depots").text
    viewed = viewer_ui.get("/connections")
    assert "No OSCP connections yet" in viewed.text
    assert 'href="/connections/new"' not in viewed.text


def test_binding_story_the_form_offers_microgrids_and_the_chosen_ones_scopes(
    manager_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    leeds = make_depot(api, uows, "Leeds North")
    york = make_depot(api, uows, "York South")
    page = manager_ui.get(f"/connections/new?microgrid_id={york['microgrid_id']}")
    assert page.status_code == 200
    select = page.text.split('id="f-microgrid_id"', 1)[1].split("</select>", 1)[0]
    assert "Leeds North" in select and "York South" in select
    assert 'hx-get="/connections/scope-options"' in page.text
    scopes = page.text.split('id="f-managed_scope_id"', 1)[1].split("</select>", 1)[0]
    assert york["scopes"][0].scope_id in scopes and leeds["scopes"][0].scope_id not in scopes
    assert 'value="INTERMITTENT" selected' in page.text and 'value="900" selected' in page.text
    partial = manager_ui.get(
        "/connections/scope-options",
        params={"microgrid_id": leeds["microgrid_id"]},
        headers={"HX-Request": "true"},
    )
    assert partial.text.strip().startswith('<div id="scope-field">')
    assert all(s.scope_id in partial.text for s in leeds["scopes"])
    assert york["scopes"][0].scope_id not in partial.text


def test_the_form_says_how_to_get_a_microgrid_when_there_is_none(manager_ui: UiClient) -> None:
    page = manager_ui.get("/connections/new")
    assert "No microgrid to bind to yet" in page.text


def test_binding_story_a_saved_configuration_is_configured_with_its_binding_visible(
    manager_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    site = make_depot(api, uows)
    configuration_id, token = create_through_form(manager_ui, site)
    with uows.read() as uow:
        assert service.authenticate_inbound(uow, token) == configuration_id
    detail = manager_ui.get(f"/connections/{configuration_id}")
    assert detail.status_code == 200
    text = html.unescape(detail.text)
    assert '<span class="badge badge-grey">CONFIGURED</span>' in text
    for shown in (
        "vector-leeds-1",
        "Leeds North",
        "Main intake",
        "https://cp.example.com/oscp/cp/2.0",
    ):
        assert shown in text
    assert "Not enabled yet — no protocol traffic" in text
    assert "No connection error" in text and "not registered yet" in text
    assert "None: nothing has been queued for the Capacity Provider." in text
    assert "INTERMITTENT" in text and "15 min (900 s)" in text
    assert "X-Tenant (values set)" in text and "token (secret set)" in text
    listed = manager_ui.get("/connections").text
    assert "vector-leeds-1" in listed and "CONFIGURED" in listed


def test_errors_appear_beside_their_fields_and_the_form_keeps_what_was_typed(
    manager_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    site = make_depot(api, uows)
    manager_ui.get("/connections/new")
    page = manager_ui.post(
        "/connections/new",
        form(
            site,
            endpoint_base_url="cp.example.com",
            group_id="",
            token="",
            static_headers="Authorization: x",
        ),
    )
    assert page.status_code == 422
    text = html.unescape(page.text)
    endpoint = text.split('id="f-endpoint_base_url"', 1)[1].split("</div>", 1)[0]
    assert 'value="cp.example.com"' in endpoint
    assert "http:// or https:// URL" in endpoint
    group = text.split('id="f-group_id"', 1)[1].split("</div>", 1)[0]
    assert "Enter the group id" in group
    assert "Enter the token" in text.split('id="f-token"', 1)[1].split("</div>", 1)[0]
    assert "set by depotgrid" in text.split('id="f-static_headers"', 1)[1].split("</div>", 1)[0]
    assert 'value="Vector Leeds"' in text
    assert api.get("/api/oscp-configurations").json()["total"] == 0


def test_a_taken_group_id_is_refused_beside_the_field(
    manager_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    site = make_depot(api, uows)
    create_through_form(manager_ui, site)
    page = manager_ui.post(
        "/connections/new", form(site, managed_scope_id=site["scopes"][1].scope_id)
    )
    assert page.status_code == 409
    group = html.unescape(page.text).split('id="f-group_id"', 1)[1].split("</div>", 1)[0]
    assert "is already used by active OSCP configuration Vector Leeds" in group


def test_enable_and_disable_with_a_confirmation(
    manager_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    site = make_depot(api, uows)
    configuration_id, _ = create_through_form(manager_ui, site)
    detail = manager_ui.follow(manager_ui.post(f"/connections/{configuration_id}/enable", {}))
    assert "enabled." in detail.text and "Not enabled" not in detail.text
    confirm = manager_ui.get(f"/connections/{configuration_id}/disable")
    assert "Disable Vector Leeds?" in html.unescape(confirm.text)
    assert "released" in confirm.text
    disabled = manager_ui.follow(manager_ui.post(f"/connections/{configuration_id}/disable", {}))
    assert '<span class="badge badge-grey">DISABLED</span>' in disabled.text
    assert api.get(f"/api/oscp-configurations/{configuration_id}").json()["state"] == "DISABLED"


def test_asset_mode_without_a_reporting_asset_is_not_enabled(
    manager_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    site = make_depot(api, uows)
    configuration_id, _ = create_through_form(
        manager_ui, site, measurement_publication_mode="ASSET"
    )
    detail = manager_ui.follow(manager_ui.post(f"/connections/{configuration_id}/enable", {}))
    assert "Not enabled" in detail.text and "reporting_asset_id" in detail.text
    assert "required before enabling" in detail.text


def test_the_edit_form_never_shows_secrets_and_refuses_a_stale_save(
    manager_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    site = make_depot(api, uows)
    configuration_id, token = create_through_form(manager_ui, site)
    edit = manager_ui.get(f"/connections/{configuration_id}/edit")
    assert edit.status_code == 200
    assert 'value="vector-leeds-1"' in edit.text
    assert "leave empty to keep the stored one" in edit.text
    assert 'name="expected_version" value="1"' in edit.text
    api.patch(f"/api/oscp-configurations/{configuration_id}", json={"name": "Changed elsewhere"})
    stale = manager_ui.post(
        f"/connections/{configuration_id}/edit",
        form(site, token="", static_headers="", name="Mine", expected_version="1"),
    )
    assert stale.status_code == 409
    assert "reload and edit again" in stale.text
    saved = manager_ui.post(
        f"/connections/{configuration_id}/edit",
        form(site, token="", static_headers="", name="Mine", expected_version="2"),
    )
    assert saved.status_code == 303
    shown = api.get(f"/api/oscp-configurations/{configuration_id}").json()
    assert shown["name"] == "Mine" and shown["static_headers"] == ["X-Tenant"]
    assert shown["outbound_auth"]["token_present"] is True
    pages = [
        manager_ui.get(f"/connections/{configuration_id}").text,
        manager_ui.get(f"/connections/{configuration_id}/edit").text,
        manager_ui.get(f"/connections/{configuration_id}/history").text,
        manager_ui.get("/connections").text,
        stale.text,
    ]
    for secret in (TOKEN, HEADER_VALUE, token):
        assert all(secret not in page for page in pages), secret


def test_history_shows_each_version_with_the_configuration_it_produced(
    manager_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    site = make_depot(api, uows)
    configuration_id, _ = create_through_form(manager_ui, site)
    api.patch(
        f"/api/oscp-configurations/{configuration_id}",
        json={"measurement_publication_interval_seconds": 300},
    )
    page = manager_ui.get(f"/connections/{configuration_id}/history")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert 'id="version-1"' in text and 'id="version-2"' in text
    assert "Configuration at version 2" in text
    assert "15 min (900 s)" in text and "5 min (300 s)" in text
    assert "Europe/London" in text


def test_rotating_the_inbound_token_asks_first_and_shows_the_new_one_once(
    manager_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    site = make_depot(api, uows)
    configuration_id, first = create_through_form(manager_ui, site)
    confirm = manager_ui.get(f"/connections/{configuration_id}/inbound-token")
    assert "stops working" in confirm.text
    page = manager_ui.post(f"/connections/{configuration_id}/inbound-token", {})
    assert page.headers["cache-control"] == "no-store"
    found = SHOWN_TOKEN.search(page.text)
    assert found and found.group(1) != first
    with uows.read() as uow:
        assert service.authenticate_inbound(uow, first) is None
        assert service.authenticate_inbound(uow, found.group(1)) == configuration_id
    assert found.group(1) not in manager_ui.get(f"/connections/{configuration_id}").text


def test_viewers_read_but_cannot_change(
    viewer_ui: UiClient, manager_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    site = make_depot(api, uows)
    configuration_id, _ = create_through_form(manager_ui, site)
    detail = viewer_ui.get(f"/connections/{configuration_id}")
    assert detail.status_code == 200
    assert f'href="/connections/{configuration_id}/edit"' not in detail.text
    assert viewer_ui.get("/connections/new").status_code == 403
    assert viewer_ui.post(f"/connections/{configuration_id}/enable", {}).status_code == 403


# --- The connection lifecycle on the pages ----------------------------------------------------

HX = {"HX-Request": "true"}
FAST_GIVE_UP = RetryPolicy(base_seconds=0.01, cap_seconds=0.01, max_attempts=2)


def deliver_once(uows: UnitOfWorkFactory, settings: Settings) -> int:
    """One round of the outbox dispatcher, wired as manage wires it (the shared test server
    runs none): real delivery to the configuration's endpoint, lifecycle outcome handlers."""
    policy = oscp_policy(settings)
    dispatcher = Dispatcher(
        uows,
        OscpDestinations(uows, policy.box, uows.clock),
        handlers=operations.outcome_handlers(policy),
        policy=FAST_GIVE_UP,
        timeout_seconds=2,
    )

    async def run() -> int:
        async with dispatcher:
            return await dispatcher.run_once()

    return asyncio.run(run())


def save_connection(uows: UnitOfWorkFactory, connection: Connection) -> None:
    """Put the connection's read model in a given state, as the lifecycle would have left it."""
    with uows.write() as uow:
        ConnectionRepository(uow.connection).save(connection, uow.clock.now())
        uow.commit()


def text_of(ui: UiClient, url: str, **kwargs: Any) -> str:
    page = ui.get(url, **kwargs)
    assert page.status_code == 200, page.text[:500]
    return html.unescape(page.text)


def badge(state: str, tone: str) -> str:
    return f'<span class="badge badge-{tone}">{state}</span>'


def test_cor16_registration_retries_then_fails_visibly_with_every_attempt_kept(
    manager_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory, settings: Settings
) -> None:
    site = make_depot(api, uows)
    unreachable = f"http://127.0.0.1:{free_port()}/oscp/cp/2.0"
    configuration_id, _ = create_through_form(manager_ui, site, endpoint_base_url=unreachable)
    outbound_url = f"/connections/{configuration_id}/outbound"
    assert "No outbound publications yet" in text_of(manager_ui, outbound_url)

    enabled = manager_ui.follow(manager_ui.post(f"/connections/{configuration_id}/enable", {}))
    text = html.unescape(enabled.text)
    assert badge("REGISTERING", "blue") in text
    assert "Register queued at" in text and "not delivered yet" in text
    outbound = text_of(manager_ui, outbound_url)
    assert "Register" in outbound and badge("PENDING", "blue") in outbound
    assert "not sent yet" in outbound and '"token": "•••"' in outbound

    assert deliver_once(uows, settings) == 1
    text = text_of(manager_ui, f"/connections/{configuration_id}")
    assert badge("REGISTERING", "blue") in text
    assert "Registering — delivery failing" in text
    assert "Register attempt 1 failed: no answer" in text and "The next attempt is at" in text
    assert "REGISTRATION_UNDELIVERABLE" in text and "Our Register could not be delivered" in text
    outbound = text_of(manager_ui, outbound_url)
    assert badge("RETRYING", "yellow") in outbound and "1 attempt" in outbound
    assert "Delivery attempts of Register" in outbound and badge("no answer", "red") in outbound

    time.sleep(0.05)
    assert deliver_once(uows, settings) == 1
    text = text_of(manager_ui, f"/connections/{configuration_id}")
    assert badge("REGISTRATION_FAILED", "red") in text
    assert "Registration failed" in text and "was given up after 2 attempts" in text
    assert "Retry: disable the connection, then enable it again." in text
    assert "What failed: Our Register could not be delivered (REGISTRATION_UNDELIVERABLE)" in text
    assert "Register " + badge("DEAD", "red") in text  # the last outbound publication summary
    outbound = text_of(manager_ui, outbound_url)
    assert badge("DEAD", "red") in outbound and "2 attempts" in outbound
    listed = text_of(manager_ui, "/connections")
    assert badge("REGISTRATION_FAILED", "red") in listed
    assert badge("REGISTRATION_UNDELIVERABLE", "red") in listed
    history = text_of(manager_ui, f"/connections/{configuration_id}/history")
    assert badge("Registration started", "blue") in history
    assert badge("Registration failed", "red") in history
    assert (
        badge("REGISTERING", "blue") in history and badge("REGISTRATION_FAILED", "red") in history
    )
    assert history.count('class="history-connection"') == 2


def test_cor17_cor18_cor34_each_lifecycle_state_renders_deterministically(
    manager_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    site = make_depot(api, uows)
    configuration_id, _ = create_through_form(manager_ui, site)
    manager_ui.post(f"/connections/{configuration_id}/enable", {})
    detail = f"/connections/{configuration_id}"
    now = datetime.now(UTC)
    online = Connection(
        configuration_id,
        state=ConnectionState.ONLINE,
        registered_at=now - timedelta(minutes=1),
        negotiated=Negotiated(2.0, ("INTERMITTENT",), 3.0),
        last_heartbeat_at=now - timedelta(seconds=1),
        offline_at=now + timedelta(seconds=8),
        next_heartbeat_at=now + timedelta(seconds=1),
    )

    save_connection(uows, online)
    text = text_of(manager_ui, detail)
    assert badge("ONLINE", "green") in text and "DEGRADED" not in text
    assert "No connection error" in text and "not registered yet" not in text
    assert "every 2 s" in text and "every 3 s" in text and "INTERMITTENT" in text
    assert re.search(r'id="last-heartbeat"><time datetime="[^"]+">[^<]+</time> <span', text)
    assert re.search(r"Offline threshold</dt><dd><time [^>]+>[^<]+</time> <span[^>]*>\(in ", text)
    assert 'id="head-heartbeat" class="fact-value"><time' in text

    live = manager_ui.get(f"{detail}/live", headers=HX)
    assert live.status_code == 200
    assert live.text.lstrip().startswith('<section class="panel conn-card conn-card-green"')
    assert 'hx-trigger="every 2s"' in live.text and "data-live-age" in live.text
    assert '<span id="head-state" hx-swap-oob="true">' + badge("ONLINE", "green") in live.text
    assert '<span id="inbound-tokens" hx-swap-oob="true">2 valid' in live.text
    assert '<span id="last-changed" hx-swap-oob="true">' in live.text
    assert "<form" not in live.text and "<html" not in live.text

    error = TrackedError(ErrorCode.HEARTBEAT_MISSED, "no heartbeat from the CP since then", now)
    save_connection(uows, replace(online, state=ConnectionState.OFFLINE, last_error=error))
    text = text_of(manager_ui, detail)
    assert badge("OFFLINE", "red") in text and "DEGRADED" not in text
    assert "The Capacity Provider's heartbeats stopped" in text and "HEARTBEAT_MISSED" in text
    assert "no heartbeat from the CP since then" in text and "the offline threshold was" in text
    listed = text_of(manager_ui, "/connections/live", headers=HX)
    assert badge("OFFLINE", "red") in listed and badge("HEARTBEAT_MISSED", "red") in listed

    save_connection(uows, replace(online, error_cleared_at=now))
    text = text_of(manager_ui, detail)
    assert badge("ONLINE", "green") in text and badge("CLEARED", "green") in text
    assert "Cleared at" in text and "No connection error" not in text
    assert "HEARTBEAT_MISSED" not in text
    assert "cleared" in text_of(manager_ui, "/connections")

    refused = TrackedError(ErrorCode.HEARTBEAT_SEND_FAILED, "HTTP 403: forbidden", now)
    save_connection(uows, replace(online, last_error=refused))
    text = text_of(manager_ui, detail)
    assert badge("ONLINE", "green") + ' <span class="badge badge-yellow">DEGRADED</span>' in text
    assert "Our heartbeat could not be delivered" in text and "HTTP 403: forbidden" in text

    timeout = TrackedError(ErrorCode.HANDSHAKE_TIMEOUT, "no HandshakeAcknowledge by then", now)
    handshake_failed = Connection(
        configuration_id,
        state=ConnectionState.HANDSHAKE_FAILED,
        registered_at=now,
        handshake_attempts=2,
        handshake_retry_at=now + timedelta(seconds=10),
        last_error=timeout,
    )
    save_connection(uows, handshake_failed)
    text = text_of(manager_ui, detail)
    assert badge("HANDSHAKE_FAILED", "red") in text and "Handshake failed" in text
    assert "What failed: Our handshake was not acknowledged in time (HANDSHAKE_TIMEOUT)" in text
    assert "Attempt 2 failed; the handshake is sent again at" in text
    assert "Retries wait 5 s, doubling up to 5 min." in text
    assert "No business messages are sent until it is handshaken." in text
    assert "not negotiated yet" in text

    rejected = TrackedError(ErrorCode.HANDSHAKE_REJECTED, "heartbeat_interval 0 s is outside", now)
    save_connection(uows, replace(handshake_failed, handshake_retry_at=None, last_error=rejected))
    text = text_of(manager_ui, detail)
    assert "A handshake's required behaviour was refused" in text
    assert "No automatic retry" in text

    handshaking = Connection(
        configuration_id,
        state=ConnectionState.HANDSHAKING,
        registered_at=now,
        handshake_attempts=1,
        handshake_deadline=now + timedelta(seconds=30),
    )
    save_connection(uows, handshaking)
    text = text_of(manager_ui, detail)
    assert badge("HANDSHAKING", "blue") in text
    assert "Handshake attempt 1 sent; its acknowledgement is due by" in text

    save_connection(uows, replace(online, state=ConnectionState.HANDSHAKEN, last_heartbeat_at=None))
    text = text_of(manager_ui, detail)
    assert badge("HANDSHAKEN", "blue") in text
    assert "Handshaken — waiting for the first heartbeat" in text


def test_disabled_state_live_partials_and_lifecycle_history(
    manager_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    site = make_depot(api, uows)
    configuration_id, _ = create_through_form(manager_ui, site)
    listed = manager_ui.get("/connections/live", headers=HX)
    assert listed.text.lstrip().startswith('<div id="connections-live"')
    assert "<html" not in listed.text and badge("CONFIGURED", "grey") in listed.text
    assert "never" in listed.text and "none" in listed.text

    manager_ui.post(f"/connections/{configuration_id}/enable", {})
    outbound = manager_ui.get(f"/connections/{configuration_id}/outbound/live", headers=HX)
    assert outbound.text.lstrip().startswith('<div id="outbound-live"')
    assert "every 2s [!document.querySelector('#outbound-live details[open]')]" in outbound.text
    assert "Register" in outbound.text and 'id="head-state" hx-swap-oob="true"' in outbound.text

    disabled = manager_ui.follow(manager_ui.post(f"/connections/{configuration_id}/disable", {}))
    text = html.unescape(disabled.text)
    assert badge("DISABLED", "grey") in text
    assert "Disabled — no protocol traffic" in text and "Enable the connection again" in text
    assert 'action="/connections/' + configuration_id + '/enable"' in text
    history = text_of(manager_ui, f"/connections/{configuration_id}/history")
    assert badge("Registration started", "blue") in history
    assert badge("Connection stopped", "grey") in history
    assert history.count(badge("DISABLED", "grey")) >= 2  # the disable and the stopped lifecycle
    assert "started by depotgrid" in history


def test_older_outbound_pages_do_not_poll(
    manager_ui: UiClient, api: httpx.Client, uows: UnitOfWorkFactory
) -> None:
    site = make_depot(api, uows)
    configuration_id, _ = create_through_form(manager_ui, site)
    manager_ui.post(f"/connections/{configuration_id}/enable", {})
    first = text_of(manager_ui, f"/connections/{configuration_id}/outbound?limit=1")
    assert "hx-get" in first.split('id="outbound-live"', 1)[1].split(">", 1)[0]
    past = text_of(manager_ui, f"/connections/{configuration_id}/outbound?offset=5")
    assert "Older publications do not refresh" in past
    assert "This page is past the end of the list" in past
