"""Persistence of runs (with their clock anchors, lease and checkpoint) and of sim events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, insert, or_, select, update

from depotgrid.sim.db.tables import events, runs
from depotgrid.sim.runtime import world as world_state
from depotgrid.sim.runtime.clock import RunClock
from depotgrid.sim.runtime.run import Run, RunState
from depotgrid.sim.runtime.world import NodeRuntimeState


@dataclass(frozen=True)
class RunRecord:
    """A run as stored: the aggregate, its world snapshot, lease and checkpoint."""

    run: Run
    world: dict[str, NodeRuntimeState]
    lease_owner: str | None
    lease_expires_at: datetime | None
    checkpoint_logical_at: datetime | None
    checkpoint_wall_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class EventRecord:
    position: int
    run_id: str | None
    session_id: str | None
    event_type: str
    data: dict[str, Any]
    logical_at: datetime | None
    recorded_at: datetime


class StaleRun(Exception):
    """The run changed since it was read."""


class RunRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, run: Run, world: Mapping[str, NodeRuntimeState], now: datetime) -> None:
        self._conn.execute(
            insert(runs).values(
                **_run_values(run),
                world=world_state.to_json(world),
                lease_owner=None,
                lease_expires_at=None,
                checkpoint_logical_at=None,
                checkpoint_wall_at=None,
                created_at=now,
                updated_at=now,
            )
        )

    def get(
        self, run_id: str, *, for_update: bool = False, with_world: bool = True
    ) -> RunRecord | None:
        """A run; `with_world=False` skips the world snapshot (left empty) for hot paths."""
        query = _GET_RUN[with_world, for_update]
        row = self._conn.execute(query, {"b_id": run_id}).mappings().first()
        return _record(row) if row else None

    def page(self, limit: int, offset: int) -> tuple[list[RunRecord], int]:
        total = self._conn.scalar(select(func.count()).select_from(runs)) or 0
        rows = self._conn.execute(
            select(runs).order_by(runs.c.created_at.desc(), runs.c.id).limit(limit).offset(offset)
        ).mappings()
        return [_record(row) for row in rows], int(total)

    def save(self, run: Run, now: datetime, *, expected_version: int) -> None:
        """Write the run's state and clock; StaleRun if someone else changed it meanwhile."""
        result = self._conn.execute(
            update(runs)
            .where(runs.c.id == run.id, runs.c.version == expected_version)
            .values(**_run_values(run), updated_at=now)
        )
        if result.rowcount != 1:
            raise StaleRun(run.id)

    def save_world(
        self,
        run_id: str,
        world: Mapping[str, NodeRuntimeState],
        *,
        logical: datetime,
        wall: datetime,
    ) -> None:
        """Persist a checkpoint: the world snapshot and the times it was taken."""
        self._conn.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(
                world=world_state.to_json(world),
                checkpoint_logical_at=logical,
                checkpoint_wall_at=wall,
            )
        )

    def active_ids(self) -> list[str]:
        return list(self._conn.scalars(select(runs.c.id).where(runs.c.state != RunState.STOPPED)))

    def claim_lease(self, run_id: str, owner: str, now: datetime, until: datetime) -> bool:
        """Take or renew the runner lease if it is free, expired or already ours."""
        result = self._conn.execute(
            update(runs)
            .where(
                runs.c.id == run_id,
                or_(
                    runs.c.lease_owner.is_(None),
                    runs.c.lease_owner == owner,
                    runs.c.lease_expires_at < now,
                ),
            )
            .values(lease_owner=owner, lease_expires_at=until)
        )
        return result.rowcount == 1

    def release_lease(self, run_id: str, owner: str) -> None:
        self._conn.execute(
            update(runs)
            .where(runs.c.id == run_id, runs.c.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )


class EventLog:
    """Append-only log of runtime and projection events (design §6)."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def append(
        self,
        event_type: str,
        data: dict[str, Any],
        *,
        run_id: str | None,
        session_id: str | None = None,
        logical_at: datetime | None,
        now: datetime,
    ) -> None:
        self._conn.execute(
            _INSERT_EVENT,
            {
                "run_id": run_id,
                "session_id": session_id,
                "event_type": event_type,
                "data": data,
                "logical_at": logical_at,
                "recorded_at": now,
            },
        )

    def for_run(
        self, run_id: str, *, limit: int, offset: int, types: Sequence[str] = ()
    ) -> tuple[list[EventRecord], int]:
        where = [events.c.run_id == run_id]
        if types:
            where.append(events.c.event_type.in_(types))
        total = self._conn.scalar(select(func.count()).select_from(events).where(*where)) or 0
        rows = self._conn.execute(
            select(events)
            .where(*where)
            .order_by(events.c.position.desc())
            .limit(limit)
            .offset(offset)
        ).mappings()
        return [EventRecord(**row) for row in rows], int(total)


_INSERT_EVENT = insert(events)


def _get_run(*, with_world: bool, for_update: bool) -> Select[Any]:
    columns = runs.c if with_world else [column for column in runs.c if column.name != "world"]
    query = select(*columns).where(runs.c.id == bindparam("b_id"))
    return query.with_for_update() if for_update else query


_GET_RUN = {
    (with_world, for_update): _get_run(with_world=with_world, for_update=for_update)
    for with_world in (True, False)
    for for_update in (True, False)
}
"""`RunRepository.get`'s four statements, built once: a statement built per call costs more
to prepare (cache key, coercions) than to run."""


def _run_values(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "configuration_id": run.configuration_id,
        "configuration_version": run.configuration_version,
        "state": run.state.value,
        "speed_factor": run.clock.speed,
        "tick_seconds": run.tick_seconds,
        "anchor_wall": run.clock.anchor_wall,
        "anchor_logical": run.clock.anchor_logical,
        "version": run.version,
    }


def _record(row: Any) -> RunRecord:
    state = RunState(row["state"])
    run = Run(
        id=row["id"],
        name=row["name"],
        configuration_id=row["configuration_id"],
        configuration_version=row["configuration_version"],
        state=state,
        clock=RunClock(
            anchor_wall=row["anchor_wall"],
            anchor_logical=row["anchor_logical"],
            speed=row["speed_factor"],
            running=state is RunState.RUNNING,
        ),
        tick_seconds=row["tick_seconds"],
        version=row["version"],
    )
    return RunRecord(
        run=run,
        world=world_state.from_json(row["world"]) if "world" in row else {},
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        checkpoint_logical_at=row["checkpoint_logical_at"],
        checkpoint_wall_at=row["checkpoint_wall_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
