"""The ledger's message types: the OSCP schema title of each message the CP sends or receives.

One spelling differs from the schema: the §7 contract of the design names the asset measurement
message `UpdateAssetMeasurements` (its endpoint's spelling), while its schema is titled
`UpdateAssetMeasurement`. The ledger uses the contract's spelling; filters accept both.
"""

from __future__ import annotations

from depotgrid.oscp import schemas
from depotgrid.oscp.routes import ENDPOINT_MODELS, Endpoint, Role, routes_for

_LEDGER_SPELLING = {"UpdateAssetMeasurement": "UpdateAssetMeasurements"}


def message_type_for(endpoint: Endpoint) -> str:
    """The ledger message type of the message posted to `endpoint`."""
    title = ENDPOINT_MODELS[endpoint].schema_title
    return _LEDGER_SPELLING.get(title, title)


def schema_title_for(message_type: str) -> str:
    """The schema title of a ledger message type (or of a title)."""
    return schemas.canonical_title(message_type)


def normalise(name: str) -> str | None:
    """A known message type for `name` (either spelling), or None."""
    for endpoint in Endpoint:
        message_type = message_type_for(endpoint)
        if name in (message_type, ENDPOINT_MODELS[endpoint].schema_title):
            return message_type
    return None


INBOUND: frozenset[str] = frozenset(message_type_for(r.endpoint) for r in routes_for(Role.CP))
"""What the CP receives: Register, Handshake, HandshakeAcknowledge, Heartbeat, measurements,
adjustments and compliance errors."""

OUTBOUND: frozenset[str] = frozenset(
    message_type_for(e)
    for e in (
        Endpoint.REGISTER,
        Endpoint.HANDSHAKE,
        Endpoint.HANDSHAKE_ACKNOWLEDGE,
        Endpoint.HEARTBEAT,
        Endpoint.UPDATE_GROUP_CAPACITY_FORECAST,
    )
)
"""What the CP sends to the FP."""

GROUP_MESSAGES: frozenset[str] = frozenset(
    {"UpdateGroupMeasurements", "UpdateAssetMeasurements", "AdjustGroupCapacityForecast"}
)
"""Inbound messages that carry a group_id."""

DATA_MESSAGES: frozenset[str] = GROUP_MESSAGES | {"GroupCapacityComplianceError"}
"""The FP's measurement, adjustment and compliance messages (§9 "Outbound Message Validation")."""
