"""Which jobs the scheduler runs: one list, in the order they run each round."""

from __future__ import annotations

from depotgrid.manage.envelopes import service as envelopes
from depotgrid.manage.jobs.scheduler import Job

JOBS: tuple[Job, ...] = (Job("envelope-boundaries", envelopes.apply_due),)
