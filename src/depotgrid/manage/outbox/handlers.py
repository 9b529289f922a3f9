"""Reactions to delivery outcomes, by message type: one explicit table, like manage/handlers.py.

A handler runs in the transaction that records the outcome, after every failed attempt
(RETRYING) and after the final outcome (DELIVERED, DEAD, EXPIRED, CANCELLED); it may change
state and append events, which commit with the outcome or not at all. Example, for the
lifecycle: `"Register": [registration_delivered]` moving a configuration to REGISTERED.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from depotgrid.manage.outbox.model import OutboxEntry, Outcome
from depotgrid.manage.unit_of_work import UnitOfWork

OutcomeHandler = Callable[[UnitOfWork, OutboxEntry, Outcome], None]
OutcomeHandlers = Mapping[str, Sequence[OutcomeHandler]]

OUTCOME_HANDLERS: OutcomeHandlers = {}
"""Handlers by OSCP schema title; the dispatcher is given this table at construction."""
