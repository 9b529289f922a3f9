"""Which jobs the scheduler runs: one list, in the order they run each round."""

from __future__ import annotations

from depotgrid.manage.jobs.scheduler import Job

JOBS: tuple[Job, ...] = ()
