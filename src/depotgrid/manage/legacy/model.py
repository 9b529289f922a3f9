"""Legacy depot model and its invariants, as plain Python.

The depot is the consistency boundary: its circuit tree, chargers, power sources and devices
change only through commands on one depot, each recorded as an event on the depot's stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from depotgrid.manage.errors import FieldError, ValidationFailed

MAX_NAME_LENGTH = 200


class CapacitySource(StrEnum):
    """Where a circuit's available capacity came from (shown to operators beside the number)."""

    RATING = "RATING"
    """Never set: it follows the physical rating."""
    OPERATOR = "OPERATOR"
    """Set by a person through the API or UI."""
    ENVELOPE = "ENVELOPE"
    """Written through from an operating envelope in force for the circuit's managed scope."""
    SAFE_DEFAULT = "SAFE_DEFAULT"
    """Returned to the safe default (the non-envelope path) when no envelope block is in force."""


class PowerSourceKind(StrEnum):
    BATTERY = "BATTERY"
    SOLAR = "SOLAR"
    GENERATOR = "GENERATOR"


class PowerSourceState(StrEnum):
    UNKNOWN = "UNKNOWN"
    OFFLINE = "OFFLINE"
    IDLE = "IDLE"
    CHARGING = "CHARGING"
    DISCHARGING = "DISCHARGING"
    GENERATING = "GENERATING"
    FAULT = "FAULT"


@dataclass
class Depot:
    id: str
    name: str
    timezone: str
    version: int = 0


@dataclass
class Circuit:
    id: str
    depot_id: str
    name: str
    parent_circuit_id: str | None
    max_capacity_kw: float
    available_capacity_kw: float
    safe_default_capacity_kw: float
    position: int = 0
    available_capacity_source: CapacitySource = CapacitySource.RATING

    def __post_init__(self) -> None:
        self.available_capacity_source = CapacitySource(self.available_capacity_source)


@dataclass
class Charger:
    id: str
    depot_id: str
    circuit_id: str
    name: str
    ocpp_identity: str
    max_power_kw: float
    min_power_kw: float = 0.0
    connector_count: int = 1
    plugged_in: bool = False
    """Demand for load balancing: a vehicle is connected (set through the API or the simulator)."""
    requested_kw: float | None = None
    """What the vehicle asks for; None means up to max_power_kw. See docs/reason-codes.md."""


@dataclass
class PowerSource:
    id: str
    depot_id: str
    circuit_id: str | None
    kind: PowerSourceKind
    rated_power_kw: float
    state: PowerSourceState = PowerSourceState.UNKNOWN
    name: str = ""

    def __post_init__(self) -> None:
        self.kind = PowerSourceKind(self.kind)
        self.state = PowerSourceState(self.state)


@dataclass
class Device:
    id: str
    depot_id: str
    circuit_id: str | None
    name: str
    site_model_name: str | None = None
    output_translation: dict[str, Any] | None = field(default=None)


Entity = Depot | Circuit | Charger | PowerSource | Device


def snapshot(entity: Entity) -> dict[str, Any]:
    """The event payload describing an entity's full state after a change."""
    data = {key: getattr(entity, key) for key in entity.__dataclass_fields__}
    data.pop("version", None)
    return {
        key: (str(value) if isinstance(value, StrEnum) else value) for key, value in data.items()
    }


def check_depot(depot: Depot) -> None:
    errors = _check_name(depot.name)
    if not is_timezone(depot.timezone):
        errors.append(
            FieldError(
                "timezone", f"'{depot.timezone}' is not an IANA time zone, e.g. Europe/London"
            )
        )
    _raise_if(errors)


def check_circuit(circuit: Circuit) -> None:
    """Capacities are non-negative and never above the physical rating."""
    errors = _check_name(circuit.name)
    for name in ("max_capacity_kw", "available_capacity_kw", "safe_default_capacity_kw"):
        if getattr(circuit, name) < 0:
            errors.append(FieldError(name, "must be zero or more"))
    if circuit.position < 0:
        errors.append(FieldError("position", "must be zero or more"))
    for name in ("available_capacity_kw", "safe_default_capacity_kw"):
        value = getattr(circuit, name)
        if value > circuit.max_capacity_kw:
            errors.append(
                FieldError(
                    name,
                    f"{value:g} kW is above the circuit rating max_capacity_kw "
                    f"{circuit.max_capacity_kw:g} kW",
                )
            )
    _raise_if(errors)


def check_parent(
    circuit: Circuit, parent: Circuit | None, parents_by_id: Mapping[str, str | None]
) -> None:
    """The parent lives in the same depot and is not the circuit itself or one of its descendants.

    `parents_by_id` maps every circuit of the depot to its parent, before the change.
    """
    if circuit.parent_circuit_id is None:
        return
    if parent is None:
        raise ValidationFailed.single(
            "parent_circuit_id", f"circuit {circuit.parent_circuit_id} does not exist"
        )
    if parent.depot_id != circuit.depot_id:
        raise ValidationFailed.single(
            "parent_circuit_id",
            f"circuit {parent.id} belongs to another depot; a parent must be in the same depot",
        )
    ancestor: str | None = parent.id
    while ancestor is not None:
        if ancestor == circuit.id:
            raise ValidationFailed.single(
                "parent_circuit_id",
                f"circuit {parent.id} is this circuit or one of its descendants; "
                "the tree would have a cycle",
            )
        ancestor = parents_by_id.get(ancestor)


def check_charger(charger: Charger) -> None:
    errors = _check_name(charger.name)
    if not charger.ocpp_identity.strip():
        errors.append(FieldError("ocpp_identity", "must not be empty"))
    elif len(charger.ocpp_identity) > MAX_NAME_LENGTH:
        errors.append(FieldError("ocpp_identity", f"must be at most {MAX_NAME_LENGTH} characters"))
    if charger.max_power_kw <= 0:
        errors.append(FieldError("max_power_kw", "must be above zero"))
    if charger.min_power_kw < 0:
        errors.append(FieldError("min_power_kw", "must be zero or more"))
    elif charger.min_power_kw > charger.max_power_kw:
        errors.append(
            FieldError(
                "min_power_kw",
                f"{charger.min_power_kw:g} kW is above max_power_kw {charger.max_power_kw:g} kW",
            )
        )
    if charger.connector_count < 1:
        errors.append(FieldError("connector_count", "must be at least 1"))
    if charger.requested_kw is not None and charger.requested_kw < 0:
        errors.append(FieldError("requested_kw", "must be zero or more (or null: no request)"))
    _raise_if(errors)


def check_power_source(source: PowerSource) -> None:
    errors = _check_name(source.name) if source.name else []
    if source.rated_power_kw < 0:
        errors.append(FieldError("rated_power_kw", "must be zero or more"))
    _raise_if(errors)


def check_device(device: Device) -> None:
    _raise_if(_check_name(device.name))


def check_circuit_in_depot(
    circuit_id: str | None,
    circuit: Circuit | None,
    depot_id: str,
    *,
    field_name: str = "circuit_id",
) -> None:
    """A component's circuit, when given, exists and belongs to the component's depot."""
    if circuit_id is None:
        return
    if circuit is None:
        raise ValidationFailed.single(field_name, f"circuit {circuit_id} does not exist")
    if circuit.depot_id != depot_id:
        raise ValidationFailed.single(field_name, f"circuit {circuit_id} belongs to another depot")


def is_timezone(name: str) -> bool:
    if name not in _timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def _check_name(name: str) -> list[FieldError]:
    if not name.strip():
        return [FieldError("name", "must not be empty")]
    if len(name) > MAX_NAME_LENGTH:
        return [FieldError("name", f"must be at most {MAX_NAME_LENGTH} characters")]
    return []


def _raise_if(errors: Iterable[FieldError]) -> None:
    found = list(errors)
    if found:
        raise ValidationFailed(found)
