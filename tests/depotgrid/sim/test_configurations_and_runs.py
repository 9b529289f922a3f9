"""Simulation Configuration and Run services over HTTP: versioning, topology validation with
422s naming the offending node or scope, legacy import, run commands and the logical clock."""

from __future__ import annotations

import copy
import time
from datetime import datetime
from typing import Any

import httpx

from tests.depotgrid.sim.helpers import SITE_CONFIGURATION, World, make_world


def _config(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(SITE_CONFIGURATION)
    document.update(changes)
    return document


def _nodes(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"nodes": list(nodes)}


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_issue_contract_create_configuration_and_versions(sim: httpx.Client) -> None:
    body = {
        "name": "Depot",
        "topology": {
            "nodes": [
                {"id": "site", "parent_id": None, "kind": "SITE"},
                {"id": "grid-1", "parent_id": "site", "kind": "GRID_CONNECTION", "rating_kw": 500},
            ]
        },
        "managed_scopes": [{"id": "scope-grid-1", "node_id": "grid-1"}],
    }
    created = sim.post("/simulation-configurations", json=body)
    assert created.status_code == 201
    assert created.json()["version"] == 1
    configuration_id = created.json()["id"]
    v1 = sim.get(f"/simulation-configurations/{configuration_id}/versions/1").json()
    assert v1["topology"]["nodes"][1]["rating_kw"] == 500 and v1["version"] == 1
    changed = copy.deepcopy(body)
    changed["topology"]["nodes"][1]["rating_kw"] = 250
    v2 = sim.post(f"/simulation-configurations/{configuration_id}/versions", json=changed)
    assert v2.status_code == 201 and v2.json()["version"] == 2
    assert sim.get(f"/simulation-configurations/{configuration_id}").json()["versions"] == [1, 2]
    assert sim.get(f"/simulation-configurations/{configuration_id}/versions/3").status_code == 404
    assert sim.get("/simulation-configurations/nope/versions/1").status_code == 404


def test_runs_are_pinned_to_their_version(sim: httpx.Client) -> None:
    world = make_world(sim, start=False)
    changed = _config()
    changed["topology"]["nodes"][1]["rating_kw"] = 100
    sim.post(f"/simulation-configurations/{world.configuration_id}/versions", json=changed)
    run = sim.get(f"/simulation-runs/{world.run_id}").json()
    assert run["configuration_version"] == 1
    assert run["world"]["nodes"]["grid-1"]["constraint_kw"] == 500


INVALID = [
    (
        _config(
            topology=_nodes(
                {"id": "a", "kind": "SITE"}, {"id": "b", "parent_id": "nope", "kind": "CIRCUIT"}
            )
        ),
        "topology.nodes[1].parent_id",
        "'nope'",
    ),
    (
        _config(topology=_nodes({"id": "a", "kind": "SITE"}, {"id": "b", "kind": "SITE"})),
        "topology.nodes[1].parent_id",
        "second root",
    ),
    (
        _config(
            topology=_nodes(
                {"id": "site", "kind": "SITE"},
                {"id": "x", "parent_id": "y", "kind": "CIRCUIT"},
                {"id": "y", "parent_id": "x", "kind": "CIRCUIT"},
            )
        ),
        "topology.nodes[1].parent_id",
        "cycle (x -> y -> x)",
    ),
    (
        _config(
            topology=_nodes(
                {"id": "a", "parent_id": "b", "kind": "SITE"},
                {"id": "b", "parent_id": "a", "kind": "SITE"},
            )
        ),
        "topology.nodes",
        "no root",
    ),
    (
        _config(
            topology=_nodes(
                {"id": "a", "kind": "SITE"}, {"id": "a", "parent_id": "a", "kind": "CIRCUIT"}
            )
        ),
        "topology.nodes[1].id",
        "'a' is used twice",
    ),
    (
        _config(managed_scopes=[{"id": "scope-x", "node_id": "grid-9"}], projection_bindings=[]),
        "managed_scopes[0].node_id",
        "scope 'scope-x' references node 'grid-9'",
    ),
    (
        _config(projection_bindings=[{"managed_scope_id": "scope-9", "group_id": "g"}]),
        "projection_bindings[0].managed_scope_id",
        "'scope-9'",
    ),
    (
        _config(
            projection_bindings=[
                {
                    "managed_scope_id": "scope-grid-1",
                    "group_id": "g",
                    "default_scenario_preset": "chaos",
                }
            ]
        ),
        "projection_bindings[0].default_scenario_preset",
        "'chaos'",
    ),
    (
        _config(
            scenario_presets=[
                {"name": "p", "overrides": [{"mode": "delay_responses", "hold_seconds": 3}]}
            ]
        ),
        "scenario_presets[0].overrides[0].hold_seconds",
        "ignore modes",
    ),
    (
        _config(topology=_nodes({"id": "a", "kind": "CASTLE"})),
        "topology.nodes[0].kind",
        "Input should be",
    ),
    (_config(topology={"nodes": []}), "topology.nodes", "at least 1"),
    (_config(colour="red"), "colour", "not a known field"),
]


def test_invalid_configurations_are_422_naming_the_offender_and_change_nothing(
    sim: httpx.Client,
) -> None:
    for document, field, reason in INVALID:
        refused = sim.post("/simulation-configurations", json=document)
        assert refused.status_code == 422, (field, refused.text)
        errors = {e["field"]: e["reason"] for e in refused.json()["errors"]}
        assert field in errors, (field, errors)
        assert reason in errors[field], (reason, errors[field])
    assert sim.get("/simulation-configurations").json()["total"] == 0
    created = sim.post("/simulation-configurations", json=SITE_CONFIGURATION).json()
    bad_version = sim.post(
        f"/simulation-configurations/{created['id']}/versions", json=INVALID[0][0]
    )
    assert bad_version.status_code == 422
    assert sim.get(f"/simulation-configurations/{created['id']}").json()["versions"] == [1]


def test_legacy_circuit_tree_import(sim: httpx.Client) -> None:
    tree = {
        "id": "depot-1",
        "name": "North depot",
        "timezone": "Australia/Sydney",
        "version": 3,
        "circuits": [
            {
                "id": "main",
                "name": "Main",
                "parent_circuit_id": None,
                "max_capacity_kw": 800,
                "available_capacity_kw": 800,
                "safe_default_capacity_kw": 400,
                "position": 0,
                "depth": 0,
                "children": [
                    {
                        "id": "bay-a",
                        "name": "Bay A",
                        "parent_circuit_id": "main",
                        "max_capacity_kw": 300,
                        "children": [],
                        "chargers": [
                            {
                                "id": "ch-1",
                                "name": "Charger 1",
                                "circuit_id": "bay-a",
                                "summary": "x",
                            }
                        ],
                        "power_sources": [],
                        "devices": [],
                    }
                ],
                "chargers": [],
                "power_sources": [
                    {
                        "id": "pv-1",
                        "name": "Roof PV",
                        "circuit_id": "main",
                        "summary": "SOLAR · 50 kW",
                    }
                ],
                "devices": [],
            }
        ],
        "unassigned_power_sources": [],
        "unassigned_devices": [],
        "counts": {},
    }
    imported = sim.post(
        "/simulation-configurations/import/legacy", json={"depot": tree, "oscp_group_id": "group-7"}
    )
    assert imported.status_code == 201, imported.text
    body = imported.json()
    kinds = {
        n["id"]: (n["kind"], n["parent_id"], n.get("rating_kw")) for n in body["topology"]["nodes"]
    }
    assert kinds == {
        "depot-1": ("SITE", None, None),
        "main": ("GRID_CONNECTION", "depot-1", 800),
        "bay-a": ("CIRCUIT", "main", 300),
        "ch-1": ("CHARGER", "bay-a", None),
        "pv-1": ("GENERATION", "main", None),
    }
    assert body["managed_scopes"] == [{"id": "scope-main", "node_id": "main", "name": "Main"}]
    assert body["projection_bindings"][0]["group_id"] == "group-7"

    flat = {
        "depot": {"id": "d2", "name": "Flat depot"},
        "circuits": [
            {"id": "c1", "parent_circuit_id": "c2", "max_capacity_kw": 1},
            {"id": "c2", "parent_circuit_id": "c1", "max_capacity_kw": 1},
        ],
    }
    cyclic = sim.post("/simulation-configurations/import/legacy", json=flat)
    assert cyclic.status_code == 422
    assert any("cycle" in e["reason"] for e in cyclic.json()["errors"])


def test_run_contract_and_commands(sim: httpx.Client) -> None:
    configuration = sim.post("/simulation-configurations", json=SITE_CONFIGURATION).json()
    created = sim.post(
        "/simulation-runs",
        json={"configuration_id": configuration["id"], "configuration_version": 1},
    )
    assert created.status_code == 201
    assert created.json()["state"] == "created" and created.json()["id"]
    run = f"/simulation-runs/{created.json()['id']}"
    frozen = sim.get(run).json()["logical_time"]
    time.sleep(0.05)
    assert sim.get(run).json()["logical_time"] == frozen
    assert sim.post(run + "/commands/start").json()["state"] == "running"
    again = sim.post(run + "/commands/start")
    assert again.status_code == 409 and again.json()["code"] == "INVALID_RUN_TRANSITION"
    time.sleep(0.05)
    running = sim.get(run).json()["logical_time"]
    assert _t(running) > _t(frozen)
    paused = sim.post(run + "/commands/pause").json()
    assert paused["state"] == "paused"
    time.sleep(0.05)
    assert sim.get(run).json()["logical_time"] == paused["logical_time"]
    ticked = sim.post(run + "/commands/tick", json={"seconds": 60}).json()
    assert (_t(ticked["logical_time"]) - _t(paused["logical_time"])).total_seconds() == 60
    assert sim.post(run + "/commands/pause").status_code == 409
    assert sim.post(run + "/commands/start", json={"seconds": 5}).status_code == 422
    assert sim.post(run + "/commands/tick", json={"seconds": -5}).status_code == 422
    assert sim.post(run + "/commands/teleport").status_code == 422
    faster = sim.patch(run, json={"speed_factor": 100}).json()
    assert faster["speed_factor"] == 100
    assert sim.patch(run, json={"speed_factor": 0}).status_code == 422
    resumed = sim.post(run + "/commands/resume").json()
    time.sleep(0.1)
    later = sim.get(run).json()["logical_time"]
    assert (_t(later) - _t(resumed["logical_time"])).total_seconds() >= 5
    stopped = sim.post(run + "/commands/stop").json()
    assert stopped["state"] == "stopped"
    assert sim.post(run + "/commands/tick").status_code == 409
    events = [e["event_type"] for e in sim.get(run + "/events").json()["events"]]
    assert events[0] == "SimulationRunStopped" and events[-1] == "SimulationRunCreated"
    assert {
        "SimulationRunStarted",
        "SimulationRunPaused",
        "SimulationRunTicked",
        "SimulationRunStopped",
    } <= set(events)


def test_run_bad_input(sim: httpx.Client) -> None:
    configuration = sim.post("/simulation-configurations", json=SITE_CONFIGURATION).json()
    unknown = sim.post(
        "/simulation-runs", json={"configuration_id": "nope", "configuration_version": 1}
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "configuration_id"
    no_version = sim.post(
        "/simulation-runs",
        json={"configuration_id": configuration["id"], "configuration_version": 2},
    )
    assert no_version.status_code == 422
    assert no_version.json()["errors"][0]["field"] == "configuration_version"
    naive = sim.post(
        "/simulation-runs",
        json={
            "configuration_id": configuration["id"],
            "configuration_version": 1,
            "start_time": "2026-01-01T00:00:00",
        },
    )
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "start_time"
    assert sim.get("/simulation-runs").json()["total"] == 0
    assert sim.get("/simulation-runs/nope").status_code == 404


def test_world_load_breach_detected(sim: httpx.Client, world: World) -> None:
    run = f"/simulation-runs/{world.run_id}"
    patched = sim.patch(run + "/world/nodes/charger-1", json={"own_load_kw": 520})
    assert patched.status_code == 200, patched.text
    nodes = patched.json()["nodes"]
    assert nodes["grid-1"]["load_kw"] == 520 and nodes["grid-1"]["breached"] is True
    assert nodes["site"]["load_kw"] == 520 and nodes["site"]["breached"] is False
    breaches = sim.get(run + "/events", params={"type": "ManagedScopeBreachDetected"}).json()[
        "events"
    ]
    assert breaches[0]["data"]["scope_id"] == "scope-grid-1"
    assert sim.patch(run + "/world/nodes/nope", json={"own_load_kw": 1}).status_code == 404
    assert sim.patch(run + "/world/nodes/grid-1", json={"own_load_kw": -1}).status_code == 422
    assert sim.patch(run + "/world/nodes/grid-1", json={}).status_code == 422


def test_session_creation_bad_input(sim: httpx.Client, world: World) -> None:
    path = f"/simulation-runs/{world.run_id}/oscp-sessions"
    base = {
        "managed_scope_id": "scope-grid-1",
        "betterfleet_base_url": "http://fp.example/oscp/fp/2.0",
        "remote_configuration_id": "cfg-1",
    }
    cases = [
        ({**base, "managed_scope_id": "scope-9"}, "managed_scope_id", "'scope-9'"),
        ({**base, "betterfleet_base_url": "ftp://x"}, "betterfleet_base_url", "http(s)"),
        ({**base, "scenario_preset": "chaos"}, "scenario_preset", "'chaos'"),
        (
            {**base, "measurement_configuration": "SOMETIMES"},
            "measurement_configuration[0]",
            "Input should be",
        ),
        ({**base, "fp_token": "short"}, "fp_token", "at least 16"),
        (
            {**base, "heartbeat_interval_seconds": 0.5},
            "heartbeat_interval_seconds",
            "greater than or equal to 1",
        ),
    ]
    for body, field, reason in cases:
        refused = sim.post(path, json=body)
        assert refused.status_code == 422, refused.text
        errors = {e["field"]: e["reason"] for e in refused.json()["errors"]}
        assert field in errors and reason in errors[field], errors
    assert sim.get(path).json()["sessions"] == []
    assert sim.post(path, json=base).status_code == 201
    duplicate = sim.post(path, json=base)
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "DUPLICATE_SESSION"
    assert sim.post("/simulation-runs/nope/oscp-sessions", json=base).status_code == 404
