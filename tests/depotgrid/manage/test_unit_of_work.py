"""In-transaction handlers: run before commit, may chain, and a failure undoes everything."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from depotgrid.common.clock import SystemClock
from depotgrid.manage.events.store import NewEvent, RecordedEvent
from depotgrid.manage.unit_of_work import UnitOfWork, UnitOfWorkFactory

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _append(uow: UnitOfWork, stream: str, event_type: str) -> None:
    version = uow.events.current_version(stream)
    uow.events.append(stream, version, [NewEvent(event_type, {})], actor="t", recorded_at=T0)


def _chain(uow: UnitOfWork, event: RecordedEvent) -> None:
    _append(uow, "reactions", "Reacted")


def _finish(uow: UnitOfWork, event: RecordedEvent) -> None:
    _append(uow, "reactions", "ReactedToReaction")


def _explode(uow: UnitOfWork, event: RecordedEvent) -> None:
    raise RuntimeError("handler failed")


def test_handlers_run_before_commit_and_chain(engine: Engine, uows: UnitOfWorkFactory) -> None:
    factory = UnitOfWorkFactory(
        engine, SystemClock(), handlers={"Happened": [_chain], "Reacted": [_finish]}
    )
    with factory.write() as uow:
        _append(uow, "source", "Happened")
        uow.commit()
    with factory.read() as uow:
        reactions = [e.event_type for e in uow.events.read_stream("reactions")]
    assert reactions == ["Reacted", "ReactedToReaction"]


def test_a_failing_handler_undoes_the_whole_change(engine: Engine, uows: UnitOfWorkFactory) -> None:
    factory = UnitOfWorkFactory(engine, SystemClock(), handlers={"Happened": [_explode]})
    with factory.write() as uow, pytest.raises(RuntimeError):
        _append(uow, "source", "Happened")
        uow.commit()
    with factory.read() as uow:
        assert uow.events.current_version("source") == 0
