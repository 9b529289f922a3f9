"""The simulator UI (issue #4 scope 7): server-rendered pages under /ui, assets under
/ui/static. Like the control API it has no login: the simulator is a test tool."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from depotgrid.sim.web import run_pages, session_pages
from depotgrid.sim.web.rendering import STATIC_DIR, STATIC_PATH


def install(app: FastAPI) -> None:
    """Mount the UI's pages and assets; `/` opens the runs list."""
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="ui-static")
    app.include_router(run_pages.router)
    app.include_router(session_pages.router)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/ui", status_code=307)
