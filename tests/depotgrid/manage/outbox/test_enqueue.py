"""Enqueue: in the caller's transaction, schema-checked, with a fixed X-Request-ID; read back
with attempts and with secrets redacted."""

from datetime import timedelta

import pytest

from depotgrid.common.clock import ManualClock
from depotgrid.common.ids import is_uuid
from depotgrid.manage.outbox import service as outbox
from depotgrid.manage.outbox.model import Attempt, OutboxState
from depotgrid.manage.outbox.repository import OutboxRepository
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from depotgrid.oscp.messages import OscpPayloadError
from depotgrid.oscp.routes import UnknownRouteError
from depotgrid.oscp.schemas import UnknownSchemaError
from tests.depotgrid.manage.outbox.conftest import T0
from tests.depotgrid.manage.outbox.helpers import (
    DESTINATION,
    heartbeat,
    publications,
    register,
)


def test_an_entry_is_pending_with_its_route_and_a_stable_request_id(
    timed: UnitOfWorkFactory,
) -> None:
    with timed.write() as uow:
        entry = outbox.enqueue(
            uow,
            destination_id=DESTINATION,
            message_type="HandshakeAcknowledge",
            body={
                "required_behaviour": {
                    "heartbeat_interval": 60,
                    "measurement_configuration": ["INTERMITTENT"],
                }
            },
            correlation_id="their-handshake-id",
            expires_at=T0 + timedelta(minutes=1),
        )
        uow.commit()
    [stored] = publications(timed)
    assert stored.entry == entry
    assert stored.attempts == ()
    assert entry.state is OutboxState.PENDING and entry.attempts == 0
    assert entry.path == "handshake_acknowledge"
    assert is_uuid(entry.request_id)
    assert entry.correlation_id == "their-handshake-id"
    assert (entry.created_at, entry.next_attempt_at) == (T0, T0)


def test_the_body_is_stored_in_its_wire_form(timed: UnitOfWorkFactory) -> None:
    with timed.write() as uow:
        entry = outbox.enqueue(
            uow,
            destination_id=DESTINATION,
            message_type="Heartbeat",
            body={"offline_mode_at": "2026-05-01T22:05:00+10:00"},
            request_id="preset-id",
        )
        uow.commit()
    assert entry.body == {"offline_mode_at": "2026-05-01T12:05:00Z"}
    assert entry.request_id == "preset-id"


def test_an_invalid_body_is_refused_and_nothing_is_stored(timed: UnitOfWorkFactory) -> None:
    with timed.write() as uow, pytest.raises(OscpPayloadError) as refused:
        outbox.enqueue(
            uow,
            destination_id=DESTINATION,
            message_type="Heartbeat",
            body={"offline_mode_at": "2026-05-01 12:05:00"},
        )
    assert "invalid Heartbeat: $.offline_mode_at" in str(refused.value)
    with timed.write() as uow, pytest.raises(OscpPayloadError, match=r"\$\.token"):
        outbox.enqueue(
            uow,
            destination_id=DESTINATION,
            message_type="Register",
            body={"version_url": register()["version_url"]},
        )
    assert publications(timed) == []


def test_unknown_types_and_messages_the_cp_does_not_receive_are_refused(
    timed: UnitOfWorkFactory,
) -> None:
    with timed.write() as uow:
        with pytest.raises(UnknownSchemaError):
            outbox.enqueue(uow, destination_id=DESTINATION, message_type="Hello", body={})
        with pytest.raises(UnknownRouteError):
            outbox.enqueue(
                uow,
                destination_id=DESTINATION,
                message_type="UpdateGroupCapacityForecast",
                body={
                    "group_id": "g",
                    "type": "CONSUMPTION",
                    "forecasted_blocks": [
                        {
                            "capacity": 1,
                            "phase": "ALL",
                            "unit": "KW",
                            "start_time": "2026-05-01T12:00:00Z",
                            "end_time": "2026-05-01T12:15:00Z",
                        }
                    ],
                },
            )
        with pytest.raises(ValueError, match="correlation_id"):
            outbox.enqueue(
                uow,
                destination_id=DESTINATION,
                message_type="Heartbeat",
                body=heartbeat(T0),
                correlation_id="two\r\nlines",
            )
    assert publications(timed) == []


def test_a_rolled_back_transaction_leaves_nothing_to_send(timed: UnitOfWorkFactory) -> None:
    with timed.write() as uow:
        outbox.enqueue(
            uow, destination_id=DESTINATION, message_type="Heartbeat", body=heartbeat(T0)
        )
    assert publications(timed) == []


def test_entries_for_pages_newest_first_with_attempts(
    timed: UnitOfWorkFactory, clock: ManualClock
) -> None:
    made = []
    for _ in range(3):
        with timed.write() as uow:
            made.append(
                outbox.enqueue(
                    uow, destination_id=DESTINATION, message_type="Heartbeat", body=heartbeat(T0)
                )
            )
            outbox.enqueue(
                uow, destination_id="elsewhere", message_type="Heartbeat", body=heartbeat(T0)
            )
            uow.commit()
        clock.advance(timedelta(seconds=1))
    tried = Attempt(made[0].id, 1, T0, 15, 503, "HTTP 503: busy", '{"message":"busy"}')
    with timed.write() as uow:
        OutboxRepository(uow.connection).add_attempts([tried])
        uow.commit()
    with timed.read() as uow:
        page, total = outbox.entries_for(uow, DESTINATION, limit=2, offset=1)
    assert total == 3
    assert [p.entry.id for p in page] == [made[1].id, made[0].id]
    assert page[1].attempts == (tried,)


def test_register_tokens_are_redacted_for_display(timed: UnitOfWorkFactory) -> None:
    with timed.write() as uow:
        entry = outbox.enqueue(
            uow, destination_id=DESTINATION, message_type="Register", body=register()
        )
        uow.commit()
    shown = outbox.redacted_body(entry)
    assert shown["token"] == "•••"
    assert shown["version_url"] == register()["version_url"]
    assert entry.body["token"] == "fp-issued-secret"
