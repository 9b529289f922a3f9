"""The scheduler runs every job each round, survives a failing job, and reports it."""

from datetime import UTC, datetime, timedelta

from depotgrid.common.clock import ManualClock
from depotgrid.manage.bootstrap import unit_of_work_factory
from depotgrid.manage.events.store import NewEvent
from depotgrid.manage.jobs.scheduler import Job, Scheduler, in_one_transaction
from depotgrid.manage.unit_of_work import UnitOfWork, UnitOfWorkFactory

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)


def _write_event(uow: UnitOfWork) -> int:
    stream = "job-test"
    uow.events.append(
        stream,
        uow.events.current_version(stream),
        [NewEvent("Ticked", {})],
        actor="scheduler",
        recorded_at=uow.clock.now(),
    )
    return 1


def _fail(uow: UnitOfWork) -> int:
    raise RuntimeError("meter service unreachable")


def test_a_failing_job_is_reported_and_the_others_still_run(uows: UnitOfWorkFactory) -> None:
    clock = ManualClock(T0)
    factory = unit_of_work_factory(uows.engine, clock)
    jobs = [
        Job("broken", in_one_transaction(_fail)),
        Job("ticker", in_one_transaction(_write_event)),
    ]
    scheduler = Scheduler(factory, jobs, 0)
    scheduler.run_once()
    scheduler.run_once()
    assert scheduler.states["ticker"].runs == 2
    assert scheduler.states["ticker"].changes == 2
    assert scheduler.states["ticker"].last_run_at == T0
    broken = scheduler.states["broken"]
    assert broken.runs == 0
    assert broken.last_error == "RuntimeError: meter service unreachable"
    assert broken.last_error_at == T0
    with factory.read() as uow:
        assert uow.events.current_version("job-test") == 2


def test_interval_zero_never_starts_a_thread(uows: UnitOfWorkFactory) -> None:
    scheduler = Scheduler(uows, [Job("ticker", in_one_transaction(_write_event))], 0)
    scheduler.start()
    assert scheduler._thread is None
    scheduler.stop()


def test_a_job_with_a_period_runs_only_when_due_on_the_clock(uows: UnitOfWorkFactory) -> None:
    clock = ManualClock(T0)
    factory = unit_of_work_factory(uows.engine, clock)
    job = Job("slow", in_one_transaction(_write_event), every_seconds=60)
    scheduler = Scheduler(factory, [job], 0)
    scheduler.run_once()
    clock.advance(timedelta(seconds=59))
    scheduler.run_once()
    assert scheduler.states["slow"].runs == 1
    clock.advance(timedelta(seconds=1))
    scheduler.run_once()
    assert scheduler.states["slow"].runs == 2
