"""The in-transaction event handler table: which reactions run when an event is appended.

One explicit table, as in cosmicpython's message bus: each handler takes the unit of work and the
recorded event, runs before commit, and may append further events (handled in turn).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from depotgrid.manage.balancing import handlers as balancing
from depotgrid.manage.envelopes import service as envelopes
from depotgrid.manage.microgrid import handlers as microgrid
from depotgrid.manage.unit_of_work import EventHandler

EVENT_HANDLERS: Mapping[str, Sequence[EventHandler]] = {
    "DepotCreated": [microgrid.sync_depot_microgrid],
    "DepotDeleted": [microgrid.retire_depot_microgrid],
    "CircuitCreated": [microgrid.sync_depot_microgrid, balancing.rebalance_on_change],
    "CircuitUpdated": [microgrid.sync_depot_microgrid, balancing.rebalance_on_change],
    "CircuitDeleted": [
        envelopes.withdraw_for_removed_circuit,
        microgrid.sync_depot_microgrid,
        balancing.rebalance_on_change,
    ],
    "ChargerCreated": [balancing.rebalance_on_change],
    "ChargerUpdated": [balancing.rebalance_on_change],
    "ChargerDeleted": [balancing.rebalance_on_change],
}
