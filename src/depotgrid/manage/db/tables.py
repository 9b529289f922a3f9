"""Every manage table, imported in one place so metadata is complete for migrations."""

from depotgrid.manage.auth import tables as auth_tables
from depotgrid.manage.balancing import tables as balancing_tables
from depotgrid.manage.db.metadata import metadata
from depotgrid.manage.envelopes import tables as envelope_tables
from depotgrid.manage.events import store as event_store
from depotgrid.manage.legacy import tables as legacy_tables
from depotgrid.manage.microgrid import tables as microgrid_tables
from depotgrid.manage.oscp import tables as oscp_tables
from depotgrid.manage.outbox import tables as outbox_tables

__all__ = [
    "auth_tables",
    "balancing_tables",
    "envelope_tables",
    "event_store",
    "legacy_tables",
    "metadata",
    "microgrid_tables",
    "oscp_tables",
    "outbox_tables",
]
