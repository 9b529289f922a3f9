"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from depotgrid.sim.db.migrate import revision_state
from depotgrid.sim.services import services

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The database answers, its schema is at the newest sim migration, the scheduler runs."""
    sim = services(request)
    engine = sim.uows.engine
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current, head = revision_state(engine)
    except SQLAlchemyError as exc:
        return JSONResponse(
            {"status": "unavailable", "reason": f"database unreachable: {exc.__class__.__name__}"},
            status_code=503,
        )
    if current != head:
        return JSONResponse(
            {
                "status": "unavailable",
                "reason": f"database schema is at {current or 'nothing'}, expected {head}; "
                "run `depotgrid sim serve` (it migrates)",
            },
            status_code=503,
        )
    return JSONResponse(
        {
            "status": "ready",
            "schema_revision": current,
            "runner": sim.leases.owner,
            "runs_held": len(sim.leases.owned),
            "scheduler_ticks": sim.scheduler.ticks,
        }
    )
