"""Hypothesis strategies for valid OSCP 2.0 model instances."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from depotgrid.oscp.enums import (
    AssetCategory,
    CapacityForecastType,
    EnergyFlowDirection,
    EnergyMeasurementUnit,
    EnergyType,
    ForecastedBlockUnit,
    InstantaneousMeasurementUnit,
    PhaseIndicator,
)
from depotgrid.oscp.messages import (
    AssetMeasurement,
    EnergyMeasurement,
    ForecastedBlock,
    InstantaneousMeasurement,
    UpdateAssetMeasurement,
    UpdateGroupCapacityForecast,
    UpdateGroupMeasurements,
)

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets
)
numbers = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
)
non_negative = st.one_of(
    st.integers(min_value=0, max_value=10**12),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False),
)
text = st.text(min_size=1, max_size=40)

forecasted_blocks = st.builds(
    ForecastedBlock,
    capacity=non_negative,
    phase=st.sampled_from(PhaseIndicator),
    unit=st.sampled_from(ForecastedBlockUnit),
    start_time=instants,
    end_time=instants,
)
update_group_capacity_forecasts = st.builds(
    UpdateGroupCapacityForecast,
    group_id=text,
    type=st.sampled_from(CapacityForecastType),
    forecasted_blocks=st.lists(forecasted_blocks, min_size=1, max_size=5),
)
energy_measurements = st.builds(
    EnergyMeasurement,
    value=numbers,
    phase=st.sampled_from(PhaseIndicator),
    unit=st.sampled_from(EnergyMeasurementUnit),
    direction=st.sampled_from(EnergyFlowDirection),
    measure_time=instants,
    energy_type=st.none() | st.sampled_from(EnergyType),
    initial_measure_time=st.none() | instants,
)
instantaneous_measurements = st.builds(
    InstantaneousMeasurement,
    value=numbers,
    phase=st.sampled_from(PhaseIndicator),
    unit=st.sampled_from(InstantaneousMeasurementUnit),
    measure_time=instants,
)
asset_measurements = st.builds(
    AssetMeasurement,
    asset_id=text,
    asset_category=st.sampled_from(AssetCategory),
    energy_measurement=st.none() | energy_measurements,
    instantaneous_measurement=st.none() | instantaneous_measurements,
)
update_group_measurements = st.builds(
    UpdateGroupMeasurements,
    group_id=text,
    measurements=st.lists(energy_measurements, min_size=1, max_size=5),
)
update_asset_measurements = st.builds(
    UpdateAssetMeasurement,
    group_id=text,
    measurements=st.lists(asset_measurements, min_size=1, max_size=5),
)
