"""The official OSCP 2.0 JSON Schemas, loaded once, and validation of wire payloads against them.

Implements the payload rules of PROTOCOL.md §2-§5 exactly as the schemas state them (draft-07,
copied byte for byte into `depotgrid/oscp/schemas/` so an installed package needs no ../shared).

- Cross-file `$ref`s resolve through a `referencing` Registry. Two files declare an `$id` that
  differs from their file name (`version-url.json` says `version_url.json`,
  `update-asset-measurements.json` says `update-asset-measurement.json`), so every schema is
  registered under both its `$id` and its file name.
- Schemas are looked up by `title`. One title differs from its file and endpoint:
  `update-asset-measurements.json` is titled `UpdateAssetMeasurement` (singular); the plural is
  accepted as an alias.
- `format: date-time` is checked as RFC 3339 with a mandatory offset (`Z` or `±hh:mm`), the
  mitigation of PROTOCOL.md §8.4 against peers that send naive times.
- `validate` returns every error, never raises for ordinary invalid input, and names the wire
  field in a JSON path (`$.forecasted_blocks[0].capacity`); a missing required field is reported
  at the field's own path (`$.group_id`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SCHEMA_BASE_URI = "http://www.openchargealliance.org/schemas/oscp/2.0/"

TITLE_ALIASES: Mapping[str, str] = {"UpdateAssetMeasurements": "UpdateAssetMeasurement"}
"""Names callers may use for a schema whose title is spelled otherwise."""

_RFC3339_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$"
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class SchemaError:
    """One reason a payload does not match its schema."""

    path: str
    """JSON path of the offending wire field, `$` for the payload itself."""
    message: str
    keyword: str
    """The JSON Schema keyword that failed: `required`, `type`, `enum`, `minimum`, `format`, ..."""

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class UnknownSchemaError(LookupError):
    """No OSCP 2.0 schema has this title."""


@dataclass(frozen=True)
class OscpSchema:
    title: str
    file_name: str
    uri: str
    contents: Mapping[str, Any]

    @property
    def is_enum(self) -> bool:
        return "enum" in self.contents


def is_rfc3339_date_time(value: str) -> bool:
    """True for an RFC 3339 `date-time` with an explicit offset, e.g. `2026-04-02T10:15:00Z`."""
    if not _RFC3339_DATE_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper())
    except ValueError:
        return False
    return True


def _check_date_time(instance: object) -> bool:
    return not isinstance(instance, str) or is_rfc3339_date_time(instance)


FORMAT_CHECKER = FormatChecker(formats=())
FORMAT_CHECKER.checks("date-time")(_check_date_time)


@cache
def _catalogue() -> dict[str, OscpSchema]:
    folder = resources.files("depotgrid.oscp") / "schemas"
    found: dict[str, OscpSchema] = {}
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".json"):
            continue
        contents = json.loads(entry.read_text(encoding="utf-8"))
        title = contents["title"]
        found[title] = OscpSchema(title, entry.name, contents["$id"], contents)
    return found


def titles() -> tuple[str, ...]:
    """Every schema title, sorted."""
    return tuple(sorted(_catalogue()))


def canonical_title(name: str) -> str:
    """The schema title for `name` (a title or an alias); UnknownSchemaError if there is none."""
    title = TITLE_ALIASES.get(name, name)
    if title not in _catalogue():
        raise UnknownSchemaError(f"no OSCP 2.0 schema is titled {name!r}")
    return title


def schema(title: str) -> OscpSchema:
    return _catalogue()[canonical_title(title)]


@cache
def _registry() -> Registry[Any]:
    resources_by_uri: list[tuple[str, Resource[Any]]] = []
    for entry in _catalogue().values():
        resource = Resource.from_contents(entry.contents, default_specification=DRAFT7)
        resources_by_uri.append((entry.uri, resource))
        resources_by_uri.append((SCHEMA_BASE_URI + entry.file_name, resource))
    return Registry().with_resources(resources_by_uri).crawl()


@cache
def _validator(title: str) -> Draft7Validator:
    return Draft7Validator(
        schema(title).contents, registry=_registry(), format_checker=FORMAT_CHECKER
    )


def validate(title: str, payload: Any) -> list[SchemaError]:
    """Every way `payload` (decoded JSON) breaks the schema titled `title`; empty when valid."""
    found = (
        _to_schema_error(error) for error in _validator(canonical_title(title)).iter_errors(payload)
    )
    return sorted(found, key=lambda error: (error.path, error.keyword, error.message))


def json_path(parts: Iterable[str | int]) -> str:
    """`$`-rooted JSON path for a sequence of object keys and array indexes."""
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER.match(part):
            path += f".{part}"
        else:
            path += f"[{json.dumps(part)}]"
    return path


def _to_schema_error(error: ValidationError) -> SchemaError:
    parts: list[str | int] = list(error.absolute_path)
    keyword = str(error.validator)
    if keyword == "required":
        missing = _missing_property(error)
        if missing is not None:
            return SchemaError(json_path([*parts, missing]), "required field is missing", keyword)
    return SchemaError(json_path(parts), error.message, keyword)


def _missing_property(error: ValidationError) -> str | None:
    instance = error.instance
    required = error.validator_value
    if not isinstance(instance, dict) or not isinstance(required, list):
        return None
    for name in required:
        if isinstance(name, str) and name not in instance and repr(name) in error.message:
            return name
    return None
