"""Expectations (positive and negative, pending/met/violated/expired) and forecast plans (manual
or scheduled on logical time; step down, step up, gap, fallback) over real HTTP."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from depotgrid.oscp.messages import GroupCapacityComplianceError
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
MEASUREMENTS = {
    "group_id": "group-1",
    "measurements": [
        {
            "value": 2.0,
            "phase": "ALL",
            "unit": "KWH",
            "direction": "IMPORT",
            "measure_time": "2026-04-02T10:15:00Z",
            "initial_measure_time": "2026-04-02T10:00:00Z",
        }
    ],
}


@pytest.fixture
def online(sim: httpx.Client, world: World, fp: FpDouble) -> dict[str, Any]:
    session = create_session(sim, world, fp, heartbeat_interval_seconds=3600)
    go_online(sim, world, session, fp, interval=3600)
    return session


def _expect(
    sim: httpx.Client, world: World, session: dict[str, Any], **body: Any
) -> dict[str, Any]:
    made = sim.post(session_path(world, session) + "/expectations", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "pending"
    result: dict[str, Any] = made.json()
    return result


def _status(
    sim: httpx.Client, world: World, session: dict[str, Any], expectation: dict[str, Any]
) -> dict[str, Any]:
    found: dict[str, Any] = sim.get(
        session_path(world, session) + f"/expectations/{expectation['id']}"
    ).json()
    return found


def _tick(sim: httpx.Client, world: World, seconds: float) -> None:
    assert (
        sim.post(
            f"/simulation-runs/{world.run_id}/commands/tick", json={"seconds": seconds}
        ).status_code
        == 200
    )


def _plan(sim: httpx.Client, world: World, session: dict[str, Any], **body: Any) -> dict[str, Any]:
    made = sim.post(session_path(world, session) + "/forecast-plans", json=body)
    assert made.status_code == 201, made.text
    result: dict[str, Any] = made.json()
    return result


def test_compliance_error_correlated_to_forecast_within_t_is_met(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    path = session_path(world, online)
    sent = sim.post(
        path + "/commands/send-forecast",
        json={
            "type": "CONSUMPTION",
            "forecasted_blocks": [
                {
                    "capacity": 100,
                    "phase": "ALL",
                    "unit": "KW",
                    "start_time": "2026-04-02T10:00:00Z",
                    "end_time": "2026-04-02T10:15:00Z",
                }
            ],
        },
    ).json()
    expectation = _expect(
        sim,
        world,
        online,
        message_type="GroupCapacityComplianceError",
        correlated_to=sent["forecast_plan_id"],
        within_seconds=60,
    )
    assert expectation["correlation_id"] == sent["request_id"]
    error = GroupCapacityComplianceError(message="breach")
    assert fp.send(CONFIG, error, correlation_id=sent["request_id"]).status_code == 204
    met = _status(sim, world, online, expectation)
    assert met["status"] == "met"
    [received] = messages(sim, world, online, message_type="GroupCapacityComplianceError")
    assert met["matched_ledger_entry_id"] == received["id"]


def test_positive_expectation_violated_at_deadline(
    sim: httpx.Client, world: World, online: dict[str, Any]
) -> None:
    expectation = _expect(
        sim, world, online, message_type="UpdateGroupMeasurements", within_seconds=10
    )
    _tick(sim, world, 11)
    violated = _status(sim, world, online, expectation)
    assert violated["status"] == "violated" and "no matching" in violated["reason"]


def test_negative_expectation_met_when_nothing_arrives(
    sim: httpx.Client, world: World, online: dict[str, Any]
) -> None:
    expectation = _expect(
        sim,
        world,
        online,
        message_type="UpdateGroupMeasurements",
        polarity="not_receive",
        within_seconds=10,
    )
    _tick(sim, world, 5)
    assert _status(sim, world, online, expectation)["status"] == "pending"
    _tick(sim, world, 6)
    assert _status(sim, world, online, expectation)["status"] == "met"


def test_negative_expectation_violated_by_a_message(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    expectation = _expect(
        sim,
        world,
        online,
        message_type="UpdateGroupMeasurements",
        polarity="not_receive",
        within_seconds=600,
    )
    assert fp.send_raw(CONFIG, "update_group_measurements", MEASUREMENTS).status_code == 204
    violated = _status(sim, world, online, expectation)
    assert violated["status"] == "violated"


def test_required_outcome_and_listing(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    expectation = _expect(
        sim,
        world,
        online,
        message_type="UpdateGroupMeasurements",
        outcome="accepted",
        within_seconds=600,
    )
    wrong_group = {**MEASUREMENTS, "group_id": "group-9"}
    assert fp.send_raw(CONFIG, "update_group_measurements", wrong_group).status_code == 403
    assert _status(sim, world, online, expectation)["status"] == "pending"
    assert fp.send_raw(CONFIG, "update_group_measurements", MEASUREMENTS).status_code == 204
    assert _status(sim, world, online, expectation)["status"] == "met"
    listed = sim.get(session_path(world, online) + "/expectations").json()["expectations"]
    assert [e["id"] for e in listed] == [expectation["id"]]


def test_expectation_bad_input(sim: httpx.Client, world: World, online: dict[str, Any]) -> None:
    path = session_path(world, online) + "/expectations"
    cases = [
        ({"message_type": "Teleport", "within_seconds": 5}, "message_type"),
        ({"message_type": "Heartbeat", "within_seconds": 0}, "within_seconds"),
        ({"message_type": "UpdateGroupCapacityForecast", "within_seconds": 5}, "message_type"),
        (
            {
                "message_type": "GroupCapacityComplianceError",
                "within_seconds": 5,
                "correlated_to": "nope",
            },
            "correlated_to",
        ),
        ({"message_type": "Heartbeat", "within_seconds": 5, "polarity": "maybe"}, "polarity"),
    ]
    for body, field in cases:
        refused = sim.post(path, json=body)
        assert refused.status_code == 422, refused.text
        assert field in [e["field"] for e in refused.json()["errors"]]
    assert sim.get(path).json()["expectations"] == []


def _blocks(fp: FpDouble, index: int = -1) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = fp.of("update_group_capacity_forecast")[index].body[
        "forecasted_blocks"
    ]
    return blocks


def test_scheduled_plan_step_down_is_sent_by_the_scheduler(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    plan = _plan(
        sim,
        world,
        online,
        mode="scheduled",
        send_in_seconds=0,
        profile={
            "capacity": 400,
            "block_minutes": 15,
            "block_count": 4,
            "variation": {"kind": "step_down", "at_block": 2, "capacity": 150},
        },
    )
    [forecast] = fp.wait_for("update_group_capacity_forecast")
    assert forecast.schema_errors == []
    assert forecast.body["type"] == "CONSUMPTION"
    assert [b["capacity"] for b in forecast.body["forecasted_blocks"]] == [400, 400, 150, 150]
    starts = [
        datetime.fromisoformat(b["start_time"].replace("Z", "+00:00"))
        for b in forecast.body["forecasted_blocks"]
    ]
    assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(starts))
    assert starts[0].minute % 15 == 0 and starts[0].second == 0
    done = wait_until(
        lambda: sim.get(
            session_path(world, online) + f"/forecast-plans/{plan['forecast_plan_id']}"
        ).json(),
        lambda p: p["status"] == "sent",
    )
    assert done["last_delivery_status"] == "accepted" and done["occurrences"] == 1


def test_plan_variations_step_up_gap_fallback(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    path = session_path(world, online)
    variations = [
        ({"kind": "step_up", "at_block": 1, "capacity": 600}, "CONSUMPTION", [200, 600, 600]),
        ({"kind": "gap", "at_block": 1, "gap_blocks": 1}, "CONSUMPTION", [200, 200]),
        ({"kind": "fallback"}, "FALLBACK_CONSUMPTION", [200, 200, 200]),
    ]
    for count, (variation, forecast_type, capacities) in enumerate(variations, start=1):
        plan = _plan(
            sim, world, online, profile={"capacity": 200, "block_count": 3, "variation": variation}
        )
        assert plan["status"] == "ready"
        sent = sim.post(path + f"/forecast-plans/{plan['forecast_plan_id']}/commands/send")
        assert sent.status_code == 200 and sent.json()["delivery_status"] == "accepted"
        fp.wait_for("update_group_capacity_forecast", count=count)
        body = fp.of("update_group_capacity_forecast")[-1].body
        assert body["type"] == forecast_type
        assert [b["capacity"] for b in body["forecasted_blocks"]] == capacities
    gap = fp.of("update_group_capacity_forecast")[1].body["forecasted_blocks"]
    assert gap[0]["end_time"] != gap[1]["start_time"]


def test_repeating_plan_follows_logical_time_and_cancel(
    sim: httpx.Client, world: World, fp: FpDouble, online: dict[str, Any]
) -> None:
    path = session_path(world, online)
    plan = _plan(
        sim,
        world,
        online,
        mode="scheduled",
        send_in_seconds=30,
        repeat_every_seconds=60,
        profile={"capacity": 50},
    )
    _tick(sim, world, 31)
    fp.wait_for("update_group_capacity_forecast", count=1)
    _tick(sim, world, 60)
    fp.wait_for("update_group_capacity_forecast", count=2)
    first, second = (
        f.body["forecasted_blocks"][0]["start_time"]
        for f in fp.of("update_group_capacity_forecast")
    )
    assert first != second or len(fp.of("update_group_capacity_forecast")) == 2
    cancelled = sim.post(
        path + f"/forecast-plans/{plan['forecast_plan_id']}/commands/cancel"
    ).json()
    assert cancelled["status"] == "cancelled"
    _tick(sim, world, 120)
    assert len(fp.of("update_group_capacity_forecast")) == 2


def test_scheduled_plan_skipped_while_offline(
    sim: httpx.Client, world: World, fp: FpDouble
) -> None:
    session = create_session(sim, world, fp)
    plan = _plan(sim, world, session, mode="scheduled", send_in_seconds=1, profile={"capacity": 50})
    _tick(sim, world, 2)
    found = sim.get(
        session_path(world, session) + f"/forecast-plans/{plan['forecast_plan_id']}"
    ).json()
    assert found["status"] == "skipped" and "offline" in found["reason"]
    assert fp.of("update_group_capacity_forecast") == []


def test_plan_bad_input(sim: httpx.Client, world: World, online: dict[str, Any]) -> None:
    path = session_path(world, online) + "/forecast-plans"
    block = {
        "capacity": 1,
        "phase": "ALL",
        "unit": "KW",
        "start_time": "2026-04-02T10:00:00Z",
        "end_time": "2026-04-02T10:15:00Z",
    }
    cases = [
        {"profile": {"capacity": 1}, "forecasted_blocks": [block]},
        {},
        {
            "profile": {
                "capacity": 100,
                "variation": {"kind": "step_down", "at_block": 1, "capacity": 200},
            }
        },
        {
            "profile": {
                "capacity": 100,
                "block_count": 2,
                "variation": {"kind": "gap", "at_block": 1},
            }
        },
        {"profile": {"capacity": 1}, "send_in_seconds": 5},
        {"forecasted_blocks": [block], "mode": "scheduled", "repeat_every_seconds": 60},
        {"forecasted_blocks": [{**block, "end_time": "2026-04-02T09:00:00Z"}]},
    ]
    for body in cases:
        refused = sim.post(path, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["errors"]
    assert sim.get(path).json()["forecast_plans"] == []
