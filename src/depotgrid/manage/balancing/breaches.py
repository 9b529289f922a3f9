"""Breach episodes: measured load above a circuit's cap for k consecutive readings.

Each cycle looks at the readings that arrived since the previous cycle (those newer than the
state's `evaluated_through`) and compares each with the cap *in force when it was taken*: the
effective cap of the previous cycle (a circuit new to this cycle uses this cycle's cap). A reading
is over when power > cap x (1 + tolerance).

- k consecutive over readings open an episode, starting at the first of them.
- While open, over readings raise its peak, sample count and energy over the cap.
- The first reading back under closes it, ending at that reading. Stale telemetry does not
  close an episode: only a reading can show the load came back under.

The primary reason is picked once, when the episode opens, by the first rule that holds:

1. TELEMETRY_STALE: the cycle in force computed this circuit, or one under it, from a stale
   meter (FALLBACK_DERIVED or FAIL_SAFE): the allocation behind the overload was made blind.
2. CAP_DROPPED: the cap in force at the streak's first reading is below the cap in force at the
   last reading under it, and that first reading was within the older cap: the load stayed and
   the cap came down.
3. CHARGER_NONCOMPLIANT: a charger under the circuit is metered above its setpoint in force by
   more than the tolerance (only possible once charger meter values exist).
4. UNCONTROLLED_LOAD: otherwise; the load nobody controls grew.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from depotgrid.manage.balancing.limits import EPSILON_KW
from depotgrid.manage.balancing.policy import BalancingPolicy
from depotgrid.manage.balancing.reasons import (
    CAP_DROPPED,
    CHARGER_NONCOMPLIANT,
    TELEMETRY_STALE,
    UNCONTROLLED_LOAD,
)
from depotgrid.manage.balancing.telemetry import Reading

EPISODES = uuid.UUID("5d0c2b8e-7f3c-4c53-9b47-2f1d6c9a0e11")
"""Namespace of episode ids: an episode's id follows from its circuit and start, so a replay of
the same inputs names the same episode."""


class EpisodeStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


@dataclass(frozen=True)
class Episode:
    episode_id: str
    circuit_id: str
    status: EpisodeStatus
    started_at: datetime
    detected_at: datetime
    """The reading that made it k in a row."""
    ended_at: datetime | None
    primary_reason: str
    cap_kw: float
    """The cap in force when it opened."""
    peak_kw: float
    samples: int
    excess_kwh: float
    """Energy above the cap in force, summing each over reading's excess until the next one."""
    evidence: dict[str, Any] = field(default_factory=dict, compare=True, hash=False)


@dataclass(frozen=True)
class BreachState:
    """What a circuit's breach check carries from one cycle to the next."""

    evaluated_through: datetime | None = None
    streak: int = 0
    streak_started_at: datetime | None = None
    streak_first_kw: float | None = None
    streak_first_cap_kw: float | None = None
    cap_before_streak_kw: float | None = None
    streak_peak_kw: float = 0.0
    streak_excess_kwh: float = 0.0
    last_ok_cap_kw: float | None = None
    last_over: tuple[datetime, float] | None = None
    """The latest over reading's time and excess kW, to integrate energy until the next one."""
    open_episode: Episode | None = None


@dataclass(frozen=True)
class BreachContext:
    """What the primary-reason rule looks at, from the cycle in force."""

    stale_circuits: tuple[str, ...] = ()
    """This circuit or circuits under it that the cycle in force computed from a stale meter."""
    noncompliant_chargers: tuple[str, ...] = ()
    setpoints_in_force_kw: float = 0.0


@dataclass(frozen=True)
class BreachCheck:
    state: BreachState
    episodes: tuple[Episode, ...]
    """Episodes open at some point during this check: opened, continued or closed."""
    opened: tuple[str, ...]
    closed: tuple[str, ...]


def check(
    circuit_id: str,
    state: BreachState,
    readings: Sequence[Reading],
    cap_in_force_kw: float,
    context: BreachContext,
    policy: BalancingPolicy,
) -> BreachCheck:
    """Advance one circuit's breach state over its readings newer than `evaluated_through`."""
    limit = cap_in_force_kw * (1.0 + policy.breach_tolerance) + EPSILON_KW
    since = state.evaluated_through
    fresh = sorted(
        (r for r in readings if since is None or r.timestamp > since), key=lambda r: r.timestamp
    )
    touched: dict[str, Episode] = {}
    opened: list[str] = []
    closed: list[str] = []
    if state.open_episode is not None:
        touched[state.open_episode.episode_id] = state.open_episode
    for reading in fresh:
        state = _integrate(state, reading.timestamp)
        if reading.power_kw > limit:
            state = _over(state, reading, cap_in_force_kw)
            episode = state.open_episode
            if episode is None and state.streak >= policy.breach_samples:
                episode = _open(circuit_id, state, reading, cap_in_force_kw, context, policy)
                opened.append(episode.episode_id)
            elif episode is not None:
                episode = replace(
                    episode,
                    peak_kw=max(episode.peak_kw, reading.power_kw),
                    samples=episode.samples + 1,
                )
            if episode is not None:
                state = replace(state, open_episode=episode)
                touched[episode.episode_id] = episode
        else:
            episode = state.open_episode
            if episode is not None:
                done = replace(
                    episode,
                    status=EpisodeStatus.CLOSED,
                    ended_at=reading.timestamp,
                    excess_kwh=round(episode.excess_kwh, 6),
                )
                touched[done.episode_id] = done
                closed.append(done.episode_id)
            state = BreachState(evaluated_through=reading.timestamp, last_ok_cap_kw=cap_in_force_kw)
            continue
        state = replace(state, evaluated_through=reading.timestamp)
    return BreachCheck(state, tuple(touched.values()), tuple(opened), tuple(closed))


def close_removed(state: BreachState, now: datetime) -> Episode | None:
    """The episode of a circuit that no longer exists, closed now."""
    if state.open_episode is None:
        return None
    evidence = {**state.open_episode.evidence, "closed_because": "circuit removed"}
    return replace(state.open_episode, status=EpisodeStatus.CLOSED, ended_at=now, evidence=evidence)


def episode_id(circuit_id: str, started_at: datetime) -> str:
    return str(uuid.uuid5(EPISODES, f"{circuit_id}|{started_at.isoformat()}"))


def _integrate(state: BreachState, until: datetime) -> BreachState:
    """Add the previous over reading's excess, held until `until`, to the streak or episode."""
    if state.last_over is None:
        return state
    since, excess_kw = state.last_over
    kwh = excess_kw * max(0.0, (until - since).total_seconds()) / 3600.0
    episode = state.open_episode
    if episode is not None:
        episode = replace(episode, excess_kwh=episode.excess_kwh + kwh)
    return replace(
        state,
        streak_excess_kwh=state.streak_excess_kwh + kwh,
        open_episode=episode,
        last_over=None,
    )


def _over(state: BreachState, reading: Reading, cap_kw: float) -> BreachState:
    first = state.streak == 0
    return replace(
        state,
        streak=state.streak + 1,
        streak_started_at=reading.timestamp if first else state.streak_started_at,
        streak_first_kw=reading.power_kw if first else state.streak_first_kw,
        streak_first_cap_kw=cap_kw if first else state.streak_first_cap_kw,
        cap_before_streak_kw=state.last_ok_cap_kw if first else state.cap_before_streak_kw,
        streak_peak_kw=max(state.streak_peak_kw, reading.power_kw),
        last_over=(reading.timestamp, reading.power_kw - cap_kw),
    )


def _open(
    circuit_id: str,
    state: BreachState,
    reading: Reading,
    cap_kw: float,
    context: BreachContext,
    policy: BalancingPolicy,
) -> Episode:
    assert state.streak_started_at is not None
    reason = primary_reason(state, context, policy)
    evidence: dict[str, Any] = {
        "cap_in_force_kw": cap_kw,
        "tolerance": policy.breach_tolerance,
        "samples_required": policy.breach_samples,
        "first_over_kw": state.streak_first_kw,
        "cap_before_kw": state.cap_before_streak_kw,
        "setpoints_in_force_kw": round(context.setpoints_in_force_kw, 6),
        "stale_circuits": list(context.stale_circuits),
        "noncompliant_chargers": list(context.noncompliant_chargers),
    }
    return Episode(
        episode_id=episode_id(circuit_id, state.streak_started_at),
        circuit_id=circuit_id,
        status=EpisodeStatus.OPEN,
        started_at=state.streak_started_at,
        detected_at=reading.timestamp,
        ended_at=None,
        primary_reason=reason,
        cap_kw=cap_kw,
        peak_kw=state.streak_peak_kw,
        samples=state.streak,
        excess_kwh=state.streak_excess_kwh,
        evidence=evidence,
    )


def primary_reason(state: BreachState, context: BreachContext, policy: BalancingPolicy) -> str:
    """The one cause, by the first rule that holds (see the module docstring)."""
    if context.stale_circuits:
        return TELEMETRY_STALE
    before, first_cap, first_kw = (
        state.cap_before_streak_kw,
        state.streak_first_cap_kw,
        state.streak_first_kw,
    )
    if (
        before is not None
        and first_cap is not None
        and first_kw is not None
        and first_cap < before - EPSILON_KW
        and first_kw <= before * (1.0 + policy.breach_tolerance) + EPSILON_KW
    ):
        return CAP_DROPPED
    if context.noncompliant_chargers:
        return CHARGER_NONCOMPLIANT
    return UNCONTROLLED_LOAD
