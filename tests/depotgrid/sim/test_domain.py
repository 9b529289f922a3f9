"""The plain domain modules, without HTTP or a database: logical clock and run state machine,
configuration invariants, world breaches, session lifecycle, override resolution, expectations
and forecast plans."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from depotgrid.sim.configuration.model import SimulationConfigurationDocument, check
from depotgrid.sim.projections.oscp_cp import session as lifecycle
from depotgrid.sim.projections.oscp_cp.session import RegistrationState, Session, SessionState
from depotgrid.sim.runtime import world
from depotgrid.sim.runtime.clock import ClockError, RunClock
from depotgrid.sim.runtime.run import (
    Run,
    RunCommand,
    RunState,
    RunTransitionError,
    apply_command,
    set_speed,
)
from depotgrid.sim.scenarios import forecasts
from depotgrid.sim.scenarios.expectations import (
    Expectation,
    ExpectationStatus,
    ObservedMessage,
    Polarity,
    on_message,
    on_session_offline,
    on_time,
)
from depotgrid.sim.scenarios.overrides import Effect, Override, OverrideMode, forcing_for

T0 = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


# --- clock and run ---------------------------------------------------------------------------


def test_clock_runs_at_its_speed_pauses_and_never_goes_back() -> None:
    clock = RunClock(T0, T0, speed=10, running=True)
    assert clock.logical_at(T0 + s(2)) == T0 + s(20)
    assert clock.logical_at(T0 - s(5)) == T0  # the wall clock stepped back: logical time holds
    paused = clock.reanchored(T0 + s(2), running=False)
    assert paused.logical_at(T0 + s(100)) == T0 + s(20)
    assert paused.wall_at(T0 + s(30)) is None
    ticked = paused.advanced(T0 + s(3), 60)
    assert ticked.logical_at(T0 + s(50)) == T0 + s(80)
    with pytest.raises(ClockError):
        paused.advanced(T0, 0)
    with pytest.raises(ClockError):
        RunClock(T0, T0, speed=0, running=True)
    assert clock.wall_at(T0 + s(100)) == T0 + s(10)


def _run(state: RunState = RunState.CREATED) -> Run:
    return Run("r", "run", "c", 1, state, RunClock(T0, T0, 1.0, state is RunState.RUNNING), 1.0, 1)


def test_run_state_machine() -> None:
    run, [event] = apply_command(_run(), RunCommand.START, T0)
    assert run.state is RunState.RUNNING and event.event_type == "SimulationRunStarted"
    assert run.logical_at(T0 + s(5)) == T0 + s(5)
    paused, _ = apply_command(run, RunCommand.PAUSE, T0 + s(5))
    assert paused.logical_at(T0 + s(50)) == T0 + s(5)
    ticked, [tick] = apply_command(paused, RunCommand.TICK, T0 + s(50), seconds=10)
    assert ticked.logical_at(T0 + s(60)) == T0 + s(15) and tick.data["seconds"] == 10
    faster, _ = set_speed(ticked, 2, T0 + s(60))
    resumed, _ = apply_command(faster, RunCommand.RESUME, T0 + s(60))
    assert resumed.logical_at(T0 + s(65)) == T0 + s(25)
    stopped, _ = apply_command(resumed, RunCommand.STOP, T0 + s(65))
    for command in RunCommand:
        with pytest.raises(RunTransitionError):
            apply_command(stopped, command, T0 + s(70))
    with pytest.raises(RunTransitionError, match="cannot pause a run that is created"):
        apply_command(_run(), RunCommand.PAUSE, T0)
    with pytest.raises(RunTransitionError):
        apply_command(_run(), RunCommand.TICK, T0, seconds=-1)


# --- configuration and world -----------------------------------------------------------------


def _document(
    nodes: list[dict[str, object]], scopes: list[dict[str, str]] | None = None
) -> SimulationConfigurationDocument:
    return SimulationConfigurationDocument.model_validate(
        {"name": "x", "topology": {"nodes": nodes}, "managed_scopes": scopes or []}
    )


def test_configuration_invariants_name_the_offender() -> None:
    good = _document(
        [
            {"id": "site", "kind": "SITE"},
            {"id": "g", "parent_id": "site", "kind": "GRID_CONNECTION"},
        ],
        [{"id": "sc", "node_id": "g"}],
    )
    assert check(good) == []
    cycle = _document(
        [
            {"id": "site", "kind": "SITE"},
            {"id": "a", "parent_id": "c", "kind": "CIRCUIT"},
            {"id": "b", "parent_id": "a", "kind": "CIRCUIT"},
            {"id": "c", "parent_id": "b", "kind": "CIRCUIT"},
            {"id": "d", "parent_id": "c", "kind": "CIRCUIT"},
        ]
    )
    [error] = check(cycle)
    assert error.field == "topology.nodes[1].parent_id" and "a -> c -> b -> a" in error.reason
    selfish = _document(
        [{"id": "site", "kind": "SITE"}, {"id": "x", "parent_id": "x", "kind": "LOAD"}]
    )
    assert [e.reason for e in check(selfish)] == ["node 'x' is its own parent"]


def test_world_aggregates_loads_and_reports_new_breaches_once() -> None:
    document = _document(
        [
            {"id": "site", "kind": "SITE"},
            {"id": "g", "parent_id": "site", "kind": "GRID_CONNECTION", "rating_kw": 100},
            {"id": "c1", "parent_id": "g", "kind": "CHARGER", "base_load_kw": 30},
            {"id": "c2", "parent_id": "g", "kind": "CHARGER", "base_load_kw": 30},
        ],
        [{"id": "sc", "node_id": "g"}],
    )
    state = world.initial_world(document)
    assert state["g"].load_kw == 60 and not state["g"].breached
    heavier = world.set_node(state, "c2", own_load_kw=80, constraint_kw=None)
    evaluated, breaches = world.evaluate(heavier, {"sc": "g"}, T0)
    assert evaluated["g"].load_kw == 110 and evaluated["g"].breached
    assert [(b.scope_id, b.load_kw, b.constraint_kw) for b in breaches] == [("sc", 110, 100)]
    _, again = world.evaluate(evaluated, {"sc": "g"}, T0)
    assert again == []
    assert world.from_json(world.to_json(evaluated)) == evaluated


# --- session lifecycle -----------------------------------------------------------------------


def _session(**changes: object) -> Session:
    base = Session(
        id="s",
        run_id="r",
        managed_scope_id="sc",
        remote_configuration_id="cfg",
        group_id="g",
        fp_base_url="http://fp",
        measurement_publication_mode="GROUP",
        measurement_configuration=("INTERMITTENT",),
        scenario_preset="connected_baseline",
        state=SessionState.OFFLINE,
        state_reason="",
        state_changed_at=T0,
        registration_state=RegistrationState.REGISTERED,
        registration_request_id=None,
        fp_token="t",
        oauth_client_id=None,
        oauth_token_ttl_seconds=300,
        fp_heartbeat_interval=None,
        cp_heartbeat_interval=None,
        fp_required_measurement_configuration=None,
        handshake_request_id=None,
        handshake_deadline_at=None,
        handshake_ack_timeout_seconds=30,
        next_heartbeat_at=None,
        last_heartbeat_sent_at=None,
        last_heartbeat_received_at=None,
        peer_offline_at=None,
        consecutive_failures=0,
        last_forecast=None,
        version=1,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_cp_initiated_handshake_then_ack_goes_online_with_negotiated_timers() -> None:
    waiting = lifecycle.begin_cp_handshake(
        _session(),
        request_id="h1",
        now=T0,
        heartbeat_interval=10,
        measurement_configuration=("CONTINUOUS",),
        ack_timeout_seconds=30,
    )
    assert waiting.state is SessionState.AWAITING_HANDSHAKE_ACKNOWLEDGE
    assert waiting.handshake_deadline_at == T0 + s(30)
    assert [e.event_type for e in waiting.events] == ["ProjectionStateChanged", "OscpHandshakeSent"]
    online = lifecycle.acknowledgement_received(
        waiting, heartbeat_interval=5, measurement_configuration=(), now=T0 + s(1)
    )
    assert online.state is SessionState.ONLINE
    assert online.cp_heartbeat_interval == 5 and online.fp_heartbeat_interval == 10
    assert online.next_heartbeat_at == T0 + s(1)
    assert online.peer_offline_at == T0 + s(31)
    assert online.handshake_request_id is None
    symmetric = lifecycle.acknowledgement_received(
        waiting, heartbeat_interval=None, measurement_configuration=None, now=T0
    )
    assert symmetric.cp_heartbeat_interval == 10


def test_heartbeat_schedule_liveness_and_failures() -> None:
    online = _session(
        state=SessionState.ONLINE,
        cp_heartbeat_interval=5,
        fp_heartbeat_interval=10,
        next_heartbeat_at=T0,
    )
    claimed = lifecycle.heartbeat_claimed(online, T0 + s(0.1))
    assert claimed.next_heartbeat_at == T0 + s(5)  # no drift
    late = lifecycle.heartbeat_claimed(online, T0 + s(60))
    assert late.next_heartbeat_at == T0 + s(65)  # far behind: restart the cadence from now
    assert lifecycle.heartbeat_deadline(T0, 5) == T0 + s(11)
    beat = lifecycle.heartbeat_received(online, T0 + s(3600), T0)
    assert beat.peer_offline_at == T0 + s(30)  # capped at 3 x the interval required of the FP
    early = lifecycle.heartbeat_received(online, T0 + s(12), T0)
    assert early.peer_offline_at == T0 + s(12)
    expired = lifecycle.expired(early, T0 + s(12))
    assert expired is not None and expired.state is SessionState.OFFLINE
    assert expired.next_heartbeat_at is None
    assert lifecycle.expired(early, T0 + s(11)) is None
    failing = lifecycle.delivery_outcome(online, ok=False, detail="HTTP 500", now=T0)
    assert failing.state is SessionState.DEGRADED
    healed = lifecycle.delivery_outcome(failing, ok=True, detail="", now=T0)
    assert healed.state is SessionState.ONLINE and healed.consecutive_failures == 0
    down = online
    for _ in range(3):
        down = lifecycle.delivery_outcome(down, ok=False, detail="refused", now=T0)
    assert down.state is SessionState.OFFLINE and "3 deliveries" in down.state_reason


def test_fp_initiated_handshake_and_its_timeout() -> None:
    accepting = lifecycle.handshake_received(
        _session(fp_heartbeat_interval=20),
        request_id="fh",
        heartbeat_interval=None,
        measurement_configuration=(),
        now=T0,
    )
    assert accepting.state is SessionState.ACCEPTING_HANDSHAKE
    assert accepting.cp_heartbeat_interval == 20
    stale = lifecycle.acknowledgement_delivered(
        accepting, handshake_request_id="other", ok=True, detail="", now=T0
    )
    assert stale is accepting
    online = lifecycle.acknowledgement_delivered(
        accepting, handshake_request_id="fh", ok=True, detail="", now=T0
    )
    assert online.state is SessionState.ONLINE
    timed_out = lifecycle.expired(accepting, T0 + s(30))
    assert timed_out is not None and "handshake timed out" in timed_out.state_reason
    assert timed_out.events[-1].data["cause"] == "handshake_timeout"


# --- overrides, expectations, forecasts ------------------------------------------------------


def _override(mode: OverrideMode, until: datetime = T0 + s(60), **kw: object) -> Override:
    return Override(
        id=mode.value,
        session_id="s",
        mode=mode,
        message_types=kw.get("types"),  # type: ignore[arg-type]
        delay_seconds=None,
        hold_seconds=None,
        until_at=until,
        source="t",
        created_logical_at=T0,
    )


def test_override_precedence_narrowing_and_expiry() -> None:
    overrides = [
        _override(OverrideMode.DELAY_RESPONSES),
        _override(OverrideMode.REJECT_HEARTBEAT_WITH_403),
        _override(OverrideMode.STALE_STATE_503, until=T0 + s(10)),
    ]
    assert forcing_for(overrides, "Heartbeat", T0).effect is Effect.STALE_503
    later = forcing_for(overrides, "Heartbeat", T0 + s(10))
    assert later.effect is Effect.REJECT_403 and later.delay_seconds == 2.0
    assert forcing_for(overrides, "UpdateGroupMeasurements", T0 + s(10)).effect is None
    narrowed = _override(
        OverrideMode.IGNORE_MESSAGES, types=frozenset({"AdjustGroupCapacityForecast"})
    )
    assert forcing_for([narrowed], "UpdateGroupMeasurements", T0).effect is None
    assert forcing_for([narrowed], "AdjustGroupCapacityForecast", T0).effect is Effect.IGNORE
    assert forcing_for(overrides, "Heartbeat", T0 + s(60)).decisive is None


def _expectation(polarity: Polarity, **changes: object) -> Expectation:
    base = Expectation(
        "e",
        polarity,
        "GroupCapacityComplianceError",
        "f1",
        None,
        True,
        T0,
        T0 + s(60),
        ExpectationStatus.PENDING,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _message(
    correlation: str | None = "f1", at: float = 10, outcome: str = "accepted"
) -> ObservedMessage:
    return ObservedMessage("l", "GroupCapacityComplianceError", correlation, outcome, T0 + s(at))


def test_expectation_resolution() -> None:
    positive = _expectation(Polarity.RECEIVE)
    assert on_message(positive, _message(correlation="other")) is None
    assert on_message(positive, _message(at=61)) is None
    met = on_message(positive, _message())
    assert met is not None and met.status is ExpectationStatus.MET and met.ledger_entry_id == "l"
    violated = on_time(positive, T0 + s(60))
    assert violated is not None and violated.status is ExpectationStatus.VIOLATED
    assert on_time(positive, T0 + s(59)) is None
    negative = _expectation(Polarity.NOT_RECEIVE, correlation_id=None)
    assert on_message(negative, _message(None)).status is ExpectationStatus.VIOLATED  # type: ignore[union-attr]
    assert on_time(negative, T0 + s(60)).status is ExpectationStatus.MET  # type: ignore[union-attr]
    assert on_session_offline(positive, T0, "x").status is ExpectationStatus.EXPIRED  # type: ignore[union-attr]
    assert on_session_offline(replace(positive, requires_online=False), T0, "x") is None
    done = replace(positive, status=ExpectationStatus.MET)
    assert on_message(done, _message()) is None and on_time(done, T0 + s(99)) is None
    needs_accept = replace(positive, required_outcome="accepted")
    assert on_message(needs_accept, _message(outcome="rejected")) is None


def test_forecast_profiles_and_variations() -> None:
    send_at = T0 + s(7 * 60 + 3)
    plain = forecasts.blocks_for(forecasts.Profile(capacity=100, block_count=2), send_at)
    assert [(b.start_time, b.end_time) for b in plain] == [
        (T0, T0 + s(900)),
        (T0 + s(900), T0 + s(1800)),
    ]
    down = forecasts.Profile(
        capacity=100,
        block_count=4,
        variation=forecasts.Variation(kind="step_down", at_block=2, capacity=40),
    )
    assert [b.capacity for b in forecasts.blocks_for(down, send_at)] == [100, 100, 40, 40]
    gap = forecasts.Profile(
        capacity=100,
        block_count=5,
        variation=forecasts.Variation(kind="gap", at_block=1, gap_blocks=2),
    )
    gapped = forecasts.blocks_for(gap, send_at)
    assert [b.start_time for b in gapped] == [T0, T0 + s(2700), T0 + s(3600)]
    fallback = forecasts.Profile(capacity=5, variation=forecasts.Variation(kind="fallback"))
    assert forecasts.forecast_type("GENERATION", fallback) == "FALLBACK_GENERATION"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="step_up needs"):
        forecasts.Profile(capacity=100, variation=forecasts.Variation(kind="step_up", capacity=50))
