"""The OSCP Capacity Provider over real HTTP against the FP double (COR-49 acceptance 2, 3):
handshakes both ways, heartbeats, forecasts, registration, and how every protocol route answers
good and bad input, each visible in the ledger."""

from __future__ import annotations

import itertools
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from depotgrid.oscp import schemas
from depotgrid.oscp.enums import CapacityForecastType
from depotgrid.oscp.messages import (
    AdjustGroupCapacityForecast,
    ForecastedBlock,
    GroupCapacityComplianceError,
    Handshake,
    Heartbeat,
    RequiredBehaviour,
)
from tests.depotgrid.sim.fp_double import FpDouble
from tests.depotgrid.sim.helpers import (
    FP_TOKEN,
    World,
    create_session,
    entry,
    go_online,
    messages,
    session_path,
    wait_until,
)

CONFIG = "2b5f4a88-d4b4-41ad-a1c8-889f3ee71111"


def _now() -> datetime:
    return datetime.now(UTC)


def _measurements(group_id: str = "group-1", *, initial: bool = True) -> dict[str, Any]:
    measurement: dict[str, Any] = {
        "value": 12.5,
        "phase": "ALL",
        "unit": "KWH",
        "direction": "IMPORT",
        "measure_time": "2026-04-02T10:15:00Z",
    }
    if initial:
        measurement["initial_measure_time"] = "2026-04-02T10:00:00Z"
    return {"group_id": group_id, "measurements": [measurement]}


def _forecast_body(minutes_ahead: int = 60) -> dict[str, Any]:
    start = _now().replace(microsecond=0)
    return {
        "type": "CONSUMPTION",
        "forecasted_blocks": [
            {
                "capacity": 300.0,
                "phase": "ALL",
                "unit": "KW",
                "start_time": start.isoformat().replace("+00:00", "Z"),
                "end_time": (start + timedelta(minutes=minutes_ahead))
                .isoformat()
                .replace("+00:00", "Z"),
            }
        ],
    }


def _assert_valid_ledger(sim: httpx.Client, world: World, session: dict[str, Any]) -> None:
    """Every accepted message the ledger holds validates against its OSCP schema."""
    for item in messages(sim, world, session, limit=1000):
        if item["outcome"] in ("accepted", "pending") and item["body"] is not None:
            title = (
                "UpdateAssetMeasurement"
                if item["message_type"] == "UpdateAssetMeasurements"
                else item["message_type"]
            )
            assert schemas.validate(title, item["body"]) == [], item


def test_cp_handshake_is_schema_valid_with_headers_and_ack_brings_session_online(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp)
    path = session_path(world, session)
    sent = sim.post(path + "/commands/send-handshake", json={"heartbeat_interval_seconds": 1})
    assert sent.status_code == 200, sent.text
    assert sent.json()["delivery_status"] == "accepted"

    [handshake] = fp.wait_for("handshake")
    assert handshake.schema_errors == []
    assert handshake.headers["authorization"] == f"Token {FP_TOKEN}"
    assert handshake.headers["x-oscp-configuration-id"] == CONFIG
    assert handshake.request_id == sent.json()["request_id"]
    assert handshake.body == {
        "required_behaviour": {
            "heartbeat_interval": 1,
            "measurement_configuration": ["INTERMITTENT"],
        }
    }

    online = wait_until(lambda: sim.get(path).json(), lambda s: s["state"] == "online")
    assert online["negotiated_behaviour"]["heartbeat_interval_seconds_required_of_fp"] == 1
    assert online["negotiated_behaviour"]["heartbeat_interval_seconds_sent_by_cp"] == 1
    ack = messages(sim, world, session, message_type="HandshakeAcknowledge")
    assert [(m["direction"], m["outcome"], m["correlation_id"]) for m in ack] == [
        ("inbound", "accepted", handshake.request_id)
    ]
    out = entry(sim, world, session, sent.json()["ledger_entry_id"])
    assert out["direction"] == "outbound" and out["outcome"] == "accepted"
    assert out["http_status"] == 204
    assert out["headers"]["Authorization"] == "Token …" + FP_TOKEN[-4:]
    assert out["headers"]["X-OSCP-Configuration-ID"] == CONFIG
    assert out["body"] == handshake.body

    beats = fp.wait_for("heartbeat", count=3, timeout=6)
    for beat in beats:
        assert beat.schema_errors == []
        assert beat.headers["authorization"] == f"Token {FP_TOKEN}"
        assert beat.headers["x-oscp-configuration-id"] == CONFIG
    gaps = [b.at - a.at for a, b in itertools.pairwise(beats)]
    assert all(0.7 < gap < 1.5 for gap in gaps), gaps
    deadline = datetime.fromisoformat(beats[-1].body["offline_mode_at"].replace("Z", "+00:00"))
    assert timedelta(seconds=2) < deadline - _now() < timedelta(seconds=4)
    _assert_valid_ledger(sim, world, session)


def test_fp_initiated_handshake_is_acknowledged_with_correlation_then_online(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp, heartbeat_interval_seconds=30)
    path = session_path(world, session)
    request_id = str(uuid.uuid4())
    result = fp.send(
        CONFIG,
        Handshake(required_behaviour=RequiredBehaviour(heartbeat_interval=1)),
        request_id=request_id,
    )
    assert result.status_code == 204
    [ack] = fp.wait_for("handshake_acknowledge")
    assert ack.headers["x-correlation-id"] == request_id
    assert ack.schema_errors == []
    assert ack.body["required_behaviour"]["heartbeat_interval"] == 30
    online = wait_until(lambda: sim.get(path).json(), lambda s: s["state"] == "online")
    assert online["negotiated_behaviour"]["heartbeat_interval_seconds_sent_by_cp"] == 1
    fp.wait_for("heartbeat", count=2, timeout=4)
    kinds = [(m["direction"], m["message_type"]) for m in messages(sim, world, session)][:2]
    assert kinds == [("inbound", "Handshake"), ("outbound", "HandshakeAcknowledge")]


def test_send_forecast_is_schema_valid_and_recorded(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp)
    path = session_path(world, session)
    refused = sim.post(path + "/commands/send-forecast", json=_forecast_body())
    assert refused.status_code == 409 and refused.json()["code"] == "SESSION_NOT_ONLINE"
    go_online(sim, world, session, fp, interval=60)
    sent = sim.post(path + "/commands/send-forecast", json=_forecast_body())
    assert sent.status_code == 200, sent.text
    assert sent.json()["delivery_status"] == "accepted"
    [forecast] = fp.wait_for("update_group_capacity_forecast")
    assert forecast.schema_errors == []
    assert forecast.body["group_id"] == "group-1"
    assert forecast.headers["x-request-id"] == sent.json()["request_id"]
    recorded = entry(sim, world, session, sent.json()["ledger_entry_id"])
    assert recorded["body"] == forecast.body
    assert recorded["headers"]["X-Request-ID"] == forecast.request_id
    assert recorded["outcome"] == "accepted"
    last = sim.get(path).json()["last_forecast"]
    assert last["ledger_entry_id"] == recorded["id"] and last["delivery_status"] == "accepted"
    bad = sim.post(
        path + "/commands/send-forecast",
        json={
            **_forecast_body(),
            "forecasted_blocks": [{**_forecast_body()["forecasted_blocks"][0], "capacity": -1}],
        },
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "forecasted_blocks[0].capacity"
    backwards = _forecast_body()
    block = backwards["forecasted_blocks"][0]
    block["start_time"], block["end_time"] = block["end_time"], block["start_time"]
    refused_order = sim.post(path + "/commands/send-forecast", json=backwards)
    assert refused_order.status_code == 422
    assert refused_order.json()["errors"][0]["field"] == "forecasted_blocks[0].end_time"
    assert len(fp.of("update_group_capacity_forecast")) == 1


def test_data_messages_bad_body_422_wrong_group_or_lifecycle_403_no_token_401(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp)
    offline = fp.send_raw(CONFIG, "update_group_measurements", _measurements())
    assert offline.status_code == 403
    assert "offline" in offline.json()["message"]
    go_online(sim, world, session, fp, interval=60)

    accepted = fp.send_raw(CONFIG, "update_group_measurements", _measurements())
    assert accepted.status_code == 204, accepted.text
    bad = fp.send_raw(
        CONFIG,
        "update_group_measurements",
        {"group_id": "group-1", "measurements": [{"value": "x"}]},
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {
        "$.measurements[0].value",
        "$.measurements[0].unit",
    }
    wrong_group = fp.send_raw(CONFIG, "update_group_measurements", _measurements("group-9"))
    assert wrong_group.status_code == 403
    assert wrong_group.json()["errors"][0]["field"] == "$.group_id"
    no_token = fp.send_raw(
        CONFIG, "update_group_measurements", _measurements(), omit=("Authorization",)
    )
    assert no_token.status_code == 401
    assert no_token.headers["www-authenticate"].startswith("Token")
    asset = fp.send_raw(
        CONFIG, "update_asset_measurements", {"group_id": "group-1", "measurements": []}
    )
    assert asset.status_code == 403 and "publication mode" in asset.json()["message"]
    not_intermittent = fp.send_raw(
        CONFIG, "update_group_measurements", _measurements(initial=False)
    )
    assert not_intermittent.status_code == 422
    assert not_intermittent.json()["errors"][0]["field"] == "$.measurements[0].initial_measure_time"

    ledger = messages(
        sim, world, session, direction="inbound", message_type="UpdateGroupMeasurements"
    )
    assert [(m["outcome"], m["http_status"]) for m in ledger] == [
        ("rejected", 403),
        ("accepted", 204),
        ("rejected", 422),
        ("rejected", 403),
        ("rejected", 401),
        ("rejected", 422),
    ]
    assert any(e["field"] == "$.measurements[0].value" for e in ledger[2]["validation_errors"])
    assert ledger[3]["validation_errors"][0]["keyword"] == "binding"
    assert ledger[4]["validation_errors"][0]["field"] == "Authorization"
    assert all(m["forced"] is False for m in ledger)
    _assert_valid_ledger(sim, world, session)


def test_adjustment_needs_an_active_forecast_and_compliance_error_its_correlation(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp)
    path = session_path(world, session)
    go_online(sim, world, session, fp, interval=60)
    block = ForecastedBlock.model_validate(_forecast_body()["forecasted_blocks"][0])
    adjust = AdjustGroupCapacityForecast(
        group_id="group-1", type="CONSUMPTION", forecasted_blocks=[block]
    )
    assert fp.send(CONFIG, adjust).status_code == 403
    sent = sim.post(path + "/commands/send-forecast", json=_forecast_body()).json()
    assert fp.send(CONFIG, adjust).status_code == 204
    generation = adjust.model_copy(update={"type": CapacityForecastType.GENERATION})
    assert fp.send(CONFIG, generation).status_code == 403

    error = GroupCapacityComplianceError(message="cannot honour", forecasted_blocks=[block])
    missing = fp.send_raw(CONFIG, "group_capacity_compliance_error", error.to_wire())
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "X-Correlation-ID"
    unknown = fp.send(CONFIG, error, correlation_id=str(uuid.uuid4()))
    assert unknown.status_code == 403
    assert fp.send(CONFIG, error, correlation_id=sent["request_id"]).status_code == 204
    ledger = messages(sim, world, session, message_type="GroupCapacityComplianceError")
    assert [m["outcome"] for m in ledger] == ["rejected", "rejected", "accepted"]
    assert ledger[2]["correlation_id"] == sent["request_id"]


def test_headers_and_routing_refusals(sim: httpx.Client, world: World, fp: FpDouble) -> None:
    session = create_session(sim, world, fp)
    go_online(sim, world, session, fp, interval=60)
    beat = Heartbeat(offline_mode_at=_now() + timedelta(minutes=5)).to_wire()
    no_request_id = fp.send_raw(CONFIG, "heartbeat", beat, omit=("X-Request-ID",))
    assert no_request_id.status_code == 422
    assert no_request_id.json()["errors"][0]["field"] == "X-Request-ID"
    no_configuration = fp.send_raw(CONFIG, "heartbeat", beat, omit=("X-OSCP-Configuration-ID",))
    assert no_configuration.status_code == 422
    unknown = fp.send_raw(CONFIG, "heartbeat", beat, headers={"X-OSCP-Configuration-ID": "nope"})
    assert unknown.status_code == 403
    wrong_token = fp.send_raw(
        CONFIG, "heartbeat", beat, headers={"Authorization": "Token wrong-token-123456"}
    )
    assert wrong_token.status_code == 403
    garbage = fp.send_raw(CONFIG, "heartbeat", b"{not json")
    assert garbage.status_code == 422
    assert "malformed JSON" in garbage.json()["errors"][0]["reason"]
    naive = fp.send_raw(CONFIG, "heartbeat", {"offline_mode_at": "2026-04-02 10:15:00"})
    assert naive.status_code == 422
    ledger = messages(sim, world, session, message_type="Heartbeat", direction="inbound")
    assert [m["http_status"] for m in ledger] == [422, 403, 422, 422]
    unattributed = sim.get("/oscp-messages", params={"unattributed": True}).json()["messages"]
    assert [m["http_status"] for m in unattributed] == [422, 403]
    state = sim.get(session_path(world, session)).json()
    assert state["state"] == "online"


def test_repeated_request_id_returns_prior_outcome_without_second_entry(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp)
    go_online(sim, world, session, fp, interval=60)
    request_id = str(uuid.uuid4())
    headers = {"X-Request-ID": request_id}
    first = fp.send_raw(
        CONFIG, "update_group_measurements", _measurements("group-9"), headers=headers
    )
    again = fp.send_raw(CONFIG, "update_group_measurements", _measurements(), headers=headers)
    assert first.status_code == again.status_code == 403
    assert again.headers["x-duplicate-of"] == first.headers["x-ledger-entry-id"]
    assert again.json() == first.json()
    ledger = messages(sim, world, session, message_type="UpdateGroupMeasurements")
    assert len(ledger) == 1 and ledger[0]["request_id"] == request_id


def test_acknowledgement_correlation_and_state_are_checked(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp)
    path = session_path(world, session)
    fp.ack_handshakes = False
    ack = {"required_behaviour": {"measurement_configuration": []}}
    not_waiting = fp.send_raw(
        CONFIG, "handshake_acknowledge", ack, headers={"X-Correlation-ID": "x"}
    )
    assert not_waiting.status_code == 403
    sent = sim.post(
        path + "/commands/send-handshake", json={"heartbeat_interval_seconds": 60}
    ).json()
    assert sent["state"] == "awaiting_handshake_acknowledge"
    missing = fp.send_raw(CONFIG, "handshake_acknowledge", ack)
    assert missing.status_code == 422
    wrong = fp.send_raw(CONFIG, "handshake_acknowledge", ack, headers={"X-Correlation-ID": "other"})
    assert wrong.status_code == 403
    assert sim.get(path).json()["state"] == "awaiting_handshake_acknowledge"
    right = fp.send_raw(
        CONFIG, "handshake_acknowledge", ack, headers={"X-Correlation-ID": sent["request_id"]}
    )
    assert right.status_code == 204
    assert sim.get(path).json()["state"] == "online"


def test_cp_initiated_registration_exchanges_tokens(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp)
    path = session_path(world, session)
    old_cp_token = session["cp_token"]
    result = sim.post(path + "/commands/register")
    assert result.status_code == 200, result.text
    assert result.json()["delivery_status"] == "accepted"
    [register] = fp.wait_for("register")
    assert register.headers["authorization"] == f"Token {FP_TOKEN}"
    assert register.schema_errors == []
    assert register.body["version_url"] == [{"version": "2.0", "base_url": session["cp_base_url"]}]
    registered = wait_until(
        lambda: sim.get(path).json(), lambda s: s["registration_state"] == "registered"
    )
    assert registered["tokens"]["fp_token"] is True
    peer = fp.peers[CONFIG]
    assert peer.cp_token == register.body["token"] != old_cp_token
    # The FP's new token is used from now on; the CP's old token no longer works.
    go_online(sim, world, session, fp, interval=60)
    assert fp.of("handshake")[-1].headers["authorization"] == f"Token {peer.fp_token}"
    beat = Heartbeat(offline_mode_at=_now() + timedelta(minutes=5)).to_wire()
    stale = fp.send_raw(
        CONFIG, "heartbeat", beat, headers={"Authorization": f"Token {old_cp_token}"}
    )
    assert stale.status_code == 403
    ledger = [(m["direction"], m["message_type"]) for m in messages(sim, world, session)][:2]
    assert ledger == [("outbound", "Register"), ("inbound", "Register")]
    assert all(
        "…" in m["body"]["token"] for m in messages(sim, world, session, message_type="Register")
    )


def test_register_without_version_2_is_501(sim: httpx.Client, world: World, fp: FpDouble) -> None:
    create_session(sim, world, fp)
    refused = fp.send_raw(
        CONFIG,
        "register",
        {"token": "t" * 20, "version_url": [{"version": "1.0", "base_url": "http://x"}]},
    )
    assert refused.status_code == 501
    assert refused.json()["errors"][0]["field"] == "$.version_url"


def test_oauth_client_credentials_bearer_tokens(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    secret = "s3cret-" + "y" * 20
    session = create_session(
        sim,
        world,
        fp,
        oauth={"client_id": "manage-1", "client_secret": secret, "token_ttl_seconds": 1},
    )
    go_online(sim, world, session, fp, interval=60)
    base = session["cp_base_url"].removesuffix("/oscp/cp/2.0")
    bad_grant = httpx.post(
        f"{base}/oauth/token", data={"grant_type": "password"}, auth=("manage-1", secret)
    )
    assert bad_grant.status_code == 400 and bad_grant.json()["error"] == "unsupported_grant_type"
    wrong = httpx.post(
        f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=("manage-1", "nope")
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    issued = httpx.post(
        f"{base}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "manage-1", "client_secret": secret},
    )
    assert issued.status_code == 200, issued.text
    assert issued.json()["token_type"] == "Bearer" and issued.json()["expires_in"] == 1
    assert issued.headers["cache-control"] == "no-store"
    bearer = issued.json()["access_token"]
    beat = Heartbeat(offline_mode_at=_now() + timedelta(minutes=5))
    assert fp.send(CONFIG, beat, bearer=bearer).status_code == 204
    assert fp.send(CONFIG, beat, bearer="unknown-token-abcdef").status_code == 401
    time.sleep(1.2)
    expired = fp.send(CONFIG, beat, bearer=bearer)
    assert expired.status_code == 401
    ledger = messages(sim, world, session, message_type="Heartbeat", direction="inbound")
    assert [m["http_status"] for m in ledger] == [204, 401, 401]
    assert ledger[0]["headers"]["authorization"].startswith("Bearer …")
