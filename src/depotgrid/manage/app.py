"""manage's composition root: build the app from settings, a clock and an engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware

from depotgrid.common.clock import Clock, SystemClock
from depotgrid.manage.api import (
    balancing,
    depots,
    envelopes,
    errors,
    health,
    microgrids,
    oscp_configurations,
    oscp_protocol,
    resources,
)
from depotgrid.manage.balancing.allocate import warm_up
from depotgrid.manage.bootstrap import unit_of_work_factory
from depotgrid.manage.db.engine import make_engine
from depotgrid.manage.jobs.registry import jobs
from depotgrid.manage.jobs.scheduler import Scheduler
from depotgrid.manage.oscp import operations
from depotgrid.manage.oscp.operations import LifecyclePolicy
from depotgrid.manage.oscp.peers import OscpDestinations
from depotgrid.manage.oscp.secrets import secret_box
from depotgrid.manage.outbox.destinations import DestinationResolver
from depotgrid.manage.outbox.dispatcher import Dispatcher
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from depotgrid.manage.web import routes as web
from depotgrid.manage.web.rendering import http_error_page
from depotgrid.settings import Settings

STATIC = Path(__file__).parent / "web" / "static"


def oscp_policy(settings: Settings) -> LifecyclePolicy:
    return LifecyclePolicy(
        fp_base_url=settings.public_url,
        heartbeat_interval_seconds=settings.oscp_heartbeat_interval_seconds,
        box=secret_box(settings.secret_key),
    )


def build_dispatcher(
    settings: Settings, uows: UnitOfWorkFactory, destinations: DestinationResolver | None = None
) -> Dispatcher:
    """The outbox dispatcher of a manage process (`serve` or `dispatch`): delivers to each OSCP
    configuration's Capacity Provider unless given another resolver (tests)."""
    policy = oscp_policy(settings)
    return Dispatcher(
        uows,
        destinations or OscpDestinations(uows, policy.box, uows.clock),
        handlers=operations.outcome_handlers(policy),
        poll_seconds=settings.dispatcher_poll_seconds,
    )


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    destinations: DestinationResolver | None = None,
) -> FastAPI:
    """Wire manage; nothing is built at import time, so tests pass their own clock and engine."""
    settings.ensure_data_dir()
    uows = unit_of_work_factory(
        engine or make_engine(settings.database_url), clock or SystemClock()
    )
    policy = oscp_policy(settings)
    scheduler = Scheduler(uows, jobs(policy), settings.scheduler_interval_seconds)
    dispatcher = build_dispatcher(settings, uows, destinations)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        warm_up()  # compile or load the allocation kernels before the first cycle needs them
        scheduler.start()
        if settings.dispatcher_enabled:
            dispatcher.start()
        try:
            yield
        finally:
            scheduler.stop()
            await dispatcher.stop()

    app = FastAPI(
        title="depotgrid manage",
        version="0.1.0",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.uow = uows
    app.state.scheduler = scheduler
    app.state.dispatcher = dispatcher
    app.state.oscp_policy = policy
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="depotgrid_session",
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=settings.session_cookie_secure,
    )
    errors.install(app, html_page=http_error_page)
    app.include_router(health.router)
    app.include_router(depots.router)
    app.include_router(resources.build_router())
    app.include_router(microgrids.router)
    app.include_router(envelopes.router)
    app.include_router(balancing.router)
    app.include_router(oscp_configurations.router)
    app.include_router(oscp_protocol.router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
