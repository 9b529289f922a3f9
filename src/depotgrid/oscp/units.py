"""Conversions between OSCP units (A, W, KW, WH, KWH) and the domain's kW and kWh.

Implements the unit handling of PROTOCOL.md §5 (`ForecastedBlockUnit`, `EnergyMeasurementUnit`,
`InstantaneousMeasurementUnit`) and §8.6 ("never compare A with W without a voltage"); the domain
works in kW and kWh and converts at the edge (ARCHITECTURE.md, "Units and time").

Formulas (pure functions; unknown units, missing assumptions and empty intervals raise UnitError):

- Power: kW = W / 1000; KW is already kW.
- Current: kW = A * V * phases / 1000, where V is the phase-to-neutral RMS voltage (e.g. 230 V)
  and phases is the number of phases the current flows in. This assumes unity power factor and
  balanced phases; for a three-phase supply it equals sqrt(3) * V_line-to-line * A / 1000
  (230 V * 3 = 690 ~ sqrt(3) * 400 V). A value on one phase (PhaseIndicator ONE, TWO or THREE)
  counts one phase; ALL, and UNKNOWN (read as the whole connection), count the connection's
  phases.
- Energy: kWh = WH / 1000; KWH is already kWh.
- Energy over a block: average kW = kWh / hours(end_time - start_time); the block must have a
  positive duration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from depotgrid.oscp.enums import PhaseIndicator
from depotgrid.oscp.messages import EnergyMeasurement, ForecastedBlock, InstantaneousMeasurement

_KW_DIVISORS = {"W": 1000.0, "KW": 1.0}
_KWH_DIVISORS = {"WH": 1000.0, "KWH": 1.0}
_SINGLE_PHASES = frozenset({PhaseIndicator.ONE, PhaseIndicator.TWO, PhaseIndicator.THREE})
_SECONDS_PER_HOUR = 3600.0


class UnitError(ValueError):
    """A value cannot be converted as asked."""


class UnknownUnitError(UnitError):
    """The unit is not one OSCP defines for this kind of value (e.g. AP's `EUR`)."""


class ZeroLengthBlockError(UnitError):
    """An energy block whose end is not after its start has no average power."""


@dataclass(frozen=True)
class Supply:
    """The electrical assumptions that turn amperes into kW, stated per connection."""

    voltage_v: float
    """Phase-to-neutral RMS voltage."""
    phases: int
    """Phases of the connection, 1 to 3."""

    def __post_init__(self) -> None:
        if not self.voltage_v > 0:
            raise UnitError(f"voltage must be positive, got {self.voltage_v}")
        if self.phases not in (1, 2, 3):
            raise UnitError(f"a supply has 1, 2 or 3 phases, got {self.phases}")


def power_to_kw(value: float, unit: str) -> float:
    """W or KW to kW. A needs a Supply (`amps_to_kw`); WH/KWH are energy (`average_kw`)."""
    return value / _divisor(_KW_DIVISORS, unit, "power")


def kw_to_power(kw: float, unit: str) -> float:
    """kW to W or KW, for outbound values."""
    return kw * _divisor(_KW_DIVISORS, unit, "power")


def energy_to_kwh(value: float, unit: str) -> float:
    """WH or KWH to kWh."""
    return value / _divisor(_KWH_DIVISORS, unit, "energy")


def kwh_to_energy(kwh: float, unit: str) -> float:
    """kWh to WH or KWH, for outbound values."""
    return kwh * _divisor(_KWH_DIVISORS, unit, "energy")


def amps_to_kw(amps: float, *, voltage_v: float, phases: int) -> float:
    """kW = A * V * phases / 1000, V phase-to-neutral."""
    supply = Supply(voltage_v, phases)
    return amps * supply.voltage_v * supply.phases / 1000.0


def kw_to_amps(kw: float, *, voltage_v: float, phases: int) -> float:
    """A = kW * 1000 / (V * phases), the inverse of `amps_to_kw`."""
    supply = Supply(voltage_v, phases)
    return kw * 1000.0 / (supply.voltage_v * supply.phases)


def phase_count(phase: PhaseIndicator, supply: Supply) -> int:
    """Phases a per-phase current flows in: 1 for ONE/TWO/THREE, the supply's for ALL/UNKNOWN."""
    return 1 if phase in _SINGLE_PHASES else supply.phases


def average_kw(energy_kwh: float, start: datetime, end: datetime) -> float:
    """Average power of `energy_kwh` spread over [start, end)."""
    seconds = (end - start).total_seconds()
    if seconds <= 0:
        raise ZeroLengthBlockError(f"interval {start.isoformat()} to {end.isoformat()} is empty")
    return energy_kwh / (seconds / _SECONDS_PER_HOUR)


def block_kw(block: ForecastedBlock, supply: Supply | None = None) -> float:
    """A forecasted block's capacity in kW: power as is, current via `supply`, energy averaged."""
    unit = str(block.unit)
    if unit == "A":
        return amps_to_kw_on(block.capacity, block.phase, supply)
    if unit in _KWH_DIVISORS:
        return average_kw(energy_to_kwh(block.capacity, unit), block.start_time, block.end_time)
    return power_to_kw(block.capacity, unit)


def instantaneous_kw(measurement: InstantaneousMeasurement, supply: Supply | None = None) -> float:
    """An instantaneous measurement in kW; energy units are refused (no interval to average)."""
    unit = str(measurement.unit)
    if unit == "A":
        return amps_to_kw_on(measurement.value, measurement.phase, supply)
    if unit in _KWH_DIVISORS:
        raise UnitError(f"an instantaneous value in {unit} is energy, not power")
    return power_to_kw(measurement.value, unit)


def measurement_kwh(measurement: EnergyMeasurement) -> float:
    """An energy measurement's value in kWh."""
    return energy_to_kwh(measurement.value, str(measurement.unit))


def amps_to_kw_on(amps: float, phase: PhaseIndicator, supply: Supply | None) -> float:
    """Amperes on `phase` to kW under `supply`; UnitError when no supply is configured."""
    if supply is None:
        raise UnitError("a value in A needs the supply voltage and phases to convert to kW")
    return amps_to_kw(amps, voltage_v=supply.voltage_v, phases=phase_count(phase, supply))


def _divisor(table: dict[str, float], unit: str, kind: str) -> float:
    unit = str(unit)
    if unit in table:
        return table[unit]
    if unit == "A" and kind == "power":
        raise UnitError("a value in A needs the supply voltage and phases: use amps_to_kw")
    if unit in _KWH_DIVISORS and kind == "power":
        raise UnitError(f"{unit} is energy, not power: average it over an interval")
    if unit in _KW_DIVISORS or unit == "A":
        raise UnitError(f"{unit} is not an energy unit")
    raise UnknownUnitError(f"{unit!r} is not an OSCP {kind} unit")
