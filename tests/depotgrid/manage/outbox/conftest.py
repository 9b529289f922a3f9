"""Outbox fixtures: units of work on a manual clock, over the emptied test database."""

from datetime import UTC, datetime

import pytest

from depotgrid.common.clock import ManualClock
from depotgrid.manage.bootstrap import unit_of_work_factory
from depotgrid.manage.unit_of_work import UnitOfWorkFactory

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def timed(uows: UnitOfWorkFactory, clock: ManualClock) -> UnitOfWorkFactory:
    """Units of work whose time moves only when the test advances `clock`."""
    return unit_of_work_factory(uows.engine, clock)
