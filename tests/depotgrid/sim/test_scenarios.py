"""One test per scenario of docs/oscp-sim-requirements.md (COR-49 acceptance 4): each forces
what the document says, the FP double observes what it says, and the ledger marks forced
outcomes as forced. Natural failures (the FP silent or unreachable) are covered too."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from depotgrid.oscp.messages import Handshake, Heartbeat, RequiredBehaviour
from tests.depotgrid.sim.fp_double import FpDouble
from tests.depotgrid.sim.helpers import (
    World,
    create_session,
    go_online,
    messages,
    session_path,
    wait_until,
)

CONFIG = "2b5f4a88-d4b4-41ad-a1c8-889f3ee71111"


def _beat() -> dict[str, Any]:
    offline = datetime.now(UTC) + timedelta(minutes=5)
    return Heartbeat(offline_mode_at=offline).to_wire()


def _measurements() -> dict[str, Any]:
    return {
        "group_id": "group-1",
        "measurements": [
            {
                "value": 1.5,
                "phase": "ALL",
                "unit": "KWH",
                "direction": "IMPORT",
                "measure_time": "2026-04-02T10:15:00Z",
                "initial_measure_time": "2026-04-02T10:00:00Z",
            }
        ],
    }


def _override(
    sim: httpx.Client, world: World, session: dict[str, Any], **body: Any
) -> dict[str, Any]:
    body.setdefault("duration_seconds", 600)
    applied = sim.patch(session_path(world, session) + "/overrides", json=body)
    assert applied.status_code == 200, applied.text
    assert applied.json()["override_state"] == "active"
    result: dict[str, Any] = applied.json()
    return result


def _tick(sim: httpx.Client, world: World, seconds: float) -> None:
    ticked = sim.post(f"/simulation-runs/{world.run_id}/commands/tick", json={"seconds": seconds})
    assert ticked.status_code == 200, ticked.text


def _events(sim: httpx.Client, world: World, event_type: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = sim.get(
        f"/simulation-runs/{world.run_id}/events", params={"type": event_type}
    ).json()["events"]
    return found


@pytest.fixture
def online(sim: httpx.Client, world: World, fp: FpDouble) -> dict[str, Any]:
    session = create_session(sim, world, fp, heartbeat_interval_seconds=60)
    go_online(sim, world, session, fp, interval=60)
    return session


def test_connected_baseline_answers_normally(sim: httpx.Client, world: World, fp: FpDouble) -> None:
    session = create_session(sim, world, fp, scenario_preset="connected_baseline")
    assert session["overrides"] == []
    go_online(sim, world, session, fp, interval=60)
    assert fp.send_raw(CONFIG, "heartbeat", _beat()).status_code == 204
    assert fp.send_raw(CONFIG, "update_group_measurements", _measurements()).status_code == 204
    assert all(not m["forced"] for m in messages(sim, world, session))


def test_handshake_timeout_fp_initiated(sim: httpx.Client, world: World, fp: FpDouble) -> None:
    session = create_session(sim, world, fp, handshake_ack_timeout_seconds=5)
    _override(sim, world, session, mode="handshake_timeout_fp_initiated")
    request_id = str(uuid.uuid4())
    answer = fp.send(
        CONFIG, Handshake(required_behaviour=RequiredBehaviour()), request_id=request_id
    )
    assert answer.status_code == 204
    time.sleep(0.5)
    assert fp.of("handshake_acknowledge") == []
    path = session_path(world, session)
    assert sim.get(path).json()["state"] == "accepting_handshake"
    [received] = messages(sim, world, session, message_type="Handshake")
    assert received["outcome"] == "accepted" and received["forced"] is True
    assert received["override_mode"] == "handshake_timeout_fp_initiated"
    assert "withheld" in received["reason"]
    _tick(sim, world, 6)
    state = sim.get(path).json()
    assert state["state"] == "offline" and "handshake timed out" in state["state_reason"]
    assert _events(sim, world, "OscpSessionTimedOut")[0]["data"]["cause"] == "handshake_timeout"
    assert fp.of("heartbeat") == []


def test_handshake_timeout_cp_initiated_forced(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp, handshake_ack_timeout_seconds=5)
    _override(sim, world, session, mode="handshake_timeout_cp_initiated", hold_seconds=0.5)
    path = session_path(world, session)
    sent = sim.post(path + "/commands/send-handshake", json={"heartbeat_interval_seconds": 60})
    assert sent.json()["state"] == "awaiting_handshake_acknowledge"
    wait_until(lambda: fp.sent_acks, bool, what="the FP's acknowledgement to be answered")
    assert fp.sent_acks[0].status_code == 503  # held unanswered, then given up
    [ack] = messages(sim, world, session, message_type="HandshakeAcknowledge")
    assert ack["outcome"] == "ignored" and ack["forced"] is True and ack["http_status"] is None
    assert sim.get(path).json()["state"] == "awaiting_handshake_acknowledge"
    _tick(sim, world, 6)
    assert sim.get(path).json()["state"] == "offline"
    assert fp.of("heartbeat") == []


def test_handshake_timeout_cp_initiated_when_fp_never_acknowledges(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    fp.ack_handshakes = False
    session = create_session(sim, world, fp)
    path = session_path(world, session)
    sim.post(path + "/commands/send-handshake", json={"ack_timeout_seconds": 2})
    _tick(sim, world, 3)
    state = sim.get(path).json()
    assert state["state"] == "offline"
    assert "no HandshakeAcknowledge from the FP within 2 s" in state["state_reason"]
    assert all(not m["forced"] for m in messages(sim, world, session))


def test_stop_sending_heartbeats(sim: httpx.Client, world: World, fp: FpDouble) -> None:
    session = create_session(sim, world, fp)
    go_online(sim, world, session, fp, interval=60, fp_asks=1)
    fp.wait_for("heartbeat", count=1)
    _override(sim, world, session, mode="stop_sending_heartbeats")
    time.sleep(0.3)
    before = len(fp.of("heartbeat"))
    time.sleep(2.2)
    assert len(fp.of("heartbeat")) == before
    suppressed = messages(sim, world, session, message_type="Heartbeat", outcome="ignored")
    assert len(suppressed) >= 2
    assert all(m["forced"] and m["direction"] == "outbound" for m in suppressed)
    assert "suppressed by scenario stop_sending_heartbeats" in suppressed[0]["reason"]
    sim.patch(session_path(world, session) + "/overrides", json={"mode": "none"})
    fp.wait_for("heartbeat", count=before + 1, timeout=3)


def test_reject_heartbeat_with_403(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    path = session_path(world, online)
    before = sim.get(path).json()["timers"]["peer_offline_at"]
    _override(sim, world, online, mode="reject_heartbeat_with_403")
    answer = fp.send_raw(CONFIG, "heartbeat", _beat())
    assert answer.status_code == 403
    assert "reject_heartbeat_with_403" in answer.json()["message"]
    [entry] = messages(sim, world, online, message_type="Heartbeat", direction="inbound")
    assert (
        entry["outcome"] == "rejected" and entry["forced"] is True and entry["http_status"] == 403
    )
    assert sim.get(path).json()["timers"]["peer_offline_at"] == before
    assert fp.send_raw(CONFIG, "update_group_measurements", _measurements()).status_code == 204


def test_ignore_heartbeats(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    path = session_path(world, online)
    before = sim.get(path).json()["timers"]["peer_offline_at"]
    _override(sim, world, online, mode="ignore_heartbeats", hold_seconds=5)
    with pytest.raises(httpx.ReadTimeout):
        fp.send_raw(CONFIG, "heartbeat", _beat(), timeout=0.5)
    [entry] = messages(sim, world, online, message_type="Heartbeat", direction="inbound")
    assert entry["outcome"] == "ignored" and entry["forced"] is True
    assert entry["http_status"] is None
    assert sim.get(path).json()["timers"]["peer_offline_at"] == before


def test_group_id_mismatch(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    _override(sim, world, online, mode="group_id_mismatch")
    answer = fp.send_raw(CONFIG, "update_group_measurements", _measurements())
    assert answer.status_code == 403
    assert answer.json()["errors"][0]["field"] == "$.group_id"
    assert fp.send_raw(CONFIG, "heartbeat", _beat()).status_code == 204
    [entry] = messages(sim, world, online, message_type="UpdateGroupMeasurements")
    assert entry["forced"] is True and entry["override_mode"] == "group_id_mismatch"


def test_lifecycle_mismatch(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    _override(sim, world, online, mode="lifecycle_mismatch")
    for endpoint, body in (("heartbeat", _beat()), ("update_group_measurements", _measurements())):
        answer = fp.send_raw(CONFIG, endpoint, body)
        assert answer.status_code == 403
        assert "session treated as offline" in answer.json()["message"]
    assert all(
        m["forced"] for m in messages(sim, world, online, direction="inbound", outcome="rejected")
    )
    assert sim.get(session_path(world, online)).json()["state"] == "online"


def test_reject_payload_422(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    _override(sim, world, online, mode="reject_payload_422")
    answer = fp.send_raw(CONFIG, "update_group_measurements", _measurements())
    assert answer.status_code == 422
    [entry] = messages(sim, world, online, message_type="UpdateGroupMeasurements")
    assert entry["forced"] is True
    assert entry["validation_errors"] == [
        {
            "field": "$",
            "reason": "payload rejected by scenario reject_payload_422",
            "keyword": "forced",
        }
    ]
    assert fp.send_raw(CONFIG, "heartbeat", _beat()).status_code == 204


def test_stale_state_503(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    _override(sim, world, online, mode="stale_state_503")
    for endpoint, body in (("heartbeat", _beat()), ("update_group_measurements", _measurements())):
        assert fp.send_raw(CONFIG, endpoint, body).status_code == 503
    ledger = messages(sim, world, online, direction="inbound", outcome="indeterminate")
    assert len(ledger) == 2 and all(m["forced"] for m in ledger)


def test_delay_responses(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    _override(sim, world, online, mode="delay_responses", delay_seconds=0.6)
    started = time.monotonic()
    assert fp.send_raw(CONFIG, "update_group_measurements", _measurements()).status_code == 204
    assert time.monotonic() - started >= 0.6
    with pytest.raises(httpx.ReadTimeout):
        fp.send_raw(CONFIG, "heartbeat", _beat(), timeout=0.3)
    ledger = messages(sim, world, online, direction="inbound")[-2:]
    assert [m["outcome"] for m in ledger] == ["accepted", "accepted"]
    assert all(m["forced"] and "delayed 0.6 s" in m["reason"] for m in ledger)


def test_ignore_messages_narrowed_to_one_type(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    _override(
        sim,
        world,
        online,
        mode="ignore_messages",
        message_types=["UpdateGroupMeasurements"],
        hold_seconds=3,
    )
    with pytest.raises(httpx.ReadTimeout):
        fp.send_raw(CONFIG, "update_group_measurements", _measurements(), timeout=0.4)
    assert fp.send_raw(CONFIG, "heartbeat", _beat()).status_code == 204
    [entry] = messages(sim, world, online, message_type="UpdateGroupMeasurements")
    assert entry["outcome"] == "ignored" and entry["forced"] is True


def test_fp_stops_sending_heartbeats_session_goes_offline(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp)
    go_online(sim, world, session, fp, interval=2)
    path = session_path(world, session)
    expectation = sim.post(
        path + "/expectations",
        json={"message_type": "UpdateGroupMeasurements", "within_seconds": 3600},
    ).json()
    assert fp.send_raw(CONFIG, "heartbeat", _beat()).status_code == 204
    _tick(sim, world, 7)
    state = sim.get(path).json()
    assert state["state"] == "offline" and "liveness expired" in state["state_reason"]
    closed = sim.get(path + f"/expectations/{expectation['id']}").json()
    assert closed["status"] == "expired"
    late = fp.send_raw(CONFIG, "heartbeat", _beat())
    assert late.status_code == 403  # recovery is explicit: a new handshake
    assert _events(sim, world, "OscpSessionTimedOut")[0]["data"]["cause"] == "liveness_expired"


def test_fp_unreachable_marks_failed_then_degraded_then_offline(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp)
    go_online(sim, world, session, fp, interval=60, fp_asks=1)
    fp.status["heartbeat"] = 500
    path = session_path(world, session)
    wait_until(lambda: sim.get(path).json()["state"], lambda s: s == "degraded", what="degraded")
    fp.status["heartbeat"] = 204
    wait_until(lambda: sim.get(path).json()["state"], lambda s: s == "online", what="online again")

    dead = create_session(
        sim,
        world,
        fp,
        configuration_id="dead-fp",
        betterfleet_base_url="http://127.0.0.1:9/oscp/fp/2.0",
    )
    dead_path = session_path(world, dead)
    sent = sim.post(dead_path + "/commands/send-handshake").json()
    assert sent["delivery_status"] == "failed" and sent["http_status"] is None
    state = sim.get(dead_path).json()
    assert state["state"] == "offline" and "handshake not delivered" in state["state_reason"]
    [entry] = messages(sim, world, dead)
    assert entry["outcome"] == "failed" and entry["forced"] is False and entry["reason"]


def test_overrides_expire_on_logical_time(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    _override(sim, world, online, mode="reject_heartbeat_with_403", duration_seconds=30)
    assert fp.send_raw(CONFIG, "heartbeat", _beat()).status_code == 403
    _tick(sim, world, 31)
    assert fp.send_raw(CONFIG, "heartbeat", _beat()).status_code == 204
    listed = sim.get(session_path(world, online) + "/overrides").json()
    assert listed["active"] == []
    assert listed["history"][0]["end_reason"] == "expired"


def test_override_bad_input_is_refused_and_changes_nothing(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    path = session_path(world, online) + "/overrides"
    cases = [
        ({"mode": "reject_heartbeat_with_403"}, "until"),
        ({"mode": "reject_heartbeat_with_403", "until": "2020-01-01T00:00:00Z"}, "until"),
        ({"mode": "delay_responses", "duration_seconds": 5, "hold_seconds": 2}, "hold_seconds"),
        (
            {"mode": "group_id_mismatch", "duration_seconds": 5, "message_types": ["Heartbeat"]},
            "message_types[0]",
        ),
        ({"mode": "teleport", "duration_seconds": 5}, "mode"),
        ({"mode": "ignore_heartbeats", "duration_seconds": -1}, "duration_seconds"),
    ]
    for body, field in cases:
        refused = sim.patch(path, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert field in [e["field"] for e in refused.json()["errors"]], refused.json()
    assert sim.get(path).json() == {"active": [], "history": []}
    missing = sim.patch(path, json={"mode": "ignore_heartbeats", "clear": True})
    assert missing.status_code == 404


def test_presets_apply_and_unknown_preset_is_refused(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    path = session_path(world, online)
    applied = sim.post(path + "/commands/apply-preset", json={"preset": "lifecycle_mismatch"})
    assert applied.status_code == 200
    assert [o["mode"] for o in applied.json()["overrides"]] == ["lifecycle_mismatch"]
    assert fp.send_raw(CONFIG, "heartbeat", _beat()).status_code == 403
    baseline = sim.post(path + "/commands/apply-preset", json={"preset": "connected_baseline"})
    assert baseline.json()["overrides"] == []
    assert fp.send_raw(CONFIG, "heartbeat", _beat()).status_code == 204
    unknown = sim.post(path + "/commands/apply-preset", json={"preset": "chaos"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "preset"
    catalogue = sim.get("/oscp-scenarios").json()
    assert {m["mode"] for m in catalogue["modes"]} >= {
        "reject_heartbeat_with_403",
        "stale_state_503",
    }
