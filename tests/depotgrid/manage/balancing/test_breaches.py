"""Breach episodes: k consecutive readings over the cap in force, one primary reason each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from depotgrid.manage.balancing.breaches import (
    BreachContext,
    BreachState,
    EpisodeStatus,
    check,
    close_removed,
    episode_id,
)
from depotgrid.manage.balancing.policy import BalancingPolicy
from depotgrid.manage.balancing.reasons import (
    CAP_DROPPED,
    CHARGER_NONCOMPLIANT,
    TELEMETRY_STALE,
    UNCONTROLLED_LOAD,
)
from depotgrid.manage.balancing.telemetry import Reading

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = BalancingPolicy()  # k = 3, tolerance 2 %


def at(second: int, kw: float) -> Reading:
    return Reading(T0 + timedelta(seconds=second), kw)


def run(
    readings: list[Reading],
    cap: float = 100.0,
    state: BreachState | None = None,
    context: BreachContext | None = None,
) -> tuple[BreachState, list[tuple[str, EpisodeStatus]], tuple[str, ...], tuple[str, ...]]:
    result = check("c", state or BreachState(), readings, cap, context or BreachContext(), POLICY)
    return (
        result.state,
        [(e.primary_reason, e.status) for e in result.episodes],
        result.opened,
        result.closed,
    )


def test_k_minus_one_readings_over_open_nothing() -> None:
    state, episodes, opened, _ = run([at(0, 110), at(10, 110)])
    assert episodes == [] and opened == ()
    assert state.streak == 2


def test_k_readings_over_open_one_episode_from_the_first_of_them() -> None:
    result = check(
        "c",
        BreachState(),
        [at(0, 90), at(10, 110), at(20, 120), at(30, 115)],
        100.0,
        BreachContext(),
        POLICY,
    )
    (episode,) = result.episodes
    assert episode.status is EpisodeStatus.OPEN
    assert episode.started_at == T0 + timedelta(seconds=10)
    assert episode.detected_at == T0 + timedelta(seconds=30)
    assert (episode.peak_kw, episode.samples, episode.cap_kw) == (120, 3, 100.0)
    assert episode.primary_reason == UNCONTROLLED_LOAD
    assert episode.excess_kwh == pytest.approx((10 * 10 + 20 * 10) / 3600)
    assert episode.episode_id == episode_id("c", T0 + timedelta(seconds=10))


def test_readings_within_the_tolerance_are_not_over() -> None:
    _, episodes, _, _ = run([at(0, 102), at(10, 101.9), at(20, 102)])
    assert episodes == []


def test_a_reading_under_resets_the_streak() -> None:
    state, episodes, _, _ = run([at(0, 110), at(10, 110), at(20, 90), at(30, 110)])
    assert episodes == [] and state.streak == 1


def test_the_first_reading_back_under_closes_the_episode_at_that_reading() -> None:
    opened, *_ = run([at(0, 110), at(10, 110), at(20, 110)])
    assert opened.open_episode is not None
    result = check("c", opened, [at(30, 130), at(40, 95)], 100.0, BreachContext(), POLICY)
    (episode,) = result.episodes
    assert episode.status is EpisodeStatus.CLOSED
    assert episode.ended_at == T0 + timedelta(seconds=40)
    assert (episode.peak_kw, episode.samples) == (130, 4)
    assert result.closed == (episode.episode_id,) and result.opened == ()
    assert result.state.open_episode is None and result.state.streak == 0


def test_readings_already_evaluated_are_not_counted_twice() -> None:
    first, *_ = run([at(0, 110), at(10, 110)])
    again, episodes, _, _ = run([at(0, 110), at(10, 110)], state=first)
    assert again.streak == 2 and episodes == []


def test_no_new_reading_keeps_an_open_episode_open() -> None:
    opened, *_ = run([at(0, 110), at(10, 110), at(20, 110)])
    state, episodes, _, closed = run([], state=opened)
    assert state.open_episode is not None
    assert episodes == [(UNCONTROLLED_LOAD, EpisodeStatus.OPEN)] and closed == ()


def test_stale_telemetry_in_the_cycle_in_force_is_the_primary_reason_first() -> None:
    _, episodes, _, _ = run(
        [at(0, 110), at(10, 110), at(20, 110)],
        context=BreachContext(stale_circuits=("c",), noncompliant_chargers=("x",)),
    )
    assert episodes == [(TELEMETRY_STALE, EpisodeStatus.OPEN)]


def test_a_cap_that_came_down_under_a_steady_load_is_cap_dropped() -> None:
    before, *_ = run([at(0, 80)], cap=100.0)
    _, episodes, _, _ = run([at(10, 80), at(20, 80), at(30, 80)], cap=50.0, state=before)
    assert episodes == [(CAP_DROPPED, EpisodeStatus.OPEN)]


def test_a_load_that_rose_above_a_lowered_cap_is_not_cap_dropped() -> None:
    before, *_ = run([at(0, 40)], cap=100.0)
    _, episodes, _, _ = run([at(10, 130), at(20, 130), at(30, 130)], cap=50.0, state=before)
    assert episodes == [(UNCONTROLLED_LOAD, EpisodeStatus.OPEN)]


def test_a_charger_metered_above_its_setpoint_is_charger_noncompliant() -> None:
    _, episodes, _, _ = run(
        [at(0, 110), at(10, 110), at(20, 110)],
        context=BreachContext(noncompliant_chargers=("x",)),
    )
    assert episodes == [(CHARGER_NONCOMPLIANT, EpisodeStatus.OPEN)]


def test_the_primary_reason_is_fixed_when_the_episode_opens() -> None:
    opened, *_ = run([at(0, 110), at(10, 110), at(20, 110)])
    _, episodes, _, _ = run(
        [at(30, 110)], state=opened, context=BreachContext(stale_circuits=("c",))
    )
    assert episodes == [(UNCONTROLLED_LOAD, EpisodeStatus.OPEN)]


def test_an_episode_of_a_removed_circuit_closes() -> None:
    opened, *_ = run([at(0, 110), at(10, 110), at(20, 110)])
    done = close_removed(opened, T0 + timedelta(minutes=5))
    assert done is not None and done.status is EpisodeStatus.CLOSED
    assert done.evidence["closed_because"] == "circuit removed"
    assert close_removed(BreachState(), T0) is None
