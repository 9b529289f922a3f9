"""Send one OSCP 2.0 message over HTTP and report what happened (PROTOCOL.md §1, §7).

    OscpClient                                 peer
      | checked_wire(message): refuse invalid    |
      | POST {base_url}/{endpoint}               |
      |   Authorization: Token <t> | Bearer <a>  |
      |   X-Request-ID, [X-Correlation-ID],      |
      |   static partner headers                 |
      |----------------------------------------->|
      |<---------- 204 (ok) | 4xx/5xx (not ok) --|   or no answer: status None

- The payload is `to_wire()` checked strictly against its schema first; an invalid message raises
  OscpPayloadError and no request is made: we never send invalid OSCP.
- One attempt, no retries and no redirects: retry policy belongs to the outbox, which keeps the
  X-Request-ID stable across its attempts (§8.5).
- 204 is the expected answer; any 2xx counts as delivered. Other statuses are not ok, with an
  error text taken from the OSCP `Error {message}` body, SN's `X-Error-Message`, or the body.
- Transport failures (refused, timeout, bad URL) become a result with no status.
- The caller owns and injects the `httpx.Client` / `httpx.AsyncClient` (pooling, TLS, tests).
  Nothing is persisted here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from depotgrid.oscp.headers import (
    ERROR_MESSAGE,
    AuthScheme,
    Credentials,
    outbound_headers,
)
from depotgrid.oscp.messages import OscpModel, checked_wire
from depotgrid.oscp.routes import endpoint_for, url_for

DEFAULT_TIMEOUT_S = 10.0
MAX_ERROR_TEXT = 500


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one attempt to deliver one message."""

    url: str
    request_id: str
    status_code: int | None
    """None when no HTTP answer arrived (connection refused, timeout, bad URL)."""
    ok: bool
    """True for 204 (and any other 2xx)."""
    error_text: str | None
    elapsed: timedelta


@dataclass(frozen=True)
class OutboundRequest:
    """One prepared POST: target, headers (with credentials) and the exact JSON body."""

    url: str
    request_id: str
    headers: dict[str, str] = field(repr=False)
    body: bytes


def prepare_request(
    base_url: str,
    message: OscpModel,
    *,
    token: str | None = None,
    bearer: str | None = None,
    request_id: str,
    correlation_id: str | None = None,
    static_headers: Mapping[str, str] | None = None,
    path: str | None = None,
) -> OutboundRequest:
    """Check and serialise `message` and build its headers; see `OscpClient.send`."""
    if (token is None) == (bearer is None):
        raise ValueError("give exactly one of token (OSCP Token) or bearer (OAuth2 access token)")
    credentials = (
        Credentials(AuthScheme.TOKEN, token)
        if token is not None
        else Credentials(AuthScheme.BEARER, bearer or "")
    )
    payload = checked_wire(message)
    return OutboundRequest(
        url=url_for(base_url, endpoint_for(message), path=path),
        request_id=request_id,
        headers=outbound_headers(credentials, request_id, correlation_id, static_headers),
        body=json.dumps(payload, separators=(",", ":")).encode(),
    )


def _answered(
    outbound: OutboundRequest, response: httpx.Response, started: float
) -> DeliveryResult:
    ok = response.is_success
    return DeliveryResult(
        url=outbound.url,
        request_id=outbound.request_id,
        status_code=response.status_code,
        ok=ok,
        error_text=None if ok else _error_text(response),
        elapsed=_since(started),
    )


def _unanswered(outbound: OutboundRequest, exc: Exception, started: float) -> DeliveryResult:
    return DeliveryResult(
        url=outbound.url,
        request_id=outbound.request_id,
        status_code=None,
        ok=False,
        error_text=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
        elapsed=_since(started),
    )


def _error_text(response: httpx.Response) -> str:
    detail = _error_message(response) or response.headers.get(ERROR_MESSAGE) or response.text
    detail = detail.strip()[:MAX_ERROR_TEXT] or response.reason_phrase
    return f"HTTP {response.status_code}: {detail}"


def _error_message(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else None


def _since(started: float) -> timedelta:
    return timedelta(seconds=time.perf_counter() - started)


_TRANSPORT_FAILURES = (httpx.TransportError, httpx.InvalidURL)


class OscpClient:
    """Sends OSCP messages through an injected `httpx.Client`; one attempt per call."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def send(
        self,
        base_url: str,
        message: OscpModel,
        *,
        token: str | None = None,
        bearer: str | None = None,
        request_id: str,
        correlation_id: str | None = None,
        static_headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        path: str | None = None,
    ) -> DeliveryResult:
        """POST `message` to `<base_url>/<its endpoint>` (or `<base_url>/<path>`).

        Authenticates with exactly one of `token` (the peer-issued OSCP token) or `bearer` (an
        OAuth2 access token). Raises OscpPayloadError, before any request, if the message is not
        valid OSCP, and ValueError for unusable headers.
        """
        outbound = prepare_request(
            base_url,
            message,
            token=token,
            bearer=bearer,
            request_id=request_id,
            correlation_id=correlation_id,
            static_headers=static_headers,
            path=path,
        )
        started = time.perf_counter()
        try:
            response = self._http.post(
                outbound.url,
                content=outbound.body,
                headers=outbound.headers,
                timeout=timeout,
                follow_redirects=False,
            )
        except _TRANSPORT_FAILURES as exc:
            return _unanswered(outbound, exc, started)
        return _answered(outbound, response, started)


class AsyncOscpClient:
    """`OscpClient` for an injected `httpx.AsyncClient`."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def send(
        self,
        base_url: str,
        message: OscpModel,
        *,
        token: str | None = None,
        bearer: str | None = None,
        request_id: str,
        correlation_id: str | None = None,
        static_headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        path: str | None = None,
    ) -> DeliveryResult:
        """See `OscpClient.send`."""
        outbound = prepare_request(
            base_url,
            message,
            token=token,
            bearer=bearer,
            request_id=request_id,
            correlation_id=correlation_id,
            static_headers=static_headers,
            path=path,
        )
        started = time.perf_counter()
        try:
            response = await self._http.post(
                outbound.url,
                content=outbound.body,
                headers=outbound.headers,
                timeout=timeout,
                follow_redirects=False,
            )
        except _TRANSPORT_FAILURES as exc:
            return _unanswered(outbound, exc, started)
        return _answered(outbound, response, started)
