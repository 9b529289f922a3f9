"""The OSCP Capacity Provider protocol API under /oscp/cp/2.0 (design §7 Protocol API) and the
OAuth token endpoint. Thin: `ProtocolService.receive` decides everything; this edge only holds
an answer back (ignore), delays it, and runs the follow-up reply after the response.

Every answer carries `X-Ledger-Entry-ID` (the entry that records it); a repeated X-Request-ID
also carries `X-Duplicate-Of`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

from depotgrid.oscp.routes import Endpoint, Role, routes_for
from depotgrid.sim.api.sessions import cp_base_url
from depotgrid.sim.projections.oscp_cp import oauth
from depotgrid.sim.projections.oscp_cp.protocol import Reception
from depotgrid.sim.services import SimServices, services

router = APIRouter(tags=["oscp cp protocol"])
LEDGER_HEADER = "X-Ledger-Entry-ID"
DUPLICATE_HEADER = "X-Duplicate-Of"
IGNORED_MESSAGE = {"message": "ignored by scenario: no answer was due"}


async def _hold(request: Request, seconds: float) -> None:
    """Keep the request unanswered until the client gives up or `seconds` pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if await request.is_disconnected():
            return
        await asyncio.sleep(min(0.1, max(0.0, deadline - loop.time())))


def _response(sim: SimServices, reception: Reception) -> Response:
    headers = {}
    if reception.ledger_entry_id:
        headers[LEDGER_HEADER] = reception.ledger_entry_id
    if reception.duplicate_of:
        headers[DUPLICATE_HEADER] = reception.duplicate_of
    if reception.www_authenticate:
        headers["WWW-Authenticate"] = reception.www_authenticate
    background = (
        BackgroundTask(sim.outbound.follow_up, reception.follow_up) if reception.follow_up else None
    )
    if reception.status == 204:
        return Response(status_code=204, headers=headers, background=background)
    return JSONResponse(reception.body, status_code=reception.status, headers=headers)


def _handler(endpoint: Endpoint) -> Any:
    async def handle(request: Request) -> Response:
        sim = services(request)
        body = await request.body()
        reception = sim.protocol.receive(endpoint, request.headers, body, cp_base_url(request))
        if reception.hold_seconds:
            await _hold(request, reception.hold_seconds)
            headers = {LEDGER_HEADER: reception.ledger_entry_id or ""}
            return JSONResponse(IGNORED_MESSAGE, status_code=503, headers=headers)
        if reception.delay_seconds:
            await asyncio.sleep(reception.delay_seconds)
        return _response(sim, reception)

    handle.__name__ = f"oscp_cp_{endpoint.value}"
    handle.__doc__ = f"Receive {endpoint.value} from the Flexibility Provider."
    return handle


for _route in routes_for(Role.CP):
    router.add_api_route(_route.path, _handler(_route.endpoint), methods=["POST"], status_code=204)


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (unquote(client_id), unquote(secret)) if sep else None


@router.post("/oauth/token", tags=["oauth"])
async def token(request: Request) -> JSONResponse:
    """OAuth 2.0 client-credentials grant (form-encoded; client auth by HTTP Basic or form)."""
    sim = services(request)
    form = await request.form()
    basic = _basic_credentials(request.headers.get("authorization"))
    client_id, secret = basic or (form.get("client_id"), form.get("client_secret"))
    grant_type = form.get("grant_type")
    no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    try:
        with sim.uows.write() as uow:
            issued = oauth.issue(
                uow,
                grant_type=grant_type if isinstance(grant_type, str) else None,
                client_id=client_id if isinstance(client_id, str) else None,
                client_secret=secret if isinstance(secret, str) else None,
                now=sim.clock.now(),
            )
            uow.commit()
    except oauth.OAuthError as exc:
        headers = dict(no_store)
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="oauth"'
        return JSONResponse(
            {"error": exc.error, "error_description": exc.description},
            status_code=exc.status,
            headers=headers,
        )
    return JSONResponse(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
        },
        headers=no_store,
    )
