"""One error shape for every API route: {"message": ..., "errors": [{"field", "reason"}], ...}."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from depotgrid.manage.errors import Conflict, NotFound, ValidationFailed
from depotgrid.manage.events.store import ConcurrencyError

HtmlPage = Callable[[Request, int, str], Response]
MACHINE_PREFIXES = ("/api", "/oscp", "/healthz", "/readyz", "/static")


def install(app: FastAPI, *, html_page: HtmlPage | None = None) -> None:
    """Register the error handlers; `html_page` renders HTTP errors for browsers on UI paths."""

    async def http_error(request: Request, exc: HTTPException) -> Response:
        if html_page is not None and _wants_html(request):
            message = exc.detail if isinstance(exc.detail, str) else "request failed"
            return html_page(request, exc.status_code, message)
        return await _http(request, exc)

    app.add_exception_handler(RequestValidationError, _request_invalid)  # type: ignore[arg-type]
    app.add_exception_handler(ValidationFailed, _domain_invalid)  # type: ignore[arg-type]
    app.add_exception_handler(NotFound, _not_found)  # type: ignore[arg-type]
    app.add_exception_handler(Conflict, _conflict)  # type: ignore[arg-type]
    app.add_exception_handler(ConcurrencyError, _concurrent)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]


def _wants_html(request: Request) -> bool:
    path = request.url.path
    accepts = request.headers.get("accept", "")
    return "text/html" in accepts and not path.startswith(MACHINE_PREFIXES)


def field_name(loc: tuple[Any, ...]) -> str:
    """`("body", "circuit", 0, "name")` -> `circuit[0].name`; query and path names stay bare."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"field": field_name(tuple(err["loc"])), "reason": _reason(err)} for err in exc.errors()
    ]
    return _error(422, "the request is invalid: " + _summary(errors), errors=errors)


async def _domain_invalid(_: Request, exc: ValidationFailed) -> JSONResponse:
    errors = [{"field": e.field, "reason": e.reason} for e in exc.errors]
    return _error(422, "the request is invalid: " + _summary(errors), errors=errors)


async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
    return _error(404, str(exc))


async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
    return _error(409, exc.message, code=exc.code, details=exc.details)


async def _concurrent(_: Request, exc: ConcurrencyError) -> JSONResponse:
    return _error(409, f"{exc}; reload and try again", code="CONCURRENT_CHANGE")


async def _http(_: Request, exc: HTTPException) -> JSONResponse:
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    return _error(exc.status_code, message, headers=exc.headers)


def _error(
    status: int, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"message": message, **extra}, status_code=status, headers=headers)


def _reason(err: dict[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "is not a known field"
    if err["type"] == "missing":
        return "is required"
    return str(err["msg"])


def _summary(errors: list[dict[str, str]]) -> str:
    return "; ".join(f"{e['field']} {e['reason']}" for e in errors)
