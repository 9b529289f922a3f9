"""Unit of work: one database transaction holding every repository and the event store.

State changes and the events that record them commit together or not at all.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine

from depotgrid.common.clock import Clock
from depotgrid.manage.auth.repository import AuthRepository
from depotgrid.manage.db.engine import WRITE
from depotgrid.manage.events.store import EventStore
from depotgrid.manage.legacy.repository import LegacyRepository


class UnitOfWork:
    legacy: LegacyRepository
    auth: AuthRepository
    events: EventStore

    def __init__(self, engine: Engine, clock: Clock, *, write: bool) -> None:
        self._engine = engine.execution_options(**WRITE) if write else engine
        self.clock = clock
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

    def commit(self) -> None:
        assert self._conn is not None
        self._conn.commit()


class UnitOfWorkFactory:
    """Hands out units of work bound to one engine and clock; built once, at the root."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def write(self) -> UnitOfWork:
        return UnitOfWork(self.engine, self.clock, write=True)

    def read(self) -> UnitOfWork:
        return UnitOfWork(self.engine, self.clock, write=False)
