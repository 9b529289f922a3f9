"""The balancing service on a real database: triggers, chaining, breaches, the scheduler entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from depotgrid.common.clock import ManualClock
from depotgrid.manage.balancing import service
from depotgrid.manage.bootstrap import unit_of_work_factory
from depotgrid.manage.legacy import service as legacy
from depotgrid.manage.legacy.model import Charger
from depotgrid.manage.unit_of_work import UnitOfWorkFactory

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def units(uows: UnitOfWorkFactory, engine: Engine, clock: ManualClock) -> UnitOfWorkFactory:
    """Units of work on the emptied database, with a clock the test moves."""
    return unit_of_work_factory(engine, clock)


def _site(units: UnitOfWorkFactory) -> dict[str, str]:
    with units.write() as uow:
        depot = legacy.create_depot(uow, "t", name="Depot", timezone="UTC")
        grid = legacy.create_circuit(
            uow,
            "t",
            depot.id,
            {"name": "Grid", "max_capacity_kw": 100.0, "parent_circuit_id": None},
        )
        charger = legacy.create_component(
            uow,
            "t",
            Charger,
            depot.id,
            {
                "name": "CP",
                "circuit_id": grid.id,
                "ocpp_identity": f"CP-{depot.id[:8]}",
                "max_power_kw": 50.0,
                "plugged_in": True,
            },
        )
        uow.commit()
    return {"depot_id": depot.id, "grid_id": grid.id, "charger_id": charger.id}


def _cycles(units: UnitOfWorkFactory, depot_id: str) -> list[Any]:
    with units.read() as uow:
        rows, _ = service.cycles_page(uow, depot_id, limit=100, offset=0)
    return rows


def test_each_change_runs_one_cycle_in_its_transaction_in_sequence(
    units: UnitOfWorkFactory,
) -> None:
    site = _site(units)
    rows = _cycles(units, site["depot_id"])
    assert [(r.sequence, r.trigger) for r in reversed(rows)] == [
        (1, "CIRCUIT_CHANGE"),
        (2, "CHARGER_CHANGE"),
    ]
    assert rows[0].total_allocated_kw == 50.0
    assert rows[0].microgrid_id is not None, "the cycle names the depot's microgrid"


def test_a_rolled_back_change_leaves_no_cycle(units: UnitOfWorkFactory) -> None:
    site = _site(units)
    with pytest.raises(ValueError), units.write() as uow:
        legacy.update_circuit(uow, "t", site["grid_id"], {"available_capacity_kw": 10.0})
        service.run_cycle(uow, "t", site["depot_id"], trigger="MANUAL")
        raise ValueError("roll back")
    assert len(_cycles(units, site["depot_id"])) == 2


def test_an_envelope_write_through_is_an_envelope_change(units: UnitOfWorkFactory) -> None:
    site = _site(units)
    with units.write() as uow:
        legacy.update_circuit(
            uow,
            "envelopes",
            site["grid_id"],
            {"available_capacity_kw": 30.0, "available_capacity_source": "ENVELOPE"},
        )
        uow.commit()
    latest = _cycles(units, site["depot_id"])[0]
    assert (latest.trigger, latest.trigger_ref) == ("ENVELOPE_CHANGE", site["grid_id"])
    assert latest.total_allocated_kw == 30.0
    with units.write() as uow:
        legacy.update_circuit(
            uow,
            "envelopes",
            site["grid_id"],
            {"available_capacity_kw": 100.0, "available_capacity_source": "SAFE_DEFAULT"},
        )
        uow.commit()
    assert _cycles(units, site["depot_id"])[0].trigger == "ENVELOPE_CHANGE"


def test_the_next_cycle_reads_what_the_previous_left_in_force(units: UnitOfWorkFactory) -> None:
    site = _site(units)
    with units.write() as uow:
        first = service.run_cycle(uow, "t", site["depot_id"], trigger="manual")
        second = service.run_cycle(uow, "t", site["depot_id"], trigger="MANUAL")
        uow.commit()
    assert second.sequence == first.sequence + 1
    assert second.inputs is not None
    snapshot = second.inputs["snapshot"]
    assert snapshot["previous_cycle_id"] == first.id
    assert snapshot["previous_setpoints"] == {site["charger_id"]: 50.0}


def test_an_unknown_trigger_is_refused(units: UnitOfWorkFactory) -> None:
    site = _site(units)
    with pytest.raises(ValueError), units.write() as uow:
        service.run_cycle(uow, "t", site["depot_id"], trigger="whenever")


def test_a_meter_going_stale_shows_after_the_threshold(
    units: UnitOfWorkFactory, clock: ManualClock
) -> None:
    site = _site(units)
    with units.write() as uow:
        _, fresh = service.record_reading(
            uow, "m", site["grid_id"], timestamp=T0, power_kw=60.0, energy_register_kwh=1.0
        )
        uow.commit()
    assert fresh.source_mode == "MEASURED"
    clock.advance(timedelta(seconds=61))
    with units.write() as uow:
        stale = service.run_cycle(uow, "t", site["depot_id"], trigger="TIMER")
        uow.commit()
    assert (stale.source_mode, stale.fail_safe) == ("FALLBACK_DERIVED", True)
    assert stale.result is not None
    assert stale.result["circuits"][0]["reasons"] == [
        "FAIL_SAFE_DEFAULT:METER_STALE",
        "PHYSICAL_RATING",
    ], "the safe default ties with the rating here: both bind"


def test_breach_episodes_are_stored_open_then_closed(
    units: UnitOfWorkFactory, clock: ManualClock
) -> None:
    site = _site(units)
    for kw in (150.0, 150.0, 150.0, 40.0):
        clock.advance(timedelta(seconds=10))
        with units.write() as uow:
            service.record_reading(
                uow,
                "m",
                site["grid_id"],
                timestamp=clock.now(),
                power_kw=kw,
                energy_register_kwh=clock.now().timestamp(),
            )
            uow.commit()
        with units.read() as uow:
            found = service.breaches(uow, depot_id=site["depot_id"])
        if kw == 150.0 and len(found) == 1:
            assert found[0].status == "OPEN" and found[0].closed_cycle_id is None
    (episode,) = found
    assert episode.status == "CLOSED" and episode.closed_cycle_id is not None
    assert episode.started_at == T0 + timedelta(seconds=10)
    assert episode.ended_at == T0 + timedelta(seconds=40)
    assert episode.primary_reason == "UNCONTROLLED_LOAD"
    assert episode.excess_kwh == pytest.approx(3 * 50.0 * 10 / 3600)


def test_an_open_breach_of_a_deleted_circuit_closes(
    units: UnitOfWorkFactory, clock: ManualClock
) -> None:
    site = _site(units)
    with units.write() as uow:
        row = legacy.create_circuit(
            uow,
            "t",
            site["depot_id"],
            {"name": "Row", "max_capacity_kw": 10.0, "parent_circuit_id": site["grid_id"]},
        )
        uow.commit()
    for _ in range(3):
        clock.advance(timedelta(seconds=5))
        with units.write() as uow:
            service.record_reading(
                uow,
                "m",
                row.id,
                timestamp=clock.now(),
                power_kw=20.0,
                energy_register_kwh=clock.now().timestamp(),
            )
            uow.commit()
    with units.write() as uow:
        legacy.delete_circuit(uow, "t", row.id)
        uow.commit()
    with units.read() as uow:
        (episode,) = service.breaches(uow, circuit_ids=[row.id])
    assert episode.status == "CLOSED"


def test_rebalance_all_runs_one_timer_cycle_per_depot_with_circuits(
    units: UnitOfWorkFactory,
) -> None:
    one, two = _site(units), _site(units)
    with units.write() as uow:
        legacy.create_depot(uow, "t", name="Empty", timezone="UTC")
        uow.commit()
    assert service.rebalance_all(units) == 2
    for site in (one, two):
        assert _cycles(units, site["depot_id"])[0].trigger == "TIMER"
