"""Reason codes: why a cap or a setpoint is what it is. docs/reason-codes.md explains each one.

Node-level codes are listed in precedence order, highest first: when several sources bind
within a hair of the minimum, all are kept and sorted by this order.
"""

from __future__ import annotations

FAIL_SAFE_DEFAULT = "FAIL_SAFE_DEFAULT"
FALLBACK_DERIVED_TELEMETRY = "FALLBACK_DERIVED_TELEMETRY"
ENVELOPE_LIMIT = "ENVELOPE_LIMIT"
NODE_HARD_CAP = "NODE_HARD_CAP"
TOU_SCHEDULED_CAP = "TOU_SCHEDULED_CAP"
PHYSICAL_RATING = "PHYSICAL_RATING"

NODE_PRECEDENCE = (
    FAIL_SAFE_DEFAULT,
    FALLBACK_DERIVED_TELEMETRY,
    ENVELOPE_LIMIT,
    NODE_HARD_CAP,
    TOU_SCHEDULED_CAP,
    PHYSICAL_RATING,
)

ANCESTOR_SATURATED = "ANCESTOR_SATURATED"
CHARGER_MAX = "CHARGER_MAX"
MIN_NOT_AVAILABLE = "MIN_NOT_AVAILABLE"
NOT_READY = "NOT_READY"
STEP_ROUNDING = "STEP_ROUNDING"
