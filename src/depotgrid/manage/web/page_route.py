"""The route class of every UI page: turns refusals into pages instead of JSON.

The API's exception handlers answer in JSON for the whole app; UI routes catch the same
domain errors first and answer with a rendered page or a redirect to the login form.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from depotgrid.manage.errors import NotFound
from depotgrid.manage.events.store import ConcurrencyError
from depotgrid.manage.web.rendering import error_page
from depotgrid.manage.web.session import CsrfRejected, LoginRequired, PermissionDenied, login_url

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class PageRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                return _to_login(request, exc.next_path)
            except PermissionDenied as exc:
                return error_page(request, 403, "You can't make this change", str(exc))
            except CsrfRejected:
                return error_page(
                    request,
                    403,
                    "The form could not be accepted",
                    "It was missing its security token or sent from another page, so nothing "
                    "was changed. Go back, reload the page and try again.",
                )
            except NotFound as exc:
                return error_page(
                    request,
                    404,
                    f"This {exc.kind.replace('_', ' ')} does not exist",
                    f"{exc}. It may have been deleted; go back to the depot list.",
                )
            except ConcurrencyError as exc:
                return error_page(
                    request,
                    409,
                    "Someone else changed this depot at the same time",
                    f"{exc}. Nothing was saved: reload the page and make your change again.",
                )
            except RequestValidationError:
                return error_page(
                    request, 400, "This address is not valid", "Go back and follow a link instead."
                )

        return handle


def _to_login(request: Request, next_path: str) -> Response:
    url = login_url(next_path)
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
