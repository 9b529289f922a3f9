"""The OSCP 2.0 enumerations (PROTOCOL.md §3 and §5), one StrEnum per enum schema.

Each class is named exactly as its schema's `title` and holds exactly the schema's values; a
test checks both against `schemas/`. Members compare equal to their wire strings. Non-standard
values some peers send (AP's unit `EUR`, PROTOCOL.md §8.14) are not members: the schema check
rejects them.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class AssetCategory(StrEnum):
    CHARGING = "CHARGING"
    """EV chargers, including V2G."""
    CONSUMPTION = "CONSUMPTION"
    """Other loads."""
    GENERATION = "GENERATION"
    """PV, wind, generators."""
    STORAGE = "STORAGE"
    """Stationary batteries."""


class CapacityForecastType(StrEnum):
    CONSUMPTION = "CONSUMPTION"
    """The maximum the flexible resources may import."""
    GENERATION = "GENERATION"
    """The maximum the flexible resources may export."""
    FALLBACK_CONSUMPTION = "FALLBACK_CONSUMPTION"
    """The import maximum to apply while the Capacity Provider is offline."""
    FALLBACK_GENERATION = "FALLBACK_GENERATION"
    """The export maximum to apply while the Capacity Provider is offline."""
    OPTIMUM = "OPTIMUM"
    """The Capacity Optimizer's preferred import or export, within the CP's limits."""


class EnergyFlowDirection(StrEnum):
    NET = "NET"
    IMPORT = "IMPORT"
    EXPORT = "EXPORT"


class EnergyMeasurementUnit(StrEnum):
    WH = "WH"
    KWH = "KWH"


class EnergyType(StrEnum):
    """An absent `energy_type` on an EnergyMeasurement means TOTAL."""

    FLEXIBLE = "FLEXIBLE"
    NONFLEXIBLE = "NONFLEXIBLE"
    TOTAL = "TOTAL"


class ForecastedBlockUnit(StrEnum):
    A = "A"
    W = "W"
    KW = "KW"
    WH = "WH"
    KWH = "KWH"


class InstantaneousMeasurementUnit(StrEnum):
    A = "A"
    W = "W"
    KW = "KW"
    WH = "WH"
    KWH = "KWH"


class MeasurementConfiguration(StrEnum):
    CONTINUOUS = "CONTINUOUS"
    """Readings from a register that never resets; the receiver subtracts consecutive ones."""
    INTERMITTENT = "INTERMITTENT"
    """The register restarts at events; the value counts from `initial_measure_time`."""


class PhaseIndicator(StrEnum):
    """Which phase a value applies to: one of L1-L3, all phases, or unknown."""

    UNKNOWN = "UNKNOWN"
    ONE = "ONE"
    TWO = "TWO"
    THREE = "THREE"
    ALL = "ALL"


ENUMS: Mapping[str, type[StrEnum]] = {
    enum.__name__: enum
    for enum in (
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
}
"""Every enumeration by schema title."""
