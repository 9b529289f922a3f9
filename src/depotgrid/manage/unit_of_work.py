"""Unit of work: one database transaction holding every repository and the event store.

State changes and the events that record them commit together or not at all. Before commit,
every event appended in the transaction goes to its in-transaction handlers (the table in
depotgrid.manage.handlers), which may change more state and append more events: a circuit
change and the microgrid sync it causes are one atomic change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import TracebackType

from sqlalchemy import Connection, Engine

from depotgrid.common.clock import Clock
from depotgrid.manage.auth.repository import AuthRepository
from depotgrid.manage.db.engine import WRITE
from depotgrid.manage.events.store import EventStore, RecordedEvent
from depotgrid.manage.legacy.repository import LegacyRepository

EventHandler = Callable[["UnitOfWork", RecordedEvent], None]
EventHandlers = Mapping[str, Sequence[EventHandler]]


class UnitOfWork:
    legacy: LegacyRepository
    auth: AuthRepository
    events: EventStore

    def __init__(
        self, engine: Engine, clock: Clock, *, write: bool, handlers: EventHandlers
    ) -> None:
        self._engine = engine.execution_options(**WRITE) if write else engine
        self.clock = clock
        self._handlers = handlers
        self._conn: Connection | None = None

    def __enter__(self) -> UnitOfWork:
        self._conn = self._engine.connect()
        self._conn.begin()
        self.legacy = LegacyRepository(self._conn)
        self.auth = AuthRepository(self._conn)
        self.events = EventStore(self._conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
        finally:
            self._conn.close()
            self._conn = None

    @property
    def connection(self) -> Connection:
        """For repositories of other modules, built on this transaction."""
        assert self._conn is not None, "use the unit of work inside `with`"
        return self._conn

    def commit(self) -> None:
        assert self._conn is not None
        self._publish()
        self._conn.commit()

    def _publish(self) -> None:
        handled = 0
        while handled < len(self.events.appended):
            event = self.events.appended[handled]
            handled += 1
            for handler in self._handlers.get(event.event_type, ()):
                handler(self, event)


class UnitOfWorkFactory:
    """Hands out units of work bound to one engine and clock; built once, at the root."""

    def __init__(self, engine: Engine, clock: Clock, *, handlers: EventHandlers) -> None:
        self.engine = engine
        self.clock = clock
        self.handlers = handlers

    def write(self) -> UnitOfWork:
        return UnitOfWork(self.engine, self.clock, write=True, handlers=self.handlers)

    def read(self) -> UnitOfWork:
        return UnitOfWork(self.engine, self.clock, write=False, handlers=self.handlers)
