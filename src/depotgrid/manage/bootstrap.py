"""Composition of manage's persistence: the one place units of work are wired to handlers."""

from __future__ import annotations

from sqlalchemy import Engine

from depotgrid.common.clock import Clock
from depotgrid.manage.handlers import EVENT_HANDLERS
from depotgrid.manage.unit_of_work import UnitOfWorkFactory


def unit_of_work_factory(engine: Engine, clock: Clock) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(engine, clock, handlers=EVENT_HANDLERS)
