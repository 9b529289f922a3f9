"""The packaged schema copies, schema lookup, $ref resolution and error reporting."""

from __future__ import annotations

from pathlib import Path

import pytest

from depotgrid.oscp import schemas
from depotgrid.oscp.schemas import SchemaError, json_path

PACKAGE_SCHEMAS = Path(schemas.__file__).parent / "schemas"
SHARED_SCHEMAS = Path(__file__).parents[3] / ".." / "shared" / "oscp-2.0" / "schemas"


def test_package_copies_are_byte_identical_to_the_shared_schemas() -> None:
    assert SHARED_SCHEMAS.is_dir(), f"expected the shared schemas at {SHARED_SCHEMAS.resolve()}"
    shared = sorted(path.name for path in SHARED_SCHEMAS.glob("*.json"))
    packaged = sorted(path.name for path in PACKAGE_SCHEMAS.glob("*.json"))
    assert packaged == shared
    for name in shared:
        assert (PACKAGE_SCHEMAS / name).read_bytes() == (SHARED_SCHEMAS / name).read_bytes(), name


def test_every_schema_file_is_loaded_by_title() -> None:
    assert len(schemas.titles()) == len(list(PACKAGE_SCHEMAS.glob("*.json")))
    assert schemas.schema("Register").file_name == "register.json"


def test_the_plural_asset_measurements_name_is_an_alias_of_the_schema_title() -> None:
    assert schemas.canonical_title("UpdateAssetMeasurements") == "UpdateAssetMeasurement"
    assert schemas.schema("UpdateAssetMeasurements").file_name == "update-asset-measurements.json"


def test_an_unknown_title_is_a_lookup_error() -> None:
    with pytest.raises(schemas.UnknownSchemaError):
        schemas.validate("UpdateGroupPrice", {})


def test_refs_resolve_even_where_the_id_differs_from_the_file_name() -> None:
    # register.json refers to "version-url.json", whose $id says "version_url.json".
    errors = schemas.validate("Register", {"token": "t", "version_url": [{"version": "2.0"}]})
    assert errors == [
        SchemaError("$.version_url[0].base_url", "required field is missing", "required")
    ]


def test_valid_payload_has_no_errors() -> None:
    assert schemas.validate("Heartbeat", {"offline_mode_at": "2026-04-02T10:15:00Z"}) == []


def test_every_error_is_reported_with_its_wire_path() -> None:
    payload = {
        "group_id": 7,
        "type": "MAXIMUM",
        "forecasted_blocks": [
            {
                "capacity": -1,
                "phase": "ALL",
                "unit": "KW",
                "start_time": "2026-04-02 10:00:00",
                "end_time": "2026-04-02T10:15:00Z",
            }
        ],
    }
    errors = schemas.validate("UpdateGroupCapacityForecast", payload)
    assert [(error.path, error.keyword) for error in errors] == [
        ("$.forecasted_blocks[0].capacity", "minimum"),
        ("$.forecasted_blocks[0].start_time", "format"),
        ("$.group_id", "type"),
        ("$.type", "enum"),
    ]


def test_a_payload_that_is_not_an_object_is_an_error_not_an_exception() -> None:
    assert schemas.validate("Heartbeat", ["not", "an", "object"])[0].path == "$"


@pytest.mark.parametrize(
    "value",
    [
        "2026-04-02T10:15:00Z",
        "2026-04-02T10:15:00.123Z",
        "2026-04-02T20:15:00+10:00",
        "2026-04-02T05:15:00-05:00",
        "2026-04-02t10:15:00z",
    ],
)
def test_rfc3339_date_times_with_an_offset_are_valid(value: str) -> None:
    assert schemas.is_rfc3339_date_time(value)


@pytest.mark.parametrize(
    "value",
    [
        "2026-04-02 10:15:00",  # AP's naive format (PROTOCOL.md §8.4)
        "2026-04-02T10:15:00",  # no offset
        "2026-04-02",
        "2026-13-02T10:15:00Z",
        "2026-02-30T10:15:00Z",
        "2026-04-02T10:15Z",
        "2026-04-02T10:15:00+1000",
        "1775124900",
        "",
    ],
)
def test_date_times_without_offset_or_out_of_range_are_invalid(value: str) -> None:
    assert not schemas.is_rfc3339_date_time(value)
    assert schemas.validate("Heartbeat", {"offline_mode_at": value})[0].keyword == "format"


def test_json_path_quotes_keys_that_are_not_identifiers() -> None:
    assert json_path(["a", 0, "b c", "d"]) == '$.a[0]["b c"].d'
