"""A dispatcher process for the crash test, delivering to a test sink until signalled.

Run: python -m tests.depotgrid.manage.outbox.dispatch_process DATABASE_URL SINK_URL LEASE_SECONDS
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from depotgrid.common.clock import SystemClock
from depotgrid.manage.bootstrap import unit_of_work_factory
from depotgrid.manage.db.engine import make_engine
from depotgrid.manage.outbox.dispatcher import Dispatcher, run_until_signalled
from tests.depotgrid.manage.outbox.helpers import Resolver


def main(database_url: str, sink_url: str, lease_seconds: str) -> None:
    lease = timedelta(seconds=float(lease_seconds))
    dispatcher = Dispatcher(
        unit_of_work_factory(make_engine(database_url), SystemClock()),
        Resolver.to(sink_url),
        lease=lease,
        timeout_seconds=lease.total_seconds() / 2,
        poll_seconds=0.1,
    )
    asyncio.run(run_until_signalled(dispatcher))


if __name__ == "__main__":
    main(*sys.argv[1:])
