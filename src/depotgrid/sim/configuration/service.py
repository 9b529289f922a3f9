"""Simulation Configuration Service commands (design §5): create, version, read, import.

Every document is checked in full before anything is written; a new version never changes a
run, because runs pin (configuration_id, version) and versions are immutable (§4).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from depotgrid.common.ids import new_id
from depotgrid.sim.configuration import legacy
from depotgrid.sim.configuration.model import SimulationConfigurationDocument, check
from depotgrid.sim.configuration.repository import ConfigurationVersion
from depotgrid.sim.errors import FieldError, NotFound, ValidationFailed
from depotgrid.sim.unit_of_work import SimUnitOfWork


def checked(document: SimulationConfigurationDocument) -> SimulationConfigurationDocument:
    errors = check(document)
    if errors:
        raise ValidationFailed(errors)
    return document


def create(uow: SimUnitOfWork, document: SimulationConfigurationDocument, now: datetime) -> str:
    configuration_id = new_id()
    uow.configurations.create(configuration_id, checked(document), now)
    return configuration_id


def add_version(
    uow: SimUnitOfWork,
    configuration_id: str,
    document: SimulationConfigurationDocument,
    now: datetime,
) -> int:
    if uow.configurations.get(configuration_id) is None:
        raise NotFound("simulation configuration", configuration_id)
    return uow.configurations.add_version(configuration_id, checked(document), now)


def get_version(uow: SimUnitOfWork, configuration_id: str, version: int) -> ConfigurationVersion:
    if uow.configurations.get(configuration_id) is None:
        raise NotFound("simulation configuration", configuration_id)
    found = uow.configurations.version(configuration_id, version)
    if found is None:
        raise NotFound(f"version of simulation configuration {configuration_id}", str(version))
    return found


def import_legacy(uow: SimUnitOfWork, body: legacy.LegacyImport, now: datetime) -> tuple[str, Any]:
    raw = legacy.translate(body)
    try:
        document = SimulationConfigurationDocument.model_validate(raw)
    except ValidationError as exc:
        raise ValidationFailed(
            [
                FieldError(".".join(str(p) for p in error["loc"]), str(error["msg"]))
                for error in exc.errors()
            ]
        ) from None
    return create(uow, document, now), document
