"""Persistence of versioned simulation configurations (design §5: "persist versioned
simulation configurations"); a version, once written, never changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from depotgrid.sim.configuration.model import SimulationConfigurationDocument
from depotgrid.sim.db.tables import configuration_versions, configurations


@dataclass(frozen=True)
class ConfigurationSummary:
    id: str
    name: str
    latest_version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ConfigurationVersion:
    configuration_id: str
    version: int
    document: SimulationConfigurationDocument
    created_at: datetime


class ConfigurationRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def create(
        self, configuration_id: str, document: SimulationConfigurationDocument, now: datetime
    ) -> None:
        self._conn.execute(
            insert(configurations).values(
                id=configuration_id,
                name=document.name,
                latest_version=1,
                created_at=now,
                updated_at=now,
            )
        )
        self._insert_version(configuration_id, 1, document, now)

    def add_version(
        self, configuration_id: str, document: SimulationConfigurationDocument, now: datetime
    ) -> int:
        """Append the next version; the row lock (or SQLite's write lock) serialises writers."""
        current = self._conn.scalar(
            select(configurations.c.latest_version)
            .where(configurations.c.id == configuration_id)
            .with_for_update()
        )
        assert current is not None
        version = int(current) + 1
        self._conn.execute(
            update(configurations)
            .where(configurations.c.id == configuration_id)
            .values(latest_version=version, name=document.name, updated_at=now)
        )
        self._insert_version(configuration_id, version, document, now)
        return version

    def _insert_version(
        self,
        configuration_id: str,
        version: int,
        document: SimulationConfigurationDocument,
        now: datetime,
    ) -> None:
        self._conn.execute(
            insert(configuration_versions).values(
                configuration_id=configuration_id,
                version=version,
                document=document.model_dump(mode="json"),
                created_at=now,
            )
        )

    def get(self, configuration_id: str) -> ConfigurationSummary | None:
        row = (
            self._conn.execute(
                select(configurations).where(configurations.c.id == configuration_id)
            )
            .mappings()
            .first()
        )
        return ConfigurationSummary(**row) if row else None

    def page(self, limit: int, offset: int) -> tuple[list[ConfigurationSummary], int]:
        total = self._conn.scalar(select(func.count()).select_from(configurations)) or 0
        rows = self._conn.execute(
            select(configurations)
            .order_by(configurations.c.created_at.desc(), configurations.c.id)
            .limit(limit)
            .offset(offset)
        ).mappings()
        return [ConfigurationSummary(**row) for row in rows], int(total)

    def version(self, configuration_id: str, version: int) -> ConfigurationVersion | None:
        row = (
            self._conn.execute(
                select(configuration_versions).where(
                    configuration_versions.c.configuration_id == configuration_id,
                    configuration_versions.c.version == version,
                )
            )
            .mappings()
            .first()
        )
        return _version(row) if row else None

    def versions(self, configuration_id: str) -> list[int]:
        return list(
            self._conn.scalars(
                select(configuration_versions.c.version)
                .where(configuration_versions.c.configuration_id == configuration_id)
                .order_by(configuration_versions.c.version)
            )
        )


def _version(row: Any) -> ConfigurationVersion:
    return ConfigurationVersion(
        configuration_id=row["configuration_id"],
        version=row["version"],
        document=SimulationConfigurationDocument.model_validate(row["document"]),
        created_at=row["created_at"],
    )
