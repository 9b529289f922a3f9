"""Effective cap per circuit: the minimum of its sources, with every binding source kept.

Caps combine by minimum, so precedence never changes the number; it orders the reasons when
several sources bind within EPSILON_KW of the minimum (reasons.NODE_PRECEDENCE, highest first).
A degraded telemetry mode adds its own code in front: FALLBACK_DERIVED_TELEMETRY (the cap is
unchanged, the headroom was derived) or FAIL_SAFE_DEFAULT:<why> (the cap is pinned to the
circuit's safe default).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from depotgrid.manage.balancing.reasons import (
    ENVELOPE_LIMIT,
    FAIL_SAFE_DEFAULT,
    NODE_HARD_CAP,
    PHYSICAL_RATING,
    base_code,
    node_order,
)
from depotgrid.manage.legacy.model import CapacitySource

EPSILON_KW = 1e-6

AVAILABLE_CAPACITY_CODES = {
    CapacitySource.ENVELOPE: (ENVELOPE_LIMIT, "operating envelope in force"),
    CapacitySource.OPERATOR: (NODE_HARD_CAP, "available capacity set by an operator"),
    CapacitySource.SAFE_DEFAULT: (NODE_HARD_CAP, "safe default (no envelope in force)"),
    CapacitySource.RATING: (PHYSICAL_RATING, "available capacity follows the rating"),
}


@dataclass(frozen=True)
class CapSource:
    """One candidate limit on a circuit: its reason code, value and a few words for people."""

    code: str
    kw: float
    detail: str


@dataclass(frozen=True)
class EffectiveCap:
    cap_kw: float
    reasons: tuple[str, ...]
    """The binding sources' codes (and any degraded mode), highest precedence first."""
    sources: tuple[CapSource, ...]
    """Every candidate, in precedence order, binding or not."""

    def binding(self, source: CapSource) -> bool:
        return source.kw <= self.cap_kw + EPSILON_KW


def circuit_sources(
    *,
    max_capacity_kw: float,
    available_capacity_kw: float,
    available_capacity_source: str,
    extra: Iterable[CapSource] = (),
) -> tuple[CapSource, ...]:
    """A legacy circuit's candidate limits: its rating and its available capacity, whose code
    says where it came from (envelope, operator, safe default, or the rating itself)."""
    source = CapacitySource(available_capacity_source)
    code, detail = AVAILABLE_CAPACITY_CODES[source]
    rating = CapSource(PHYSICAL_RATING, max_capacity_kw, "physical rating")
    if source is CapacitySource.RATING:
        if abs(available_capacity_kw - max_capacity_kw) <= EPSILON_KW:
            return (rating, *extra)
        code, detail = NODE_HARD_CAP, "available capacity below the rating"
    return (rating, CapSource(code, available_capacity_kw, detail), *extra)


def effective_cap(sources: Iterable[CapSource]) -> EffectiveCap:
    """The minimum of `sources` (at least one, none negative) and every source within epsilon."""
    ordered = _ordered(sources)
    if not ordered:
        raise ValueError("a circuit needs at least one capacity source")
    cap = max(0.0, min(source.kw for source in ordered))
    reasons = node_order([s.code for s in ordered if s.kw <= cap + EPSILON_KW])
    return EffectiveCap(cap, reasons, ordered)


def degraded(cap: EffectiveCap, code: str) -> EffectiveCap:
    """The same cap, explained first by a degraded telemetry mode (FALLBACK_DERIVED_TELEMETRY)."""
    return replace(cap, reasons=node_order([code, *cap.reasons]))


def fail_safe(cap: EffectiveCap, safe_default_kw: float, code: str) -> EffectiveCap:
    """The cap pinned to min(cap, safe default): the degraded-mode cap replaces what it can't
    trust, so the remaining sources are kept only where they still bind."""
    if base_code(code) != FAIL_SAFE_DEFAULT:
        raise ValueError(f"{code} is not a FAIL_SAFE_DEFAULT code")
    pinned = max(0.0, min(cap.cap_kw, safe_default_kw))
    source = CapSource(code, safe_default_kw, "safe default while the meter is stale")
    sources = _ordered([source, *cap.sources])
    binding = [s.code for s in cap.sources if s.kw <= pinned + EPSILON_KW]
    return EffectiveCap(pinned, node_order([code, *binding]), sources)


def _ordered(sources: Iterable[CapSource]) -> tuple[CapSource, ...]:
    listed = list(sources)
    rank = {code: i for i, code in enumerate(node_order([s.code for s in listed]))}
    return tuple(sorted(listed, key=lambda s: (rank[s.code], s.kw, s.detail)))
