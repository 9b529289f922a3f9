"""Persistence of the legacy depot model: rows in, plain domain objects out."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, delete, func, insert, select, update

from depotgrid.manage.legacy import tables
from depotgrid.manage.legacy.model import (
    Charger,
    Circuit,
    Depot,
    Device,
    Entity,
    PowerSource,
)

E = TypeVar("E", Depot, Circuit, Charger, PowerSource, Device)

TABLES: dict[type[Any], Table] = {
    Depot: tables.depots,
    Circuit: tables.circuits,
    Charger: tables.chargers,
    PowerSource: tables.power_sources,
    Device: tables.devices,
}


class LegacyRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def get(self, kind: type[E], entity_id: str, *, for_update: bool = False) -> E | None:
        table = TABLES[kind]
        query = select(table).where(table.c.id == entity_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return kind(**row._mapping) if row else None

    def page(
        self,
        kind: type[E],
        *,
        limit: int,
        offset: int,
        search: str | None = None,
        **filters: str | None,
    ) -> tuple[list[E], int]:
        """One page of `kind` matching `filters` (column = value) and a name search; the total."""
        table = TABLES[kind]
        conditions = [table.c[column] == value for column, value in filters.items()]
        if search:
            conditions.append(func.lower(table.c.name).contains(search.lower()))
        total = self._conn.scalar(select(func.count()).select_from(table).where(*conditions)) or 0
        order = [table.c.position, table.c.name] if kind is Circuit else [table.c.name]
        rows = self._conn.execute(
            select(table)
            .where(*conditions)
            .order_by(*order, table.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [kind(**row._mapping) for row in rows], int(total)

    def all_in_depot(self, kind: type[E], depot_id: str) -> list[E]:
        table = TABLES[kind]
        rows = self._conn.execute(select(table).where(table.c.depot_id == depot_id))
        return [kind(**row._mapping) for row in rows]

    def parents_by_id(self, depot_id: str) -> dict[str, str | None]:
        table = tables.circuits
        rows = self._conn.execute(
            select(table.c.id, table.c.parent_circuit_id).where(table.c.depot_id == depot_id)
        )
        return {row.id: row.parent_circuit_id for row in rows}

    def children(self, circuit_id: str) -> list[Circuit]:
        rows = self._conn.execute(
            select(tables.circuits).where(tables.circuits.c.parent_circuit_id == circuit_id)
        )
        return [Circuit(**row._mapping) for row in rows]

    def components_on(self, kind: type[E], circuit_id: str) -> list[E]:
        table = TABLES[kind]
        rows = self._conn.execute(select(table).where(table.c.circuit_id == circuit_id))
        return [kind(**row._mapping) for row in rows]

    def charger_by_identity(self, ocpp_identity: str) -> Charger | None:
        row = self._conn.execute(
            select(tables.chargers).where(tables.chargers.c.ocpp_identity == ocpp_identity)
        ).first()
        return Charger(**row._mapping) if row else None

    def next_position(self, depot_id: str, parent_circuit_id: str | None) -> int:
        table = tables.circuits
        found = self._conn.scalar(
            select(func.max(table.c.position)).where(
                table.c.depot_id == depot_id,
                table.c.parent_circuit_id.is_(parent_circuit_id)
                if parent_circuit_id is None
                else table.c.parent_circuit_id == parent_circuit_id,
            )
        )
        return 0 if found is None else int(found) + 1

    def add(self, entity: Entity) -> None:
        self._conn.execute(insert(TABLES[type(entity)]).values(**asdict(entity)))

    def save(self, entity: Entity) -> None:
        table = TABLES[type(entity)]
        self._conn.execute(update(table).where(table.c.id == entity.id).values(**asdict(entity)))

    def remove(self, entity: Entity) -> None:
        table = TABLES[type(entity)]
        self._conn.execute(delete(table).where(table.c.id == entity.id))
