"""OAuth 2.0 client credentials for partner profiles that use it (RFC 6749 §4.4; PROTOCOL.md §7).

A session created with `oauth {client_id, client_secret, token_ttl_seconds}` lets that client
obtain short-lived bearer tokens from `POST /oauth/token`; its protocol calls may then carry
`Authorization: Bearer <token>` instead of `Token <cp_token>`. Tokens are random, stored as
SHA-256 hashes, and expire on wall time (a protocol credential, not simulated time).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from depotgrid.sim.projections.oscp_cp.repository import token_hash
from depotgrid.sim.unit_of_work import SimUnitOfWork


@dataclass(frozen=True)
class Issued:
    access_token: str
    expires_in: int


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: `error` code, description, HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def issue(
    uow: SimUnitOfWork,
    *,
    grant_type: str | None,
    client_id: str | None,
    client_secret: str | None,
    now: datetime,
) -> Issued:
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is required")
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type} is not supported")
    if not client_id or not client_secret:
        raise OAuthError("invalid_client", "client authentication is required", 401)
    found = uow.sessions.by_oauth_client(client_id)
    if found is None or found[1] is None:
        raise OAuthError("invalid_client", "unknown client or wrong secret", 401)
    session, secret_hash = found
    if not hmac.compare_digest(token_hash(client_secret), secret_hash or ""):
        raise OAuthError("invalid_client", "unknown client or wrong secret", 401)
    token = secrets.token_urlsafe(32)
    ttl = session.oauth_token_ttl_seconds
    uow.oauth.purge_expired(now)
    uow.oauth.add(token_hash(token), session.id, now, now + timedelta(seconds=ttl))
    return Issued(token, ttl)
