"""The simulator UI (issue #4 scope 7), page by page over real HTTP: pages render with designed
empty states, forms change the simulator through the same services as the control API, refused
forms come back as typed with the error beside the field and change nothing, and the ledger
filters, pages and expands."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from depotgrid.oscp.messages import Heartbeat
from tests.depotgrid.sim.fp_double import FpDouble
from tests.depotgrid.sim.helpers import (
    FP_TOKEN,
    SITE_CONFIGURATION,
    World,
    create_session,
    session_path,
    wait_until,
)

CONFIG = "2b5f4a88-d4b4-41ad-a1c8-889f3ee71111"


def page(sim: httpx.Client, url: str, **params: Any) -> str:
    found = sim.get(url, params=params or None)
    assert found.status_code == 200, found.text
    return found.text


def post(sim: httpx.Client, url: str, data: dict[str, Any] | None = None) -> httpx.Response:
    return sim.post(url, data=data or {}, follow_redirects=False)


def field_error(text: str, field_id: str) -> str:
    """The error shown beside one field (`{form}-{name}`), or "" when there is none."""
    found = re.search(rf'id="{field_id}-error"><span aria-hidden="true">⚠ </span>(.*?)</p>', text)
    return html.unescape(found.group(1)) if found else ""


def typed(text: str, field_id: str) -> str:
    found = re.search(rf'<input id="{field_id}" name="[^"]+" value="([^"]*)"', text)
    assert found, f"no input {field_id}"
    return html.unescape(found.group(1))


def entry_types(text: str) -> list[str]:
    """The message types of the ledger entries a page lists, in order."""
    return re.findall(r'<span class="entry-type mono">(\w+)</span>', text)


def ui(world: World, session: dict[str, Any] | None = None) -> str:
    url = f"/ui/runs/{world.run_id}"
    return f"{url}/sessions/{session['session_id']}" if session else url


def run_state(sim: httpx.Client, run_id: str) -> dict[str, Any]:
    found: dict[str, Any] = sim.get(f"/simulation-runs/{run_id}").json()
    return found


def online_via_page(sim: httpx.Client, world: World, fp: FpDouble) -> dict[str, Any]:
    """A session wired to the double, brought online by the page's send-handshake form."""
    session = create_session(sim, world, fp)
    sent = post(
        sim, ui(world, session) + "/commands/send-handshake", {"heartbeat_interval_seconds": "5"}
    )
    assert sent.status_code == 303, sent.text
    wait_until(
        lambda: sim.get(session_path(world, session)).json()["state"],
        lambda state: state == "online",
        what="session online",
    )
    return session


# --- runs ---------------------------------------------------------------------------------


def test_home_opens_the_runs_page_whose_empty_states_say_what_to_do(sim: httpx.Client) -> None:
    home = sim.get("/", follow_redirects=False)
    assert home.status_code == 307 and home.headers["location"] == "/ui"

    text = page(sim, "/ui")
    assert "No runs yet" in text
    assert "No configuration to run yet" in text
    assert "POST /simulation-configurations" in text


def test_create_run_form_pins_the_chosen_configuration_version(sim: httpx.Client) -> None:
    configuration_id = sim.post("/simulation-configurations", json=SITE_CONFIGURATION).json()["id"]
    second = {**SITE_CONFIGURATION, "name": "Depot A bigger"}
    assert sim.post(f"/simulation-configurations/{configuration_id}/versions", json=second)
    text = page(sim, "/ui")
    assert f'value="{configuration_id}@1"' in text and f'value="{configuration_id}@2"' in text

    created = post(
        sim,
        "/ui/runs",
        {"configuration": f"{configuration_id}@1", "speed_factor": "2", "tick_seconds": "5"},
    )

    assert created.status_code == 303
    run_id = created.headers["location"].split("/")[3].split("?")[0]
    run = run_state(sim, run_id)
    assert (run["configuration_version"], run["speed_factor"], run["tick_seconds"]) == (1, 2, 5)
    assert run["state"] == "created"
    detail = page(sim, created.headers["location"])
    assert "Run created" in detail
    assert 'data-state="created"' in detail and ">created</span>" in detail
    assert "Depot A v1" in detail
    assert re.search(r'id="node-grid-1">.*?500\.0 kW.*?within limit', detail, re.DOTALL)
    assert "No OSCP session yet" in detail


def test_refused_create_run_form_keeps_what_was_typed_and_creates_nothing(
    sim: httpx.Client,
) -> None:
    configuration_id = sim.post("/simulation-configurations", json=SITE_CONFIGURATION).json()["id"]

    refused = post(
        sim,
        "/ui/runs",
        {"configuration": f"{configuration_id}@1", "speed_factor": "fast", "tick_seconds": "-1"},
    )

    assert refused.status_code == 422
    assert field_error(refused.text, "run-speed_factor") == "enter a number, e.g. 5 or 2.5"
    assert field_error(refused.text, "run-tick_seconds") == "must be more than 0"
    assert typed(refused.text, "run-speed_factor") == "fast"
    assert f'value="{configuration_id}@1" selected' in refused.text
    assert sim.get("/simulation-runs").json()["total"] == 0

    missing = post(sim, "/ui/runs", {"speed_factor": "1", "tick_seconds": "1"})
    assert missing.status_code == 422
    assert field_error(missing.text, "run-configuration") == "choose a configuration and version"


def test_clock_controls_drive_the_run_and_stop_asks_first(sim: httpx.Client, world: World) -> None:
    url = ui(world)
    assert post(sim, url + "/commands/pause", {"back": "run"}).status_code == 303
    assert run_state(sim, world.run_id)["state"] == "paused"
    before = run_state(sim, world.run_id)["logical_time"]

    ticked = post(sim, url + "/commands/tick", {"back": "run", "seconds": "60"})

    assert ticked.headers["location"] == f"{url}?done=tick"
    after = run_state(sim, world.run_id)["logical_time"]
    assert _seconds_between(before, after) == 60
    assert post(sim, url + "/commands/resume", {"back": "list"}).headers["location"] == (
        "/ui?done=resume"
    )
    assert run_state(sim, world.run_id)["state"] == "running"
    assert post(sim, url + "/speed", {"speed_factor": "10"}).status_code == 303
    assert run_state(sim, world.run_id)["speed_factor"] == 10

    confirm = page(sim, url + "/stop")
    assert "Stopping is final" in confirm and f'action="{url}/commands/stop"' in confirm
    assert run_state(sim, world.run_id)["state"] == "running"
    assert post(sim, url + "/commands/stop", {"back": "run"}).status_code == 303
    assert run_state(sim, world.run_id)["state"] == "stopped"
    assert "Stopped for good" in page(sim, url)


def test_a_clock_command_the_state_forbids_is_explained_and_changes_nothing(
    sim: httpx.Client, world: World
) -> None:
    refused = post(sim, ui(world) + "/commands/start", {"back": "list"})

    assert refused.status_code == 409
    assert "cannot start a run that is running" in refused.text
    bad_tick = post(sim, ui(world) + "/commands/tick", {"back": "run", "seconds": "soon"})
    assert bad_tick.status_code == 422
    assert field_error(bad_tick.text, "tick-seconds") == "enter a number, e.g. 5 or 2.5"
    assert typed(bad_tick.text, "tick-seconds") == "soon"
    assert run_state(sim, world.run_id)["state"] == "running"


def test_attach_session_shows_its_cp_token_once_then_lists_the_session(
    sim: httpx.Client, world: World
) -> None:
    remote = str(uuid.uuid4())
    created = post(
        sim,
        ui(world) + "/sessions",
        {
            "managed_scope_id": "scope-grid-1",
            "betterfleet_base_url": "http://127.0.0.1:9/oscp/fp/2.0",
            "remote_configuration_id": remote,
            "fp_token": FP_TOKEN,
            "measurement_configuration": ["INTERMITTENT"],
        },
    )

    assert created.status_code == 201
    token = re.search(r'id="cp-token">([^<]+)<', created.text)
    assert token and len(token.group(1)) >= 16
    session_id = sim.get(f"/simulation-runs/{world.run_id}/oscp-sessions").json()["sessions"][0][
        "session_id"
    ]
    listed = page(sim, ui(world))
    assert remote in listed and 'data-state="offline"' in listed
    detail = page(sim, f"{ui(world)}/sessions/{session_id}")
    assert token.group(1) not in detail and FP_TOKEN not in detail
    assert ">held</span>" in detail and ">issued</span>" in detail
    assert "No messages yet" in detail and "No expectations yet" in detail
    assert "No override is active" in detail and "No forecast sent yet" in detail


def test_refused_attach_session_form_shows_errors_beside_fields_and_attaches_nothing(
    sim: httpx.Client, world: World
) -> None:
    refused = post(
        sim,
        ui(world) + "/sessions",
        {
            "managed_scope_id": "scope-grid-1",
            "betterfleet_base_url": "manage:8000",
            "remote_configuration_id": "remote-1",
            "fp_token": "short",
        },
    )

    assert refused.status_code == 422
    assert "at least 16 characters" in field_error(refused.text, "session-fp_token")
    assert typed(refused.text, "session-betterfleet_base_url") == "manage:8000"
    assert sim.get(f"/simulation-runs/{world.run_id}/oscp-sessions").json()["sessions"] == []
    domain = post(
        sim,
        ui(world) + "/sessions",
        {
            "managed_scope_id": "scope-grid-1",
            "betterfleet_base_url": "manage:8000",
            "remote_configuration_id": "remote-1",
        },
    )
    assert domain.status_code == 422
    assert "absolute http(s) URL" in field_error(domain.text, "session-betterfleet_base_url")
    assert sim.get(f"/simulation-runs/{world.run_id}/oscp-sessions").json()["sessions"] == []


# --- sessions -----------------------------------------------------------------------------


def test_send_handshake_reaches_the_fp_and_the_page_shows_state_behaviour_and_timers(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp, configuration_id=CONFIG)

    sent = post(
        sim, ui(world, session) + "/commands/send-handshake", {"heartbeat_interval_seconds": "5"}
    )

    assert sent.status_code == 303 and "?sent=" in sent.headers["location"]
    handshake = fp.wait_for("handshake")[0]
    assert handshake.body["required_behaviour"]["heartbeat_interval"] == 5
    told = page(sim, sent.headers["location"])
    assert "Handshake sent:" in told and "HTTP 204" in told
    wait_until(
        lambda: sim.get(session_path(world, session)).json()["state"],
        lambda state: state == "online",
        what="session online",
    )
    text = page(sim, ui(world, session))
    assert 'data-state="online"' in text and ">online</span>" in text
    assert re.search(r"Heartbeats required of the FP</dt><dd>5 s<", text)
    assert re.search(r'data-timer="liveness"><time[^>]*>[^<]+UTC</time> <span[^>]*>\(in ', text)
    assert 'data-timer="next_heartbeat"><time' in text
    assert session["cp_token"] not in text


def test_a_refused_protocol_command_says_why_beside_the_commands(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp)

    heartbeat = post(sim, ui(world, session) + "/commands/send-heartbeat")

    assert heartbeat.status_code == 409
    assert "Nothing changed:" in heartbeat.text and "online" in heartbeat.text
    bad = post(sim, ui(world, session) + "/commands/send-handshake", {"ack_timeout_seconds": "0"})
    assert bad.status_code == 422
    assert field_error(bad.text, "handshake-ack_timeout_seconds") == "must be more than 0"
    assert fp.of("handshake") == [] and fp.of("heartbeat") == []


def test_ledger_filters_by_direction_type_and_outcome(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = online_via_page(sim, world, fp)
    fp.send(CONFIG, Heartbeat(offline_mode_at=_in_a_minute()))
    url = ui(world, session)

    everything = entry_types(page(sim, url))
    inbound = entry_types(page(sim, url, direction="inbound"))
    handshakes = entry_types(page(sim, url, message_type="Handshake"))
    rejected = page(sim, url, outcome="rejected")

    assert {"Handshake", "HandshakeAcknowledge", "Heartbeat"} <= set(everything)
    assert set(inbound) == {"HandshakeAcknowledge", "Heartbeat"}
    assert handshakes == ["Handshake"]
    assert entry_types(rejected) == [] and "No message matches these filters" in rejected
    unknown = page(sim, url, message_type="Nonsense")
    assert "no OSCP message type" in field_error(unknown, "ledger-message_type")
    assert entry_types(unknown) == entry_types(page(sim, url))


def test_ledger_entry_expands_to_headers_body_and_validation_errors(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = online_via_page(sim, world, fp)
    bad = fp.send_raw(
        CONFIG, "update_group_measurements", {"group_id": "group-1", "measurements": [{"value": 1}]}
    )
    assert bad.status_code == 422

    text = page(sim, ui(world, session))

    handshake = _entry_html(text, "Handshake")
    assert '<th scope="row" class="mono small">x-request-id</th>' in handshake.lower()
    assert "Token …" in handshake and FP_TOKEN not in handshake
    assert "&#34;required_behaviour&#34;" in handshake or '"required_behaviour"' in handshake
    assert "No validation errors." in handshake
    measurements = _entry_html(text, "UpdateGroupMeasurements")
    assert 'data-state="rejected"' in measurements and "HTTP 422" in measurements
    assert "$.measurements[0].unit" in measurements


def test_ledger_pages_newest_first_and_holds_older_pages_still(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = online_via_page(sim, world, fp)
    for _ in range(26):
        fp.send(CONFIG, Heartbeat(offline_mode_at=_in_a_minute()))
    url = ui(world, session)

    first = page(sim, url, direction="inbound")
    second = page(sim, url, direction="inbound", offset="25")

    seqs = [int(s) for s in re.findall(r'class="entry-seq num">#(\d+)<', first)]
    assert len(seqs) == 25 and seqs == sorted(seqs, reverse=True)
    assert "Messages 1\N{EN DASH}25 of 27, newest first (filtered)" in first
    assert "direction=inbound&amp;offset=25#ledger" in first
    assert len(entry_types(second)) == 2 and "Live updates are paused" in second
    live = page(sim, url + "/live", direction="inbound", offset="25")
    assert 'id="session-ledger"' not in live and 'id="session-head" ' in live


def test_live_fragment_swaps_every_region_out_of_band(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp)

    text = page(sim, ui(world, session) + "/live")

    for region in ("head", "status", "forecast", "overrides", "expectations", "ledger"):
        assert f'id="session-{region}" class' in text or f'id="session-{region}"' in text
        assert re.search(rf'id="session-{region}"[^>]*hx-swap-oob="true"', text), region
    assert "<form" not in text.split('id="session-overrides"')[0]
    runs_live = page(sim, "/ui/runs/live")
    assert re.search(r'id="runs-live"[^>]*hx-swap-oob="true"', runs_live)


def test_send_forecast_form_delivers_the_profile_and_shows_the_result(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = online_via_page(sim, world, fp)

    sent = post(
        sim,
        ui(world, session) + "/commands/send-forecast",
        {
            "type": "CONSUMPTION",
            "capacity": "120",
            "unit": "KW",
            "phase": "ALL",
            "block_minutes": "15",
            "block_count": "4",
            "variation": "step_down",
            "at_block": "2",
            "variation_capacity": "60",
            "gap_blocks": "1",
        },
    )

    assert sent.status_code == 303 and sent.headers["location"].endswith("#forecast")
    forecast = fp.wait_for("update_group_capacity_forecast")[0]
    assert [b["capacity"] for b in forecast.body["forecasted_blocks"]] == [120, 120, 60, 60]
    assert forecast.schema_errors == []
    text = page(sim, sent.headers["location"])
    assert "UpdateGroupCapacityForecast sent:" in text
    assert re.search(r'id="session-forecast".*?data-state="accepted"', text, re.DOTALL)
    assert "4 blocks as a table" in text and "60.0 kW" in text
    assert '"unit": "KW"' in text


def test_refused_forecast_form_sends_nothing_and_says_how_to_fix_it(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = online_via_page(sim, world, fp)

    refused = post(
        sim,
        ui(world, session) + "/commands/send-forecast",
        {
            "type": "CONSUMPTION",
            "capacity": "lots",
            "unit": "KW",
            "phase": "ALL",
            "block_minutes": "15",
            "block_count": "4",
            "variation": "none",
        },
    )
    step = post(
        sim,
        ui(world, session) + "/commands/send-forecast",
        {
            "type": "CONSUMPTION",
            "capacity": "100",
            "unit": "KW",
            "phase": "ALL",
            "block_minutes": "15",
            "block_count": "4",
            "variation": "step_down",
        },
    )

    assert refused.status_code == 422
    assert field_error(refused.text, "forecast-capacity") == "enter a number, e.g. 5 or 2.5"
    assert typed(refused.text, "forecast-capacity") == "lots"
    assert step.status_code == 422
    assert "needs variation.capacity" in field_error(step.text, "forecast-variation")
    assert fp.of("update_group_capacity_forecast") == []


def test_override_form_applies_an_override_that_the_page_lists_and_clear_ends(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp)
    url = ui(world, session)

    applied = post(
        sim, url + "/overrides", {"mode": "ignore_heartbeats", "duration_seconds": "600"}
    )

    assert applied.headers["location"] == f"{url}?done=override#scenario"
    active = sim.get(session_path(world, session) + "/overrides").json()["active"]
    assert [o["mode"] for o in active] == ["ignore_heartbeats"]
    text = page(sim, applied.headers["location"])
    assert "Override applied." in text
    assert re.search(
        r'id="override-ignore_heartbeats">.*?ignore heartbeats.*?\(in (9|10) min\)', text, re.DOTALL
    )

    cleared = post(sim, url + "/overrides/clear", {"mode": "ignore_heartbeats"})
    assert cleared.headers["location"] == f"{url}?done=cleared#scenario"
    assert sim.get(session_path(world, session) + "/overrides").json()["active"] == []
    assert "No override is active" in page(sim, url)


def test_refused_override_form_changes_nothing(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp)
    url = ui(world, session)

    past = post(sim, url + "/overrides", {"mode": "ignore_heartbeats", "until": "2000-01-01T00:00"})
    wrong_type = post(
        sim,
        url + "/overrides",
        {"mode": "ignore_heartbeats", "duration_seconds": "60", "message_types": ["Register"]},
    )
    no_mode = post(sim, url + "/overrides", {"duration_seconds": "60"})

    assert past.status_code == 422
    assert "must be after the run's logical time" in field_error(past.text, "override-until")
    assert 'value="2000-01-01T00:00"' in past.text
    assert "not a message ignore_heartbeats can apply to" in field_error(
        wrong_type.text, "override-message_types"
    )
    assert field_error(no_mode.text, "override-mode") == "choose the behaviour to force"
    assert sim.get(session_path(world, session) + "/overrides").json()["active"] == []


def test_preset_form_replaces_the_overrides_and_clear_all_ends_them(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp)
    url = ui(world, session)
    text = page(sim, url)
    assert 'value="reject_heartbeat_with_403"' in text and 'value="connected_baseline"' in text

    applied = post(sim, url + "/preset", {"preset": "reject_heartbeat_with_403"})

    assert applied.headers["location"] == f"{url}?done=preset#scenario"
    view = sim.get(session_path(world, session)).json()
    assert view["scenario_preset"] == "reject_heartbeat_with_403"
    assert [o["mode"] for o in view["overrides"]] == ["reject_heartbeat_with_403"]
    assert "preset:reject_heartbeat_with_403" in page(sim, url)
    unknown = post(sim, url + "/preset", {"preset": "nope"})
    assert unknown.status_code == 422 and "does not exist" in field_error(
        unknown.text, "preset-preset"
    )

    assert post(sim, url + "/overrides/clear", {"mode": "none"}).status_code == 303
    assert sim.get(session_path(world, session)).json()["overrides"] == []


def test_expectation_form_raises_one_whose_status_the_page_shows(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = online_via_page(sim, world, fp)
    url = ui(world, session)

    raised = post(
        sim,
        url + "/expectations",
        {
            "polarity": "receive",
            "message_type": "Heartbeat",
            "within_seconds": "60",
            "requires_online": "true",
        },
    )

    assert raised.headers["location"] == f"{url}?done=expectation#expectations"
    assert re.search(r'id="expectation-[^"]+">.*?data-state="pending"', page(sim, url), re.DOTALL)
    fp.send(CONFIG, Heartbeat(offline_mode_at=_in_a_minute()))
    met = wait_until(
        lambda: page(sim, url),
        lambda text: bool(
            re.search(r'id="expectation-[^"]+">.*?data-state="met"', text, re.DOTALL)
        ),
        what="expectation met",
    )
    assert "Heartbeat received (accepted)" in met


def test_refused_expectation_form_raises_nothing(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp)
    url = ui(world, session)

    refused = post(
        sim,
        url + "/expectations",
        {"polarity": "receive", "message_type": "Heartbeat", "within_seconds": "0"},
    )
    outbound_only = post(
        sim,
        url + "/expectations",
        {
            "polarity": "receive",
            "message_type": "UpdateGroupCapacityForecast",
            "within_seconds": "5",
        },
    )

    assert refused.status_code == 422
    assert field_error(refused.text, "expectation-within_seconds") == "must be more than 0"
    assert typed(refused.text, "expectation-within_seconds") == "0"
    assert "not a message the FP sends" in field_error(
        outbound_only.text, "expectation-message_type"
    )
    assert sim.get(session_path(world, session) + "/expectations").json()["expectations"] == []


def test_unknown_run_or_session_gets_a_designed_not_found_page(
    sim: httpx.Client, world: World
) -> None:
    missing_run = sim.get("/ui/runs/nope")
    missing_session = sim.get(f"/ui/runs/{world.run_id}/sessions/nope")
    bad_command = post(sim, f"/ui/runs/{world.run_id}/commands/explode")

    assert (
        missing_run.status_code == 404 and "This simulation run does not exist" in missing_run.text
    )
    assert (
        missing_session.status_code == 404 and "OSCP session nope not found" in missing_session.text
    )
    assert bad_command.status_code == 400 and "Go to runs" in bad_command.text


def _entry_html(text: str, message_type: str) -> str:
    """The first ledger entry of `message_type` on a page, as HTML."""
    for chunk in text.split('<details class="entry"')[1:]:
        if f'<span class="entry-type mono">{message_type}</span>' in chunk:
            return chunk.split("</details>")[0]
    raise AssertionError(f"no {message_type} entry on the page")


def _in_a_minute() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=1)


def _seconds_between(before: str, after: str) -> float:
    return (datetime.fromisoformat(after) - datetime.fromisoformat(before)).total_seconds()
