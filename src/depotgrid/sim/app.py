"""sim's composition root: build the app from settings, a wall clock and an engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine

from depotgrid.common.clock import Clock, SystemClock
from depotgrid.oscp.client import AsyncOscpClient
from depotgrid.settings import Settings
from depotgrid.sim.api import configurations, errors, health, protocol, runs, sessions
from depotgrid.sim.db.engine import make_engine
from depotgrid.sim.projections.oscp_cp.outbound import Outbound
from depotgrid.sim.projections.oscp_cp.protocol import ProtocolService
from depotgrid.sim.projections.oscp_cp.scheduler import DEFAULT_POLL_SECONDS, Scheduler
from depotgrid.sim.projections.oscp_cp.service import SessionService
from depotgrid.sim.projections.oscp_cp.transport import KeepAliveTransport
from depotgrid.sim.runtime.service import LeaseBook, RunService, Runtime, default_runner_id
from depotgrid.sim.services import SimServices
from depotgrid.sim.unit_of_work import SimUnitOfWorkFactory
from depotgrid.sim.web import routes as web


def create_sim_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    delivery_timeout: float = 10.0,
    outbound_http: httpx.AsyncClient | None = None,
) -> FastAPI:
    """Wire sim. `clock` is the wall clock; every run derives its logical clock from it.

    `outbound_http` is the HTTP client for calls to Flexibility Providers (default: a pooled
    client built here). Nothing runs at import time; the scheduler starts and stops with the
    app's lifespan.
    """
    settings.ensure_data_dir()
    wall = clock or SystemClock()
    uows = SimUnitOfWorkFactory(engine or make_engine(settings.sim_database_url))
    runtime = Runtime()
    leases = LeaseBook(
        settings.sim_runner_id or default_runner_id(str(settings.data_dir.resolve()))
    )
    run_service = RunService(runtime, leases)
    session_service = SessionService(runtime)
    http = outbound_http or httpx.AsyncClient(
        transport=KeepAliveTransport(), timeout=delivery_timeout
    )
    outbound = Outbound(
        uows, wall, session_service, AsyncOscpClient(http), timeout=delivery_timeout
    )
    scheduler = Scheduler(uows, wall, leases, run_service, outbound, poll_seconds=poll_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        scheduler.start()
        try:
            yield
        finally:
            await scheduler.stop()
            if outbound_http is None:
                await http.aclose()

    app = FastAPI(
        title="depotgrid sim",
        version="0.1.0",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.sim = SimServices(
        settings=settings,
        clock=wall,
        uows=uows,
        runtime=runtime,
        leases=leases,
        runs=run_service,
        sessions=session_service,
        protocol=ProtocolService(uows, wall),
        outbound=outbound,
        scheduler=scheduler,
    )
    errors.install(app)
    app.include_router(health.router)
    app.include_router(configurations.router)
    app.include_router(runs.router)
    app.include_router(sessions.router)
    app.include_router(protocol.router)
    web.install(app)
    return app
