"""How the CP answers one authenticated inbound OSCP message (design §7 Protocol API, §9
"BetterFleet Outbound Message Validation", §10 failure table).

Checks, in order; the first that fails decides the answer:

1. stale runtime snapshot                                          503 (natural)
2. forced effects of active overrides, by precedence:
   stale_state_503 503, lifecycle_mismatch 403, ignore (hold, no processing),
   reject_heartbeat_with_403 403, group_id_mismatch 403, reject_payload_422 422   (forced)
3. lifecycle: the session's state admits the message                403
4. X-Correlation-ID present where the message answers another       422
   and naming what it answers                                       403
5. payload against its OSCP schema (`depotgrid.oscp.messages.parse`) 422, every error stored
6. binding: group_id, measurement publication mode, an active compatible forecast  403
7. message semantics: block end after start, INTERMITTENT measurements carrying
   initial_measure_time, heartbeat_interval in range                 422
8. otherwise accepted                                                204

A `delay_responses` override delays whatever answer results. Authentication (401/403) and
duplicate X-Request-IDs are settled before this, by the service. Pure: facts that need the
database come in through `ForecastFacts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from depotgrid.oscp.enums import MeasurementConfiguration
from depotgrid.oscp.messages import (
    AdjustGroupCapacityForecast,
    EnergyMeasurement,
    ForecastedBlock,
    GroupCapacityComplianceError,
    Handshake,
    HandshakeAcknowledge,
    OscpModel,
    OscpPayloadError,
    RequiredBehaviour,
    UpdateAssetMeasurement,
    UpdateGroupMeasurements,
    parse_json,
)
from depotgrid.oscp.routes import ENDPOINT_MODELS, Endpoint
from depotgrid.sim.projections.oscp_cp.message_types import message_type_for
from depotgrid.sim.projections.oscp_cp.session import (
    LIVE,
    MAX_HEARTBEAT_INTERVAL,
    Session,
    SessionState,
)
from depotgrid.sim.scenarios.overrides import Effect, Forcing, Override


class Outcome(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IGNORED = "ignored"
    INDETERMINATE = "indeterminate"
    FAILED = "failed"
    """Outbound only: no HTTP answer (transport failure)."""


@dataclass(frozen=True)
class Problem:
    """One reason a message was refused; stored as the ledger's validation errors."""

    field: str
    reason: str
    keyword: str = "rule"

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason, "keyword": self.keyword}


@dataclass(frozen=True)
class Answer:
    status: int
    outcome: Outcome
    reason: str | None = None
    problems: tuple[Problem, ...] = ()
    forced: bool = False
    override: Override | None = None
    hold_seconds: float = 0.0
    delay_seconds: float = 0.0
    message: OscpModel | None = field(default=None, compare=False)
    """The parsed message when accepted."""

    def delayed(self, seconds: float, override: Override | None) -> Answer:
        if seconds <= 0:
            return self
        return Answer(
            status=self.status,
            outcome=self.outcome,
            reason=(self.reason + "; " if self.reason else "")
            + f"answer delayed {seconds:g} s by scenario",
            problems=self.problems,
            forced=True,
            override=self.override or override,
            hold_seconds=self.hold_seconds,
            delay_seconds=seconds,
            message=self.message,
        )


ALLOWED_STATES: dict[Endpoint, frozenset[SessionState]] = {
    Endpoint.REGISTER: frozenset(SessionState),
    Endpoint.HANDSHAKE: frozenset(SessionState),
    Endpoint.HANDSHAKE_ACKNOWLEDGE: frozenset({SessionState.AWAITING_HANDSHAKE_ACKNOWLEDGE}),
    Endpoint.HEARTBEAT: LIVE | {SessionState.ACCEPTING_HANDSHAKE},
    Endpoint.UPDATE_GROUP_MEASUREMENTS: LIVE,
    Endpoint.UPDATE_ASSET_MEASUREMENTS: LIVE,
    Endpoint.ADJUST_GROUP_CAPACITY_FORECAST: LIVE,
    Endpoint.GROUP_CAPACITY_COMPLIANCE_ERROR: LIVE,
}
"""Which session states admit each message."""

CORRELATED = frozenset({Endpoint.HANDSHAKE_ACKNOWLEDGE, Endpoint.GROUP_CAPACITY_COMPLIANCE_ERROR})


class ForecastFacts(Protocol):
    """What the rules need to know about the forecasts the CP sent on this session."""

    def was_sent(self, request_id: str) -> bool:
        """A forecast with this X-Request-ID was sent on the session."""
        ...

    def has_active(self, forecast_type: str, group_id: str, now: datetime) -> bool:
        """An accepted forecast of this type and group has a block ending after `now`."""
        ...


@dataclass(frozen=True)
class Inbound:
    endpoint: Endpoint
    body: bytes
    request_id: str
    correlation_id: str | None
    session: Session
    now: datetime
    forcing: Forcing
    stale_reason: str | None
    """Why the runtime snapshot is stale, or None when it is fresh."""

    @property
    def message_type(self) -> str:
        return message_type_for(self.endpoint)


def decide(inbound: Inbound, forecasts: ForecastFacts) -> Answer:
    """The answer to one authenticated, non-duplicate inbound message."""
    answer = _decide(inbound, forecasts)
    return answer.delayed(inbound.forcing.delay_seconds, inbound.forcing.delay)


def _decide(inbound: Inbound, forecasts: ForecastFacts) -> Answer:
    if inbound.stale_reason:
        return Answer(503, Outcome.INDETERMINATE, inbound.stale_reason)
    forced = _forced(inbound)
    if forced is not None:
        return forced
    session = inbound.session
    if session.state not in ALLOWED_STATES[inbound.endpoint]:
        return _refuse(
            403,
            "$",
            f"{inbound.message_type} is not accepted while the session is {session.state.value}",
            "lifecycle",
        )
    correlation = _check_correlation(inbound, forecasts)
    if correlation is not None:
        return correlation
    try:
        message = parse_json(ENDPOINT_MODELS[inbound.endpoint], inbound.body)
    except OscpPayloadError as exc:
        problems = tuple(Problem(e.path, e.message, e.keyword) for e in exc.errors)
        return Answer(422, Outcome.REJECTED, f"invalid {inbound.message_type}", problems)
    refusal = _check_message(inbound, message, forecasts)
    if refusal is not None:
        return refusal
    return Answer(204, Outcome.ACCEPTED, message=message)


def _refuse(status: int, path: str, reason: str, keyword: str) -> Answer:
    return Answer(status, Outcome.REJECTED, reason, (Problem(path, reason, keyword),))


def _forced(inbound: Inbound) -> Answer | None:
    forcing = inbound.forcing
    override = forcing.decisive
    if override is None:
        return None
    mode = override.mode.value
    effect = forcing.effect
    if effect is Effect.STALE_503:
        return Answer(
            503,
            Outcome.INDETERMINATE,
            f"runtime state reported stale by scenario {mode}",
            forced=True,
            override=override,
        )
    if effect is Effect.IGNORE:
        return Answer(
            204,
            Outcome.IGNORED,
            f"ignored by scenario {mode}: held unanswered for up to "
            f"{forcing.hold_seconds:g} s, not processed",
            forced=True,
            override=override,
            hold_seconds=forcing.hold_seconds,
        )
    reasons = {
        Effect.LIFECYCLE_403: (403, "$", "session treated as offline", "lifecycle"),
        Effect.REJECT_403: (403, "$", f"{inbound.message_type} rejected", "forced"),
        Effect.GROUP_403: (403, "$.group_id", "group_id treated as not bound", "binding"),
        Effect.REJECT_422: (422, "$", "payload rejected", "forced"),
    }
    if effect not in reasons:
        return None
    status, path, what, keyword = reasons[effect]
    reason = f"{what} by scenario {mode}"
    return Answer(
        status,
        Outcome.REJECTED,
        reason,
        (Problem(path, reason, keyword),),
        forced=True,
        override=override,
    )


def _check_correlation(inbound: Inbound, forecasts: ForecastFacts) -> Answer | None:
    if inbound.endpoint not in CORRELATED:
        return None
    answered = "Handshake" if inbound.endpoint is Endpoint.HANDSHAKE_ACKNOWLEDGE else "forecast"
    if not inbound.correlation_id:
        return _refuse(
            422,
            "X-Correlation-ID",
            f"required: {inbound.message_type} must carry the X-Request-ID of the {answered} "
            "it answers",
            "header",
        )
    if inbound.endpoint is Endpoint.HANDSHAKE_ACKNOWLEDGE:
        expected = inbound.session.handshake_request_id
        if inbound.correlation_id != expected:
            return _refuse(
                403,
                "X-Correlation-ID",
                f"'{inbound.correlation_id}' does not name the pending Handshake ('{expected}')",
                "correlation",
            )
    elif not forecasts.was_sent(inbound.correlation_id):
        return _refuse(
            403,
            "X-Correlation-ID",
            f"'{inbound.correlation_id}' is not the X-Request-ID of a forecast sent on this "
            "session",
            "correlation",
        )
    return None


def _check_message(inbound: Inbound, message: OscpModel, forecasts: ForecastFacts) -> Answer | None:
    session = inbound.session
    if isinstance(message, Handshake | HandshakeAcknowledge):
        return _check_behaviour(message.required_behaviour)
    if isinstance(message, UpdateGroupMeasurements | UpdateAssetMeasurement):
        wanted = "GROUP" if isinstance(message, UpdateGroupMeasurements) else "ASSET"
        return (
            _check_group(session, message.group_id)
            or _check_mode(session, wanted, inbound.message_type)
            or _check_measurements(session, message)
        )
    if isinstance(message, AdjustGroupCapacityForecast):
        return (
            _check_group(session, message.group_id)
            or _check_blocks(message.forecasted_blocks)
            or _check_active_forecast(inbound, message, forecasts)
        )
    if isinstance(message, GroupCapacityComplianceError):
        return _check_blocks(message.forecasted_blocks or [])
    return None


def _check_behaviour(behaviour: RequiredBehaviour | None) -> Answer | None:
    interval = behaviour.heartbeat_interval if behaviour else None
    if interval is not None and not 1 <= interval <= MAX_HEARTBEAT_INTERVAL:
        return _refuse(
            422,
            "$.required_behaviour.heartbeat_interval",
            f"must be between 1 and {MAX_HEARTBEAT_INTERVAL:g} seconds, got {interval:g}",
            "range",
        )
    return None


def _check_group(session: Session, group_id: str) -> Answer | None:
    if group_id != session.group_id:
        return _refuse(
            403,
            "$.group_id",
            f"group '{group_id}' is not bound to this session (bound: '{session.group_id}')",
            "binding",
        )
    return None


def _check_mode(session: Session, wanted: str, message_type: str) -> Answer | None:
    if session.measurement_publication_mode != wanted:
        return _refuse(
            403,
            "$",
            f"{message_type} does not match the session's measurement publication mode "
            f"{session.measurement_publication_mode}",
            "binding",
        )
    return None


def _check_measurements(
    session: Session, message: UpdateGroupMeasurements | UpdateAssetMeasurement
) -> Answer | None:
    intermittent_only = tuple(session.measurement_configuration) == (
        MeasurementConfiguration.INTERMITTENT.value,
    )
    problems: list[Problem] = []
    energies: list[tuple[str, EnergyMeasurement | None]] = []
    if isinstance(message, UpdateGroupMeasurements):
        energies = [(f"$.measurements[{i}]", m) for i, m in enumerate(message.measurements)]
    else:
        for index, asset in enumerate(message.measurements):
            where = f"$.measurements[{index}]"
            if asset.energy_measurement is None and asset.instantaneous_measurement is None:
                problems.append(
                    Problem(where, "needs energy_measurement or instantaneous_measurement")
                )
            energies.append((f"{where}.energy_measurement", asset.energy_measurement))
    for where, energy in energies:
        if energy is None:
            continue
        if intermittent_only and energy.initial_measure_time is None:
            problems.append(
                Problem(
                    f"{where}.initial_measure_time",
                    "required: the CP asked for INTERMITTENT measurements",
                )
            )
        if energy.initial_measure_time and energy.initial_measure_time > energy.measure_time:
            problems.append(
                Problem(f"{where}.measure_time", "must not be before initial_measure_time")
            )
    if problems:
        return Answer(422, Outcome.REJECTED, problems[0].reason, tuple(problems))
    return None


def _check_blocks(blocks: Sequence[ForecastedBlock]) -> Answer | None:
    problems = tuple(
        Problem(f"$.forecasted_blocks[{index}].end_time", "must be after start_time")
        for index, block in enumerate(blocks)
        if block.end_time <= block.start_time
    )
    if problems:
        return Answer(422, Outcome.REJECTED, "a forecasted block ends before it starts", problems)
    return None


def _check_active_forecast(
    inbound: Inbound, message: AdjustGroupCapacityForecast, forecasts: ForecastFacts
) -> Answer | None:
    if not forecasts.has_active(message.type.value, message.group_id, inbound.now):
        return _refuse(
            403,
            "$.type",
            f"no active {message.type.value} forecast for group '{message.group_id}' to adjust",
            "forecast",
        )
    return None
