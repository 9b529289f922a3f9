"""Every model mirrors its schema: examples and generated instances serialise to valid payloads,
and bad payloads are refused by `parse` with errors naming the wire path."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from depotgrid.oscp import schemas
from depotgrid.oscp.enums import ENUMS, MeasurementConfiguration, PhaseIndicator
from depotgrid.oscp.messages import (
    MODELS,
    ForecastedBlock,
    Handshake,
    Heartbeat,
    OscpModel,
    OscpPayloadError,
    RequiredBehaviour,
    UpdateAssetMeasurement,
    UpdateAssetMeasurements,
    UpdateGroupCapacityForecast,
    UpdateGroupMeasurements,
    checked_wire,
    format_datetime,
    model_for,
    parse,
    parse_json,
)
from tests.depotgrid.oscp import strategies
from tests.depotgrid.oscp.examples import EXAMPLES, T0

OBJECT_TITLES = [title for title in schemas.titles() if not schemas.schema(title).is_enum]
ENUM_TITLES = [title for title in schemas.titles() if schemas.schema(title).is_enum]

FORECAST: dict[str, Any] = {
    "group_id": "depot-north-grid",
    "type": "CONSUMPTION",
    "forecasted_blocks": [
        {
            "capacity": 250,
            "phase": "ALL",
            "unit": "KW",
            "start_time": "2026-04-02T10:00:00Z",
            "end_time": "2026-04-02T10:15:00Z",
        }
    ],
}


def test_every_schema_title_has_a_model_or_an_enum() -> None:
    assert sorted(MODELS) == OBJECT_TITLES
    assert sorted(ENUMS) == ENUM_TITLES


@pytest.mark.parametrize("title", OBJECT_TITLES)
def test_model_is_named_exactly_as_its_schema_title(title: str) -> None:
    assert MODELS[title].__name__ == title
    assert MODELS[title].schema_title == title


@pytest.mark.parametrize("title", ENUM_TITLES)
def test_enum_is_named_as_its_schema_and_has_exactly_its_values(title: str) -> None:
    enum = ENUMS[title]
    assert enum.__name__ == title
    assert [member.value for member in enum] == schemas.schema(title).contents["enum"]
    for member in enum:
        assert schemas.validate(title, str(member)) == []


@pytest.mark.parametrize("title", OBJECT_TITLES)
def test_realistic_example_serialises_to_a_schema_valid_payload(title: str) -> None:
    example = EXAMPLES[title]
    assert type(example) is MODELS[title]
    assert schemas.validate(title, example.to_wire()) == []


@pytest.mark.parametrize("title", OBJECT_TITLES)
def test_example_round_trips_through_parse(title: str) -> None:
    example = EXAMPLES[title]
    assert parse(title, example.to_wire()) == example
    assert parse(type(example), example.to_wire()) == example


def test_plural_asset_measurements_alias_is_the_same_model() -> None:
    assert UpdateAssetMeasurements is UpdateAssetMeasurement
    assert model_for("UpdateAssetMeasurements") is UpdateAssetMeasurement


def test_model_for_refuses_enumerations() -> None:
    with pytest.raises(schemas.UnknownSchemaError):
        model_for("PhaseIndicator")


# --- generated instances -----------------------------------------------------------------------


@settings(max_examples=150)
@given(
    st.one_of(
        strategies.forecasted_blocks,
        strategies.update_group_capacity_forecasts,
        strategies.update_group_measurements,
        strategies.update_asset_measurements,
    )
)
def test_generated_models_serialise_to_schema_valid_payloads(model: OscpModel) -> None:
    payload = model.to_wire()
    assert schemas.validate(model.schema_title, payload) == []
    assert checked_wire(model) == payload
    assert parse(type(model), payload) == model
    assert parse_json(type(model), json.dumps(payload)) == model


# --- date-times --------------------------------------------------------------------------------


def test_date_times_are_kept_in_utc_and_written_with_z() -> None:
    sydney = datetime(2026, 4, 2, 20, 15, tzinfo=timezone(timedelta(hours=10)))
    heartbeat = Heartbeat(offline_mode_at=sydney)
    assert heartbeat.offline_mode_at.tzinfo is UTC
    assert heartbeat.to_wire() == {"offline_mode_at": "2026-04-02T10:15:00Z"}


def test_fractional_seconds_are_kept() -> None:
    assert format_datetime(T0 + timedelta(milliseconds=250)) == "2026-04-02T10:00:00.250000Z"


def test_naive_date_times_are_refused() -> None:
    with pytest.raises(ValidationError):
        Heartbeat(offline_mode_at=datetime(2026, 4, 2, 10, 15))
    with pytest.raises(ValueError, match="timezone-aware"):
        format_datetime(datetime(2026, 4, 2, 10, 15))


def test_offsets_are_parsed_to_utc() -> None:
    heartbeat = parse(Heartbeat, {"offline_mode_at": "2026-04-02T05:15:00-05:00"})
    assert heartbeat.offline_mode_at == datetime(2026, 4, 2, 10, 15, tzinfo=UTC)


# --- model invariants mirror the schema --------------------------------------------------------


def test_models_refuse_what_the_schema_refuses() -> None:
    block = EXAMPLES["ForecastedBlock"].to_wire()
    with pytest.raises(ValidationError):
        ForecastedBlock.model_validate({**block, "capacity": -0.5})
    with pytest.raises(ValidationError):
        ForecastedBlock.model_validate({**block, "capacity": float("nan")})
    with pytest.raises(ValidationError):
        UpdateGroupCapacityForecast.model_validate({**FORECAST, "forecasted_blocks": []})
    with pytest.raises(ValidationError):
        RequiredBehaviour(measurement_configuration=[MeasurementConfiguration.CONTINUOUS] * 2)


def test_integers_stay_integers_on_the_wire() -> None:
    assert parse(UpdateGroupCapacityForecast, FORECAST).to_wire() == FORECAST


def test_optional_fields_are_left_out_not_null() -> None:
    assert RequiredBehaviour().to_wire() == {"measurement_configuration": []}
    energy = EXAMPLES["EnergyMeasurement"].model_copy(
        update={"energy_type": None, "initial_measure_time": None}
    )
    assert set(energy.to_wire()) == {"value", "phase", "unit", "direction", "measure_time"}
    assert Handshake().to_wire() == {}


def test_unknown_extra_fields_are_ignored_on_receipt() -> None:
    forecast = parse(UpdateGroupCapacityForecast, {**FORECAST, "x_vendor": {"a": 1}})
    assert "x_vendor" not in forecast.to_wire()


def test_enum_fields_are_str_enums() -> None:
    block = parse(ForecastedBlock, FORECAST["forecasted_blocks"][0])
    assert block.phase is PhaseIndicator.ALL
    assert block.phase == "ALL"


# --- bad payloads ------------------------------------------------------------------------------


def _without(payload: dict[str, Any], *path: str | int) -> dict[str, Any]:
    broken = copy.deepcopy(payload)
    target: Any = broken
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return broken


def _with(payload: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    broken = copy.deepcopy(payload)
    target: Any = broken
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return broken


@pytest.mark.parametrize(
    ("payload", "path", "keyword"),
    [
        (_without(FORECAST, "group_id"), "$.group_id", "required"),
        (
            _without(FORECAST, "forecasted_blocks", 0, "end_time"),
            "$.forecasted_blocks[0].end_time",
            "required",
        ),
        (_with(FORECAST, "MAXIMUM", "type"), "$.type", "enum"),
        (
            _with(FORECAST, "EUR", "forecasted_blocks", 0, "unit"),
            "$.forecasted_blocks[0].unit",
            "enum",
        ),
        (
            _with(FORECAST, -1, "forecasted_blocks", 0, "capacity"),
            "$.forecasted_blocks[0].capacity",
            "minimum",
        ),
        (
            _with(FORECAST, "2026-04-02 10:00:00", "forecasted_blocks", 0, "start_time"),
            "$.forecasted_blocks[0].start_time",
            "format",
        ),
        (
            _with(FORECAST, "250", "forecasted_blocks", 0, "capacity"),
            "$.forecasted_blocks[0].capacity",
            "type",
        ),
        (
            _with(FORECAST, True, "forecasted_blocks", 0, "capacity"),
            "$.forecasted_blocks[0].capacity",
            "type",
        ),
        (_with(FORECAST, 42, "group_id"), "$.group_id", "type"),
        (_with(FORECAST, [], "forecasted_blocks"), "$.forecasted_blocks", "minItems"),
        (_with(FORECAST, {"capacity": 1}, "forecasted_blocks"), "$.forecasted_blocks", "type"),
    ],
)
def test_bad_forecast_is_rejected_with_the_wire_path(
    payload: dict[str, Any], path: str, keyword: str
) -> None:
    with pytest.raises(OscpPayloadError) as caught:
        parse(UpdateGroupCapacityForecast, payload)
    assert caught.value.title == "UpdateGroupCapacityForecast"
    assert [(error.path, error.keyword) for error in caught.value.errors] == [(path, keyword)]
    assert path in str(caught.value)


def test_all_errors_are_reported_at_once() -> None:
    payload = _with(_without(FORECAST, "group_id"), "NOPE", "type")
    with pytest.raises(OscpPayloadError) as caught:
        parse("UpdateGroupCapacityForecast", payload)
    assert {error.path for error in caught.value.errors} == {"$.group_id", "$.type"}


@pytest.mark.parametrize(
    ("title", "payload", "path"),
    [
        ("Register", {"token": "t", "version_url": []}, "$.version_url"),
        ("Register", {"version_url": [{"version": "2.0", "base_url": "u"}]}, "$.token"),
        ("Heartbeat", {"offline_mode_at": "2026-04-02T10:15:00"}, "$.offline_mode_at"),
        (
            "Handshake",
            {"required_behaviour": {"heartbeat_interval": 30}},
            "$.required_behaviour.measurement_configuration",
        ),
        (
            "HandshakeAcknowledge",
            {"required_behaviour": {"measurement_configuration": ["CONTINUOUS", "CONTINUOUS"]}},
            "$.required_behaviour.measurement_configuration",
        ),
        (
            "Handshake",
            {"required_behaviour": {"measurement_configuration": ["DAILY"]}},
            "$.required_behaviour.measurement_configuration[0]",
        ),
        ("GroupCapacityComplianceError", {"forecasted_blocks": []}, "$.forecasted_blocks"),
        (
            "UpdateAssetMeasurements",
            {"group_id": "g", "measurements": [{"asset_id": "a", "asset_category": "EV"}]},
            "$.measurements[0].asset_category",
        ),
        (
            "UpdateGroupMeasurements",
            {
                "group_id": "g",
                "measurements": [
                    {
                        "value": 1,
                        "phase": "ALL",
                        "unit": "MWH",
                        "direction": "NET",
                        "measure_time": "2026-04-02T10:15:00Z",
                    }
                ],
            },
            "$.measurements[0].unit",
        ),
    ],
)
def test_bad_payloads_are_rejected_naming_the_wire_path(
    title: str, payload: dict[str, Any], path: str
) -> None:
    with pytest.raises(OscpPayloadError) as caught:
        parse(title, payload)
    assert path in [error.path for error in caught.value.errors]


def test_empty_measurement_lists_are_accepted_on_receipt_but_never_sent() -> None:
    empty = {"group_id": "depot-north-grid", "measurements": []}
    received = parse(UpdateGroupMeasurements, empty)
    assert received.measurements == []
    assert parse("UpdateAssetMeasurements", empty).to_wire() == empty
    with pytest.raises(OscpPayloadError):
        parse(UpdateGroupMeasurements, empty, strict=True)
    with pytest.raises(OscpPayloadError) as caught:
        checked_wire(received)
    assert caught.value.errors[0].path == "$.measurements"


def test_parse_json_reports_malformed_json_at_the_root() -> None:
    with pytest.raises(OscpPayloadError) as caught:
        parse_json(Heartbeat, b'{"offline_mode_at": ')
    assert caught.value.errors[0].path == "$"
    with pytest.raises(OscpPayloadError):
        parse_json(ForecastedBlock, b'{"capacity": NaN}')
    with pytest.raises(OscpPayloadError):
        parse_json(Heartbeat, b"\xff\xfe")
    assert parse_json("Heartbeat", '{"offline_mode_at": "2026-04-02T10:15:00Z"}') == Heartbeat(
        offline_mode_at=datetime(2026, 4, 2, 10, 15, tzinfo=UTC)
    )


def test_payload_error_becomes_an_oscp_error_body() -> None:
    with pytest.raises(OscpPayloadError) as caught:
        parse(Heartbeat, {})
    body = caught.value.to_error().to_wire()
    assert schemas.validate("Error", body) == []
    assert "$.offline_mode_at" in body["message"]
