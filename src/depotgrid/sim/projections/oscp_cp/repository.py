"""Persistence of OSCP sessions and their overrides, expectations, forecast plans and OAuth
tokens. Sessions are written with optimistic versions; every other row is plain."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, delete, func, insert, select, update

from depotgrid.sim.db.tables import (
    oauth_tokens,
    oscp_expectations,
    oscp_forecast_plans,
    oscp_overrides,
    oscp_sessions,
)
from depotgrid.sim.projections.oscp_cp.session import RegistrationState, Session, SessionState
from depotgrid.sim.scenarios.expectations import Expectation, ExpectationStatus, Polarity
from depotgrid.sim.scenarios.overrides import Override, OverrideMode


def token_hash(token: str) -> str:
    """How tokens and secrets are stored and looked up: SHA-256 hex."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Candidate:
    """A session an inbound message may belong to, with what authentication and the protocol
    path need besides the aggregate."""

    session: Session
    cp_token_hash: str
    previous_cp_token_hash: str | None
    open_overrides: int
    pending_expectations: int


def _count(connection: Connection, session_id: str, column: str, delta: int) -> None:
    """Move one of a session's counters (not part of the aggregate: no version bump)."""
    if delta:
        connection.execute(
            update(oscp_sessions)
            .where(oscp_sessions.c.id == session_id)
            .values({column: oscp_sessions.c[column] + delta})
        )


class StaleSession(Exception):
    """The session changed since it was read."""


@dataclass(frozen=True)
class SessionSecrets:
    cp_token_hash: str
    previous_cp_token_hash: str | None
    oauth_secret_hash: str | None


_SESSION_FIELDS = tuple(f.name for f in fields(Session) if f.name != "events")


def _session(row: RowMapping) -> Session:
    values = {name: row[name] for name in _SESSION_FIELDS}
    values["state"] = SessionState(values["state"])
    values["registration_state"] = RegistrationState(values["registration_state"])
    values["measurement_configuration"] = tuple(values["measurement_configuration"])
    required = values["fp_required_measurement_configuration"]
    values["fp_required_measurement_configuration"] = (
        tuple(required) if required is not None else None
    )
    return Session(**values)


def _changed_values(saved: Session, before: Session | None, now: datetime) -> dict[str, Any]:
    """The columns to write for `saved`: those that differ from `before` (all without it),
    the version, and `updated_at`."""
    values = _session_values(saved)
    if before is not None:
        old = _session_values(before)
        values = {k: v for k, v in values.items() if k == "version" or old[k] != v}
    values.pop("id", None)
    values["updated_at"] = now
    return values


def _session_values(session: Session) -> dict[str, Any]:
    values = {name: getattr(session, name) for name in _SESSION_FIELDS}
    values["state"] = session.state.value
    values["registration_state"] = session.registration_state.value
    values["measurement_configuration"] = list(session.measurement_configuration)
    required = session.fp_required_measurement_configuration
    values["fp_required_measurement_configuration"] = list(required) if required else required
    return values


class SessionRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, session: Session, secrets: SessionSecrets, now: datetime) -> None:
        self._conn.execute(
            _INSERT_SESSION,
            {
                **_session_values(session),
                "cp_token_hash": secrets.cp_token_hash,
                "previous_cp_token_hash": secrets.previous_cp_token_hash,
                "oauth_secret_hash": secrets.oauth_secret_hash,
                "created_at": now,
                "updated_at": now,
            },
        )

    def get(self, session_id: str) -> Session | None:
        row = self._conn.execute(_SESSION_BY_ID, {"b_id": session_id}).mappings().first()
        return _session(row) if row else None

    def secrets(self, session_id: str) -> SessionSecrets | None:
        row = self._conn.execute(
            select(
                oscp_sessions.c.cp_token_hash,
                oscp_sessions.c.previous_cp_token_hash,
                oscp_sessions.c.oauth_secret_hash,
            ).where(oscp_sessions.c.id == session_id)
        ).first()
        return SessionSecrets(*row) if row else None

    def by_configuration_id(self, remote_configuration_id: str) -> list[Candidate]:
        """Sessions for an X-OSCP-Configuration-ID, with their token hashes and counters."""
        rows = self._conn.execute(
            _SESSIONS_BY_CONFIGURATION, {"b_remote": remote_configuration_id}
        ).mappings()
        return [
            Candidate(
                _session(row),
                row["cp_token_hash"],
                row["previous_cp_token_hash"],
                row["open_overrides"],
                row["pending_expectations"],
            )
            for row in rows
        ]

    def by_token_hash(self, hashed: str) -> Session | None:
        row = (
            self._conn.execute(select(oscp_sessions).where(oscp_sessions.c.cp_token_hash == hashed))
            .mappings()
            .first()
        )
        return _session(row) if row else None

    def by_oauth_client(self, client_id: str) -> tuple[Session, str | None] | None:
        row = (
            self._conn.execute(
                select(oscp_sessions).where(oscp_sessions.c.oauth_client_id == client_id)
            )
            .mappings()
            .first()
        )
        return (_session(row), row["oauth_secret_hash"]) if row else None

    def for_run(self, run_id: str) -> list[Session]:
        rows = self._conn.execute(
            select(oscp_sessions)
            .where(oscp_sessions.c.run_id == run_id)
            .order_by(oscp_sessions.c.created_at, oscp_sessions.c.id)
        ).mappings()
        return [_session(row) for row in rows]

    def exists_for(self, run_id: str, remote_configuration_id: str) -> bool:
        return (
            self._conn.scalar(
                select(func.count())
                .select_from(oscp_sessions)
                .where(
                    oscp_sessions.c.run_id == run_id,
                    oscp_sessions.c.remote_configuration_id == remote_configuration_id,
                )
            )
            or 0
        ) > 0

    def save(self, session: Session, now: datetime, before: Session | None = None) -> Session:
        """Write a changed session, only the columns that differ from `before` when given
        (optimistic: StaleSession if the row moved on since it was read)."""
        saved = replace(session, version=session.version + 1, events=())
        values = _changed_values(saved, before, now)
        result = self._conn.execute(
            _update_session(tuple(sorted(values))),
            {**values, "b_id": session.id, "b_version": session.version},
        )
        if result.rowcount != 1:
            raise StaleSession(session.id)
        return saved

    def save_all(self, transitions: Sequence[tuple[Session, Session]], now: datetime) -> None:
        """`save(after, now, before)` for each (before, after) pair: one executemany per set of
        changed columns. StaleSession if any row moved on since it was read."""
        batches: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for before, after in transitions:
            values = _changed_values(replace(after, version=after.version + 1), before, now)
            values |= {"b_id": after.id, "b_version": after.version}
            batches.setdefault(tuple(sorted(values)), []).append(values)
        for columns, rows in batches.items():
            names = tuple(name for name in columns if not name.startswith("b_"))
            result = self._conn.execute(_update_session(names), rows)
            if result.rowcount != len(rows):
                raise StaleSession(", ".join(row["b_id"] for row in rows))

    def set_tokens(
        self,
        session_id: str,
        *,
        cp_token_hash: str | None = None,
        previous_cp_token_hash: str | None = None,
        clear_previous: bool = False,
    ) -> None:
        values: dict[str, Any] = {}
        if cp_token_hash is not None:
            values["cp_token_hash"] = cp_token_hash
        if previous_cp_token_hash is not None:
            values["previous_cp_token_hash"] = previous_cp_token_hash
        if clear_previous:
            values["previous_cp_token_hash"] = None
        if values:
            self._conn.execute(
                update(oscp_sessions).where(oscp_sessions.c.id == session_id).values(**values)
            )

    def due_heartbeats(self, run_id: str, now: datetime, limit: int) -> list[Session]:
        rows = self._conn.execute(
            _DUE_HEARTBEATS, {"b_run": run_id, "b_now": now, "b_limit": limit}
        ).mappings()
        return [_session(row) for row in rows]

    def due_expiries(self, run_id: str, now: datetime) -> list[Session]:
        rows = self._conn.execute(_DUE_EXPIRIES, {"b_run": run_id, "b_now": now}).mappings()
        return [_session(row) for row in rows]

    def count(self) -> int:
        return int(self._conn.scalar(select(func.count()).select_from(oscp_sessions)) or 0)


_INSERT_SESSION = insert(oscp_sessions)
# The statements of the hot paths (every inbound message, every scheduler tick), built once: a
# statement built per call costs more to prepare (cache key, coercions) than to run.
_SESSION_BY_ID = select(oscp_sessions).where(oscp_sessions.c.id == bindparam("b_id"))
_SESSIONS_BY_CONFIGURATION = select(oscp_sessions).where(
    oscp_sessions.c.remote_configuration_id == bindparam("b_remote")
)
_DUE_HEARTBEATS = (
    select(oscp_sessions)
    .where(
        oscp_sessions.c.run_id == bindparam("b_run"),
        oscp_sessions.c.next_heartbeat_at <= bindparam("b_now"),
        oscp_sessions.c.state.in_([SessionState.ONLINE, SessionState.DEGRADED]),
    )
    .order_by(oscp_sessions.c.next_heartbeat_at)
    .limit(bindparam("b_limit"))
)
_DUE_EXPIRIES = select(oscp_sessions).where(
    oscp_sessions.c.run_id == bindparam("b_run"),
    (oscp_sessions.c.peer_offline_at <= bindparam("b_now"))
    | (oscp_sessions.c.handshake_deadline_at <= bindparam("b_now")),
)


@cache
def _update_session(columns: tuple[str, ...]) -> Any:
    """The optimistic UPDATE of these columns, built once per column set."""
    return (
        update(oscp_sessions)
        .where(
            oscp_sessions.c.id == bindparam("b_id"),
            oscp_sessions.c.version == bindparam("b_version"),
        )
        .values({name: bindparam(name) for name in columns})
    )


def _override(row: RowMapping) -> Override:
    types = row["message_types"]
    return Override(
        id=row["id"],
        session_id=row["session_id"],
        mode=OverrideMode(row["mode"]),
        message_types=frozenset(types) if types is not None else None,
        delay_seconds=row["delay_seconds"],
        hold_seconds=row["hold_seconds"],
        until_at=row["until_at"],
        source=row["source"],
        created_logical_at=row["created_logical_at"],
    )


@dataclass(frozen=True)
class OverrideRecord:
    override: Override
    ended_at: datetime | None
    end_reason: str | None


class OverrideRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, override: Override, now: datetime) -> None:
        self._conn.execute(
            insert(oscp_overrides).values(
                id=override.id,
                session_id=override.session_id,
                mode=override.mode.value,
                message_types=sorted(override.message_types)
                if override.message_types is not None
                else None,
                delay_seconds=override.delay_seconds,
                hold_seconds=override.hold_seconds,
                until_at=override.until_at,
                source=override.source,
                created_logical_at=override.created_logical_at,
                created_at=now,
            )
        )
        _count(self._conn, override.session_id, "open_overrides", 1)

    def open(self, session_id: str) -> list[Override]:
        """Overrides not yet ended (some may have passed their `until`; see `active_at`)."""
        rows = self._conn.execute(
            select(oscp_overrides)
            .where(oscp_overrides.c.session_id == session_id, oscp_overrides.c.ended_at.is_(None))
            .order_by(oscp_overrides.c.created_at)
        ).mappings()
        return [_override(row) for row in rows]

    def open_for(self, session_ids: Sequence[str]) -> dict[str, list[Override]]:
        """Open overrides of several sessions, by session id."""
        found: dict[str, list[Override]] = {}
        if not session_ids:
            return found
        rows = self._conn.execute(_OPEN_OVERRIDES_OF, {"b_ids": list(session_ids)}).mappings()
        for row in rows:
            found.setdefault(row["session_id"], []).append(_override(row))
        return found

    def history(self, session_id: str, limit: int = 100) -> list[OverrideRecord]:
        rows = self._conn.execute(
            select(oscp_overrides)
            .where(oscp_overrides.c.session_id == session_id)
            .order_by(oscp_overrides.c.created_at.desc())
            .limit(limit)
        ).mappings()
        return [OverrideRecord(_override(r), r["ended_at"], r["end_reason"]) for r in rows]

    def end(
        self, session_id: str, at: datetime, reason: str, modes: Sequence[str] | None = None
    ) -> int:
        conditions = [
            oscp_overrides.c.session_id == session_id,
            oscp_overrides.c.ended_at.is_(None),
        ]
        if modes is not None:
            conditions.append(oscp_overrides.c.mode.in_(modes))
        result = self._conn.execute(
            update(oscp_overrides).where(*conditions).values(ended_at=at, end_reason=reason)
        )
        _count(self._conn, session_id, "open_overrides", -int(result.rowcount))
        return int(result.rowcount)

    def end_expired(self, run_id: str, now: datetime) -> list[Override]:
        """End the overrides of a run whose `until` has passed; returns them."""
        found = self._conn.execute(_EXPIRED_OVERRIDES, {"b_run": run_id, "b_now": now})
        rows = found.mappings().all()
        for row in rows:
            self._conn.execute(
                update(oscp_overrides)
                .where(oscp_overrides.c.id == row["id"])
                .values(ended_at=row["until_at"], end_reason="expired")
            )
            _count(self._conn, row["session_id"], "open_overrides", -1)
        return [_override(row) for row in rows]


def _expectation(row: RowMapping) -> Expectation:
    return Expectation(
        id=row["id"],
        polarity=Polarity(row["polarity"]),
        message_type=row["message_type"],
        correlation_id=row["correlation_id"],
        required_outcome=row["required_outcome"],
        requires_online=row["requires_online"],
        window_start_at=row["window_start_at"],
        deadline_at=row["deadline_at"],
        status=ExpectationStatus(row["status"]),
    )


@dataclass(frozen=True)
class ExpectationRecord:
    expectation: Expectation
    session_id: str
    description: str
    matched_ledger_entry_id: str | None
    reason: str | None
    resolved_at: datetime | None
    created_at: datetime


class ExpectationRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(
        self, session_id: str, expectation: Expectation, description: str, now: datetime
    ) -> None:
        self._conn.execute(
            insert(oscp_expectations).values(
                id=expectation.id,
                session_id=session_id,
                description=description,
                polarity=expectation.polarity.value,
                message_type=expectation.message_type,
                correlation_id=expectation.correlation_id,
                required_outcome=expectation.required_outcome,
                requires_online=expectation.requires_online,
                window_start_at=expectation.window_start_at,
                deadline_at=expectation.deadline_at,
                status=expectation.status.value,
                created_at=now,
            )
        )
        _count(self._conn, session_id, "pending_expectations", 1)

    def pending(self, session_ids: Sequence[str]) -> list[tuple[str, Expectation]]:
        if not session_ids:
            return []
        rows = self._conn.execute(
            select(oscp_expectations).where(
                oscp_expectations.c.session_id.in_(session_ids),
                oscp_expectations.c.status == ExpectationStatus.PENDING,
            )
        ).mappings()
        return [(row["session_id"], _expectation(row)) for row in rows]

    def due(self, run_id: str, now: datetime) -> list[tuple[str, Expectation]]:
        """Pending expectations of a run whose deadline has passed."""
        rows = self._conn.execute(_DUE_EXPECTATIONS, {"b_run": run_id, "b_now": now}).mappings()
        return [(row["session_id"], _expectation(row)) for row in rows]

    def resolve(
        self,
        session_id: str,
        expectation_id: str,
        status: ExpectationStatus,
        reason: str,
        at: datetime,
        ledger_entry_id: str | None,
    ) -> None:
        result = self._conn.execute(
            update(oscp_expectations)
            .where(
                oscp_expectations.c.id == expectation_id,
                oscp_expectations.c.status == ExpectationStatus.PENDING,
            )
            .values(
                status=status.value,
                reason=reason,
                resolved_at=at,
                matched_ledger_entry_id=ledger_entry_id,
            )
        )
        _count(self._conn, session_id, "pending_expectations", -int(result.rowcount))

    def for_session(self, session_id: str) -> list[ExpectationRecord]:
        rows = self._conn.execute(
            select(oscp_expectations)
            .where(oscp_expectations.c.session_id == session_id)
            .order_by(oscp_expectations.c.created_at, oscp_expectations.c.id)
        ).mappings()
        return [_expectation_record(row) for row in rows]

    def get(self, session_id: str, expectation_id: str) -> ExpectationRecord | None:
        row = (
            self._conn.execute(
                select(oscp_expectations).where(
                    oscp_expectations.c.id == expectation_id,
                    oscp_expectations.c.session_id == session_id,
                )
            )
            .mappings()
            .first()
        )
        return _expectation_record(row) if row else None


def _expectation_record(row: RowMapping) -> ExpectationRecord:
    return ExpectationRecord(
        expectation=_expectation(row),
        session_id=row["session_id"],
        description=row["description"],
        matched_ledger_entry_id=row["matched_ledger_entry_id"],
        reason=row["reason"],
        resolved_at=row["resolved_at"],
        created_at=row["created_at"],
    )


@dataclass(frozen=True)
class ForecastPlan:
    id: str
    session_id: str
    mode: str
    status: str
    spec: dict[str, Any]
    due_at: datetime | None
    repeat_every_seconds: float | None
    occurrences: int
    last_ledger_entry_id: str | None
    last_request_id: str | None
    last_delivery_status: str | None
    last_sent_at: datetime | None
    reason: str | None
    created_at: datetime
    updated_at: datetime


class ForecastPlanRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, plan: ForecastPlan) -> None:
        self._conn.execute(
            insert(oscp_forecast_plans).values(
                **{f.name: getattr(plan, f.name) for f in fields(ForecastPlan)}
            )
        )

    def get(self, session_id: str, plan_id: str) -> ForecastPlan | None:
        row = (
            self._conn.execute(
                select(oscp_forecast_plans).where(
                    oscp_forecast_plans.c.id == plan_id,
                    oscp_forecast_plans.c.session_id == session_id,
                )
            )
            .mappings()
            .first()
        )
        return ForecastPlan(**row) if row else None

    def for_session(self, session_id: str) -> list[ForecastPlan]:
        rows = self._conn.execute(
            select(oscp_forecast_plans)
            .where(oscp_forecast_plans.c.session_id == session_id)
            .order_by(oscp_forecast_plans.c.created_at, oscp_forecast_plans.c.id)
        ).mappings()
        return [ForecastPlan(**row) for row in rows]

    def by_request_id(self, session_id: str, request_id: str) -> ForecastPlan | None:
        row = (
            self._conn.execute(
                select(oscp_forecast_plans).where(
                    oscp_forecast_plans.c.session_id == session_id,
                    oscp_forecast_plans.c.last_request_id == request_id,
                )
            )
            .mappings()
            .first()
        )
        return ForecastPlan(**row) if row else None

    def due(self, run_id: str, now: datetime) -> list[ForecastPlan]:
        rows = self._conn.execute(_DUE_PLANS, {"b_run": run_id, "b_now": now}).mappings()
        return [ForecastPlan(**row) for row in rows]

    def update(self, plan_id: str, **values: Any) -> None:
        self._conn.execute(
            update(oscp_forecast_plans).where(oscp_forecast_plans.c.id == plan_id).values(**values)
        )


class OAuthTokenRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, hashed: str, session_id: str, issued_at: datetime, expires_at: datetime) -> None:
        self._conn.execute(
            insert(oauth_tokens).values(
                token_hash=hashed, session_id=session_id, issued_at=issued_at, expires_at=expires_at
            )
        )

    def session_for(self, hashed: str, now: datetime) -> str | None:
        """The session an unexpired bearer token belongs to."""
        return self._conn.scalar(
            select(oauth_tokens.c.session_id).where(
                oauth_tokens.c.token_hash == hashed, oauth_tokens.c.expires_at > now
            )
        )

    def purge_expired(self, now: datetime) -> None:
        self._conn.execute(delete(oauth_tokens).where(oauth_tokens.c.expires_at <= now))


# The scheduler's per-tick statements, built once like the session ones above.
_OPEN_OVERRIDES_OF = select(oscp_overrides).where(
    oscp_overrides.c.session_id.in_(bindparam("b_ids", expanding=True)),
    oscp_overrides.c.ended_at.is_(None),
)
_EXPIRED_OVERRIDES = select(oscp_overrides).where(
    oscp_overrides.c.session_id.in_(
        select(oscp_sessions.c.id)
        .where(oscp_sessions.c.run_id == bindparam("b_run"))
        .scalar_subquery()
    ),
    oscp_overrides.c.ended_at.is_(None),
    oscp_overrides.c.until_at <= bindparam("b_now"),
)
_DUE_EXPECTATIONS = (
    select(oscp_expectations)
    .join(oscp_sessions, oscp_sessions.c.id == oscp_expectations.c.session_id)
    .where(
        oscp_sessions.c.run_id == bindparam("b_run"),
        oscp_expectations.c.status == ExpectationStatus.PENDING,
        oscp_expectations.c.deadline_at <= bindparam("b_now"),
    )
)
_DUE_PLANS = (
    select(oscp_forecast_plans)
    .join(oscp_sessions, oscp_sessions.c.id == oscp_forecast_plans.c.session_id)
    .where(
        oscp_sessions.c.run_id == bindparam("b_run"),
        oscp_forecast_plans.c.status == "scheduled",
        oscp_forecast_plans.c.due_at <= bindparam("b_now"),
    )
    .order_by(oscp_forecast_plans.c.due_at)
)
