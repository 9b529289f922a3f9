"""Effective cap per circuit: the minimum of its sources, every binding source kept in order."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from depotgrid.manage.balancing.limits import (
    CapSource,
    circuit_sources,
    degraded,
    effective_cap,
    fail_safe,
)
from depotgrid.manage.balancing.reasons import (
    ENVELOPE_LIMIT,
    FAIL_SAFE_METER_STALE,
    FALLBACK_DERIVED_TELEMETRY,
    NODE_HARD_CAP,
    NODE_PRECEDENCE,
    PHYSICAL_RATING,
    TOU_SCHEDULED_CAP,
    base_code,
)


def _cap(rating: float, available: float, source: str) -> tuple[float, tuple[str, ...]]:
    cap = effective_cap(
        circuit_sources(
            max_capacity_kw=rating,
            available_capacity_kw=available,
            available_capacity_source=source,
        )
    )
    return cap.cap_kw, cap.reasons


@pytest.mark.parametrize(
    ("source", "code"),
    [("ENVELOPE", ENVELOPE_LIMIT), ("OPERATOR", NODE_HARD_CAP), ("SAFE_DEFAULT", NODE_HARD_CAP)],
)
def test_available_capacity_below_the_rating_binds_with_the_code_of_its_source(
    source: str, code: str
) -> None:
    assert _cap(100, 60, source) == (60, (code,))


def test_a_circuit_that_follows_its_rating_says_physical_rating_once() -> None:
    cap = effective_cap(
        circuit_sources(
            max_capacity_kw=100, available_capacity_kw=100, available_capacity_source="RATING"
        )
    )
    assert (cap.cap_kw, cap.reasons) == (100, (PHYSICAL_RATING,))
    assert [s.code for s in cap.sources] == [PHYSICAL_RATING]


def test_sources_tied_at_the_minimum_are_all_kept_envelope_before_rating() -> None:
    assert _cap(100, 100, "ENVELOPE") == (100, (ENVELOPE_LIMIT, PHYSICAL_RATING))


def test_the_safe_default_source_says_so_in_its_detail() -> None:
    cap = effective_cap(
        circuit_sources(
            max_capacity_kw=100, available_capacity_kw=40, available_capacity_source="SAFE_DEFAULT"
        )
    )
    assert "safe default" in cap.sources[0].detail


def test_fail_safe_pins_the_cap_to_the_safe_default_and_leads_the_reasons() -> None:
    cap = effective_cap([CapSource(PHYSICAL_RATING, 100, "rating")])
    pinned = fail_safe(cap, 30, FAIL_SAFE_METER_STALE)
    assert pinned.cap_kw == 30
    assert pinned.reasons == (FAIL_SAFE_METER_STALE,)


def test_fail_safe_never_raises_a_cap_and_keeps_a_tighter_source() -> None:
    cap = effective_cap(
        [CapSource(PHYSICAL_RATING, 100, "rating"), CapSource(ENVELOPE_LIMIT, 20, "envelope")]
    )
    pinned = fail_safe(cap, 30, FAIL_SAFE_METER_STALE)
    assert pinned.cap_kw == 20
    assert pinned.reasons == (FAIL_SAFE_METER_STALE, ENVELOPE_LIMIT)


def test_derived_telemetry_keeps_the_cap_and_goes_before_the_sources() -> None:
    cap = degraded(effective_cap([CapSource(ENVELOPE_LIMIT, 50, "e")]), FALLBACK_DERIVED_TELEMETRY)
    assert (cap.cap_kw, cap.reasons) == (50, (FALLBACK_DERIVED_TELEMETRY, ENVELOPE_LIMIT))


CODES = [ENVELOPE_LIMIT, NODE_HARD_CAP, TOU_SCHEDULED_CAP, PHYSICAL_RATING]


@given(
    st.lists(
        st.tuples(st.sampled_from(CODES), st.sampled_from([10.0, 20.0, 30.0])),
        min_size=1,
        max_size=6,
    ),
    st.randoms(use_true_random=False),
)
def test_reasons_are_the_binding_codes_in_precedence_order_whatever_the_input_order(
    pairs: list[tuple[str, float]], shuffle: random.Random
) -> None:
    sources = [CapSource(code, kw, f"{code} {kw}") for code, kw in pairs]
    first = effective_cap(sources)
    shuffle.shuffle(sources)
    again = effective_cap(sources)
    assert first == again
    assert first.cap_kw == min(kw for _, kw in pairs)
    ranks = [NODE_PRECEDENCE.index(base_code(code)) for code in first.reasons]
    assert ranks == sorted(ranks) and len(set(first.reasons)) == len(first.reasons)
    assert set(first.reasons) == {code for code, kw in pairs if kw == first.cap_kw}
