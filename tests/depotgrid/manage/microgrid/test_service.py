"""COR-8 against a real database: provisioning, same-transaction sync, the one-active-microgrid
constraint, retirement and scope lookup, through the service and the unit of work."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from depotgrid.common.clock import SystemClock
from depotgrid.manage.events.store import ConcurrencyError, RecordedEvent
from depotgrid.manage.handlers import EVENT_HANDLERS
from depotgrid.manage.legacy import service as legacy
from depotgrid.manage.legacy.model import Circuit, Depot
from depotgrid.manage.microgrid import service
from depotgrid.manage.microgrid.model import (
    Microgrid,
    MicrogridNotProvisionable,
    MicrogridStatus,
    NodeKind,
)
from depotgrid.manage.microgrid.tables import microgrid_nodes, microgrids
from depotgrid.manage.unit_of_work import UnitOfWork, UnitOfWorkFactory

ACTOR = "test"


def make_depot(uow: UnitOfWork, name: str = "Depot") -> Depot:
    return legacy.create_depot(uow, ACTOR, name=name, timezone="UTC")


def make_circuit(
    uow: UnitOfWork, depot_id: str, name: str, parent: str | None = None, **extra: Any
) -> Circuit:
    fields = {"name": name, "parent_circuit_id": parent, "max_capacity_kw": 100.0, **extra}
    return legacy.create_circuit(uow, ACTOR, depot_id, fields)


def row_counts(uow: UnitOfWork, depot_id: str) -> tuple[int, int]:
    conn = uow.connection
    grids = conn.scalar(
        select(func.count()).select_from(microgrids).where(microgrids.c.depot_id == depot_id)
    )
    nodes = conn.scalar(
        select(func.count())
        .select_from(microgrid_nodes.join(microgrids))
        .where(microgrids.c.depot_id == depot_id)
    )
    return int(grids or 0), int(nodes or 0)


def stream(uow: UnitOfWork, depot_id: str) -> list[RecordedEvent]:
    return uow.events.read_stream(service.microgrid_stream(depot_id))


def test_cor8_new_depot_gets_a_deterministic_failure_and_no_partial_rows(
    uows: UnitOfWorkFactory,
) -> None:
    with uows.write() as uow:
        depot = make_depot(uow)
        uow.commit()
    with uows.read() as uow:
        assert service.microgrid_for_depot(uow, depot.id) is None
        assert row_counts(uow, depot.id) == (0, 0)
        (event,) = stream(uow, depot.id)
        status = service.provisioning_status(uow, depot.id)
    assert event.event_type == "MicrogridProvisioningFailed"
    assert event.data["reason_code"] == "NO_TOP_LEVEL_CIRCUIT"
    assert event.data["trigger"] == "DepotCreated"
    assert status.state is service.ProvisioningState.FAILED
    assert status.failure is not None and status.failure.reason == event.data["reason"]


def test_cor8_provision_without_top_level_circuit_raises_and_stores_nothing(
    uows: UnitOfWorkFactory,
) -> None:
    with uows.write() as uow:
        depot = make_depot(uow)
        uow.commit()
    with uows.write() as uow:
        with pytest.raises(MicrogridNotProvisionable) as raised:
            service.provision(uow, ACTOR, depot.id)
        assert row_counts(uow, depot.id) == (0, 0)
    assert raised.value.code == "MICROGRID_NOT_PROVISIONABLE"
    assert raised.value.details["reason_code"] == "NO_TOP_LEVEL_CIRCUIT"


def test_cor8_repeated_failures_are_recorded_once_with_the_same_reason(
    uows: UnitOfWorkFactory,
) -> None:
    with uows.write() as uow:
        depot = make_depot(uow)
        uow.commit()
    for _ in range(2):
        with uows.write() as uow:
            outcome = service.sync(uow, ACTOR, depot.id, trigger="resync")
            uow.commit()
        assert outcome.failure is not None and not outcome.changed
    with uows.read() as uow:
        assert [e.event_type for e in stream(uow, depot.id)] == ["MicrogridProvisioningFailed"]


def test_cor8_first_top_level_circuit_provisions_the_microgrid(uows: UnitOfWorkFactory) -> None:
    with uows.write() as uow:
        depot = make_depot(uow)
        uow.commit()
    with uows.write() as uow:
        grid = make_circuit(uow, depot.id, "Grid")
        uow.commit()
    with uows.read() as uow:
        microgrid = service.microgrid_for_depot(uow, depot.id)
        assert microgrid is not None
        nodes = service.nodes(uow, microgrid.id)
        events = stream(uow, depot.id)
        status = service.provisioning_status(uow, depot.id)
    assert (microgrid.version, microgrid.status) == (1, MicrogridStatus.ACTIVE)
    assert sorted((n.kind.value, n.circuit_id) for n in nodes) == [
        ("GRID_CONNECTION", grid.id),
        ("ROOT", None),
    ]
    assert [e.event_type for e in events] == [
        "MicrogridProvisioningFailed",
        "MicrogridProvisioned",
    ]
    assert events[1].data["trigger"] == "CircuitCreated"
    assert events[1].data["grid_connections"][0]["circuit_id"] == grid.id
    assert status.state is service.ProvisioningState.PROVISIONED


def test_cor8_depot_created_with_its_circuits_in_one_transaction_is_provisioned_at_once(
    uows: UnitOfWorkFactory,
) -> None:
    """The demo seed's path: handlers see the depot as committed, circuits included."""
    with uows.write() as uow:
        depot = make_depot(uow)
        grid = make_circuit(uow, depot.id, "Grid")
        make_circuit(uow, depot.id, "Feeder", grid.id)
        uow.commit()
    with uows.read() as uow:
        events = stream(uow, depot.id)
        microgrid = service.microgrid_for_depot(uow, depot.id)
        assert microgrid is not None
        assert row_counts(uow, depot.id) == (1, 3)
    assert [e.event_type for e in events] == ["MicrogridProvisioned"]


def test_cor8_the_database_refuses_a_second_active_microgrid(
    uows: UnitOfWorkFactory,
) -> None:
    with uows.write() as uow:
        depot = make_depot(uow)
        make_circuit(uow, depot.id, "Grid")
        uow.commit()
    with uows.write() as uow, pytest.raises(IntegrityError):
        uow.connection.execute(
            insert(microgrids).values(id="second", depot_id=depot.id, version=1, status="ACTIVE")
        )
    with uows.write() as uow:
        uow.connection.execute(
            insert(microgrids).values(id="old", depot_id=depot.id, version=3, status="RETIRED")
        )
        uow.commit()
    with uows.write() as uow, pytest.raises(ConcurrencyError):
        service.repository(uow).add(Microgrid("third", depot.id, 1, MicrogridStatus.ACTIVE))


def test_cor8_provisioning_an_already_provisioned_depot_is_a_conflict(
    uows: UnitOfWorkFactory,
) -> None:
    with uows.write() as uow:
        depot = make_depot(uow)
        make_circuit(uow, depot.id, "Grid")
        uow.commit()
    with uows.write() as uow, pytest.raises(Exception, match="already has microgrid") as raised:
        service.provision(uow, ACTOR, depot.id)
    assert getattr(raised.value, "code", None) == "MICROGRID_ALREADY_PROVISIONED"


def test_cor8_circuit_change_and_its_sync_commit_or_fail_together(
    engine: Engine, uows: UnitOfWorkFactory
) -> None:
    with uows.write() as uow:
        depot = make_depot(uow)
        make_circuit(uow, depot.id, "Grid")
        uow.commit()

    def explode(uow: UnitOfWork, event: RecordedEvent) -> None:
        raise RuntimeError("a later handler failed")

    handlers = dict(EVENT_HANDLERS)
    handlers["CircuitCreated"] = [*EVENT_HANDLERS["CircuitCreated"], explode]
    failing = UnitOfWorkFactory(engine, SystemClock(), handlers=handlers)
    with failing.write() as uow, pytest.raises(RuntimeError):
        make_circuit(uow, depot.id, "Second grid")
        uow.commit()
    with uows.read() as uow:
        assert len(uow.legacy.all_in_depot(Circuit, depot.id)) == 1
        assert row_counts(uow, depot.id) == (1, 2)
        assert [e.event_type for e in stream(uow, depot.id)] == ["MicrogridProvisioned"]


def test_cor8_sync_is_idempotent_and_records_nothing_when_nothing_changed(
    uows: UnitOfWorkFactory,
) -> None:
    with uows.write() as uow:
        depot = make_depot(uow)
        grid = make_circuit(uow, depot.id, "Grid")
        uow.commit()
    with uows.write() as uow:
        legacy.update_circuit(uow, ACTOR, grid.id, {"available_capacity_kw": 50.0})
        outcome = service.sync(uow, ACTOR, depot.id, trigger="resync")
        uow.commit()
    assert not outcome.changed and outcome.version == 1 == outcome.old_version
    with uows.read() as uow:
        assert [e.event_type for e in stream(uow, depot.id)] == ["MicrogridProvisioned"]


def test_cor8_synced_event_says_what_changed_with_old_and_new_version(
    uows: UnitOfWorkFactory,
) -> None:
    with uows.write() as uow:
        depot = make_depot(uow)
        make_circuit(uow, depot.id, "Grid A")
        uow.commit()
    with uows.write() as uow:
        second = make_circuit(uow, depot.id, "Grid B")
        uow.commit()
    with uows.read() as uow:
        synced = stream(uow, depot.id)[-1]
    assert synced.event_type == "MicrogridSynced"
    assert (synced.data["old_version"], synced.data["new_version"]) == (1, 2)
    assert synced.data["trigger"] == "CircuitCreated"
    assert [a["circuit_id"] for a in synced.data["added"]] == [second.id]
    assert synced.data["updated"] == [] and synced.data["removed"] == []
    assert synced.actor == ACTOR


def test_scope_for_circuit_is_the_grid_connection_above_it(uows: UnitOfWorkFactory) -> None:
    with uows.write() as uow:
        depot = make_depot(uow)
        grid = make_circuit(uow, depot.id, "Grid")
        feeder = make_circuit(uow, depot.id, "Feeder", grid.id)
        bay = make_circuit(uow, depot.id, "Bay", feeder.id)
        other = make_circuit(uow, depot.id, "Other grid")
        uow.commit()
    with uows.read() as uow:
        microgrid = service.microgrid_for_depot(uow, depot.id)
        assert microgrid is not None
        found = service.scope_for_circuit(uow, bay.id)
        assert found is not None and found.circuit_id == grid.id
        assert found == service.scope(uow, microgrid.id, found.node_id)
        assert found.scope_id == found.node_id
        assert [s.circuit_id for s in service.scopes(uow, microgrid.id)] == [grid.id, other.id]
        assert service.scope_for_circuit(uow, "no-such-circuit") is None
        feeder_node = service.repository(uow).active_node_for_circuit(feeder.id)
        assert feeder_node is not None and feeder_node.kind is NodeKind.CIRCUIT
        with pytest.raises(Exception, match="managed scope"):
            service.scope(uow, microgrid.id, feeder_node.id)


def test_deleting_the_depot_retires_its_microgrid_and_keeps_the_rows(
    uows: UnitOfWorkFactory,
) -> None:
    with uows.write() as uow:
        depot = make_depot(uow)
        grid = make_circuit(uow, depot.id, "Grid")
        uow.commit()
    with uows.write() as uow:
        microgrid = service.microgrid_for_depot(uow, depot.id)
        legacy.delete_circuit(uow, ACTOR, grid.id)
        uow.commit()
    with uows.write() as uow:
        legacy.delete_depot(uow, ACTOR, depot.id)
        uow.commit()
    assert microgrid is not None
    with uows.read() as uow:
        retired = service.get_microgrid(uow, microgrid.id)
        assert retired.status is MicrogridStatus.RETIRED
        assert service.microgrid_for_depot(uow, depot.id) is None
        assert service.scopes(uow, microgrid.id) == []
        assert row_counts(uow, depot.id) == (1, 1)
        assert stream(uow, depot.id)[-1].event_type == "MicrogridRetired"
        assert service.provisioning_status(uow, depot.id).state is service.ProvisioningState.RETIRED


def test_last_grid_connection_deleted_keeps_an_empty_microgrid(uows: UnitOfWorkFactory) -> None:
    with uows.write() as uow:
        depot = make_depot(uow)
        grid = make_circuit(uow, depot.id, "Grid")
        uow.commit()
    with uows.write() as uow:
        legacy.delete_circuit(uow, ACTOR, grid.id)
        uow.commit()
    with uows.read() as uow:
        microgrid = service.microgrid_for_depot(uow, depot.id)
        assert microgrid is not None and microgrid.version == 2
        assert [n.kind for n in service.nodes(uow, microgrid.id)] == [NodeKind.ROOT]
