"""Request and response bodies of the legacy model API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from depotgrid.manage.errors import FieldError, ValidationFailed

T = TypeVar("T")

PowerSourceKindName = Literal["BATTERY", "SOLAR", "GENERATOR"]
PowerSourceStateName = Literal[
    "UNKNOWN", "OFFLINE", "IDLE", "CHARGING", "DISCHARGING", "GENERATING", "FAULT"
]


class Body(BaseModel):
    """Strict input: unknown fields, NaN and infinity are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Patch(Body):
    """A partial update: only fields sent are changed; `nullable` lists those that may be null."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    def changes(self) -> dict[str, Any]:
        sent = {name: getattr(self, name) for name in self.model_fields_set}
        refused = [
            FieldError(name, "must not be null")
            for name, value in sent.items()
            if value is None and name not in type(self).nullable
        ]
        if refused:
            raise ValidationFailed(refused)
        return sent


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class DepotIn(Body):
    name: str = Field(max_length=200)
    timezone: str = Field(description="IANA time zone name, e.g. Europe/London")


class DepotPatch(Patch):
    name: str | None = Field(default=None, max_length=200)
    timezone: str | None = None


class DepotOut(Out):
    id: str
    name: str
    timezone: str
    version: int


class CircuitIn(Body):
    name: str = Field(max_length=200)
    parent_circuit_id: str | None = None
    max_capacity_kw: float = Field(description="Physical rating.")
    available_capacity_kw: float | None = Field(
        default=None, description="What load balancing uses; defaults to the rating."
    )
    safe_default_capacity_kw: float | None = Field(
        default=None, description="Fail-safe / non-OSCP capacity; defaults to the rating."
    )
    position: int | None = Field(default=None, ge=0, description="Order among siblings.")

    def fields(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True) | {"parent_circuit_id": self.parent_circuit_id}


class CircuitPatch(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"parent_circuit_id"})
    name: str | None = Field(default=None, max_length=200)
    parent_circuit_id: str | None = None
    max_capacity_kw: float | None = None
    available_capacity_kw: float | None = None
    safe_default_capacity_kw: float | None = None
    position: int | None = Field(default=None, ge=0)


class CircuitOut(Out):
    id: str
    depot_id: str
    name: str
    parent_circuit_id: str | None
    max_capacity_kw: float
    available_capacity_kw: float
    safe_default_capacity_kw: float
    position: int
    available_capacity_source: str = Field(
        description="RATING (follows the rating), OPERATOR (set by a person), ENVELOPE (an "
        "operating envelope in force) or SAFE_DEFAULT (back on the non-envelope path)."
    )


class ChargerIn(Body):
    name: str = Field(max_length=200)
    circuit_id: str
    ocpp_identity: str = Field(max_length=200)
    max_power_kw: float
    min_power_kw: float = 0.0
    connector_count: int = 1

    def fields(self) -> dict[str, Any]:
        return self.model_dump()


class ChargerPatch(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"requested_kw"})
    name: str | None = Field(default=None, max_length=200)
    circuit_id: str | None = None
    ocpp_identity: str | None = Field(default=None, max_length=200)
    max_power_kw: float | None = None
    min_power_kw: float | None = None
    connector_count: int | None = None
    plugged_in: bool | None = Field(
        default=None, description="A vehicle is connected: load balancing may give it power."
    )
    requested_kw: float | None = Field(
        default=None,
        description="What the vehicle asks for, in kW; null: up to max_power_kw. Demand is 0 "
        "unless plugged in, else min(requested_kw, max_power_kw).",
    )


class ChargerOut(Out):
    id: str
    depot_id: str
    circuit_id: str
    name: str
    ocpp_identity: str
    max_power_kw: float
    min_power_kw: float
    connector_count: int
    plugged_in: bool
    requested_kw: float | None


class PowerSourceIn(Body):
    name: str = Field(default="", max_length=200)
    circuit_id: str | None = None
    kind: PowerSourceKindName
    rated_power_kw: float
    state: PowerSourceStateName = "UNKNOWN"

    def fields(self) -> dict[str, Any]:
        return self.model_dump()


class PowerSourcePatch(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"circuit_id"})
    name: str | None = Field(default=None, max_length=200)
    circuit_id: str | None = None
    kind: PowerSourceKindName | None = None
    rated_power_kw: float | None = None
    state: PowerSourceStateName | None = None


class PowerSourceOut(Out):
    id: str
    depot_id: str
    circuit_id: str | None
    name: str
    kind: str
    rated_power_kw: float
    state: str


class DeviceIn(Body):
    name: str = Field(max_length=200)
    circuit_id: str | None = None
    site_model_name: str | None = Field(default=None, max_length=200)
    output_translation: dict[str, Any] | None = None

    def fields(self) -> dict[str, Any]:
        return self.model_dump()


class DevicePatch(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset(
        {"circuit_id", "site_model_name", "output_translation"}
    )
    name: str | None = Field(default=None, max_length=200)
    circuit_id: str | None = None
    site_model_name: str | None = Field(default=None, max_length=200)
    output_translation: dict[str, Any] | None = None


class DeviceOut(Out):
    id: str
    depot_id: str
    circuit_id: str | None
    name: str
    site_model_name: str | None
    output_translation: dict[str, Any] | None


class EventOut(Out):
    position: int
    stream_version: int
    event_type: str
    data: dict[str, Any]
    recorded_at: datetime
    actor: str
