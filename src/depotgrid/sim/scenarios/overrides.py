"""OSCP scenario overrides: explicit, time-bounded forced behaviour of one session (design §3
OscpScenarioOverride, §4 "overrides are explicit and time-bounded", §9 "Failure Scenario
Injection", §10 "Intentional ignore/mismatch").

Each mode forces one effect on the messages it applies to (its default message types, or the
`message_types` an operator narrows it to). Inbound effects decide how the CP answers a message
from the FP; the outbound effect suppresses what the CP would send. `docs/oscp-sim-requirements.md`
lists each mode with what it forces and what a Flexibility Provider should observe.

When several overrides match one inbound message, the first effect in `PRECEDENCE` decides the
answer; DELAY combines with any of them and WITHHOLD_ACK only changes the follow-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from depotgrid.sim.errors import FieldError
from depotgrid.sim.projections.oscp_cp.message_types import (
    DATA_MESSAGES,
    GROUP_MESSAGES,
    INBOUND,
    normalise,
)

MAX_DURATION_SECONDS = 30 * 24 * 3600.0
MAX_DELAY_SECONDS = 120.0
MAX_HOLD_SECONDS = 300.0
DEFAULT_DELAY_SECONDS = 2.0
DEFAULT_HOLD_SECONDS = 30.0
"""How long an ignored request is held unanswered (wall seconds): longer than the 10 s default
timeout of `depotgrid.oscp.client`, so the sender sees its own timeout."""


class OverrideMode(StrEnum):
    HANDSHAKE_TIMEOUT_FP_INITIATED = "handshake_timeout_fp_initiated"
    HANDSHAKE_TIMEOUT_CP_INITIATED = "handshake_timeout_cp_initiated"
    STOP_SENDING_HEARTBEATS = "stop_sending_heartbeats"
    REJECT_HEARTBEAT_WITH_403 = "reject_heartbeat_with_403"
    IGNORE_HEARTBEATS = "ignore_heartbeats"
    GROUP_ID_MISMATCH = "group_id_mismatch"
    LIFECYCLE_MISMATCH = "lifecycle_mismatch"
    REJECT_PAYLOAD_422 = "reject_payload_422"
    STALE_STATE_503 = "stale_state_503"
    DELAY_RESPONSES = "delay_responses"
    IGNORE_MESSAGES = "ignore_messages"


class Effect(StrEnum):
    STALE_503 = "stale_503"
    LIFECYCLE_403 = "lifecycle_403"
    IGNORE = "ignore"
    REJECT_403 = "reject_403"
    GROUP_403 = "group_403"
    REJECT_422 = "reject_422"
    DELAY = "delay"
    WITHHOLD_ACK = "withhold_ack"
    SUPPRESS = "suppress"


PRECEDENCE: tuple[Effect, ...] = (
    Effect.STALE_503,
    Effect.LIFECYCLE_403,
    Effect.IGNORE,
    Effect.REJECT_403,
    Effect.GROUP_403,
    Effect.REJECT_422,
)
"""Effects that decide the answer, strongest first."""


@dataclass(frozen=True)
class ModeInfo:
    effect: Effect
    outbound: bool
    applies_to: frozenset[str]
    """Message types the mode can be narrowed to."""
    defaults: frozenset[str]
    """Message types it applies to when not narrowed."""
    forces: str
    fp_observes: str


_ALL_BUT_REGISTER = INBOUND - {"Register"}

MODES: dict[OverrideMode, ModeInfo] = {
    OverrideMode.HANDSHAKE_TIMEOUT_FP_INITIATED: ModeInfo(
        Effect.WITHHOLD_ACK,
        False,
        frozenset({"Handshake"}),
        frozenset({"Handshake"}),
        "The CP answers the FP's Handshake with 204 but never sends HandshakeAcknowledge; the "
        "session stays accepting_handshake until its acknowledgement deadline, then goes offline.",
        "204 to its Handshake, then no HandshakeAcknowledge: its handshake times out and it "
        "must not consider the CP online; no heartbeats arrive.",
    ),
    OverrideMode.HANDSHAKE_TIMEOUT_CP_INITIATED: ModeInfo(
        Effect.IGNORE,
        False,
        frozenset({"HandshakeAcknowledge"}),
        frozenset({"HandshakeAcknowledge"}),
        "The CP ignores the FP's HandshakeAcknowledge (holds the request unanswered, does not "
        "process it), so its own handshake times out and the session goes offline.",
        "Its HandshakeAcknowledge gets no answer before its timeout; the CP never comes online "
        "and sends no heartbeats.",
    ),
    OverrideMode.STOP_SENDING_HEARTBEATS: ModeInfo(
        Effect.SUPPRESS,
        True,
        frozenset({"Heartbeat"}),
        frozenset({"Heartbeat"}),
        "The CP sends no heartbeats; each suppressed beat is recorded in the ledger (outbound, "
        "ignored, forced) so the gap is visible.",
        "No heartbeat arrives before the last offline_mode_at: it must mark the CP offline and "
        "apply its fallback behaviour.",
    ),
    OverrideMode.REJECT_HEARTBEAT_WITH_403: ModeInfo(
        Effect.REJECT_403,
        False,
        frozenset({"Heartbeat"}),
        frozenset({"Heartbeat"}),
        "The CP answers the FP's heartbeats with 403 and does not refresh liveness.",
        "403 on every heartbeat: it should record the failures and show them to operators.",
    ),
    OverrideMode.IGNORE_HEARTBEATS: ModeInfo(
        Effect.IGNORE,
        False,
        frozenset({"Heartbeat"}),
        frozenset({"Heartbeat"}),
        "The CP holds the FP's heartbeats unanswered and does not refresh liveness; the ledger "
        "records each as ignored (forced).",
        "Its heartbeat requests time out; if the CP required heartbeats, the CP marks the "
        "session offline once liveness expires.",
    ),
    OverrideMode.GROUP_ID_MISMATCH: ModeInfo(
        Effect.GROUP_403,
        False,
        GROUP_MESSAGES,
        GROUP_MESSAGES,
        "The CP treats the group_id of measurement and adjustment messages as not bound to the "
        "session and answers 403.",
        "Deterministic 403 on UpdateGroupMeasurements, UpdateAssetMeasurements and "
        "AdjustGroupCapacityForecast.",
    ),
    OverrideMode.LIFECYCLE_MISMATCH: ModeInfo(
        Effect.LIFECYCLE_403,
        False,
        _ALL_BUT_REGISTER,
        _ALL_BUT_REGISTER,
        "The CP behaves as if the session were offline: every inbound message but Register is "
        "answered 403.",
        "Deterministic 403 on heartbeats, handshakes and data messages.",
    ),
    OverrideMode.REJECT_PAYLOAD_422: ModeInfo(
        Effect.REJECT_422,
        False,
        INBOUND,
        DATA_MESSAGES,
        "The CP rejects the payload of measurement, adjustment and compliance messages with "
        "422 and a forced validation error.",
        "422 with an Error body naming the forced rule; it must not retry the same payload "
        "forever.",
    ),
    OverrideMode.STALE_STATE_503: ModeInfo(
        Effect.STALE_503,
        False,
        INBOUND,
        INBOUND,
        "The CP reports its runtime snapshot as stale and answers every protocol route 503.",
        "503 on every call: transient unavailability; it should retry later without losing data.",
    ),
    OverrideMode.DELAY_RESPONSES: ModeInfo(
        Effect.DELAY,
        False,
        INBOUND,
        INBOUND,
        "The CP processes each inbound message normally but answers only after delay_seconds "
        "(wall time).",
        "Slow answers: with delay_seconds above its timeout it sees timeouts for messages the "
        "CP did process.",
    ),
    OverrideMode.IGNORE_MESSAGES: ModeInfo(
        Effect.IGNORE,
        False,
        INBOUND,
        DATA_MESSAGES,
        "The CP holds the chosen inbound messages unanswered and does not process them.",
        "Its requests time out; nothing it sent takes effect.",
    ),
}


class OverrideSpec(BaseModel):
    """An override as a preset defines it: a mode and how long it lasts once applied."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: OverrideMode
    duration_seconds: float = Field(default=3600.0, gt=0, le=MAX_DURATION_SECONDS)
    message_types: list[str] | None = Field(default=None, max_length=20)
    delay_seconds: float | None = Field(default=None, gt=0, le=MAX_DELAY_SECONDS)
    hold_seconds: float | None = Field(default=None, gt=0, le=MAX_HOLD_SECONDS)


def check_override_spec(spec: OverrideSpec, where: str) -> list[FieldError]:
    return check_parameters(
        spec.mode, spec.message_types, spec.delay_seconds, spec.hold_seconds, where
    )


def check_parameters(
    mode: OverrideMode,
    message_types: Sequence[str] | None,
    delay_seconds: float | None,
    hold_seconds: float | None,
    where: str = "",
) -> list[FieldError]:
    """Every parameter that does not fit the mode."""
    prefix = f"{where}." if where else ""
    info = MODES[mode]
    errors: list[FieldError] = []
    for index, name in enumerate(message_types or []):
        known = normalise(name)
        if known is None or known not in info.applies_to:
            errors.append(
                FieldError(
                    f"{prefix}message_types[{index}]",
                    f"'{name}' is not a message {mode.value} can apply to; choose from "
                    + ", ".join(sorted(info.applies_to)),
                )
            )
    if delay_seconds is not None and info.effect is not Effect.DELAY:
        errors.append(
            FieldError(f"{prefix}delay_seconds", f"applies only to {OverrideMode.DELAY_RESPONSES}")
        )
    if hold_seconds is not None and info.effect is not Effect.IGNORE:
        errors.append(FieldError(f"{prefix}hold_seconds", "applies only to the ignore modes"))
    return errors


@dataclass(frozen=True)
class Override:
    """One applied override."""

    id: str
    session_id: str
    mode: OverrideMode
    message_types: frozenset[str] | None
    delay_seconds: float | None
    hold_seconds: float | None
    until_at: datetime
    source: str
    created_logical_at: datetime

    @property
    def info(self) -> ModeInfo:
        return MODES[self.mode]

    def active_at(self, now: datetime) -> bool:
        return now < self.until_at

    def applies_to(self, message_type: str) -> bool:
        types = self.message_types if self.message_types is not None else self.info.defaults
        return message_type in types


@dataclass(frozen=True)
class Forcing:
    """What the active overrides force for one message."""

    decisive: Override | None
    """The override whose effect decides the answer (by PRECEDENCE), if any."""
    delay: Override | None
    withhold_ack: Override | None
    suppress: Override | None

    @property
    def effect(self) -> Effect | None:
        return self.decisive.info.effect if self.decisive else None

    @property
    def delay_seconds(self) -> float:
        if self.delay is None:
            return 0.0
        return self.delay.delay_seconds or DEFAULT_DELAY_SECONDS

    @property
    def hold_seconds(self) -> float:
        if self.decisive is None:
            return 0.0
        return self.decisive.hold_seconds or DEFAULT_HOLD_SECONDS


NOTHING_FORCED = Forcing(None, None, None, None)


def forcing_for(overrides: Iterable[Override], message_type: str, now: datetime) -> Forcing:
    """Resolve the overrides active at `now` for one message type."""
    matching = [o for o in overrides if o.active_at(now) and o.applies_to(message_type)]
    if not matching:
        return NOTHING_FORCED

    def first(effect: Effect) -> Override | None:
        return next((o for o in matching if o.info.effect is effect), None)

    decisive = next((o for e in PRECEDENCE if (o := first(e)) is not None), None)
    return Forcing(
        decisive, first(Effect.DELAY), first(Effect.WITHHOLD_ACK), first(Effect.SUPPRESS)
    )
