"""The retry schedule: exponential ceilings, full jitter inside them, and when to give up."""

from datetime import UTC, datetime, timedelta
from random import Random

import pytest

from depotgrid.manage.outbox.retry import RetryPolicy, is_permanent

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


class Extreme(Random):
    """An RNG that always draws the top (or bottom) of the range."""

    def __init__(self, top: bool) -> None:
        super().__init__()
        self.top = top

    def uniform(self, a: float, b: float) -> float:
        return b if self.top else a


def test_ceilings_grow_by_the_factor_until_the_cap() -> None:
    policy = RetryPolicy(base_seconds=1, factor=2, cap_seconds=300, max_attempts=12)
    ceilings = [policy.ceiling(n).total_seconds() for n in range(1, 12)]
    assert ceilings == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


def test_a_huge_attempt_number_stays_at_the_cap() -> None:
    assert RetryPolicy().ceiling(10_000) == timedelta(seconds=300)


def test_full_jitter_spans_zero_to_the_ceiling() -> None:
    policy = RetryPolicy(base_seconds=2, factor=3, cap_seconds=100)
    assert policy.delay(3, Extreme(top=True)) == timedelta(seconds=18)
    assert policy.delay(3, Extreme(top=False)) == timedelta(0)
    rng = Random(7)
    delays = [policy.delay(3, rng).total_seconds() for _ in range(2000)]
    assert all(0 <= delay <= 18 for delay in delays)
    assert 7 < sum(delays) / len(delays) < 11  # uniform: the mean is half the ceiling


def test_the_same_seed_gives_the_same_schedule() -> None:
    policy = RetryPolicy()
    first = [policy.next_attempt_at(n, 503, NOW, Random(42)) for n in range(1, 6)]
    again = [policy.next_attempt_at(n, 503, NOW, Random(42)) for n in range(1, 6)]
    assert first == again


def test_next_attempt_is_now_plus_the_delay_until_the_last_attempt() -> None:
    policy = RetryPolicy(base_seconds=1, factor=2, cap_seconds=60, max_attempts=3)
    top = Extreme(top=True)
    assert policy.next_attempt_at(1, 500, NOW, top) == NOW + timedelta(seconds=1)
    assert policy.next_attempt_at(2, None, NOW, top) == NOW + timedelta(seconds=2)
    assert policy.next_attempt_at(3, 500, NOW, top) is None


@pytest.mark.parametrize("status", [400, 403, 404, 405, 413, 415, 422, 501])
def test_permanent_refusals_give_up_at_once(status: int) -> None:
    assert is_permanent(status)
    assert RetryPolicy().next_attempt_at(1, status, NOW, Random(1)) is None


@pytest.mark.parametrize("status", [None, 302, 401, 408, 409, 425, 429, 500, 502, 503, 504])
def test_transient_failures_are_retried(status: int | None) -> None:
    assert not is_permanent(status)
    assert RetryPolicy().next_attempt_at(1, status, NOW, Random(1)) is not None


@pytest.mark.parametrize(
    "values",
    [
        {"base_seconds": 0},
        {"factor": 0.5},
        {"base_seconds": 10, "cap_seconds": 5},
        {"max_attempts": 0},
    ],
)
def test_nonsense_policies_are_refused(values: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**values)  # type: ignore[arg-type]
