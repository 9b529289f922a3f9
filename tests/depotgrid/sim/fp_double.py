"""A small Flexibility Provider double for sim's protocol tests (tests only).

It serves `/oscp/fp/2.0/<endpoint>`, records every request with its headers, body and the
body's OSCP schema errors, answers 204 (or a status the test sets), and, like a real FP:
- acknowledges a CP Handshake: after the 204 it posts HandshakeAcknowledge to the CP, with
  X-Correlation-ID = the Handshake's X-Request-ID (unless `ack_handshakes` is off);
- answers a CP Register: after the 204 it posts its reply Register with a fresh token.
It also sends FP -> CP messages for the tests (`send`, `send_raw`).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from starlette.background import BackgroundTask

from depotgrid.oscp import schemas
from depotgrid.oscp.client import DeliveryResult, OscpClient
from depotgrid.oscp.headers import CONFIGURATION_ID, CORRELATION_ID, REQUEST_ID
from depotgrid.oscp.messages import OscpModel
from depotgrid.oscp.routes import ENDPOINT_MODELS, Endpoint


@dataclass(frozen=True)
class Received:
    endpoint: str
    headers: dict[str, str]
    body: Any
    schema_errors: list[str]
    at: float
    """time.monotonic() on arrival."""

    @property
    def request_id(self) -> str | None:
        return self.headers.get(REQUEST_ID.lower())


@dataclass
class Peer:
    """What the FP knows of one CP connection."""

    cp_base_url: str
    cp_token: str
    fp_token: str = field(default_factory=lambda: uuid.uuid4().hex * 2)


class FpDouble:
    def __init__(self) -> None:
        self.url = ""
        self.received: list[Received] = []
        self.status: dict[str, int] = {}
        self.delay: dict[str, float] = {}
        self.ack_handshakes = True
        self.ack_behaviour: dict[str, Any] | None = {}
        self.peers: dict[str, Peer] = {}
        self.sent_acks: list[httpx.Response] = []
        self._cond = threading.Condition()
        self.app = FastAPI()
        self.app.add_api_route(
            "/{prefix:path}/{endpoint}", self._receive, methods=["POST"], status_code=204
        )

    @property
    def base_url(self) -> str:
        return f"{self.url}/oscp/fp/2.0"

    def peer(self, configuration_id: str, cp_base_url: str, cp_token: str) -> Peer:
        self.peers[configuration_id] = Peer(cp_base_url, cp_token)
        return self.peers[configuration_id]

    async def _receive(self, prefix: str, endpoint: str, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        title = ENDPOINT_MODELS[Endpoint(endpoint)].schema_title
        errors = [str(e) for e in schemas.validate(title, body)]
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._cond:
            self.received.append(Received(endpoint, headers, body, errors, time.monotonic()))
            self._cond.notify_all()
        if endpoint in self.delay:
            await asyncio.sleep(self.delay[endpoint])
        status = self.status.get(endpoint, 204)
        task = None
        if status == 204 and endpoint == "handshake" and self.ack_handshakes:
            task = BackgroundTask(self._acknowledge, headers)
        if status == 204 and endpoint == "register" and not headers.get(CORRELATION_ID.lower()):
            task = BackgroundTask(self._reply_register, headers, body)
        if status == 204:
            return Response(status_code=204, background=task)
        return Response(
            json.dumps({"message": f"FP double answers {status}"}),
            status_code=status,
            media_type="application/json",
        )

    async def _acknowledge(self, headers: dict[str, str]) -> None:
        peer = self.peers[headers[CONFIGURATION_ID.lower()]]
        body: dict[str, Any] = {}
        if self.ack_behaviour is not None:
            body = {"required_behaviour": {"measurement_configuration": [], **self.ack_behaviour}}
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(
                f"{peer.cp_base_url}/handshake_acknowledge",
                json=body,
                headers=self._headers(
                    peer, headers[CONFIGURATION_ID.lower()], headers["x-request-id"]
                ),
            )
        self.sent_acks.append(response)

    async def _reply_register(self, headers: dict[str, str], body: dict[str, Any]) -> None:
        configuration_id = headers[CONFIGURATION_ID.lower()]
        peer = self.peers[configuration_id]
        peer.cp_token = body["token"]
        peer.cp_base_url = body["version_url"][0]["base_url"]
        peer.fp_token = uuid.uuid4().hex * 2
        reply = {
            "token": peer.fp_token,
            "version_url": [{"version": "2.0", "base_url": self.base_url}],
        }
        async with httpx.AsyncClient(timeout=10) as client:
            await client.post(
                f"{peer.cp_base_url}/register",
                json=reply,
                headers=self._headers(peer, configuration_id, headers["x-request-id"]),
            )

    @staticmethod
    def _headers(peer: Peer, configuration_id: str, correlation_id: str | None) -> dict[str, str]:
        headers = {
            "Authorization": f"Token {peer.cp_token}",
            REQUEST_ID: str(uuid.uuid4()),
            CONFIGURATION_ID: configuration_id,
        }
        if correlation_id:
            headers[CORRELATION_ID] = correlation_id
        return headers

    # --- for the tests ----------------------------------------------------------------------

    def of(self, endpoint: str) -> list[Received]:
        with self._cond:
            return [r for r in self.received if r.endpoint == endpoint]

    def wait_for(self, endpoint: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [r for r in self.received if r.endpoint == endpoint]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"FP double got {len(found)} {endpoint} within {timeout} s, wanted {count}"
                    )
                self._cond.wait(left)

    def send(
        self,
        configuration_id: str,
        message: OscpModel,
        *,
        correlation_id: str | None = None,
        request_id: str | None = None,
        bearer: str | None = None,
    ) -> DeliveryResult:
        """Post a schema-valid message to the CP, as the FP would."""
        peer = self.peers[configuration_id]
        with httpx.Client() as http:
            return OscpClient(http).send(
                peer.cp_base_url,
                message,
                token=None if bearer else peer.cp_token,
                bearer=bearer,
                request_id=request_id or str(uuid.uuid4()),
                correlation_id=correlation_id,
                static_headers={CONFIGURATION_ID: configuration_id},
                timeout=10,
            )

    def send_raw(
        self,
        configuration_id: str,
        endpoint: str,
        body: Any,
        *,
        headers: dict[str, str] | None = None,
        omit: tuple[str, ...] = (),
        timeout: float = 10.0,
    ) -> httpx.Response:
        """Post anything (invalid on purpose) to the CP; `omit` drops standard headers."""
        peer = self.peers[configuration_id]
        sent = {
            "Authorization": f"Token {peer.cp_token}",
            REQUEST_ID: str(uuid.uuid4()),
            CONFIGURATION_ID: configuration_id,
            "Content-Type": "application/json",
        }
        sent.update(headers or {})
        for name in omit:
            sent.pop(name, None)
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.post(
            f"{peer.cp_base_url}/{endpoint}", content=content, headers=sent, timeout=timeout
        )
