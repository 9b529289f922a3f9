"""OSCP 2.0 message and shared-type models (pydantic v2), and parsing of wire payloads.

Implements the payloads of PROTOCOL.md §2 (Register, VersionUrl), §3 (Handshake,
HandshakeAcknowledge, RequiredBehaviour), §4 (Heartbeat) and §5 (forecasts, compliance error,
measurements), plus the `Error` body of §1 and the unused `PaginatedRequest`.

    CP (or CO)                                   FP
      |-- register (Token A) --------------------->|  204, then the reply:
      |<------------------- register (Token B) ----|  204
      |-- handshake {required_behaviour} --------->|  204, then later:
      |<-------- handshake_acknowledge ------------|  X-Correlation-ID = the handshake's id
      |<------------------------- heartbeat ------>|  both ways, {offline_mode_at}
      |-- update_group_capacity_forecast --------->|  CONSUMPTION / GENERATION / FALLBACK_* ...
      |<------- adjust_group_capacity_forecast ----|
      |<------- group_capacity_compliance_error ---|  X-Correlation-ID = the forecast's id
      |<------- update_group_measurements ---------|  (or update_asset_measurements)

Rules:
- Every model is named exactly as its schema's `title` and its fields are the wire names. The one
  title that differs from its endpoint, `UpdateAssetMeasurement`, also has the alias
  `UpdateAssetMeasurements`.
- Models hold what the schema allows and no more: `capacity >= 0`, non-empty forecast and version
  lists, distinct measurement configurations, finite numbers. Protocol rules beyond the schema
  (`end_time > start_time`, `heartbeat_interval >= 1`, overlapping blocks) belong to the receiving
  service, which answers them with its own status codes.
- Date-times are timezone-aware, kept in UTC, and written as RFC 3339 with `Z`.
- `to_wire()` is `model_dump(mode="json", exclude_none=True)`; for a model built from valid
  values it validates against the schema (the tests check every model, with Hypothesis for the
  forecast and measurement messages). The one exception is an empty `measurements` list, which
  receivers accept (PROTOCOL.md §5, §8.11) but `checked_wire()` refuses to send: send a zero value.
- `parse()` checks the JSON Schema first, so errors name wire paths, then builds the model; every
  failure is one `OscpPayloadError` carrying the full list.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, TypeVar, overload

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
)

from depotgrid.oscp import schemas
from depotgrid.oscp.enums import (
    AssetCategory,
    CapacityForecastType,
    EnergyFlowDirection,
    EnergyMeasurementUnit,
    EnergyType,
    ForecastedBlockUnit,
    InstantaneousMeasurementUnit,
    MeasurementConfiguration,
    PhaseIndicator,
)
from depotgrid.oscp.schemas import SchemaError, json_path

RECEIVE_TOLERANCES: frozenset[tuple[str, str, str]] = frozenset(
    {
        ("UpdateGroupMeasurements", "$.measurements", "minItems"),
        ("UpdateAssetMeasurement", "$.measurements", "minItems"),
    }
)
"""(title, path, keyword) schema errors that `parse` forgives on receipt (PROTOCOL.md §8.11)."""


def format_datetime(value: datetime) -> str:
    """RFC 3339 in UTC with `Z`, e.g. `2026-04-02T10:15:00Z` (fractions only when non-zero)."""
    if value.tzinfo is None:
        raise ValueError("OSCP date-times must be timezone-aware")
    return value.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


def _as_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("date-time is out of range once converted to UTC") from exc


def _upper_text(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _finite(value: float) -> float:
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("number must be finite")
    return value


def _non_negative(value: float) -> float:
    if value < 0:
        raise ValueError("number must be greater than or equal to 0")
    return value


UtcDateTime = Annotated[
    AwareDatetime,
    BeforeValidator(_upper_text),
    AfterValidator(_as_utc),
    PlainSerializer(format_datetime, return_type=str, when_used="json"),
]
"""A timezone-aware instant, normalised to UTC, written as RFC 3339 with `Z`."""

Number = Annotated[int | float, AfterValidator(_finite)]
"""A JSON number; integers stay integers on the wire."""

NonNegativeNumber = Annotated[int | float, AfterValidator(_finite), AfterValidator(_non_negative)]


class OscpModel(BaseModel):
    """Base of every OSCP 2.0 payload model."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)

    schema_title: ClassVar[str]
    """The `title` of the JSON Schema this model mirrors."""

    def to_wire(self) -> dict[str, Any]:
        """The JSON payload: wire names, enums as strings, date-times as RFC 3339 `Z`."""
        return self.model_dump(mode="json", exclude_none=True)


# --- shared types ------------------------------------------------------------------------------


class VersionUrl(OscpModel):
    schema_title: ClassVar[str] = "VersionUrl"

    version: str
    base_url: str


class RequiredBehaviour(OscpModel):
    """What the sender of a Handshake or acknowledgement requires of the receiver (§3)."""

    schema_title: ClassVar[str] = "RequiredBehaviour"

    heartbeat_interval: Number | None = None
    """Seconds between the heartbeats the sender wants; absent means no heartbeats wanted."""
    measurement_configuration: list[MeasurementConfiguration] = Field(default_factory=list)
    """How the sender wants measurements aggregated; empty means no preference."""

    @field_validator("measurement_configuration")
    @classmethod
    def _distinct(cls, value: list[MeasurementConfiguration]) -> list[MeasurementConfiguration]:
        if len(set(value)) != len(value):
            raise ValueError("measurement configurations must be distinct")
        return value


class ForecastedBlock(OscpModel):
    schema_title: ClassVar[str] = "ForecastedBlock"

    capacity: NonNegativeNumber
    phase: PhaseIndicator
    unit: ForecastedBlockUnit
    start_time: UtcDateTime
    end_time: UtcDateTime


class EnergyMeasurement(OscpModel):
    schema_title: ClassVar[str] = "EnergyMeasurement"

    value: Number
    phase: PhaseIndicator
    unit: EnergyMeasurementUnit
    direction: EnergyFlowDirection
    measure_time: UtcDateTime
    energy_type: EnergyType | None = None
    """Absent means TOTAL."""
    initial_measure_time: UtcDateTime | None = None
    """Start of the register's count; required by peers that asked for INTERMITTENT."""


class InstantaneousMeasurement(OscpModel):
    schema_title: ClassVar[str] = "InstantaneousMeasurement"

    value: Number
    phase: PhaseIndicator
    unit: InstantaneousMeasurementUnit
    measure_time: UtcDateTime


class AssetMeasurement(OscpModel):
    schema_title: ClassVar[str] = "AssetMeasurement"

    asset_id: str
    asset_category: AssetCategory
    energy_measurement: EnergyMeasurement | None = None
    instantaneous_measurement: InstantaneousMeasurement | None = None


class Error(OscpModel):
    """The OSCP error body, `{message}` (§1)."""

    schema_title: ClassVar[str] = "Error"

    message: str | None = None


class PaginatedRequest(OscpModel):
    """Segment numbering in a body; defined by the schemas but used by no implementation (§1)."""

    schema_title: ClassVar[str] = "PaginatedRequest"

    segment_index: int
    segment_count: int


# --- messages ----------------------------------------------------------------------------------


class Register(OscpModel):
    """§2: the token the sender issued to the receiver, and the sender's version URLs."""

    schema_title: ClassVar[str] = "Register"

    token: str
    version_url: list[VersionUrl] = Field(min_length=1)


class Handshake(OscpModel):
    schema_title: ClassVar[str] = "Handshake"

    required_behaviour: RequiredBehaviour | None = None


class HandshakeAcknowledge(OscpModel):
    """Sent later, in its own request, with X-Correlation-ID = the Handshake's X-Request-ID."""

    schema_title: ClassVar[str] = "HandshakeAcknowledge"

    required_behaviour: RequiredBehaviour | None = None


class Heartbeat(OscpModel):
    """§4: the sender may be judged offline once `offline_mode_at` passes without a heartbeat."""

    schema_title: ClassVar[str] = "Heartbeat"

    offline_mode_at: UtcDateTime


class _GroupCapacityForecast(OscpModel):
    group_id: str
    type: CapacityForecastType
    forecasted_blocks: list[ForecastedBlock] = Field(min_length=1)


class UpdateGroupCapacityForecast(_GroupCapacityForecast):
    """CP -> FP limits (CONSUMPTION, GENERATION, FALLBACK_*); CO -> FP OPTIMUM; FP -> CO."""

    schema_title: ClassVar[str] = "UpdateGroupCapacityForecast"


class AdjustGroupCapacityForecast(_GroupCapacityForecast):
    """The FP asks the CP to change the assigned capacity; same body as the update."""

    schema_title: ClassVar[str] = "AdjustGroupCapacityForecast"


class GroupCapacityComplianceError(OscpModel):
    """No group_id: it refers to its forecast only through X-Correlation-ID (§5)."""

    schema_title: ClassVar[str] = "GroupCapacityComplianceError"

    message: str
    forecasted_blocks: list[ForecastedBlock] | None = Field(default=None, min_length=1)
    """The blocks the FP cannot honour."""


class UpdateGroupMeasurements(OscpModel):
    schema_title: ClassVar[str] = "UpdateGroupMeasurements"

    group_id: str
    measurements: list[EnergyMeasurement]
    """At least one on the wire; an empty list is accepted on receipt only."""


class UpdateAssetMeasurement(OscpModel):
    """Sent to `update_asset_measurements`; the schema's title is singular."""

    schema_title: ClassVar[str] = "UpdateAssetMeasurement"

    group_id: str
    measurements: list[AssetMeasurement]
    """At least one on the wire; an empty list is accepted on receipt only."""


UpdateAssetMeasurements = UpdateAssetMeasurement
"""The endpoint's spelling of `UpdateAssetMeasurement`."""


MODELS: Mapping[str, type[OscpModel]] = {
    model.schema_title: model
    for model in (
        AdjustGroupCapacityForecast,
        AssetMeasurement,
        EnergyMeasurement,
        Error,
        ForecastedBlock,
        GroupCapacityComplianceError,
        Handshake,
        HandshakeAcknowledge,
        Heartbeat,
        InstantaneousMeasurement,
        PaginatedRequest,
        Register,
        RequiredBehaviour,
        UpdateAssetMeasurement,
        UpdateGroupCapacityForecast,
        UpdateGroupMeasurements,
        VersionUrl,
    )
}
"""Every object schema's model, by schema title."""


def model_for(title: str) -> type[OscpModel]:
    """The model for a schema title (or alias); UnknownSchemaError for enum or unknown titles."""
    canonical = schemas.canonical_title(title)
    if canonical not in MODELS:
        raise schemas.UnknownSchemaError(f"{title!r} is an enumeration, not a payload")
    return MODELS[canonical]


# --- parsing and checking ----------------------------------------------------------------------


class OscpPayloadError(ValueError):
    """A payload that is not valid OSCP 2.0; `errors` lists every reason with its wire path."""

    def __init__(self, title: str, errors: Sequence[SchemaError]) -> None:
        self.title = title
        self.errors: tuple[SchemaError, ...] = tuple(errors)
        super().__init__(f"invalid {title}: " + "; ".join(str(error) for error in self.errors))

    def to_error(self) -> Error:
        """The OSCP `Error` body describing this failure, for a 400/422 answer."""
        return Error(message=str(self))


M = TypeVar("M", bound=OscpModel)


@overload
def parse(title_or_model: type[M], payload: Any, *, strict: bool = False) -> M: ...
@overload
def parse(title_or_model: str, payload: Any, *, strict: bool = False) -> OscpModel: ...
def parse(
    title_or_model: str | type[OscpModel], payload: Any, *, strict: bool = False
) -> OscpModel:
    """Check `payload` (decoded JSON) against the schema, then build the model.

    Raises one OscpPayloadError listing every problem. Unless `strict`, the known schema
    deviations of RECEIVE_TOLERANCES are forgiven (empty measurement lists).
    """
    model = model_for(title_or_model) if isinstance(title_or_model, str) else title_or_model
    title = model.schema_title
    errors = [
        error
        for error in schemas.validate(title, payload)
        if strict or (title, error.path, error.keyword) not in RECEIVE_TOLERANCES
    ]
    if errors:
        raise OscpPayloadError(title, errors)
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise OscpPayloadError(title, _from_pydantic(exc)) from None


@overload
def parse_json(title_or_model: type[M], body: bytes | str, *, strict: bool = False) -> M: ...
@overload
def parse_json(title_or_model: str, body: bytes | str, *, strict: bool = False) -> OscpModel: ...
def parse_json(
    title_or_model: str | type[OscpModel], body: bytes | str, *, strict: bool = False
) -> OscpModel:
    """`parse` for a raw request body; malformed JSON is an OscpPayloadError at `$`."""
    title = (
        schemas.canonical_title(title_or_model)
        if isinstance(title_or_model, str)
        else title_or_model.schema_title
    )
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except ValueError as exc:
        raise OscpPayloadError(
            title, [SchemaError("$", f"malformed JSON: {exc}", "json")]
        ) from None
    return parse(title_or_model, payload, strict=strict)


def checked_wire(message: OscpModel) -> dict[str, Any]:
    """`message.to_wire()`, refused with OscpPayloadError unless it matches its schema strictly.

    Senders call this so that nothing invalid leaves the process: we never send invalid OSCP.
    """
    payload = message.to_wire()
    errors = schemas.validate(message.schema_title, payload)
    if errors:
        raise OscpPayloadError(message.schema_title, errors)
    return payload


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _from_pydantic(exc: ValidationError) -> list[SchemaError]:
    return [
        SchemaError(
            json_path(part for part in error["loc"] if isinstance(part, str | int)),
            error["msg"],
            error["type"],
        )
        for error in exc.errors()
    ]
