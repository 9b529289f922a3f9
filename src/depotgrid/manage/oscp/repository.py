"""Persistence of OSCP configurations: the projection of current state, and inbound tokens.

The projection is written in the transaction that appends the event it reflects. Its partial
unique indexes are the guarantee of active uniqueness: a clash surfaces as an IntegrityError,
which `add` and `save` turn into a 409 naming the configuration that holds the group_id or scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from depotgrid.manage.errors import Conflict
from depotgrid.manage.events.store import ConcurrencyError
from depotgrid.manage.oscp.configuration import (
    FIELDS,
    ConfigurationState,
    OscpConfiguration,
    decode,
    encode,
)
from depotgrid.manage.oscp.tables import ACTIVE, oscp_configurations, oscp_inbound_tokens

table = oscp_configurations
UNIQUE_WHILE_ACTIVE = (
    ("group_id", "OSCP_GROUP_ID_IN_USE"),
    ("managed_scope_id", "OSCP_SCOPE_IN_USE"),
)


class ConfigurationRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def get(self, configuration_id: str) -> OscpConfiguration | None:
        row = self._conn.execute(select(table).where(table.c.id == configuration_id)).first()
        return _configuration(row._mapping) if row else None

    def page(self, *, limit: int, offset: int) -> tuple[list[OscpConfiguration], int]:
        total = self._conn.scalar(select(func.count()).select_from(table))
        rows = self._conn.execute(
            select(table).order_by(table.c.created_at, table.c.id).limit(limit).offset(offset)
        )
        return [_configuration(row._mapping) for row in rows], int(total or 0)

    def add(self, configuration: OscpConfiguration) -> None:
        self._write(configuration, insert(table).values(**_row(configuration)))

    def save(self, configuration: OscpConfiguration) -> None:
        row = _row(configuration)
        del row["id"], row["created_at"]
        self._write(configuration, update(table).where(table.c.id == configuration.id).values(row))

    def _write(self, configuration: OscpConfiguration, statement: Any) -> None:
        """Run `statement` in a savepoint, so that after a clash the transaction can still read."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(statement)
        except IntegrityError as exc:
            raise self._clash(configuration) from exc

    def _clash(self, configuration: OscpConfiguration) -> Exception:
        for column, code in UNIQUE_WHILE_ACTIVE:
            value = getattr(configuration, column)
            holder = self._conn.execute(
                select(table.c.id, table.c.name, table.c.state).where(
                    table.c[column] == value, ACTIVE, table.c.id != configuration.id
                )
            ).first()
            if holder is not None:
                return Conflict(
                    f"{column} '{value}' is already used by active OSCP configuration "
                    f"{holder.name or holder.id} ({holder.state}); disable that one first "
                    f"or choose another {column}",
                    code=code,
                    details={"field": column, "configuration_id": holder.id},
                )
        return ConcurrencyError(f"oscp configuration {configuration.id} changed concurrently")


def _row(configuration: OscpConfiguration) -> dict[str, Any]:
    return {name: encode(name, getattr(configuration, name)) for name in FIELDS} | {
        "id": configuration.id,
        "state": configuration.state.value,
        "enabled": configuration.enabled,
        "version": configuration.version,
        "created_at": configuration.created_at,
        "updated_at": configuration.updated_at,
    }


def _configuration(row: RowMapping) -> OscpConfiguration:
    return OscpConfiguration(
        id=row["id"],
        **{name: decode(name, row[name]) for name in FIELDS},
        state=ConfigurationState(row["state"]),
        enabled=row["enabled"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


@dataclass(frozen=True)
class InboundCredential:
    """An inbound token manage issued (its digest only); valid until retired."""

    id: str
    configuration_id: str
    issued_at: datetime


class InboundTokenRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, credential: InboundCredential, token_hash: str) -> None:
        self._conn.execute(
            insert(oscp_inbound_tokens).values(
                id=credential.id,
                configuration_id=credential.configuration_id,
                token_hash=token_hash,
                issued_at=credential.issued_at,
            )
        )

    def find(self, token_hash: str) -> InboundCredential | None:
        """The valid (not retired) credential with this digest."""
        row = self._conn.execute(
            select(oscp_inbound_tokens).where(
                oscp_inbound_tokens.c.token_hash == token_hash,
                oscp_inbound_tokens.c.retired_at.is_(None),
            )
        ).first()
        return _credential(row._mapping) if row else None

    def valid(self, configuration_id: str) -> list[InboundCredential]:
        rows = self._conn.execute(
            select(oscp_inbound_tokens)
            .where(
                oscp_inbound_tokens.c.configuration_id == configuration_id,
                oscp_inbound_tokens.c.retired_at.is_(None),
            )
            .order_by(oscp_inbound_tokens.c.issued_at, oscp_inbound_tokens.c.id)
        )
        return [_credential(row._mapping) for row in rows]

    def retire(self, ids: Iterable[str], at: datetime) -> None:
        self._conn.execute(
            update(oscp_inbound_tokens)
            .where(oscp_inbound_tokens.c.id.in_(list(ids)))
            .values(retired_at=at)
        )


def _credential(row: RowMapping) -> InboundCredential:
    return InboundCredential(row["id"], row["configuration_id"], row["issued_at"])
