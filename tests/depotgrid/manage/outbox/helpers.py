"""Builders shared by the outbox tests: bodies, a resolver, and reading entries back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from depotgrid.manage.outbox import service as outbox
from depotgrid.manage.outbox.destinations import Destination
from depotgrid.manage.outbox.model import OutboxEntry, OutboxState
from depotgrid.manage.outbox.service import Publication
from depotgrid.manage.outbox.tables import outbox_entries
from depotgrid.manage.unit_of_work import UnitOfWorkFactory

DESTINATION = "cfg-vector-1"
TOKEN = "cp-issued-token"


def heartbeat(at: datetime) -> dict[str, Any]:
    return {"offline_mode_at": (at + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")}


def register() -> dict[str, Any]:
    return {
        "token": "fp-issued-secret",
        "version_url": [{"version": "2.0", "base_url": "https://manage.example/oscp/fp/2.0"}],
    }


class Resolver:
    """Resolves the destinations it was given; every other id is gone (None)."""

    def __init__(self, destinations: Mapping[str, Destination]) -> None:
        self.destinations = dict(destinations)
        self.calls: list[str] = []

    @classmethod
    def to(cls, base_url: str, **headers: str) -> Resolver:
        static = {"Authorization": f"Token {TOKEN}", **headers}
        return cls({DESTINATION: Destination(base_url, static)})

    async def resolve(self, destination_id: str) -> Destination | None:
        self.calls.append(destination_id)
        return self.destinations.get(destination_id)


def enqueue_heartbeats(
    uows: UnitOfWorkFactory, count: int, *, destination_id: str = DESTINATION, **options: Any
) -> list[OutboxEntry]:
    with uows.write() as uow:
        now = uow.clock.now()
        made = [
            outbox.enqueue(
                uow,
                destination_id=destination_id,
                message_type="Heartbeat",
                body=heartbeat(now),
                **options,
            )
            for _ in range(count)
        ]
        uow.commit()
    return made


def publications(uows: UnitOfWorkFactory, destination_id: str = DESTINATION) -> list[Publication]:
    with uows.read() as uow:
        found, _ = outbox.entries_for(uow, destination_id, limit=10_000, offset=0)
    return found


def only(uows: UnitOfWorkFactory) -> Publication:
    [publication] = publications(uows)
    return publication


def count_in(uows: UnitOfWorkFactory, state: OutboxState) -> int:
    with uows.read() as uow:
        found = uow.connection.scalar(
            select(func.count())
            .select_from(outbox_entries)
            .where(outbox_entries.c.state == state.value)
        )
    return int(found or 0)
