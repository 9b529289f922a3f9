"""The Flexibility Provider's OSCP 2.0 protocol routes: mounted once, at `/oscp/fp/2.0/` (COR-45).

Every route answers 204 with no body on success and `{"message": ...}` otherwise, with the one
error table of docs/oscp.md. Checks, in order (first failure answers):

- Authorization missing or not `Token`/`Bearer` -> 401;
- `Token t`: t must be a valid inbound token of a configuration (else 403), and an
  X-OSCP-Configuration-ID, when sent, must name that configuration (else 403);
- `Bearer t`: an API token of a user whose role has `oscp:protocol` (Manager, System Admin;
  else 403; unknown token 401), and X-OSCP-Configuration-ID naming the configuration (422 if
  missing, 404 if unknown);
- the endpoint must be one a Flexibility Provider receives (404), and handled yet (501);
- X-Request-ID is required (422); the body must be a valid OSCP message (422, every error);
- a repeated X-Request-ID from the same peer -> 204 without processing it again;
- lifecycle refusals: 403 (disabled), 409 (not in a state for it), 422 (refused behaviour),
  501 (no common version).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from depotgrid.manage.auth import service as auth
from depotgrid.manage.auth.model import Permission
from depotgrid.manage.errors import NotFound
from depotgrid.manage.oscp import operations, service
from depotgrid.manage.oscp.lifecycle import Refusal
from depotgrid.manage.oscp.operations import Inbound, LifecyclePolicy
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from depotgrid.oscp import headers as oscp_headers
from depotgrid.oscp.headers import AuthScheme, parse_authorization
from depotgrid.oscp.messages import OscpPayloadError, parse
from depotgrid.oscp.routes import Role, UnknownRouteError, base_path, route_for

router = APIRouter(prefix=base_path(Role.FP), tags=["oscp"])


class ProtocolError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def response(self) -> JSONResponse:
        headers = {"WWW-Authenticate": "Token"} if self.status == 401 else None
        return JSONResponse(
            {"message": self.message, **self.extra}, status_code=self.status, headers=headers
        )


@router.post("/{endpoint}", status_code=204, response_class=Response)
async def receive(endpoint: str, request: Request) -> Response:
    """One OSCP message from a Capacity Provider (see the module docstring for the answers)."""
    body = await request.body()
    return await run_in_threadpool(_handle, endpoint, request, body)


def _handle(endpoint: str, request: Request, body: bytes) -> Response:
    uows: UnitOfWorkFactory = request.app.state.uow
    policy: LifecyclePolicy = request.app.state.oscp_policy
    try:
        message_type = _message_type(endpoint)
        configuration_id, token = _authenticate(uows, request)
        request_id = _required_header(request, oscp_headers.REQUEST_ID)
        payload = _payload(message_type, body)
        inbound = Inbound(
            configuration_id=configuration_id,
            message_type=message_type,
            body=payload,
            request_id=request_id,
            correlation_id=request.headers.get(oscp_headers.CORRELATION_ID),
            token=token,
        )
        _process(uows, inbound, policy)
    except ProtocolError as error:
        return error.response()
    return Response(status_code=204)


def _process(uows: UnitOfWorkFactory, inbound: Inbound, policy: LifecyclePolicy) -> None:
    try:
        with uows.write() as uow:
            try:
                operations.receive(uow, inbound, policy)
            except Refusal as refusal:
                if refusal.step is not None:
                    uow.commit()  # the refusal's audit is kept
                raise ProtocolError(refusal.status, refusal.message) from refusal
            except NotFound as missing:
                raise ProtocolError(404, str(missing)) from missing
            uow.commit()
    except OperationalError as busy:
        raise ProtocolError(503, "the database is unavailable; try again shortly") from busy


def _message_type(endpoint: str) -> str:
    try:
        route = route_for(Role.FP, endpoint)
    except UnknownRouteError as unknown:
        raise ProtocolError(
            404, f"a Flexibility Provider has no endpoint '{endpoint}'"
        ) from unknown
    title = route.model.schema_title
    if title not in operations.RECEIVERS:
        raise ProtocolError(501, f"{title} is not supported by this Flexibility Provider yet")
    return title


def _authenticate(uows: UnitOfWorkFactory, request: Request) -> tuple[str, str | None]:
    """The configuration the caller speaks for, and the inbound token it used (if any)."""
    credentials = parse_authorization(request.headers.get(oscp_headers.AUTHORIZATION))
    if credentials is None:
        raise ProtocolError(
            401, "send 'Authorization: Token <the inbound token of your OSCP connection>'"
        )
    named = request.headers.get(oscp_headers.CONFIGURATION_ID)
    with uows.read() as uow:
        if credentials.scheme is AuthScheme.TOKEN:
            configuration_id = service.authenticate_inbound(uow, credentials.value)
            if configuration_id is None:
                raise ProtocolError(403, "the OSCP token is not valid for any connection")
            if named and named != configuration_id:
                raise ProtocolError(403, f"the token is not valid for OSCP connection {named}")
            return configuration_id, credentials.value
        user = auth.user_for_token(uow, credentials.value)
        if user is None:
            raise ProtocolError(401, "the bearer token is not valid")
        if not user.can(Permission.OSCP_PROTOCOL):
            raise ProtocolError(
                403,
                f"role {user.role.value} may not use the OSCP protocol routes "
                f"(needs {Permission.OSCP_PROTOCOL.value})",
            )
        if not named:
            raise ProtocolError(
                422, f"{oscp_headers.CONFIGURATION_ID} is required with a user's bearer token"
            )
        try:
            service.get(uow, named)
        except NotFound as missing:
            raise ProtocolError(404, str(missing)) from missing
        return named, None


def _required_header(request: Request, name: str) -> str:
    value = request.headers.get(name, "").strip()
    if not value:
        raise ProtocolError(422, f"the {name} header is required", field=name)
    return value


def _payload(message_type: str, body: bytes) -> dict[str, Any]:
    """The body as wire JSON, valid against the message's OSCP 2.0 schema."""
    try:
        payload = json.loads(body or b"null")
    except json.JSONDecodeError as bad:
        raise ProtocolError(422, f"the body is not JSON: {bad.msg} at {bad.pos}") from bad
    try:
        parse(message_type, payload)
    except OscpPayloadError as invalid:
        raise ProtocolError(
            422,
            str(invalid),
            errors=[{"field": e.path, "reason": e.message} for e in invalid.errors],
        ) from invalid
    assert isinstance(payload, dict)
    return payload
