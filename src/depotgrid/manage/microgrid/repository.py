"""Persistence of microgrids and their nodes (COR-8): rows in, plain domain objects out.

Built on the unit of work's connection, so microgrid changes commit with the circuit change
that caused them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from depotgrid.manage.events.store import ConcurrencyError
from depotgrid.manage.microgrid.model import (
    Microgrid,
    MicrogridNode,
    MicrogridStatus,
    NodeKind,
    SyncPlan,
)
from depotgrid.manage.microgrid.tables import microgrid_nodes, microgrids


class MicrogridRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def get(self, microgrid_id: str, *, for_update: bool = False) -> Microgrid | None:
        query = select(microgrids).where(microgrids.c.id == microgrid_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return _microgrid(row) if row else None

    def active_for_depot(self, depot_id: str, *, for_update: bool = False) -> Microgrid | None:
        query = select(microgrids).where(
            microgrids.c.depot_id == depot_id, microgrids.c.status == MicrogridStatus.ACTIVE.value
        )
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return _microgrid(row) if row else None

    def page(
        self,
        *,
        limit: int,
        offset: int,
        depot_id: str | None = None,
        status: MicrogridStatus | None = None,
    ) -> tuple[list[Microgrid], int]:
        conditions = []
        if depot_id is not None:
            conditions.append(microgrids.c.depot_id == depot_id)
        if status is not None:
            conditions.append(microgrids.c.status == status.value)
        total = self._conn.scalar(select(func.count()).select_from(microgrids).where(*conditions))
        rows = self._conn.execute(
            select(microgrids)
            .where(*conditions)
            .order_by(microgrids.c.depot_id, microgrids.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [_microgrid(row) for row in rows], int(total or 0)

    def add(self, microgrid: Microgrid) -> None:
        """Insert; a second ACTIVE microgrid for the depot is refused by the database."""
        try:
            self._conn.execute(insert(microgrids).values(**_values(microgrid)))
        except IntegrityError as exc:
            raise ConcurrencyError(
                f"depot {microgrid.depot_id} already has an active microgrid"
            ) from exc

    def save(self, microgrid: Microgrid) -> None:
        self._conn.execute(
            update(microgrids).where(microgrids.c.id == microgrid.id).values(**_values(microgrid))
        )

    def nodes(self, microgrid_id: str) -> list[MicrogridNode]:
        rows = self._conn.execute(
            select(microgrid_nodes)
            .where(microgrid_nodes.c.microgrid_id == microgrid_id)
            .order_by(microgrid_nodes.c.position, microgrid_nodes.c.name, microgrid_nodes.c.id)
        )
        return [_node(row) for row in rows]

    def nodes_of(self, microgrid_ids: Sequence[str]) -> dict[str, list[MicrogridNode]]:
        """The nodes of several microgrids at once, by microgrid id."""
        found: dict[str, list[MicrogridNode]] = {mid: [] for mid in microgrid_ids}
        if not microgrid_ids:
            return found
        rows = self._conn.execute(
            select(microgrid_nodes)
            .where(microgrid_nodes.c.microgrid_id.in_(list(microgrid_ids)))
            .order_by(microgrid_nodes.c.position, microgrid_nodes.c.name, microgrid_nodes.c.id)
        )
        for row in rows:
            node = _node(row)
            found[node.microgrid_id].append(node)
        return found

    def node(self, node_id: str) -> MicrogridNode | None:
        row = self._conn.execute(
            select(microgrid_nodes).where(microgrid_nodes.c.id == node_id)
        ).first()
        return _node(row) if row else None

    def active_node_for_circuit(self, circuit_id: str) -> MicrogridNode | None:
        """The node mirroring `circuit_id` in an ACTIVE microgrid, if any."""
        row = self._conn.execute(
            select(microgrid_nodes)
            .join(microgrids, microgrids.c.id == microgrid_nodes.c.microgrid_id)
            .where(
                microgrid_nodes.c.circuit_id == circuit_id,
                microgrids.c.status == MicrogridStatus.ACTIVE.value,
            )
        ).first()
        return _node(row) if row else None

    def grid_connections(self, microgrid_id: str) -> list[MicrogridNode]:
        return [n for n in self.nodes(microgrid_id) if n.kind is NodeKind.GRID_CONNECTION]

    def add_nodes(self, nodes: Iterable[MicrogridNode]) -> None:
        """Insert in order: parents before children."""
        for node in nodes:
            self._conn.execute(insert(microgrid_nodes).values(**_values(node)))

    def save_node(self, node: MicrogridNode) -> None:
        self._conn.execute(
            update(microgrid_nodes).where(microgrid_nodes.c.id == node.id).values(**_values(node))
        )

    def remove_nodes(self, node_ids: Sequence[str]) -> None:
        """Delete nodes, whichever of them refer to each other."""
        if not node_ids:
            return
        ids = list(node_ids)
        self._conn.execute(
            update(microgrid_nodes).where(microgrid_nodes.c.id.in_(ids)).values(parent_node_id=None)
        )
        self._conn.execute(delete(microgrid_nodes).where(microgrid_nodes.c.id.in_(ids)))

    def apply(self, plan: SyncPlan) -> None:
        """Adds (parents first), then updates, then removes: every step keeps the keys valid."""
        self.add_nodes(plan.adds)
        for change in plan.updates:
            self.save_node(change.after)
        self.remove_nodes([node.id for node in plan.removes])


def _values(entity: Microgrid | MicrogridNode) -> dict[str, Any]:
    return {key: getattr(value, "value", value) for key, value in asdict(entity).items()}


def _microgrid(row: Row[Any]) -> Microgrid:
    return Microgrid(**row._mapping)


def _node(row: Row[Any]) -> MicrogridNode:
    return MicrogridNode(**row._mapping)
