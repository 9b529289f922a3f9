"""Writing a session transition: the row, its events, and what going offline closes (§10:
"Close any expectation that requires an online session"). Used inside one unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from depotgrid.sim.projections.oscp_cp.session import Session, SessionState
from depotgrid.sim.scenarios.expectations import on_session_offline
from depotgrid.sim.unit_of_work import SimUnitOfWork


def save_session(
    uow: SimUnitOfWork, before: Session, after: Session, *, logical: datetime, wall: datetime
) -> Session:
    """Persist `after` if it differs from `before`; record its events; close expectations."""
    _record_events(uow, after, logical, wall)
    if after == before:
        return before
    saved = uow.sessions.save(after, wall, before)
    _close_expectations(uow, before, after, logical)
    return saved


def save_sessions(
    uow: SimUnitOfWork,
    transitions: Sequence[tuple[Session, Session]],
    *,
    logical: datetime,
    wall: datetime,
) -> None:
    """`save_session` for many (before, after) pairs, the rows written in batches (the
    scheduler claims hundreds of heartbeats a tick)."""
    for _, after in transitions:
        _record_events(uow, after, logical, wall)
    changed = [(before, after) for before, after in transitions if after != before]
    uow.sessions.save_all(changed, wall)
    for before, after in changed:
        _close_expectations(uow, before, after, logical)


def _record_events(uow: SimUnitOfWork, after: Session, logical: datetime, wall: datetime) -> None:
    for event in after.events:
        uow.events.append(
            event.event_type,
            event.data,
            run_id=after.run_id,
            session_id=after.id,
            logical_at=logical,
            now=wall,
        )


def _close_expectations(
    uow: SimUnitOfWork, before: Session, after: Session, logical: datetime
) -> None:
    if after.state is SessionState.OFFLINE and before.state is not SessionState.OFFLINE:
        for _, expectation in uow.expectations.pending([after.id]):
            resolution = on_session_offline(expectation, logical, after.state_reason)
            if resolution is not None:
                uow.expectations.resolve(
                    after.id,
                    expectation.id,
                    resolution.status,
                    resolution.reason,
                    resolution.at,
                    None,
                )
