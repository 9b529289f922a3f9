"""Liveness and readiness probes: the only routes that need no credentials."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from depotgrid.manage.db.migrate import revision_state

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the newest migration."""
    engine = request.app.state.uow.engine
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
                "run `depotgrid manage serve` (it migrates) or alembic upgrade",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "schema_revision": current})
