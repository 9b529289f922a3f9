"""The UI's forms: what was typed, what is wrong with it, and its conversion into the very
request models the JSON control API validates, so a form accepts exactly what the API accepts.

A refused form is rendered again as typed, each error beside its field in words that say how
to fix it. Errors are keyed by form field; a model path the form has no field for becomes the
form's message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import FormData

from depotgrid.oscp.enums import CapacityForecastType
from depotgrid.sim.api.runs import CommandIn, RunPatch
from depotgrid.sim.api.sessions import ForecastIn, HandshakeIn, PresetIn
from depotgrid.sim.errors import Conflict, ValidationFailed
from depotgrid.sim.projections.oscp_cp.service import ExpectationIn, OverridePatch, SessionIn
from depotgrid.sim.runtime.service import RunIn
from depotgrid.sim.scenarios import forecasts

M = TypeVar("M", bound=BaseModel)


@dataclass
class FormState:
    """One form as typed (every value of every field) with its errors."""

    values: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""

    @classmethod
    def of(cls, form: FormData) -> FormState:
        return cls({name: [str(v) for v in form.getlist(name)] for name in form})

    @property
    def submitted(self) -> bool:
        return bool(self.values)

    def value(self, name: str, default: str = "") -> str:
        """What was typed, or `default` on a fresh form."""
        if not self.submitted:
            return default
        found = self.values.get(name)
        return found[0] if found else ""

    def chosen(self, name: str, default: Iterable[str] = ()) -> list[str]:
        return self.values.get(name, []) if self.submitted else list(default)

    def error(self, name: str) -> str:
        return self.errors.get(name, "")

    def text(self, name: str) -> str | None:
        """The stripped value, None when empty (so the model's default applies)."""
        return self.value(name).strip() or None

    def refused(self, problem: FormInvalid) -> FormState:
        return FormState(self.values, problem.errors, problem.message)


class FormInvalid(Exception):
    """A form that cannot be accepted as typed."""

    def __init__(self, errors: Mapping[str, str], message: str = "", status: int = 422) -> None:
        super().__init__(message or "; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)
        self.message = message
        self.status = status


REFUSALS = (FormInvalid, ValidationFailed, Conflict)
"""What a submitted form can be refused with: its own checks, the domain's, or a clash with
the current state (a command the run's or session's state does not allow)."""


def refusal(
    exc: FormInvalid | ValidationFailed | Conflict, fields: Mapping[str, str]
) -> FormInvalid:
    """Any refusal as errors beside the fields (422), or as the form's message (409)."""
    if isinstance(exc, FormInvalid):
        return exc
    if isinstance(exc, Conflict):
        return FormInvalid({}, exc.message, status=409)
    return invalid(((e.field, e.reason) for e in exc.errors), fields)


def _field_for(path: str, fields: Mapping[str, str]) -> str | None:
    """The form field a model path (`forecasted_blocks[0].end_time`) belongs to."""
    candidate = re.sub(r"\[\d+\]", "", path)
    while candidate:
        if candidate in fields:
            return fields[candidate]
        candidate = candidate.rpartition(".")[0]
    return None


def invalid(problems: Iterable[tuple[str, str]], fields: Mapping[str, str]) -> FormInvalid:
    errors: dict[str, str] = {}
    unplaced: list[str] = []
    for path, reason in problems:
        name = _field_for(path, fields)
        if name is None:
            unplaced.append(f"{path}: {reason}" if path else reason)
        else:
            errors.setdefault(name, reason)
    return FormInvalid(errors, "; ".join(unplaced))


def build(model: type[M], data: Mapping[str, Any], fields: Mapping[str, str]) -> M:
    """Validate `data` (model paths -> typed text; None = not given) as `model`."""
    given = {k: v for k, v in data.items() if v is not None}
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        raise invalid(((_path(e["loc"]), _reason(e)) for e in exc.errors()), fields) from None


def _path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


_REASONS = {
    "missing": "required: fill this in",
    "float_parsing": "enter a number, e.g. 5 or 2.5",
    "float_type": "enter a number, e.g. 5 or 2.5",
    "int_parsing": "enter a whole number, e.g. 4",
    "int_from_float": "enter a whole number, e.g. 4",
    "enum": "choose one of the listed options",
    "literal_error": "choose one of the listed options",
    "datetime_parsing": "enter a date and time (UTC), e.g. 2025-01-31 14:00",
    "datetime_from_date_parsing": "enter a date and time (UTC), e.g. 2025-01-31 14:00",
    "string_pattern_mismatch": "must not contain spaces or unusual characters",
    "url_parsing": "enter an absolute http(s) URL",
}


def _reason(error: ErrorDetails) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    bounds = {
        "greater_than_equal": ("must be at least", "ge"),
        "greater_than": ("must be more than", "gt"),
        "less_than_equal": ("must be at most", "le"),
        "less_than": ("must be less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        bound = ctx[key]
        return f"{words} {bound:g}" if isinstance(bound, int | float) else f"{words} {bound}"
    if kind == "string_too_short":
        return _REASONS["missing"] if ctx.get("min_length") == 1 else error["msg"].lower()
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    if kind in _REASONS:
        return _REASONS[kind]
    return error["msg"].removeprefix("Value error, ")


def utc(raw: str | None) -> str | None:
    """A `datetime-local` value (no zone) read as UTC, the zone every sim page shows."""
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _same(*names: str) -> dict[str, str]:
    return {name: name for name in names}


# --- runs ---------------------------------------------------------------------------------

RUN_FIELDS = {
    "configuration_id": "configuration",
    "configuration_version": "configuration",
    **_same("name", "speed_factor", "tick_seconds", "start_time"),
}


def run_in(form: FormState) -> RunIn:
    configuration = form.text("configuration")
    if configuration is None:
        raise FormInvalid({"configuration": "choose a configuration and version"})
    configuration_id, _, version = configuration.rpartition("@")
    data = {
        "configuration_id": configuration_id,
        "configuration_version": version,
        "name": form.text("name"),
        "speed_factor": form.text("speed_factor"),
        "tick_seconds": form.text("tick_seconds"),
        "start_time": utc(form.text("start_time")),
    }
    return build(RunIn, data, RUN_FIELDS)


SPEED_FIELDS = _same("speed_factor")
TICK_FIELDS = _same("seconds")


def speed(form: FormState) -> float:
    return build(RunPatch, {"speed_factor": form.text("speed_factor")}, SPEED_FIELDS).speed_factor


def tick_seconds(form: FormState) -> float | None:
    return build(CommandIn, {"seconds": form.text("seconds")}, TICK_FIELDS).seconds


# --- sessions -----------------------------------------------------------------------------

SESSION_FIELDS = _same(
    "managed_scope_id",
    "betterfleet_base_url",
    "remote_configuration_id",
    "group_id",
    "scenario_preset",
    "fp_token",
    "heartbeat_interval_seconds",
    "measurement_configuration",
)


def session_in(form: FormState) -> SessionIn:
    data: dict[str, Any] = {name: form.text(name) for name in SESSION_FIELDS}
    data["measurement_configuration"] = form.chosen("measurement_configuration") or None
    return build(SessionIn, data, SESSION_FIELDS)


HANDSHAKE_FIELDS = _same(
    "heartbeat_interval_seconds", "ack_timeout_seconds", "measurement_configuration"
)


def handshake_in(form: FormState) -> HandshakeIn:
    data: dict[str, Any] = {name: form.text(name) for name in HANDSHAKE_FIELDS}
    data["measurement_configuration"] = form.chosen("measurement_configuration") or None
    return build(HandshakeIn, data, HANDSHAKE_FIELDS)


class ForecastForm(BaseModel):
    """The send-forecast form: a forecast type and a profile that yields its blocks."""

    type: CapacityForecastType
    profile: forecasts.Profile


FORECAST_FIELDS = {
    "type": "type",
    **{f"profile.{name}": name for name in ("capacity", "unit", "phase", "start")},
    "profile.block_minutes": "block_minutes",
    "profile.block_count": "block_count",
    "profile.variation.kind": "variation",
    "profile.variation.at_block": "at_block",
    "profile.variation.capacity": "variation_capacity",
    "profile.variation.gap_blocks": "gap_blocks",
    "profile": "variation",
}


def forecast_in(form: FormState, logical_now: datetime) -> ForecastIn:
    """The blocks the profile yields when sent at the run's logical now."""
    variation = {
        "kind": form.text("variation"),
        "at_block": form.text("at_block"),
        "capacity": form.text("variation_capacity"),
        "gap_blocks": form.text("gap_blocks"),
    }
    profile = {
        "capacity": form.text("capacity"),
        "unit": form.text("unit"),
        "phase": form.text("phase"),
        "block_minutes": form.text("block_minutes"),
        "block_count": form.text("block_count"),
        "start": utc(form.text("start")),
        "variation": {k: v for k, v in variation.items() if v is not None},
    }
    typed = build(
        ForecastForm,
        {"type": form.text("type"), "profile": {k: v for k, v in profile.items() if v}},
        FORECAST_FIELDS,
    )
    return ForecastIn(
        type=forecasts.forecast_type(typed.type, typed.profile),
        forecasted_blocks=forecasts.blocks_for(typed.profile, logical_now),
    )


# --- scenarios ----------------------------------------------------------------------------

OVERRIDE_FIELDS = _same(
    "mode", "until", "duration_seconds", "message_types", "delay_seconds", "hold_seconds"
)


def override_patch(form: FormState) -> OverridePatch:
    """Apply one override: bounded by `until` when given, else by a duration."""
    until = utc(form.text("until"))
    data = {
        "mode": form.text("mode"),
        "until": until,
        "duration_seconds": None if until else form.text("duration_seconds"),
        "message_types": form.chosen("message_types") or None,
        "delay_seconds": form.text("delay_seconds"),
        "hold_seconds": form.text("hold_seconds"),
    }
    if data["mode"] is None:
        raise FormInvalid({"mode": "choose the behaviour to force"})
    if until is None and data["duration_seconds"] is None:
        raise FormInvalid({"duration_seconds": "give a duration, or an end time in Until"})
    return build(OverridePatch, data, OVERRIDE_FIELDS)


def clear_patch(mode: str) -> OverridePatch:
    """Clear one mode's override, or every override with `none`."""
    return build(OverridePatch, {"mode": mode, "clear": mode != "none"}, {})


PRESET_FIELDS = _same("preset")


def preset_in(form: FormState) -> PresetIn:
    return build(PresetIn, {"preset": form.text("preset")}, PRESET_FIELDS)


EXPECTATION_FIELDS = _same(
    "message_type", "polarity", "within_seconds", "correlated_to", "outcome", "description"
)


def expectation_in(form: FormState) -> ExpectationIn:
    data = {name: form.text(name) for name in EXPECTATION_FIELDS}
    data["requires_online"] = "true" if form.value("requires_online") else "false"
    return build(ExpectationIn, data, EXPECTATION_FIELDS)
