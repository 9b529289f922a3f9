"""Which jobs the scheduler runs: one list, in the order they run each round."""

from __future__ import annotations

from functools import partial

from depotgrid.manage.balancing import service as balancing
from depotgrid.manage.envelopes import service as envelopes
from depotgrid.manage.jobs.scheduler import Job, in_one_transaction
from depotgrid.manage.oscp import operations as oscp
from depotgrid.manage.oscp.operations import LifecyclePolicy

REBALANCE_EVERY_SECONDS = 60.0
"""The timer trigger: every depot is rebalanced at least this often, changes or not."""


def jobs(oscp_policy: LifecyclePolicy) -> tuple[Job, ...]:
    return (
        Job("envelope-boundaries", in_one_transaction(envelopes.apply_due)),
        Job("rebalance-timer", balancing.rebalance_all, every_seconds=REBALANCE_EVERY_SECONDS),
        Job("oscp-lifecycle", partial(oscp.run_due, policy=oscp_policy)),
    )
