"""One error shape for every control route: {"message", "errors": [{"field", "reason"}], ...}.

The same shape manage's API uses, so clients handle both alike. Protocol routes answer with the
OSCP `Error {message}` body instead (see `depotgrid.sim.projections.oscp_cp.protocol`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from depotgrid.sim.errors import Conflict, NotFound, ValidationFailed


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _request_invalid)  # type: ignore[arg-type]
    app.add_exception_handler(ValidationFailed, _domain_invalid)  # type: ignore[arg-type]
    app.add_exception_handler(NotFound, _not_found)  # type: ignore[arg-type]
    app.add_exception_handler(Conflict, _conflict)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http)  # type: ignore[arg-type]


def field_name(loc: tuple[Any, ...]) -> str:
    """`("body", "topology", "nodes", 0, "id")` -> `topology.nodes[0].id`."""
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
