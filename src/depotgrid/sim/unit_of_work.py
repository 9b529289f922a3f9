"""Unit of work: one database transaction holding every sim repository.

sim does its database work on the event loop thread. A unit of work is opened, used and closed
without any `await` in between: on SQLite a write transaction holds the process's writer lock,
so awaiting inside one would block every other writer on the loop.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine

from depotgrid.sim.configuration.repository import ConfigurationRepository
from depotgrid.sim.db.engine import WRITE
from depotgrid.sim.projections.oscp_cp.ledger import Ledger
from depotgrid.sim.projections.oscp_cp.repository import (
    ExpectationRepository,
    ForecastPlanRepository,
    OAuthTokenRepository,
    OverrideRepository,
    SessionRepository,
)
from depotgrid.sim.runtime.repository import EventLog, RunRepository


class SimUnitOfWork:
    configurations: ConfigurationRepository
    runs: RunRepository
    events: EventLog
    sessions: SessionRepository
    ledger: Ledger
    overrides: OverrideRepository
    expectations: ExpectationRepository
    plans: ForecastPlanRepository
    oauth: OAuthTokenRepository

    def __init__(self, engine: Engine) -> None:
        """`engine` is the factory's plain engine, or its writing one (see `WRITE`)."""
        self._engine = engine
        self._conn: Connection | None = None

    def __enter__(self) -> SimUnitOfWork:
        self._conn = self._engine.connect()
        self._conn.begin()
        conn = self._conn
        self.configurations = ConfigurationRepository(conn)
        self.runs = RunRepository(conn)
        self.events = EventLog(conn)
        self.sessions = SessionRepository(conn)
        self.ledger = Ledger(conn)
        self.overrides = OverrideRepository(conn)
        self.expectations = ExpectationRepository(conn)
        self.plans = ForecastPlanRepository(conn)
        self.oauth = OAuthTokenRepository(conn)
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


class SimUnitOfWorkFactory:
    """Hands out units of work bound to one engine; built once, at the composition root."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writing = engine.execution_options(**WRITE)

    def write(self) -> SimUnitOfWork:
        return SimUnitOfWork(self._writing)

    def read(self) -> SimUnitOfWork:
        return SimUnitOfWork(self.engine)
