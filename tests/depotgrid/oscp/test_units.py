"""OSCP unit conversions to kW and kWh, and their error cases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from depotgrid.oscp.enums import (
    EnergyFlowDirection,
    EnergyMeasurementUnit,
    ForecastedBlockUnit,
    InstantaneousMeasurementUnit,
    PhaseIndicator,
)
from depotgrid.oscp.messages import EnergyMeasurement, ForecastedBlock, InstantaneousMeasurement
from depotgrid.oscp.units import (
    Supply,
    UnitError,
    UnknownUnitError,
    ZeroLengthBlockError,
    amps_to_kw,
    average_kw,
    block_kw,
    energy_to_kwh,
    instantaneous_kw,
    kw_to_amps,
    kw_to_power,
    kwh_to_energy,
    measurement_kwh,
    phase_count,
    power_to_kw,
)
from tests.depotgrid.oscp.examples import T0

THREE_PHASE_230 = Supply(voltage_v=230, phases=3)


def _block(
    capacity: float, unit: ForecastedBlockUnit, phase: PhaseIndicator, minutes: int = 15
) -> ForecastedBlock:
    return ForecastedBlock(
        capacity=capacity,
        phase=phase,
        unit=unit,
        start_time=T0,
        end_time=T0 + timedelta(minutes=minutes),
    )


def test_power_units_to_kw_and_back() -> None:
    assert power_to_kw(1500, "W") == 1.5
    assert power_to_kw(1.5, ForecastedBlockUnit.KW) == 1.5
    assert kw_to_power(1.5, "W") == 1500
    assert kw_to_power(1.5, "KW") == 1.5


def test_energy_units_to_kwh_and_back() -> None:
    assert energy_to_kwh(2500, EnergyMeasurementUnit.WH) == 2.5
    assert energy_to_kwh(2.5, "KWH") == 2.5
    assert kwh_to_energy(2.5, "WH") == 2500


def test_amps_to_kw_is_amps_times_phase_voltage_times_phases() -> None:
    assert amps_to_kw(32, voltage_v=230, phases=1) == pytest.approx(7.36)
    assert amps_to_kw(32, voltage_v=230, phases=3) == pytest.approx(22.08)
    assert kw_to_amps(22.08, voltage_v=230, phases=3) == pytest.approx(32)


def test_phase_count_is_one_for_a_single_phase_and_the_supply_for_all() -> None:
    assert phase_count(PhaseIndicator.TWO, THREE_PHASE_230) == 1
    assert phase_count(PhaseIndicator.ALL, THREE_PHASE_230) == 3
    assert phase_count(PhaseIndicator.UNKNOWN, THREE_PHASE_230) == 3


def test_average_kw_spreads_energy_over_the_interval() -> None:
    assert average_kw(10, T0, T0 + timedelta(minutes=15)) == pytest.approx(40)
    assert average_kw(10, T0, T0 + timedelta(hours=2)) == pytest.approx(5)


@pytest.mark.parametrize("minutes", [0, -15])
def test_zero_or_negative_length_interval_has_no_average(minutes: int) -> None:
    with pytest.raises(ZeroLengthBlockError):
        average_kw(10, T0, T0 + timedelta(minutes=minutes))
    with pytest.raises(ZeroLengthBlockError):
        block_kw(_block(10, ForecastedBlockUnit.KWH, PhaseIndicator.ALL, minutes))


@pytest.mark.parametrize(
    ("capacity", "unit", "phase", "kw"),
    [
        (250, ForecastedBlockUnit.KW, PhaseIndicator.ALL, 250),
        (250_000, ForecastedBlockUnit.W, PhaseIndicator.ALL, 250),
        (62_500, ForecastedBlockUnit.WH, PhaseIndicator.ALL, 250),  # over 15 minutes
        (62.5, ForecastedBlockUnit.KWH, PhaseIndicator.ALL, 250),
        (100, ForecastedBlockUnit.A, PhaseIndicator.ALL, 69),
        (100, ForecastedBlockUnit.A, PhaseIndicator.ONE, 23),
    ],
)
def test_block_capacity_in_kw(
    capacity: float, unit: ForecastedBlockUnit, phase: PhaseIndicator, kw: float
) -> None:
    assert block_kw(_block(capacity, unit, phase), THREE_PHASE_230) == pytest.approx(kw)


def test_block_in_amps_needs_a_supply() -> None:
    with pytest.raises(UnitError, match="voltage"):
        block_kw(_block(100, ForecastedBlockUnit.A, PhaseIndicator.ALL))


def test_instantaneous_measurements_in_kw() -> None:
    def measured(value: float, unit: InstantaneousMeasurementUnit) -> InstantaneousMeasurement:
        return InstantaneousMeasurement(
            value=value, phase=PhaseIndicator.ALL, unit=unit, measure_time=T0
        )

    assert instantaneous_kw(measured(7400, InstantaneousMeasurementUnit.W)) == 7.4
    assert instantaneous_kw(
        measured(10, InstantaneousMeasurementUnit.A), THREE_PHASE_230
    ) == pytest.approx(6.9)
    with pytest.raises(UnitError, match="energy"):
        instantaneous_kw(measured(1, InstantaneousMeasurementUnit.KWH))


def test_energy_measurement_in_kwh() -> None:
    measurement = EnergyMeasurement(
        value=41250,
        phase=PhaseIndicator.ALL,
        unit=EnergyMeasurementUnit.WH,
        direction=EnergyFlowDirection.IMPORT,
        measure_time=T0,
    )
    assert measurement_kwh(measurement) == 41.25


@pytest.mark.parametrize("unit", ["EUR", "kW", "MW", ""])
def test_unknown_units_are_refused(unit: str) -> None:
    with pytest.raises(UnknownUnitError):
        power_to_kw(1, unit)
    with pytest.raises(UnknownUnitError):
        energy_to_kwh(1, unit)


def test_units_of_the_wrong_kind_are_refused_with_a_hint() -> None:
    with pytest.raises(UnitError, match="amps_to_kw"):
        power_to_kw(10, "A")
    with pytest.raises(UnitError, match="energy, not power"):
        power_to_kw(10, "KWH")
    with pytest.raises(UnitError, match="not an energy unit"):
        energy_to_kwh(10, "KW")


@pytest.mark.parametrize(("voltage", "phases"), [(0, 3), (-230, 1), (230, 0), (230, 4)])
def test_supply_assumptions_are_checked(voltage: float, phases: int) -> None:
    with pytest.raises(UnitError):
        amps_to_kw(10, voltage_v=voltage, phases=phases)
