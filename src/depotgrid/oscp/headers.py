"""OSCP 2.0 HTTP headers: names, the Authorization header, and the headers of an outbound call.

Implements the header table of PROTOCOL.md §1, token and OAuth2 credentials of §2 and §7, and
pitfall §8.10 (strict when sending, lenient when receiving):

- `Authorization: Token <t>`, where `<t>` is the token the *receiver* issued to the sender, or
  `Authorization: Bearer <access token>` for OAuth2 client-credentials peers. Both work side by
  side. Outbound the scheme is spelled exactly `Token` (SN accepts nothing else); inbound the
  scheme is matched case-insensitively.
- `X-Request-ID` on every message: a unique id, kept stable across retries of one logical
  message so the receiver can detect duplicates (§8.5).
- `X-Correlation-ID` only on a message that answers or refers to an earlier one: the
  HandshakeAcknowledge (the Handshake's id), the GroupCapacityComplianceError (the forecast's
  id), a Register reply (the initiator's Register id).
- `X-Segment-Index` / `X-Segment-Count` for split messages (numbering unverified; unused here).
- `X-OSCP-Configuration-ID`: depotgrid's own header naming the OSCP configuration a call belongs
  to (the simulator's routing contract); passed as a static or extra header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

AUTHORIZATION = "Authorization"
CONTENT_TYPE = "Content-Type"
REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"
SEGMENT_INDEX = "X-Segment-Index"
SEGMENT_COUNT = "X-Segment-Count"
CONFIGURATION_ID = "X-OSCP-Configuration-ID"
ERROR_MESSAGE = "X-Error-Message"
"""SN's non-standard reason header on error replies; read it if present, never depend on it."""

JSON_CONTENT_TYPE = "application/json"

RESERVED_HEADERS = frozenset(
    name.lower() for name in (AUTHORIZATION, CONTENT_TYPE, REQUEST_ID, CORRELATION_ID)
)
"""Headers `outbound_headers` sets itself; extra headers may not override them."""

_CREDENTIALS = re.compile(r"^\s*(?P<scheme>[A-Za-z]+)[ \t]+(?P<value>\S+)\s*$")


class AuthScheme(StrEnum):
    TOKEN = "Token"
    """OSCP's own scheme: a token exchanged in Register."""
    BEARER = "Bearer"
    """An OAuth2 access token (client-credentials grant)."""


@dataclass(frozen=True)
class Credentials:
    """The scheme and secret of an Authorization header."""

    scheme: AuthScheme
    value: str

    def __post_init__(self) -> None:
        if not self.value or any(char.isspace() for char in self.value):
            raise ValueError("credentials must be non-empty and contain no whitespace")

    def header_value(self) -> str:
        return f"{self.scheme} {self.value}"

    def __repr__(self) -> str:
        return f"Credentials(scheme={self.scheme!s}, value=<hidden>)"


def parse_authorization(value: str | None) -> Credentials | None:
    """The Token or Bearer credentials of an Authorization header; None if absent or malformed.

    The scheme is matched case-insensitively (lenient on receipt); any other scheme is None.
    """
    if value is None:
        return None
    match = _CREDENTIALS.match(value)
    if match is None:
        return None
    scheme = match["scheme"].lower()
    for known in AuthScheme:
        if scheme == known.lower():
            return Credentials(known, match["value"])
    return None


def parse_token_authorization(value: str | None) -> str | None:
    """The OSCP token of `Authorization: Token <t>`; None for Bearer, other schemes or garbage."""
    credentials = parse_authorization(value)
    return credentials.value if credentials and credentials.scheme is AuthScheme.TOKEN else None


def parse_bearer_authorization(value: str | None) -> str | None:
    """The access token of `Authorization: Bearer <jwt>`; None otherwise."""
    credentials = parse_authorization(value)
    return credentials.value if credentials and credentials.scheme is AuthScheme.BEARER else None


def outbound_headers(
    token: str | Credentials,
    request_id: str,
    correlation_id: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The headers of one outbound OSCP call.

    `token` is the peer-issued OSCP token (sent as `Token <t>`) or explicit Credentials (e.g.
    Bearer). `extra` holds static partner headers such as X-OSCP-Configuration-ID; it may not
    override the protocol headers set here (ValueError).
    """
    credentials = token if isinstance(token, Credentials) else Credentials(AuthScheme.TOKEN, token)
    _require_header_text(REQUEST_ID, request_id)
    headers = {
        AUTHORIZATION: credentials.header_value(),
        CONTENT_TYPE: JSON_CONTENT_TYPE,
        REQUEST_ID: request_id,
    }
    if correlation_id is not None:
        _require_header_text(CORRELATION_ID, correlation_id)
        headers[CORRELATION_ID] = correlation_id
    for name, value in (extra or {}).items():
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"extra headers may not set {name}")
        headers[name] = value
    return headers


def _require_header_text(name: str, value: str) -> None:
    if not value.strip() or "\r" in value or "\n" in value:
        raise ValueError(f"{name} must be a non-empty single-line value")
