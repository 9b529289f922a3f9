"""OSCP Capacity Provider Service, control side (design §5, §7 Control API): sessions, their
overrides and presets, expectations and forecast plans. Every command checks everything before
it writes; a refused command changes nothing.

Protocol handling lives in `protocol.py`, outbound delivery in `outbound.py`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from depotgrid.common.ids import new_id
from depotgrid.oscp.enums import CapacityForecastType, MeasurementConfiguration
from depotgrid.oscp.messages import ForecastedBlock
from depotgrid.sim.configuration.model import MeasurementPublicationMode
from depotgrid.sim.errors import Conflict, FieldError, NotFound, ValidationFailed
from depotgrid.sim.projections.oscp_cp import message_types
from depotgrid.sim.projections.oscp_cp.effects import save_session
from depotgrid.sim.projections.oscp_cp.ledger import OUTBOUND
from depotgrid.sim.projections.oscp_cp.repository import (
    ExpectationRecord,
    ForecastPlan,
    SessionSecrets,
    token_hash,
)
from depotgrid.sim.projections.oscp_cp.session import (
    DEFAULT_ACK_TIMEOUT_SECONDS,
    MAX_HEARTBEAT_INTERVAL,
    RegistrationState,
    Session,
    SessionState,
    go_offline,
)
from depotgrid.sim.runtime.repository import RunRecord
from depotgrid.sim.runtime.run import RunState
from depotgrid.sim.runtime.service import Runtime
from depotgrid.sim.scenarios import forecasts
from depotgrid.sim.scenarios.expectations import Expectation, ExpectationStatus, Polarity
from depotgrid.sim.scenarios.overrides import (
    MAX_DELAY_SECONDS,
    MAX_DURATION_SECONDS,
    MAX_HOLD_SECONDS,
    Override,
    OverrideMode,
    check_parameters,
)
from depotgrid.sim.unit_of_work import SimUnitOfWork

Token = Annotated[str, Field(min_length=16, max_length=500, pattern=r"^\S+$")]


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class OAuthIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=200)
    client_secret: str = Field(min_length=16, max_length=500)
    token_ttl_seconds: int = Field(default=300, ge=1, le=86400)


class SessionIn(BaseModel):
    """Body of `POST /simulation-runs/{id}/oscp-sessions` (design §7)."""

    model_config = ConfigDict(extra="forbid")

    managed_scope_id: str = Field(min_length=1, max_length=200)
    betterfleet_base_url: str = Field(min_length=1, max_length=2000)
    remote_configuration_id: str = Field(min_length=1, max_length=200)
    group_id: str | None = Field(default=None, min_length=1, max_length=200)
    measurement_publication_mode: MeasurementPublicationMode | None = None
    measurement_configuration: Annotated[
        list[MeasurementConfiguration] | None, BeforeValidator(_one_or_many)
    ] = None
    scenario_preset: str | None = Field(default=None, min_length=1, max_length=200)
    fp_token: Token | None = Field(
        default=None, description="The token the FP issued to this CP (sent on outbound calls)."
    )
    cp_token: Token | None = Field(
        default=None, description="The token the CP issues to the FP; generated when omitted."
    )
    heartbeat_interval_seconds: float | None = Field(
        default=None, ge=1, le=MAX_HEARTBEAT_INTERVAL, description="Heartbeats required of the FP."
    )
    handshake_ack_timeout_seconds: float = Field(
        default=DEFAULT_ACK_TIMEOUT_SECONDS, gt=0, le=24 * 3600
    )
    oauth: OAuthIn | None = None


def _known_mode(value: str) -> str:
    if value != "none" and value not in {m.value for m in OverrideMode}:
        raise ValueError(
            "unknown mode; choose none or one of " + ", ".join(m.value for m in OverrideMode)
        )
    return value


class OverridePatch(BaseModel):
    """Body of `PATCH .../overrides`: apply one override, or clear (§7)."""

    model_config = ConfigDict(extra="forbid")

    mode: Annotated[str, AfterValidator(_known_mode)]
    until: AwareDatetime | None = None
    duration_seconds: float | None = Field(default=None, gt=0, le=MAX_DURATION_SECONDS)
    message_types: list[str] | None = Field(default=None, max_length=20)
    delay_seconds: float | None = Field(default=None, gt=0, le=MAX_DELAY_SECONDS)
    hold_seconds: float | None = Field(default=None, gt=0, le=MAX_HOLD_SECONDS)
    clear: bool = Field(default=False, description="Clear this mode instead of applying it.")


class ExpectationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_type: str = Field(min_length=1, max_length=60)
    polarity: Polarity = Polarity.RECEIVE
    within_seconds: float = Field(gt=0, le=30 * 24 * 3600)
    correlated_to: str | None = Field(
        default=None,
        max_length=200,
        description="A forecast plan id, an outbound ledger entry id or an X-Request-ID.",
    )
    outcome: Literal["accepted", "rejected", "ignored"] | None = None
    requires_online: bool = True
    description: str = Field(default="", max_length=500)


class ForecastPlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: CapacityForecastType = CapacityForecastType.CONSUMPTION
    mode: Literal["manual", "scheduled"] = "manual"
    forecasted_blocks: list[ForecastedBlock] | None = Field(default=None, min_length=1)
    profile: forecasts.Profile | None = None
    send_at: AwareDatetime | None = Field(default=None, description="Logical time (scheduled).")
    send_in_seconds: float | None = Field(default=None, ge=0, le=30 * 24 * 3600)
    repeat_every_seconds: float | None = Field(default=None, ge=1, le=30 * 24 * 3600)

    @model_validator(mode="after")
    def _shape(self) -> ForecastPlanIn:
        if (self.forecasted_blocks is None) == (self.profile is None):
            raise ValueError("give exactly one of forecasted_blocks or profile")
        if self.mode == "manual" and (
            self.send_at or self.send_in_seconds is not None or self.repeat_every_seconds
        ):
            raise ValueError(
                "send_at, send_in_seconds and repeat_every_seconds need mode scheduled"
            )
        if self.repeat_every_seconds and self.profile is None:
            raise ValueError(
                "a repeating plan needs a profile (fixed blocks would repeat stale times)"
            )
        return self


@dataclass(frozen=True)
class CreatedSession:
    session: Session
    cp_token: str
    oauth_client_secret: str | None


def _url_errors(url: str) -> list[FieldError]:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return [
            FieldError(
                "betterfleet_base_url",
                "must be an absolute http(s) URL, e.g. http://manage:8000/oscp/fp/2.0",
            )
        ]
    return []


class SessionService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    # --- lookups --------------------------------------------------------------------------

    def run(self, uow: SimUnitOfWork, run_id: str) -> RunRecord:
        record = uow.runs.get(run_id)
        if record is None:
            raise NotFound("simulation run", run_id)
        return record

    def session(self, uow: SimUnitOfWork, run_id: str, session_id: str) -> Session:
        session = uow.sessions.get(session_id)
        if session is None or session.run_id != run_id:
            raise NotFound("OSCP session", session_id)
        return session

    # --- sessions -------------------------------------------------------------------------

    def create(
        self, uow: SimUnitOfWork, run_id: str, body: SessionIn, wall: datetime
    ) -> CreatedSession:
        record = self.run(uow, run_id)
        if record.run.state is RunState.STOPPED:
            raise Conflict("the run is stopped; create a new run", "RUN_STOPPED")
        document = self.runtime.document(uow, record.run)
        errors = _url_errors(body.betterfleet_base_url)
        scope = document.scope(body.managed_scope_id)
        binding = document.oscp_binding(body.managed_scope_id)
        if scope is None:
            known = ", ".join(s.id for s in document.managed_scopes) or "none defined"
            errors.append(
                FieldError(
                    "managed_scope_id",
                    f"scope '{body.managed_scope_id}' is not in configuration "
                    f"{record.run.configuration_id} v{record.run.configuration_version} "
                    f"(scopes: {known})",
                )
            )
        group_id = body.group_id or (binding.group_id if binding else None)
        if group_id is None and scope is not None:
            errors.append(
                FieldError(
                    "group_id",
                    f"required: scope '{body.managed_scope_id}' has no OSCP binding to take a "
                    "default from",
                )
            )
        preset_name = body.scenario_preset or (
            binding.default_scenario_preset if binding else "connected_baseline"
        )
        preset = document.preset(preset_name)
        if preset is None:
            errors.append(
                FieldError(
                    "scenario_preset",
                    f"preset '{preset_name}' does not exist; choose one of "
                    + ", ".join(document.preset_names()),
                )
            )
        configurations = body.measurement_configuration or (
            list(binding.measurement_configuration)
            if binding
            else [MeasurementConfiguration.INTERMITTENT]
        )
        if len(set(configurations)) != len(configurations):
            errors.append(FieldError("measurement_configuration", "values must differ"))
        if errors:
            raise ValidationFailed(errors)
        assert group_id is not None and preset is not None
        if uow.sessions.exists_for(run_id, body.remote_configuration_id):
            raise Conflict(
                f"run {run_id} already has a session for remote configuration "
                f"{body.remote_configuration_id}",
                "DUPLICATE_SESSION",
            )
        if body.oauth and uow.sessions.by_oauth_client(body.oauth.client_id):
            raise Conflict(
                f"OAuth client id {body.oauth.client_id} is used by another session",
                "DUPLICATE_OAUTH_CLIENT",
            )
        cp_token = body.cp_token or secrets.token_urlsafe(32)
        if uow.sessions.by_token_hash(token_hash(cp_token)) is not None:
            raise Conflict("cp_token is already used by another session", "DUPLICATE_TOKEN")
        now = record.run.logical_at(wall)
        mode = body.measurement_publication_mode or (
            binding.measurement_publication_mode if binding else MeasurementPublicationMode.GROUP
        )
        session = Session(
            id=new_id(),
            run_id=run_id,
            managed_scope_id=body.managed_scope_id,
            remote_configuration_id=body.remote_configuration_id,
            group_id=group_id,
            fp_base_url=body.betterfleet_base_url.rstrip("/"),
            measurement_publication_mode=mode.value,
            measurement_configuration=tuple(c.value for c in configurations),
            scenario_preset=preset.name,
            state=SessionState.OFFLINE,
            state_reason="created; no handshake yet",
            state_changed_at=now,
            registration_state=(
                RegistrationState.REGISTERED if body.fp_token else RegistrationState.UNREGISTERED
            ),
            registration_request_id=None,
            fp_token=body.fp_token,
            oauth_client_id=body.oauth.client_id if body.oauth else None,
            oauth_token_ttl_seconds=body.oauth.token_ttl_seconds if body.oauth else 300,
            fp_heartbeat_interval=body.heartbeat_interval_seconds,
            cp_heartbeat_interval=None,
            fp_required_measurement_configuration=None,
            handshake_request_id=None,
            handshake_deadline_at=None,
            handshake_ack_timeout_seconds=body.handshake_ack_timeout_seconds,
            next_heartbeat_at=None,
            last_heartbeat_sent_at=None,
            last_heartbeat_received_at=None,
            peer_offline_at=None,
            consecutive_failures=0,
            last_forecast=None,
            version=1,
        )
        uow.sessions.add(
            session,
            SessionSecrets(
                cp_token_hash=token_hash(cp_token),
                previous_cp_token_hash=None,
                oauth_secret_hash=token_hash(body.oauth.client_secret) if body.oauth else None,
            ),
            wall,
        )
        uow.events.append(
            "OscpProviderSessionAttached",
            {
                "remote_configuration_id": session.remote_configuration_id,
                "managed_scope_id": session.managed_scope_id,
                "group_id": session.group_id,
                "scenario_preset": session.scenario_preset,
            },
            run_id=run_id,
            session_id=session.id,
            logical_at=now,
            now=wall,
        )
        self._apply_preset(uow, session, preset.name, now, wall, document_preset=preset)
        return CreatedSession(session, cp_token, body.oauth.client_secret if body.oauth else None)

    def on_run_stopped(self, uow: SimUnitOfWork, run_id: str, wall: datetime) -> None:
        """SimulationRunStopped: every session of the run goes offline (history kept)."""
        record = self.run(uow, run_id)
        now = record.run.logical_at(wall)
        for session in uow.sessions.for_run(run_id):
            if session.state is not SessionState.OFFLINE:
                save_session(
                    uow, session, go_offline(session, now, "run stopped"), logical=now, wall=wall
                )

    # --- overrides and presets ------------------------------------------------------------

    def patch_overrides(
        self, uow: SimUnitOfWork, run_id: str, session_id: str, body: OverridePatch, wall: datetime
    ) -> tuple[str, list[Override]]:
        record = self.run(uow, run_id)
        session = self.session(uow, run_id, session_id)
        now = record.run.logical_at(wall)
        if body.mode == "none":
            uow.overrides.end(session.id, now, "cleared")
            self._event(uow, session, "OscpScenarioOverrideCleared", {"mode": "all"}, now, wall)
            return "cleared", self.active_overrides(uow, session, now)
        mode = OverrideMode(body.mode)
        if body.clear:
            ended = uow.overrides.end(session.id, now, "cleared", [mode.value])
            if not ended:
                raise NotFound("active override", mode.value)
            self._event(
                uow, session, "OscpScenarioOverrideCleared", {"mode": mode.value}, now, wall
            )
            return "cleared", self.active_overrides(uow, session, now)
        errors = check_parameters(mode, body.message_types, body.delay_seconds, body.hold_seconds)
        if body.until is None and body.duration_seconds is None:
            errors.append(
                FieldError(
                    "until", "required: overrides are time-bounded; give until or duration_seconds"
                )
            )
        if body.until is not None and body.duration_seconds is not None:
            errors.append(FieldError("until", "give until or duration_seconds, not both"))
        until = body.until or now + timedelta(seconds=body.duration_seconds or 0)
        if body.until is not None and body.until <= now:
            errors.append(
                FieldError(
                    "until",
                    f"must be after the run's logical time {now.isoformat()} (overrides are "
                    "bounded by logical time)",
                )
            )
        if errors:
            raise ValidationFailed(errors)
        self._add_override(
            uow,
            session,
            mode,
            until=until,
            message_types=body.message_types,
            delay_seconds=body.delay_seconds,
            hold_seconds=body.hold_seconds,
            source="manual",
            now=now,
            wall=wall,
        )
        return "active", self.active_overrides(uow, session, now)

    def apply_preset(
        self, uow: SimUnitOfWork, run_id: str, session_id: str, name: str, wall: datetime
    ) -> list[Override]:
        record = self.run(uow, run_id)
        session = self.session(uow, run_id, session_id)
        document = self.runtime.document(uow, record.run)
        if document.preset(name) is None:
            raise ValidationFailed.single(
                "preset",
                f"preset '{name}' does not exist; choose one of "
                + ", ".join(document.preset_names()),
            )
        now = record.run.logical_at(wall)
        uow.overrides.end(session.id, now, "replaced")
        self._apply_preset(uow, session, name, now, wall, document_preset=document.preset(name))
        if session.scenario_preset != name:
            uow.sessions.save(replace(session, scenario_preset=name), wall)
        return self.active_overrides(uow, session, now)

    def active_overrides(
        self, uow: SimUnitOfWork, session: Session, now: datetime
    ) -> list[Override]:
        return [o for o in uow.overrides.open(session.id) if o.active_at(now)]

    def _apply_preset(
        self,
        uow: SimUnitOfWork,
        session: Session,
        name: str,
        now: datetime,
        wall: datetime,
        *,
        document_preset: Any,
    ) -> None:
        for spec in document_preset.overrides:
            self._add_override(
                uow,
                session,
                spec.mode,
                until=now + timedelta(seconds=spec.duration_seconds),
                message_types=spec.message_types,
                delay_seconds=spec.delay_seconds,
                hold_seconds=spec.hold_seconds,
                source=f"preset:{name}",
                now=now,
                wall=wall,
            )
        self._event(uow, session, "OscpScenarioPresetApplied", {"preset": name}, now, wall)

    def _add_override(
        self,
        uow: SimUnitOfWork,
        session: Session,
        mode: OverrideMode,
        *,
        until: datetime,
        message_types: Sequence[str] | None,
        delay_seconds: float | None,
        hold_seconds: float | None,
        source: str,
        now: datetime,
        wall: datetime,
    ) -> None:
        uow.overrides.end(session.id, now, "replaced", [mode.value])
        types = (
            frozenset(message_types_normalised(message_types))
            if message_types is not None
            else None
        )
        override = Override(
            id=new_id(),
            session_id=session.id,
            mode=mode,
            message_types=types,
            delay_seconds=delay_seconds,
            hold_seconds=hold_seconds,
            until_at=until,
            source=source,
            created_logical_at=now,
        )
        uow.overrides.add(override, wall)
        self._event(
            uow,
            session,
            "OscpScenarioOverrideApplied",
            {"mode": mode.value, "until": until.isoformat(), "source": source},
            now,
            wall,
        )

    # --- expectations ---------------------------------------------------------------------

    def add_expectation(
        self, uow: SimUnitOfWork, run_id: str, session_id: str, body: ExpectationIn, wall: datetime
    ) -> ExpectationRecord:
        record = self.run(uow, run_id)
        session = self.session(uow, run_id, session_id)
        now = record.run.logical_at(wall)
        message_type = message_types.normalise(body.message_type)
        errors: list[FieldError] = []
        if message_type is None or message_type not in message_types.INBOUND:
            errors.append(
                FieldError(
                    "message_type",
                    f"'{body.message_type}' is not a message the FP sends to the CP; choose from "
                    + ", ".join(sorted(message_types.INBOUND)),
                )
            )
        correlation_id = None
        if body.correlated_to is not None:
            correlation_id = self._correlation_for(uow, session, body.correlated_to)
            if correlation_id is None:
                errors.append(
                    FieldError(
                        "correlated_to",
                        f"'{body.correlated_to}' is no forecast plan, outbound ledger entry or "
                        "X-Request-ID of this session",
                    )
                )
        if errors:
            raise ValidationFailed(errors)
        assert message_type is not None
        expectation = Expectation(
            id=new_id(),
            polarity=body.polarity,
            message_type=message_type,
            correlation_id=correlation_id,
            required_outcome=body.outcome,
            requires_online=body.requires_online,
            window_start_at=now,
            deadline_at=now + timedelta(seconds=body.within_seconds),
            status=ExpectationStatus.PENDING,
        )
        description = body.description or _describe(expectation)
        uow.expectations.add(session.id, expectation, description, wall)
        self._event(
            uow,
            session,
            "OscpMessageExpectationRaised",
            {"expectation_id": expectation.id, "description": description},
            now,
            wall,
        )
        found = uow.expectations.get(session.id, expectation.id)
        assert found is not None
        return found

    def _correlation_for(self, uow: SimUnitOfWork, session: Session, ref: str) -> str | None:
        """The X-Request-ID a reference names: a plan's last send, an outbound entry, or itself."""
        plan = uow.plans.get(session.id, ref)
        if plan is not None:
            return plan.last_request_id
        entry = uow.ledger.get(ref)
        if entry is not None and entry.session_id == session.id and entry.direction == OUTBOUND:
            return entry.request_id
        return ref if uow.ledger.outbound_request(session.id, ref) is not None else None

    # --- forecast plans -------------------------------------------------------------------

    def add_plan(
        self, uow: SimUnitOfWork, run_id: str, session_id: str, body: ForecastPlanIn, wall: datetime
    ) -> ForecastPlan:
        record = self.run(uow, run_id)
        session = self.session(uow, run_id, session_id)
        now = record.run.logical_at(wall)
        if body.forecasted_blocks:
            check_blocks(body.forecasted_blocks)
        due: datetime | None = None
        if body.mode == "scheduled":
            due = body.send_at or now + timedelta(seconds=body.send_in_seconds or 0)
        plan = ForecastPlan(
            id=new_id(),
            session_id=session.id,
            mode=body.mode,
            status="scheduled" if body.mode == "scheduled" else "ready",
            spec=body.model_dump(mode="json", exclude_none=True),
            due_at=due,
            repeat_every_seconds=body.repeat_every_seconds,
            occurrences=0,
            last_ledger_entry_id=None,
            last_request_id=None,
            last_delivery_status=None,
            last_sent_at=None,
            reason=None,
            created_at=wall,
            updated_at=wall,
        )
        uow.plans.add(plan)
        return plan

    def cancel_plan(
        self, uow: SimUnitOfWork, run_id: str, session_id: str, plan_id: str, wall: datetime
    ) -> ForecastPlan:
        session = self.session(uow, run_id, session_id)
        plan = uow.plans.get(session.id, plan_id)
        if plan is None:
            raise NotFound("forecast plan", plan_id)
        if plan.status == "cancelled":
            return plan
        uow.plans.update(plan.id, status="cancelled", updated_at=wall, reason="cancelled")
        found = uow.plans.get(session.id, plan_id)
        assert found is not None
        return found

    def _event(
        self,
        uow: SimUnitOfWork,
        session: Session,
        event_type: str,
        data: dict[str, Any],
        now: datetime,
        wall: datetime,
    ) -> None:
        uow.events.append(
            event_type, data, run_id=session.run_id, session_id=session.id, logical_at=now, now=wall
        )


def message_types_normalised(names: Sequence[str]) -> list[str]:
    return [message_types.normalise(name) or name for name in names]


def check_blocks(blocks: Sequence[ForecastedBlock], field: str = "forecasted_blocks") -> None:
    """The sender's side of PROTOCOL.md §8.6: every block must end after it starts."""
    errors = [
        FieldError(f"{field}[{index}].end_time", "must be after start_time")
        for index, block in enumerate(blocks)
        if block.end_time <= block.start_time
    ]
    if errors:
        raise ValidationFailed(errors)


def _describe(expectation: Expectation) -> str:
    seconds = (expectation.deadline_at - expectation.window_start_at).total_seconds()
    verb = "a" if expectation.polarity is Polarity.RECEIVE else "no"
    text = f"{verb} {expectation.message_type} within {seconds:g} s"
    if expectation.correlation_id:
        text += f" correlated to {expectation.correlation_id}"
    if expectation.required_outcome:
        text += f" ({expectation.required_outcome})"
    return text
