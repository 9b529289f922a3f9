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
EV_DEMAND = "EV_DEMAND"

CHARGER_CODES = (
    ANCESTOR_SATURATED,
    CHARGER_MAX,
    EV_DEMAND,
    MIN_NOT_AVAILABLE,
    STEP_ROUNDING,
    NOT_READY,
)

# Sub-codes of FAIL_SAFE_DEFAULT: what made the degraded-mode cap necessary.
METER_STALE = "METER_STALE"
FAIL_SAFE_METER_STALE = f"{FAIL_SAFE_DEFAULT}:{METER_STALE}"

# Breach causes: exactly one is a breach episode's primary reason (docs/reason-codes.md has the
# rule that picks it, tried in this order).
TELEMETRY_STALE = "TELEMETRY_STALE"
CAP_DROPPED = "CAP_DROPPED"
CHARGER_NONCOMPLIANT = "CHARGER_NONCOMPLIANT"
UNCONTROLLED_LOAD = "UNCONTROLLED_LOAD"

BREACH_CAUSES = (TELEMETRY_STALE, CAP_DROPPED, CHARGER_NONCOMPLIANT, UNCONTROLLED_LOAD)


def base_code(code: str) -> str:
    """`FAIL_SAFE_DEFAULT:METER_STALE` -> `FAIL_SAFE_DEFAULT`; other codes unchanged."""
    return code.split(":", 1)[0]


def node_order(codes: tuple[str, ...] | list[str] | set[str]) -> tuple[str, ...]:
    """Node-level codes, each once, highest precedence first (ties by the code's own text)."""
    rank = {code: i for i, code in enumerate(NODE_PRECEDENCE)}
    return tuple(sorted(set(codes), key=lambda code: (rank.get(base_code(code), len(rank)), code)))


DESCRIPTIONS = {
    FAIL_SAFE_DEFAULT: "Degraded mode: the cap is pinned to the circuit's safe default.",
    METER_STALE: "the circuit's meter is stale and its load can't be derived from child meters",
    FALLBACK_DERIVED_TELEMETRY: (
        "The circuit's meter is stale: its load was derived from child meters plus a margin."
    ),
    ENVELOPE_LIMIT: "An operating envelope (an external grid-operator limit) caps the circuit.",
    NODE_HARD_CAP: (
        "The circuit's available capacity caps it below its rating: set by an operator, or the "
        "safe default while no envelope is in force."
    ),
    TOU_SCHEDULED_CAP: "A scheduled (time-of-use) cap.",
    PHYSICAL_RATING: "The circuit's physical rating (fuse, breaker or cable).",
    ANCESTOR_SATURATED: "Its fair share is set by this circuit, which is full.",
    CHARGER_MAX: "At the charger's maximum power.",
    EV_DEMAND: "At what the vehicle asks for (its requested kW).",
    MIN_NOT_AVAILABLE: "Not admitted: its minimum power does not fit under a circuit.",
    STEP_ROUNDING: "Rounded down to the setpoint step; the remainder could not be handed out.",
    NOT_READY: "No vehicle plugged in.",
    TELEMETRY_STALE: "The cycle in force worked this circuit (or one under it) from a stale meter.",
    CAP_DROPPED: "The cap came down and the load stayed above it.",
    CHARGER_NONCOMPLIANT: "A charger drew more than its setpoint.",
    UNCONTROLLED_LOAD: "Load nobody controls grew above what the cap leaves for it.",
}
"""A sentence per code (and sub-code) for people: shown on hover in the UI."""


def describe(code: str) -> str:
    """The sentence for `code`; a sub-code adds its own words."""
    base, _, sub = code.partition(":")
    text = DESCRIPTIONS.get(base, code)
    if sub and sub in DESCRIPTIONS:
        text = f"{text} Why: {DESCRIPTIONS[sub]}."
    return text
