"""The event store against the real database (SQLite, or PostgreSQL in the second pass)."""

from datetime import UTC, datetime

import pytest

from depotgrid.manage.events.store import ConcurrencyError, EventStore, NewEvent
from depotgrid.manage.unit_of_work import UnitOfWorkFactory

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _append(uows: UnitOfWorkFactory, stream: str, expected: int, *types: str) -> None:
    with uows.write() as uow:
        uow.events.append(
            stream, expected, [NewEvent(t, {"n": t}) for t in types], actor="t", recorded_at=T0
        )
        uow.commit()


def test_appended_events_read_back_in_version_order(uows: UnitOfWorkFactory) -> None:
    _append(uows, "s-1", 0, "A", "B")
    _append(uows, "s-1", 2, "C")
    with uows.read() as uow:
        events = uow.events.read_stream("s-1")
        assert uow.events.current_version("s-1") == 3
    assert [(e.stream_version, e.event_type) for e in events] == [(1, "A"), (2, "B"), (3, "C")]
    assert events[0].data == {"n": "A"}
    assert events[0].recorded_at == T0
    assert events[0].position < events[1].position < events[2].position


def test_append_at_a_stale_version_raises_and_stores_nothing(uows: UnitOfWorkFactory) -> None:
    _append(uows, "s-2", 0, "A")
    with pytest.raises(ConcurrencyError):
        _append(uows, "s-2", 0, "B")
    with uows.read() as uow:
        assert [e.event_type for e in uow.events.read_stream("s-2")] == ["A"]


def test_a_racing_writer_that_passed_the_version_check_is_stopped_by_the_database(
    uows: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers can both read version 0; the unique (stream, version) pair refuses the second."""
    _append(uows, "s-3", 0, "A")
    monkeypatch.setattr(EventStore, "current_version", lambda self, stream: 0)
    with pytest.raises(ConcurrencyError, match="concurrently"):
        _append(uows, "s-3", 0, "B")
    monkeypatch.undo()
    with uows.read() as uow:
        assert [e.event_type for e in uow.events.read_stream("s-3")] == ["A"]


def test_rolled_back_unit_of_work_leaves_no_event(uows: UnitOfWorkFactory) -> None:
    with uows.write() as uow:
        uow.events.append("s-4", 0, [NewEvent("A", {})], actor="t", recorded_at=T0)
    with uows.read() as uow:
        assert uow.events.current_version("s-4") == 0


def test_read_all_follows_global_position_across_streams(uows: UnitOfWorkFactory) -> None:
    _append(uows, "x", 0, "X1")
    _append(uows, "y", 0, "Y1")
    _append(uows, "x", 1, "X2")
    with uows.read() as uow:
        everything = uow.events.read_all()
        after_first = uow.events.read_all(after_position=everything[0].position)
    assert [e.event_type for e in everything] == ["X1", "Y1", "X2"]
    assert [e.event_type for e in after_first] == ["Y1", "X2"]


def test_naive_timestamps_are_refused(uows: UnitOfWorkFactory) -> None:
    with uows.write() as uow, pytest.raises(Exception, match="naive"):
        uow.events.append(
            "s-5", 0, [NewEvent("A", {})], actor="t", recorded_at=datetime(2026, 1, 1)
        )
