"""The route class of every UI page: refusals become designed pages, not the API's JSON."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from depotgrid.sim.errors import NotFound
from depotgrid.sim.web.rendering import error_page

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class PageRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except NotFound as exc:
                return error_page(
                    request,
                    404,
                    f"This {exc.kind} does not exist",
                    f"{exc}. It may belong to another simulator database; go back to the runs.",
                )
            except RequestValidationError:
                return error_page(
                    request, 400, "This address is not valid", "Go back and follow a link instead."
                )

        return handle
