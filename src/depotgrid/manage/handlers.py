"""The in-transaction event handler table: which reactions run when an event is appended.

One explicit table, as in cosmicpython's message bus: each handler takes the unit of work and the
recorded event, runs before commit, and may append further events (handled in turn).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from depotgrid.manage.unit_of_work import EventHandler

EVENT_HANDLERS: Mapping[str, Sequence[EventHandler]] = {}
