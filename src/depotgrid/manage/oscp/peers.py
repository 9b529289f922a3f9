"""Where the outbox delivers a configuration's messages, and with which credentials.

Implements the outbox's `DestinationResolver`: resolved before every attempt, so a token the CP
rotated at registration, or an edited static header, applies to retries already queued; a
disabled or deleted configuration resolves to None and its queued messages are cancelled.

OAuth2 client credentials (PROTOCOL.md §7): an access token is requested from the partner's
token URL (HTTP Basic client authentication, form-encoded grant, the static headers too) and
reused until shortly before it expires; a failed token request fails the attempt, which the
outbox retries.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from depotgrid.common.clock import Clock
from depotgrid.manage.errors import NotFound
from depotgrid.manage.oscp import service
from depotgrid.manage.oscp.configuration import (
    OAuth2ClientCredentials,
    OscpConfiguration,
    TokenAuth,
)
from depotgrid.manage.oscp.secrets import OutboundSecrets, SecretBox, outbound_secrets
from depotgrid.manage.outbox.destinations import Destination
from depotgrid.manage.unit_of_work import UnitOfWorkFactory

TOKEN_REUSE_MARGIN = timedelta(seconds=30)
DEFAULT_TOKEN_LIFETIME = timedelta(minutes=5)
TOKEN_REQUEST_TIMEOUT = 10.0
"""A client per token request: tokens are fetched once per lifetime, not per message."""


class OAuthError(RuntimeError):
    """The token endpoint did not give us an access token."""


@dataclass(frozen=True)
class _AccessToken:
    value: str
    usable_until: datetime


class OscpDestinations:
    def __init__(self, uows: UnitOfWorkFactory, box: SecretBox, clock: Clock) -> None:
        self._uows = uows
        self._box = box
        self._clock = clock
        self._tokens: dict[tuple[str, str, str], _AccessToken] = {}

    async def resolve(self, destination_id: str) -> Destination | None:
        found = await asyncio.to_thread(self._read, destination_id)
        if found is None:
            return None
        configuration, secrets = found
        headers = dict(secrets.static_headers)
        auth = configuration.outbound_auth
        if isinstance(auth, TokenAuth) and secrets.token:
            headers["Authorization"] = f"Token {secrets.token}"
        elif isinstance(auth, OAuth2ClientCredentials) and secrets.client_secret:
            token = await self._access_token(auth, secrets.client_secret, secrets.static_headers)
            headers["Authorization"] = f"Bearer {token}"
        return Destination(base_url=configuration.endpoint_base_url, headers=headers)

    def _read(self, destination_id: str) -> tuple[OscpConfiguration, OutboundSecrets] | None:
        """The enabled configuration and its secrets; off the event loop, as it is database I/O."""
        with self._uows.read() as uow:
            try:
                configuration = service.get(uow, destination_id)
            except NotFound:
                return None
            if not configuration.enabled:
                return None
            return configuration, outbound_secrets(uow, self._box, configuration)

    async def _access_token(
        self, auth: OAuth2ClientCredentials, secret: str, extra_headers: dict[str, str]
    ) -> str:
        key = (auth.token_url, auth.client_id, auth.scope or "")
        now = self._clock.now()
        cached = self._tokens.get(key)
        if cached is not None and now < cached.usable_until:
            return cached.value
        form = {"grant_type": "client_credentials"}
        if auth.scope:
            form["scope"] = auth.scope
        try:
            async with httpx.AsyncClient(timeout=TOKEN_REQUEST_TIMEOUT) as http:
                answer = await http.post(
                    auth.token_url, data=form, auth=(auth.client_id, secret), headers=extra_headers
                )
        except httpx.HTTPError as exc:
            raise OAuthError(f"token endpoint {auth.token_url} unreachable: {exc}") from exc
        if answer.status_code != 200:
            raise OAuthError(f"token endpoint answered {answer.status_code}: {answer.text[:200]}")
        body = answer.json()
        if not isinstance(body, dict) or not body.get("access_token"):
            raise OAuthError("token endpoint answered without an access_token")
        lifetime = timedelta(seconds=float(body.get("expires_in") or 0)) or DEFAULT_TOKEN_LIFETIME
        token = _AccessToken(str(body["access_token"]), now + lifetime - TOKEN_REUSE_MARGIN)
        self._tokens[key] = token
        return token.value
