"""Realistic instances of every OSCP 2.0 model, for the schema-conformance tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

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
from depotgrid.oscp.messages import (
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
    OscpModel,
    PaginatedRequest,
    Register,
    RequiredBehaviour,
    UpdateAssetMeasurement,
    UpdateGroupCapacityForecast,
    UpdateGroupMeasurements,
    VersionUrl,
)

T0 = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
SYDNEY = timezone(timedelta(hours=10))

VERSION_URL = VersionUrl(version="2.0", base_url="https://depot.example/oscp/fp/2.0")
BEHAVIOUR = RequiredBehaviour(
    heartbeat_interval=60, measurement_configuration=[MeasurementConfiguration.INTERMITTENT]
)
BLOCKS = [
    ForecastedBlock(
        capacity=250,
        phase=PhaseIndicator.ALL,
        unit=ForecastedBlockUnit.KW,
        start_time=T0 + timedelta(minutes=15 * i),
        end_time=T0 + timedelta(minutes=15 * (i + 1)),
    )
    for i in range(4)
]
ENERGY = EnergyMeasurement(
    value=41.25,
    phase=PhaseIndicator.ALL,
    unit=EnergyMeasurementUnit.KWH,
    direction=EnergyFlowDirection.IMPORT,
    energy_type=EnergyType.FLEXIBLE,
    measure_time=T0 + timedelta(minutes=15),
    initial_measure_time=T0,
)
INSTANT = InstantaneousMeasurement(
    value=32.0,
    phase=PhaseIndicator.ONE,
    unit=InstantaneousMeasurementUnit.A,
    measure_time=datetime(2026, 4, 2, 20, 15, tzinfo=SYDNEY),
)
ASSET = AssetMeasurement(
    asset_id="charger-07",
    asset_category=AssetCategory.CHARGING,
    energy_measurement=ENERGY,
    instantaneous_measurement=INSTANT,
)

FORECAST = UpdateGroupCapacityForecast(
    group_id="depot-north-grid", type=CapacityForecastType.CONSUMPTION, forecasted_blocks=BLOCKS
)
HEARTBEAT = Heartbeat(offline_mode_at=T0 + timedelta(minutes=2))

EXAMPLES: dict[str, OscpModel] = {
    "VersionUrl": VERSION_URL,
    "Register": Register(token="tok-" + "b" * 60, version_url=[VERSION_URL]),
    "RequiredBehaviour": BEHAVIOUR,
    "Handshake": Handshake(required_behaviour=BEHAVIOUR),
    "HandshakeAcknowledge": HandshakeAcknowledge(required_behaviour=RequiredBehaviour()),
    "Heartbeat": HEARTBEAT,
    "ForecastedBlock": BLOCKS[0],
    "UpdateGroupCapacityForecast": FORECAST,
    "AdjustGroupCapacityForecast": AdjustGroupCapacityForecast(
        group_id="depot-north-grid",
        type=CapacityForecastType.CONSUMPTION,
        forecasted_blocks=[BLOCKS[1].model_copy(update={"capacity": 320.5})],
    ),
    "GroupCapacityComplianceError": GroupCapacityComplianceError(
        message="measured import 268 kW exceeds the 250 kW limit", forecasted_blocks=BLOCKS[:1]
    ),
    "EnergyMeasurement": ENERGY,
    "InstantaneousMeasurement": INSTANT,
    "AssetMeasurement": ASSET,
    "UpdateGroupMeasurements": UpdateGroupMeasurements(
        group_id="depot-north-grid", measurements=[ENERGY]
    ),
    "UpdateAssetMeasurement": UpdateAssetMeasurement(
        group_id="depot-north-grid", measurements=[ASSET]
    ),
    "Error": Error(message="unknown group_id"),
    "PaginatedRequest": PaginatedRequest(segment_index=1, segment_count=3),
}
