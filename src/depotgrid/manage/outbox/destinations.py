"""Where an entry goes, decided at delivery time: the port the OSCP configuration implements.

An entry stores only its destination id. The dispatcher resolves the id before every attempt,
so a rotated token, a refreshed OAuth2 access token or an edited endpoint applies to retries of
messages already queued, and a deleted or disabled destination cancels them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Destination:
    base_url: str
    """The peer's base (version) URL, e.g. `https://cp.example/oscp/cp/2.0`."""
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    """`Authorization` (Token or Bearer) and static partner headers. May set
    X-OSCP-Configuration-ID (else the destination id is sent); cannot override Content-Type,
    X-Request-ID or X-Correlation-ID."""
    paths: Mapping[str, str] = field(default_factory=dict)
    """Per-peer path overrides by endpoint, e.g. {"handshake_acknowledge": "alt/ack"}
    (PROTOCOL.md §8.12); relative to `base_url`."""


class DestinationResolver(Protocol):
    async def resolve(self, destination_id: str) -> Destination | None:
        """The destination as it is now; None if it was deleted or disabled (entries cancel).

        Raising means "unknown for now" (e.g. the OAuth2 token endpoint is down): the attempt
        fails and is retried.
        """
        ...


class NoDestinations:
    """Resolves nothing: the default until a deployment wires a real resolver."""

    async def resolve(self, destination_id: str) -> Destination | None:
        return None
