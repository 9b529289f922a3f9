"""Allocate charger power under every ancestor circuit's limit: provably fair and optimal.

The steps follow ../shared/anchors/load-balancing.md §b:

1. Headroom per node: its effective cap less the uncontrolled load under it (never below 0).
2. Admission: chargers, in a deterministic order (tier, already charging, session start, id),
   are admitted when every ancestor still has room for their minimum, which is then reserved.
3. Fill, tier by tier (strict priority): weighted max-min water-filling with floors,
   x_i = clamp(w_i * t, min_i, max_i), raising the common level t until a node saturates
   (its chargers freeze, with that node's reasons) or a charger reaches its maximum.

The fill is solved exactly rather than by simulating the rising level. A node's load as a
function of t is piecewise linear, so the level T_n at which node n saturates follows from its
sorted breakpoints, once the saturation levels of the nodes below it have capped their chargers.
Each charger ends at clamp(w_i * min(T_a over its ancestors a), min_i, max_i). On a tree (a
laminar family of constraints) that is the lexicographically max-min fair allocation, and it also
maximises total power: tests check both against linear programs.

Nodes of equal height (longest distance down to a leaf) have disjoint subtrees, so each height is
solved for all its nodes at once with segmented numpy operations over (node, charger) pairs.
Everything is ordered by id first, so shuffled inputs give identical output.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from itertools import pairwise
from operator import attrgetter

import numpy as np
import numpy.typing as npt

from depotgrid.manage.balancing.reasons import (
    ANCESTOR_SATURATED,
    CHARGER_MAX,
    MIN_NOT_AVAILABLE,
    NOT_READY,
)

EPSILON_KW = 1e-9
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class NodeInput:
    """A circuit: its effective cap, the load under it nobody controls, and the reason codes for
    the cap, highest precedence first."""

    node_id: str
    parent_id: str | None
    cap_kw: float
    uncontrolled_kw: float = 0.0
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChargerInput:
    charger_id: str
    node_id: str
    min_kw: float
    max_kw: float
    weight: float = 1.0
    tier: int = 0
    ready: bool = True
    charging: bool = False
    session_started_at: datetime | None = None


@dataclass(frozen=True)
class ChargerSetpoint:
    charger_id: str
    kw: float
    admitted: bool
    reasons: tuple[str, ...]
    binding_node_id: str | None


@dataclass(frozen=True)
class NodeOutcome:
    node_id: str
    cap_kw: float
    headroom_kw: float
    allocated_kw: float
    saturated: bool
    reasons: tuple[str, ...]


class AllocationInputError(ValueError):
    """The tree or a charger is malformed (unknown node, cycle, non-positive weight)."""


@dataclass(frozen=True, eq=False)
class Allocation:
    """The result, kept in columns; per-charger and per-node records are built when first read."""

    nodes_in: tuple[NodeInput, ...]
    charger_ids: tuple[str, ...]
    charger_max: Floats = field(repr=False)
    kw: Floats = field(repr=False)
    admitted: npt.NDArray[np.bool_] = field(repr=False)
    refusal: tuple[str | None, ...] = field(repr=False)
    binding: Ints = field(repr=False)
    headroom: Floats = field(repr=False)
    allocated: Floats = field(repr=False)

    @property
    def total_kw(self) -> float:
        return math.fsum(self.kw.tolist())

    @cached_property
    def setpoints(self) -> tuple[ChargerSetpoint, ...]:
        return tuple(self._setpoint(i) for i in range(len(self.charger_ids)))

    @cached_property
    def nodes(self) -> tuple[NodeOutcome, ...]:
        return tuple(
            NodeOutcome(
                node_id=node.node_id,
                cap_kw=node.cap_kw,
                headroom_kw=float(self.headroom[n]),
                allocated_kw=float(self.allocated[n]),
                saturated=bool(self.allocated[n] >= self.headroom[n] - 1e-6),
                reasons=node.reasons,
            )
            for n, node in enumerate(self.nodes_in)
        )

    def setpoint(self, charger_id: str) -> ChargerSetpoint:
        return self._setpoint(self.charger_ids.index(charger_id))

    def node(self, node_id: str) -> NodeOutcome:
        return next(n for n in self.nodes if n.node_id == node_id)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Allocation):
            return NotImplemented
        return (self.setpoints, self.nodes) == (other.setpoints, other.nodes)

    def __hash__(self) -> int:
        return hash(self.setpoints)

    def _setpoint(self, i: int) -> ChargerSetpoint:
        node = int(self.binding[i])
        node_reasons: tuple[str, ...] = ()
        if node >= 0:
            bound = self.nodes_in[node]
            node_reasons = (*bound.reasons, f"{ANCESTOR_SATURATED}:{bound.node_id}")
        kw = float(self.kw[i])
        refusal = self.refusal[i]
        if refusal is not None:
            reasons: tuple[str, ...] = (refusal, *node_reasons)
        elif kw >= self.charger_max[i] - EPSILON_KW:
            reasons = (*node_reasons, CHARGER_MAX)
        else:
            reasons = node_reasons
        return ChargerSetpoint(
            charger_id=self.charger_ids[i],
            kw=kw,
            admitted=bool(self.admitted[i]),
            reasons=reasons,
            binding_node_id=self.nodes_in[node].node_id if node >= 0 else None,
        )


def allocate(nodes: Iterable[NodeInput], chargers: Iterable[ChargerInput]) -> Allocation:
    """Allocate power to every charger; pure and deterministic."""
    tree = _Tree(sorted(nodes, key=attrgetter("node_id")))
    fleet = _Fleet(tree, sorted(chargers, key=attrgetter("charger_id")))
    refusal, binding = _admit(tree, fleet)
    kw = np.zeros(fleet.size)
    for tier in np.unique(fleet.tier[fleet.admitted])[::-1]:
        _fill_tier(tree, fleet, int(tier), kw, binding)
    allocated = np.bincount(
        fleet.pair_node, weights=kw[fleet.pair_charger], minlength=len(tree.nodes)
    ).astype(np.float64)
    return Allocation(
        nodes_in=tuple(tree.nodes),
        charger_ids=fleet.ids,
        charger_max=fleet.maximum,
        kw=kw,
        admitted=fleet.admitted,
        refusal=tuple(refusal),
        binding=binding,
        headroom=tree.headroom,
        allocated=allocated,
    )


class _Tree:
    """Nodes by index with their structure (cached: it changes far less often than caps)."""

    def __init__(self, nodes: Sequence[NodeInput]) -> None:
        self.nodes = nodes
        structure = _structure(tuple((node.node_id, node.parent_id) for node in nodes))
        self.index, self.paths, self.height, self.ancestors = structure
        self.headroom = np.array(
            [max(0.0, node.cap_kw - max(0.0, node.uncontrolled_kw)) for node in nodes],
            dtype=np.float64,
        )


@lru_cache(maxsize=64)
def _structure(
    links: tuple[tuple[str, str | None], ...],
) -> tuple[dict[str, int], list[list[int]], Ints, Ints]:
    """Index, ancestor paths (nearest first), heights and a padded ancestor table."""
    index = {node_id: i for i, (node_id, _) in enumerate(links)}
    if len(index) != len(links):
        raise AllocationInputError("node ids must be unique")
    for node_id, parent_id in links:
        if parent_id is not None and parent_id not in index:
            raise AllocationInputError(f"node {node_id} has unknown parent {parent_id}")
    parent = [None if p is None else index[p] for _, p in links]
    paths = [_path(node, parent) for node in range(len(links))]
    height = np.zeros(len(links), dtype=np.int64)
    for path in paths:
        for up, node in enumerate(path):
            height[node] = max(height[node], up)
    ancestors = np.full((len(links), max(map(len, paths), default=1)), -1, dtype=np.int64)
    for node, path in enumerate(paths):
        ancestors[node, : len(path)] = path
    return index, paths, height, ancestors


def _path(node: int, parent: Sequence[int | None]) -> list[int]:
    path = [node]
    above = parent[node]
    while above is not None:
        if len(path) > len(parent):
            raise AllocationInputError("the circuit tree has a cycle")
        path.append(above)
        above = parent[above]
    return path


_COLUMNS = attrgetter("max_kw", "min_kw", "weight", "tier", "ready")


class _Fleet:
    """The chargers as columns, and every (ancestor node, charger) pair."""

    def __init__(self, tree: _Tree, chargers: Sequence[ChargerInput]) -> None:
        self.chargers = chargers
        self.size = n = len(chargers)
        self.ids = tuple(map(attrgetter("charger_id"), chargers))
        try:
            nodes = list(map(tree.index.__getitem__, map(attrgetter("node_id"), chargers)))
        except KeyError as exc:
            raise AllocationInputError(f"a charger is on unknown node {exc.args[0]}") from exc
        self.node = np.array(nodes, dtype=np.int64)
        columns = np.array(list(map(_COLUMNS, chargers)), dtype=np.float64).reshape(n, 5)
        self.maximum, minimum, self.weight = columns[:, 0], columns[:, 1], columns[:, 2]
        if not np.all(self.weight > 0):
            bad = self.ids[int(np.argmin(self.weight > 0))]
            raise AllocationInputError(f"charger {bad} needs a positive weight")
        self.floor = np.clip(minimum, 0, np.maximum(self.maximum, 0))
        self.tier = columns[:, 3].astype(np.int64)
        self.ready = (columns[:, 4] > 0) & (self.maximum > 0)
        self.admitted = np.zeros(n, dtype=np.bool_)
        paths = tree.ancestors[self.node]
        present = paths >= 0
        pair_node = paths[present]
        pair_charger = np.broadcast_to(np.arange(n)[:, None], paths.shape)[present]
        # Grouped by node height, then node: each height's nodes are contiguous segments.
        pair_height = tree.height[pair_node]
        order = np.lexsort((pair_charger, pair_node, pair_height))
        self.pair_node, self.pair_charger = pair_node[order], pair_charger[order]
        top = int(tree.height.max()) + 1 if len(tree.nodes) else 0
        self.height_bounds = np.searchsorted(pair_height[order], np.arange(top + 1))

    def admission_order(self) -> list[int]:
        return sorted(range(self.size), key=lambda i: _admission_key(self.chargers[i]))


def _admission_key(charger: ChargerInput) -> tuple[int, bool, float, str]:
    started = charger.session_started_at.timestamp() if charger.session_started_at else math.inf
    return (-charger.tier, not charger.charging, started, charger.charger_id)


def _admit(tree: _Tree, fleet: _Fleet) -> tuple[list[str | None], Ints]:
    """Reserve each ready charger's minimum along its path, in priority order, while it fits."""
    refusal: list[str | None] = [None if ready else NOT_READY for ready in fleet.ready.tolist()]
    binding = np.full(fleet.size, -1, dtype=np.int64)
    demand = np.zeros(len(tree.nodes))
    ready_pairs = fleet.ready[fleet.pair_charger]
    np.add.at(demand, fleet.pair_node[ready_pairs], fleet.floor[fleet.pair_charger[ready_pairs]])
    if np.all(demand <= tree.headroom + EPSILON_KW):
        fleet.admitted[:] = fleet.ready
        return refusal, binding
    residual = tree.headroom.tolist()
    floors = fleet.floor.tolist()
    nodes = fleet.node.tolist()
    for i in fleet.admission_order():
        if refusal[i] is not None:
            continue
        path = tree.paths[nodes[i]]
        floor = floors[i]
        short = [n for n in path if residual[n] < floor - EPSILON_KW]
        if short:
            refusal[i] = MIN_NOT_AVAILABLE
            binding[i] = min(short, key=lambda n: (residual[n], n))
            continue
        for n in path:
            residual[n] -= floor
        fleet.admitted[i] = True
    return refusal, binding


def _fill_tier(tree: _Tree, fleet: _Fleet, tier: int, kw: Floats, binding: Ints) -> None:
    """Water-fill one tier; higher tiers keep their values, lower tiers their reserved floors."""
    member = fleet.admitted & (fleet.tier == tier)
    taken = np.where(fleet.tier > tier, kw, fleet.floor) * (fleet.admitted & ~member)
    capacity = tree.headroom - np.bincount(
        fleet.pair_node, weights=taken[fleet.pair_charger], minlength=len(tree.nodes)
    )
    level = np.full(fleet.size, np.inf)
    bound_by = np.full(fleet.size, -1, dtype=np.int64)
    bounds = fleet.height_bounds
    for low, high in pairwise(bounds.tolist()):
        nodes, chargers = fleet.pair_node[low:high], fleet.pair_charger[low:high]
        keep = member[chargers]
        nodes, chargers = nodes[keep], chargers[keep]
        if nodes.size == 0:
            continue
        saturation = _saturation_levels(nodes, chargers, capacity, fleet, level)
        tighter = saturation < level[chargers]
        level[chargers[tighter]] = saturation[tighter]
        bound_by[chargers[tighter]] = nodes[tighter]
    final = np.clip(fleet.weight * level, fleet.floor, np.maximum(fleet.maximum, fleet.floor))
    limited = member & (fleet.weight * level < fleet.maximum - EPSILON_KW)
    kw[member] = final[member]
    binding[member] = np.where(limited[member], bound_by[member], -1)


def _saturation_levels(
    nodes: Ints, chargers: Ints, capacity: Floats, fleet: _Fleet, level: Floats
) -> Floats:
    """For each (node, charger) pair, the level at which the pair's node saturates.

    A charger's load is its floor until t = floor / w, grows with slope w, and stops at
    min(level, max / w); a node saturates where the sum of its chargers' loads reaches its
    capacity, found on the sorted breakpoints of that sum (math.inf if it never does).
    """
    weight, floor = fleet.weight[chargers], fleet.floor[chargers]
    start = floor / weight
    length = np.maximum(0.0, np.minimum(level[chargers], fleet.maximum[chargers] / weight) - start)
    first = np.ones(nodes.size, dtype=np.bool_)
    first[1:] = nodes[1:] != nodes[:-1]
    starts = np.flatnonzero(first)
    slot = np.cumsum(first) - 1
    base = np.add.reduceat(floor, starts)
    full = base + np.add.reduceat(weight * length, starts)
    cap = capacity[nodes[starts]]
    result = np.full(starts.size, np.inf)
    crowded = cap <= base + EPSILON_KW
    if crowded.any():
        result[crowded] = np.minimum.reduceat(start, starts)[crowded]
    pending = ~crowded & (full > cap + EPSILON_KW)
    if pending.any():
        result[pending] = _crossing(slot, start, length, weight, base, cap, pending)[pending]
    saturation: Floats = result[slot]
    return saturation


def _crossing(
    slot: Ints,
    start: Floats,
    length: Floats,
    weight: Floats,
    base: Floats,
    cap: Floats,
    pending: npt.NDArray[np.bool_],
) -> Floats:
    """Solve sum of loads = cap per node, on breakpoints sorted within each node's segment."""
    use = (length > 0) & pending[slot]
    owner = np.concatenate((slot[use], slot[use]))
    points = np.concatenate((start[use], start[use] + length[use]))
    change = np.concatenate((weight[use], -weight[use]))
    order = np.lexsort((points, owner))
    owner, points, change = owner[order], points[order], change[order]
    first = np.ones(owner.size, dtype=np.bool_)
    first[1:] = owner[1:] != owner[:-1]
    slope = _segmented_cumsum(change, first)
    step = np.zeros(owner.size)
    step[1:] = slope[:-1] * np.diff(points)
    step[first] = 0.0
    load = base[owner] + _segmented_cumsum(step, first)
    segments = np.flatnonzero(first)
    candidate = np.where(load <= cap[owner], np.arange(owner.size), -1)
    last = np.full(cap.size, -1, dtype=np.int64)
    last[owner[segments]] = np.maximum.reduceat(candidate, segments)
    out = np.full(cap.size, np.inf)
    found = last >= 0
    j = last[found]
    rate = slope[j]
    gap = cap[found] - load[j]
    out[found] = np.where(rate > 0, points[j] + gap / np.where(rate > 0, rate, 1.0), points[j])
    return out


def _segmented_cumsum(values: Floats, first: npt.NDArray[np.bool_]) -> Floats:
    """Cumulative sums restarting at every `first` element."""
    total = np.cumsum(values)
    segment_start = np.maximum.accumulate(np.where(first, np.arange(values.size), 0))
    return total - (total[segment_start] - values[segment_start])
