"""COR-8 backfill as an operator runs it: `depotgrid manage microgrid-backfill` in a real process
against a data directory whose depots predate microgrids."""

from __future__ import annotations

from pathlib import Path

from depotgrid.common.clock import SystemClock
from depotgrid.manage.db.engine import make_engine
from depotgrid.manage.db.migrate import upgrade
from depotgrid.manage.legacy import service as legacy
from depotgrid.manage.microgrid import service
from depotgrid.manage.unit_of_work import UnitOfWorkFactory
from depotgrid.settings import Settings
from tests.depotgrid.test_cli import _cli


def _depots_from_before_microgrids(data_dir: Path) -> tuple[UnitOfWorkFactory, dict[str, str]]:
    """Depots written without the sync handlers, as the data was before this feature."""
    engine = make_engine(Settings(data_dir=data_dir).database_url)
    upgrade(engine)
    old = UnitOfWorkFactory(engine, SystemClock(), handlers={})
    ids = {}
    with old.write() as uow:
        for name, top_level in (("Alpha", 1), ("Bravo", 2), ("Empty", 0)):
            depot = legacy.create_depot(uow, "seed", name=name, timezone="UTC")
            ids[name] = depot.id
            for n in range(top_level):
                grid = legacy.create_circuit(
                    uow,
                    "seed",
                    depot.id,
                    {"name": f"Grid {n}", "parent_circuit_id": None, "max_capacity_kw": 100.0},
                )
                legacy.create_circuit(
                    uow,
                    "seed",
                    depot.id,
                    {"name": f"Feeder {n}", "parent_circuit_id": grid.id, "max_capacity_kw": 50.0},
                )
        uow.commit()
    return old, ids


def test_cor8_backfill_creates_one_microgrid_per_depot_with_top_level_circuits(
    tmp_path: Path,
) -> None:
    uows, ids = _depots_from_before_microgrids(tmp_path)
    with uows.read() as uow:
        assert all(service.microgrid_for_depot(uow, i) is None for i in ids.values())
    result = _cli(tmp_path, "manage", "microgrid-backfill")
    assert result.returncode == 0, result.stderr
    assert "microgrids created: 2; depots skipped: 1" in result.stdout
    assert "NO_TOP_LEVEL_CIRCUIT" in result.stdout
    assert "Provisioning microgrids" in result.stderr  # the progress bar
    with uows.read() as uow:
        alpha = service.microgrid_for_depot(uow, ids["Alpha"])
        bravo = service.microgrid_for_depot(uow, ids["Bravo"])
        assert alpha is not None and bravo is not None
        assert len(service.scopes(uow, alpha.id)) == 1
        assert len(service.scopes(uow, bravo.id)) == 2
        assert len(service.nodes(uow, bravo.id)) == 5
        assert service.microgrid_for_depot(uow, ids["Empty"]) is None
        status = service.provisioning_status(uow, ids["Empty"])
        assert status.failure is not None and status.failure.code.value == "NO_TOP_LEVEL_CIRCUIT"
        provisioned = uow.events.read_stream(service.microgrid_stream(ids["Alpha"]))
        assert [(e.event_type, e.data["trigger"], e.actor) for e in provisioned] == [
            ("MicrogridProvisioned", "backfill", "cli")
        ]

    again = _cli(tmp_path, "manage", "microgrid-backfill")
    assert again.returncode == 0, again.stderr
    assert "microgrids created: 0; depots skipped: 3" in again.stdout
    assert again.stdout.count("ALREADY_PROVISIONED") == 3  # two rows and the legend
    assert "ALREADY_PROVISIONED: the depot already has an active microgrid" in again.stdout
    with uows.read() as uow:
        assert service.microgrid_for_depot(uow, ids["Alpha"]) == alpha


def test_backfill_of_an_empty_installation_says_so(tmp_path: Path) -> None:
    result = _cli(tmp_path, "manage", "microgrid-backfill")
    assert result.returncode == 0, result.stderr
    assert "microgrids created: 0; depots skipped: 0" in result.stdout
