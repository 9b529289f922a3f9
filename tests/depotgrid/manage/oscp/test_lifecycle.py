"""The pure connection lifecycle: registration, handshake both ways, heartbeats, liveness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from depotgrid.manage.oscp.lifecycle import (
    Connection,
    ConnectionState,
    ErrorCode,
    Profile,
    Refusal,
    Step,
    acknowledge_received,
    enable,
    handshake_received,
    handshake_timed_out,
    heartbeat_due,
    heartbeat_received,
    heartbeat_send_failed,
    heartbeat_sent,
    liveness_expired,
    register_failed,
    register_received,
    reply_register_delivered,
    retry_handshake,
)
from depotgrid.oscp.schemas import validate

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PROFILE = Profile(
    fp_base_url="http://manage.example:8000",
    heartbeat_interval_seconds=5,
    measurement_configuration=("INTERMITTENT",),
)
CP_REGISTER = {
    "token": "token-c",
    "version_url": [{"version": "2.0", "base_url": "http://cp/oscp/cp/2.0"}],
}


def _valid(step: Step) -> Step:
    """Every message a step would send is a valid OSCP 2.0 message."""
    for message in step.outgoing:
        assert validate(message.message_type, message.body) == [], message
    return step


def _handshaking() -> Connection:
    registering = enable(Connection("cfg-1"), PROFILE, "token-b", T0).connection
    return register_received(registering, PROFILE, CP_REGISTER, "req-1", "unused", T0).connection


def _handshaken(interval: float | None = 10) -> Connection:
    connection = _handshaking()
    behaviour: dict[str, object] = {"measurement_configuration": ["INTERMITTENT"]}
    if interval is not None:
        behaviour["heartbeat_interval"] = interval
    assert connection.handshake_request_id is not None
    return acknowledge_received(
        connection,
        PROFILE,
        {"required_behaviour": behaviour},
        connection.handshake_request_id,
        T0,
    ).connection


def _online(at: datetime = T0) -> Connection:
    return heartbeat_received(_handshaken(), at + timedelta(seconds=11), at).connection


def test_enable_registers_with_a_new_token_and_our_version_url() -> None:
    step = _valid(enable(Connection("cfg-1"), PROFILE, "token-b", T0))
    assert step.connection.state is ConnectionState.REGISTERING
    (register,) = step.outgoing
    assert register.message_type == "Register"
    assert register.body == {
        "token": "token-b",
        "version_url": [{"version": "2.0", "base_url": "http://manage.example:8000/oscp/fp/2.0"}],
    }
    assert [e.event_type for e in step.events] == ["OscpRegistrationStarted"]


def test_the_cps_reply_register_registers_and_starts_our_handshake() -> None:
    registering = enable(Connection("cfg-1"), PROFILE, "token-b", T0).connection
    step = _valid(register_received(registering, PROFILE, CP_REGISTER, "req-1", "unused", T0))
    assert step.connection.state is ConnectionState.HANDSHAKING
    assert step.connection.registered_at == T0
    assert [e.event_type for e in step.events] == ["OscpRegistered", "OscpHandshakeSent"]
    (handshake,) = step.outgoing
    assert handshake.message_type == "Handshake"
    assert handshake.request_id == step.connection.handshake_request_id
    assert handshake.body["required_behaviour"] == {
        "heartbeat_interval": 5,
        "measurement_configuration": ["INTERMITTENT"],
    }


def test_a_cp_initiated_register_is_answered_with_our_correlated_reply_then_registers() -> None:
    online = _online()
    step = _valid(register_received(online, PROFILE, CP_REGISTER, "req-9", "token-new", T0))
    assert step.connection.state is ConnectionState.REGISTERING
    assert step.connection.negotiated is None
    (reply,) = step.outgoing
    assert reply.correlation_id == "req-9"
    assert reply.body["token"] == "token-new"
    done = reply_register_delivered(step.connection, PROFILE, T0)
    assert done.connection.state is ConnectionState.HANDSHAKING
    assert done.events[0].event_type == "OscpRegistered"
    assert done.events[0].data["initiated_by"] == "CP"


def test_register_without_version_2_0_is_refused_with_501() -> None:
    body = {"token": "t", "version_url": [{"version": "2.1", "base_url": "http://cp"}]}
    with pytest.raises(Refusal) as refused:
        register_received(Connection("cfg-1"), PROFILE, body, "r", "n", T0)
    assert refused.value.status == 501


def test_register_on_a_disabled_connection_is_refused_with_403() -> None:
    disabled = Connection("cfg-1", state=ConnectionState.DISABLED)
    with pytest.raises(Refusal) as refused:
        register_received(disabled, PROFILE, CP_REGISTER, "r", "n", T0)
    assert refused.value.status == 403


def test_an_undeliverable_register_fails_visibly_only_when_the_outbox_gives_up() -> None:
    registering = enable(Connection("cfg-1"), PROFILE, "token-b", T0).connection
    retrying = register_failed(registering, T0, "HTTP 503", final=False, refused=False)
    assert retrying.connection.state is ConnectionState.REGISTERING
    assert retrying.connection.last_error is not None
    assert retrying.events == ()
    dead = register_failed(registering, T0, "HTTP 403", final=True, refused=True)
    assert dead.connection.state is ConnectionState.REGISTRATION_FAILED
    assert dead.connection.last_error is not None
    assert dead.connection.last_error.code is ErrorCode.REGISTRATION_REFUSED
    assert [e.event_type for e in dead.events] == ["OscpRegistrationFailed"]


def test_the_acknowledgement_of_our_handshake_negotiates_and_clears_the_error() -> None:
    connection = _handshaken(interval=10)
    assert connection.state is ConnectionState.HANDSHAKEN
    assert connection.negotiated is not None
    assert connection.negotiated.heartbeat_interval_seconds == 10
    assert connection.negotiated.peer_heartbeat_interval_seconds == 5
    assert connection.next_heartbeat_at == T0


def test_an_acknowledgement_that_names_another_handshake_is_refused_with_409() -> None:
    connection = _handshaking()
    with pytest.raises(Refusal) as refused:
        acknowledge_received(connection, PROFILE, {"required_behaviour": {}}, "other", T0)
    assert refused.value.status == 409
    assert connection.state is ConnectionState.HANDSHAKING


def test_a_cp_handshake_is_acknowledged_correlated_and_handshaken_at_once() -> None:
    registered = Connection("cfg-1", state=ConnectionState.REGISTERED)
    body = {"required_behaviour": {"heartbeat_interval": 5, "measurement_configuration": []}}
    step = _valid(handshake_received(registered, PROFILE, body, "hs-1", T0))
    assert step.connection.state is ConnectionState.HANDSHAKEN
    (ack,) = step.outgoing
    assert ack.message_type == "HandshakeAcknowledge"
    assert ack.correlation_id == "hs-1"
    assert [e.event_type for e in step.events] == ["OscpHandshaken"]


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ({"heartbeat_interval": 0.5, "measurement_configuration": []}, "heartbeat_interval"),
        ({"measurement_configuration": ["CONTINUOUS"]}, "measurement_configuration"),
    ],
)
def test_an_unacceptable_handshake_is_rejected_with_422_and_audited(
    behaviour: dict[str, object], reason: str
) -> None:
    registered = Connection("cfg-1", state=ConnectionState.REGISTERED)
    with pytest.raises(Refusal) as refused:
        handshake_received(registered, PROFILE, {"required_behaviour": behaviour}, "hs", T0)
    assert refused.value.status == 422
    assert reason in refused.value.message
    audit = refused.value.step
    assert audit is not None
    assert audit.connection.state is ConnectionState.HANDSHAKE_FAILED
    assert audit.connection.state not in {ConnectionState.HANDSHAKEN, ConnectionState.ONLINE}
    assert [e.event_type for e in audit.events] == ["OscpHandshakeRejected"]


def test_a_handshake_before_registration_is_refused_with_409() -> None:
    with pytest.raises(Refusal) as refused:
        handshake_received(Connection("cfg-1"), PROFILE, {"required_behaviour": {}}, "h", T0)
    assert refused.value.status == 409


def test_a_missing_acknowledgement_times_out_visibly_then_retries_with_backoff() -> None:
    connection = _handshaking()
    assert handshake_timed_out(connection, T0 + timedelta(seconds=29)).connection == connection
    late = T0 + timedelta(seconds=31)
    failed = handshake_timed_out(connection, late)
    assert failed.connection.state is ConnectionState.HANDSHAKE_FAILED
    assert failed.connection.last_error is not None
    assert failed.connection.last_error.code is ErrorCode.HANDSHAKE_TIMEOUT
    assert [e.event_type for e in failed.events] == ["OscpHandshakeTimedOut"]
    retry_at = failed.connection.handshake_retry_at
    assert retry_at == late + timedelta(seconds=5)
    assert (
        retry_handshake(failed.connection, PROFILE, retry_at - timedelta(seconds=1)).outgoing == ()
    )
    again = _valid(retry_handshake(failed.connection, PROFILE, retry_at))
    assert again.connection.state is ConnectionState.HANDSHAKING
    assert again.connection.handshake_attempts == 2
    assert again.outgoing[0].message_type == "Handshake"


def test_the_first_heartbeat_brings_the_connection_online_then_later_ones_add_no_events() -> None:
    handshaken = _handshaken()
    first = heartbeat_received(handshaken, T0 + timedelta(seconds=11), T0)
    assert first.connection.state is ConnectionState.ONLINE
    assert [e.event_type for e in first.events] == ["OscpConnectionOnline"]
    second = heartbeat_received(
        first.connection, T0 + timedelta(seconds=16), T0 + timedelta(seconds=5)
    )
    assert second.events == ()


def test_liveness_deadline_is_the_earlier_of_the_promise_and_three_intervals() -> None:
    far_promise = heartbeat_received(_handshaken(), T0 + timedelta(hours=1), T0).connection
    assert far_promise.offline_at == T0 + timedelta(seconds=15)
    near_promise = heartbeat_received(_handshaken(), T0 + timedelta(seconds=8), T0).connection
    assert near_promise.offline_at == T0 + timedelta(seconds=8)


def test_missed_heartbeats_go_offline_with_threshold_then_recovery_keeps_the_audit() -> None:
    online = _online()
    assert online.offline_at == T0 + timedelta(seconds=11)
    assert liveness_expired(online, T0 + timedelta(seconds=11)).events == ()
    offline = liveness_expired(online, T0 + timedelta(seconds=12))
    assert offline.connection.state is ConnectionState.OFFLINE
    (went,) = offline.events
    assert went.event_type == "OscpConnectionOffline"
    assert went.data["last_heartbeat_at"] == T0.isoformat()
    assert went.data["offline_threshold"] == (T0 + timedelta(seconds=11)).isoformat()
    assert offline.connection.last_error is not None
    assert offline.connection.last_error.code is ErrorCode.HEARTBEAT_MISSED
    later = T0 + timedelta(minutes=1)
    back = heartbeat_received(offline.connection, later + timedelta(seconds=11), later)
    assert back.connection.state is ConnectionState.ONLINE
    assert [e.event_type for e in back.events] == ["OscpConnectionRecovered"]
    assert back.connection.last_error is None
    assert back.connection.error_cleared_at == later


def test_heartbeats_before_a_handshake_are_refused_with_409() -> None:
    with pytest.raises(Refusal) as refused:
        heartbeat_received(_handshaking(), T0, T0)
    assert refused.value.status == 409


def test_our_heartbeats_go_at_the_negotiated_interval_with_a_two_interval_margin() -> None:
    connection = _handshaken(interval=10)
    step = _valid(heartbeat_due(connection, T0))
    (beat,) = step.outgoing
    assert beat.body == {"offline_mode_at": "2026-11-23T12:00:21Z"}
    assert beat.expires_at == T0 + timedelta(seconds=10)
    assert step.connection.next_heartbeat_at == T0 + timedelta(seconds=10)
    assert heartbeat_due(step.connection, T0 + timedelta(seconds=9)).outgoing == ()
    assert len(heartbeat_due(step.connection, T0 + timedelta(seconds=10)).outgoing) == 1


def test_no_heartbeats_when_the_cp_asked_for_none() -> None:
    assert heartbeat_due(_handshaken(interval=None), T0).outgoing == ()


def test_heartbeat_send_failures_are_surfaced_once_then_cleared_by_a_success() -> None:
    online = _online()
    first = heartbeat_send_failed(online, T0, "HTTP 403: forbidden")
    assert first.connection.last_error is not None
    assert first.connection.last_error.code is ErrorCode.HEARTBEAT_SEND_FAILED
    assert [e.event_type for e in first.events] == ["OscpHeartbeatSendFailed"]
    again = heartbeat_send_failed(first.connection, T0 + timedelta(seconds=10), "HTTP 403")
    assert again.events == ()
    ok = heartbeat_sent(again.connection, T0 + timedelta(seconds=20))
    assert ok.connection.last_error is None
    assert [e.event_type for e in ok.events] == ["OscpHeartbeatSendRecovered"]
