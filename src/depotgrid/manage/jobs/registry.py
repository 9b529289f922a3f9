"""Which jobs the scheduler runs: one list, in the order they run each round."""

from __future__ import annotations

from depotgrid.manage.balancing import service as balancing
from depotgrid.manage.envelopes import service as envelopes
from depotgrid.manage.jobs.scheduler import Job, in_one_transaction

REBALANCE_EVERY_SECONDS = 60.0
"""The timer trigger: every depot is rebalanced at least this often, changes or not."""

JOBS: tuple[Job, ...] = (
    Job("envelope-boundaries", in_one_transaction(envelopes.apply_due)),
    Job("rebalance-timer", balancing.rebalance_all, every_seconds=REBALANCE_EVERY_SECONDS),
)
