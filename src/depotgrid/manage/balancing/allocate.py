"""Allocate charger power under every ancestor circuit's limit: provably fair and optimal.

The steps follow ../shared/anchors/load-balancing.md §b:

1. Headroom per node: its effective cap less the uncontrolled load under it (never below 0).
2. Admission: chargers, in a deterministic order (tier, already charging, session start, id),
   are admitted when every ancestor still has room for their minimum, which is then reserved.
   When every ready charger's minimum fits at once, that order cannot refuse anyone, so all are
   admitted without walking it.
3. Fill, tier by tier (strict priority): weighted max-min water-filling with floors,
   x_i = clamp(w_i * t, min_i, max_i), raising the common level t until a node saturates
   (its chargers freeze, with that node's reasons) or a charger reaches its maximum.

The fill is solved exactly rather than by simulating the rising level. A node's load as a
function of t is piecewise linear, so the level T_n at which node n saturates follows from its
sorted breakpoints, once the saturation levels of the nodes below it have capped their chargers.
Each charger ends at clamp(w_i * min(T_a over its ancestors a), min_i, max_i). On a tree (a
laminar family of constraints) that is the lexicographically max-min fair allocation, and it also
maximises total power: tests check both against linear programs.

Nodes of equal height (longest distance down to a leaf) have disjoint subtrees, and a charger has
at most one ancestor of each height, so each height is solved for all its nodes at once: one
(height x charger) table of owners, with a placeholder node for "none", feeds bincounts and one
sort of the breakpoints by (node, level). Everything is ordered by id first, so shuffled inputs
give identical output. Chargers arrive as named tuples and turn into columns with one zip;
per-charger records are only built when read.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

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
Bools = npt.NDArray[np.bool_]

# Why a charger's setpoint is what it is, besides a binding node: one small int per charger.
_FREE, _AT_MAX, _NOT_READY, _REFUSED = range(4)


@dataclass(frozen=True)
class NodeInput:
    """A circuit: its effective cap, the load under it nobody controls, and the reason codes for
    the cap, highest precedence first."""

    node_id: str
    parent_id: str | None
    cap_kw: float
    uncontrolled_kw: float = 0.0
    reasons: tuple[str, ...] = ()


class ChargerInput(NamedTuple):
    """A charger's bounds and priority. A named tuple: a fleet of thousands becomes columns with
    one zip each cycle."""

    charger_id: str
    node_id: str
    min_kw: float
    max_kw: float
    weight: float = 1.0
    tier: int = 0
    ready: bool = True
    charging: bool = False
    session_started_at: datetime | None = None


class ChargerSetpoint(NamedTuple):
    """One charger's result. A named tuple: thousands are built whenever setpoints are read."""

    charger_id: str
    kw: float
    admitted: bool
    reasons: tuple[str, ...]
    binding_node_id: str | None


class NodeOutcome(NamedTuple):
    """One node's result. A named tuple, like ChargerSetpoint."""

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
    """The result, kept in columns; per-charger and per-node records are built when first read.

    Columns follow charger_ids (ascending); binding holds the index in nodes_in of the node that
    limits or refused each charger (-1 for none); owners is each charger's ancestor at every
    height, len(nodes_in) where it has none.
    """

    nodes_in: tuple[NodeInput, ...]
    charger_ids: tuple[str, ...]
    kw: Floats = field(repr=False)
    admitted: Bools = field(repr=False)
    binding: Ints = field(repr=False)
    ready: Bools = field(repr=False)
    maximum: Floats = field(repr=False)
    owners: Ints = field(repr=False)
    headroom: Floats = field(repr=False)

    @property
    def total_kw(self) -> float:
        return float(self.kw.sum())

    @cached_property
    def setpoints(self) -> tuple[ChargerSetpoint, ...]:
        why = np.where(self.kw >= self.maximum - EPSILON_KW, _AT_MAX, _FREE)
        why[self.ready & ~self.admitted] = _REFUSED
        why[~self.ready] = _NOT_READY
        binding = self.binding.tolist()
        codes = (self.binding * 4 + why).tolist()
        reasons = {code: self._reasons(*divmod(code, 4)) for code in set(codes)}
        # Index -1 (no binding node) reads the trailing None.
        names = [*(node.node_id for node in self.nodes_in), None]
        rows = zip(
            self.charger_ids,
            self.kw.tolist(),
            self.admitted.tolist(),
            map(reasons.__getitem__, codes),
            map(names.__getitem__, binding),
            strict=True,
        )
        return tuple(map(ChargerSetpoint._make, rows))

    @cached_property
    def nodes(self) -> tuple[NodeOutcome, ...]:
        allocated = _per_node(self.owners, self.kw, self.headroom.size + 1)[:-1]
        saturated = (allocated >= self.headroom - 1e-6).tolist()
        columns = (self.headroom.tolist(), allocated.tolist(), saturated)
        return tuple(
            NodeOutcome(node.node_id, node.cap_kw, headroom, allocated, full, node.reasons)
            for node, headroom, allocated, full in zip(self.nodes_in, *columns, strict=True)
        )

    def setpoint(self, charger_id: str) -> ChargerSetpoint:
        return self.setpoints[self.charger_ids.index(charger_id)]

    def node(self, node_id: str) -> NodeOutcome:
        return next(n for n in self.nodes if n.node_id == node_id)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Allocation):
            return NotImplemented
        return (self.setpoints, self.nodes) == (other.setpoints, other.nodes)

    def __hash__(self) -> int:
        return hash(self.setpoints)

    def _reasons(self, node: int, why: int) -> tuple[str, ...]:
        bound: tuple[str, ...] = ()
        if node >= 0:
            binding = self.nodes_in[node]
            bound = (*binding.reasons, f"{ANCESTOR_SATURATED}:{binding.node_id}")
        if why == _NOT_READY:
            return (NOT_READY, *bound)
        if why == _REFUSED:
            return (MIN_NOT_AVAILABLE, *bound)
        if why == _AT_MAX:
            return (*bound, CHARGER_MAX)
        return bound


def allocate(nodes: Iterable[NodeInput], chargers: Iterable[ChargerInput]) -> Allocation:
    """Allocate power to every charger; pure and deterministic."""
    tree = _Tree(sorted(nodes, key=attrgetter("node_id")))
    fleet = _Fleet(tree, list(chargers))
    binding = _admit(tree, fleet)
    kw = np.zeros(fleet.size)
    for tier in _tiers(fleet):
        _fill_tier(tree, fleet, tier, kw, binding)
    return Allocation(
        nodes_in=tuple(tree.nodes),
        charger_ids=fleet.ids,
        kw=kw,
        admitted=fleet.admitted,
        binding=binding,
        ready=fleet.ready,
        maximum=fleet.maximum,
        owners=fleet.owners,
        headroom=tree.headroom,
    )


class _Tree:
    """Nodes by index with their structure (cached: it changes far less often than caps)."""

    def __init__(self, nodes: Sequence[NodeInput]) -> None:
        self.nodes = nodes
        self.size = len(nodes)
        links = tuple(map(attrgetter("node_id", "parent_id"), nodes))
        self.index, self.paths, self.by_height = _structure(links)
        cap = np.array([node.cap_kw for node in nodes], dtype=np.float64)
        uncontrolled = np.array([node.uncontrolled_kw for node in nodes], dtype=np.float64)
        self.headroom = np.maximum(0.0, cap - np.maximum(0.0, uncontrolled))


@lru_cache(maxsize=64)
def _structure(
    links: tuple[tuple[str, str | None], ...],
) -> tuple[dict[str, int], list[list[int]], Ints]:
    """Index, ancestor paths (nearest first), and each node's ancestor-or-self at every height
    (rows, bottom-up), or the placeholder len(links) where it has none."""
    index = {node_id: i for i, (node_id, _) in enumerate(links)}
    if len(index) != len(links):
        raise AllocationInputError("node ids must be unique")
    for node_id, parent_id in links:
        if parent_id is not None and parent_id not in index:
            raise AllocationInputError(f"node {node_id} has unknown parent {parent_id}")
    parent = [None if p is None else index[p] for _, p in links]
    paths = [_path(node, parent) for node in range(len(links))]
    height = [0] * len(links)
    for path in paths:
        for up, node in enumerate(path):
            height[node] = max(height[node], up)
    rows = max(height, default=0) + 1
    by_height = np.full((rows, len(links) + 1), len(links), dtype=np.int64)
    for node, path in enumerate(paths):
        for above in path:
            by_height[height[above], node] = above
    return index, paths, by_height


def _path(node: int, parent: Sequence[int | None]) -> list[int]:
    path = [node]
    above = parent[node]
    while above is not None:
        if len(path) > len(parent):
            raise AllocationInputError("the circuit tree has a cycle")
        path.append(above)
        above = parent[above]
    return path


class _Fleet:
    """The chargers as columns, each charger's ancestor at every height, and who is admitted."""

    def __init__(self, tree: _Tree, chargers: Sequence[ChargerInput]) -> None:
        self.size = len(chargers)
        self.ids: tuple[str, ...]
        columns = _columns(chargers)
        # Chargers usually come in id order already (the cycle sorts them); sort when not.
        if list(columns[0]) != sorted(columns[0]):
            columns = _columns(sorted(chargers, key=itemgetter(0)))
        self.ids, node_ids, minimum, maximum, weight, tier, ready, charging, started = columns
        self.charging: tuple[bool, ...] = charging
        self.started: tuple[datetime | None, ...] = started
        try:
            self.node: Ints = _column(_lookup(tree.index, node_ids), "q")
        except KeyError as exc:
            raise AllocationInputError(f"a charger is on unknown node {exc.args[0]}") from exc
        self.maximum: Floats = _column(maximum, "d")
        self.weight: Floats = _column(weight, "d")
        positive = self.weight > 0
        if not positive.all():
            bad = self.ids[int(positive.argmin())]
            raise AllocationInputError(f"charger {bad} needs a positive weight")
        self.floor = np.minimum(
            np.maximum(_column(minimum, "d"), 0.0), np.maximum(self.maximum, 0.0)
        )
        self.ceiling = np.maximum(self.maximum, self.floor)
        self.tier: Ints = _column(tier, "q")
        self.ready = _column(ready, "?") & (self.maximum > 0)
        self.admitted = np.zeros(self.size, dtype=np.bool_)
        self.owners = tree.by_height.take(self.node, axis=1)
        self.placeholder = tree.size
        # The levels at which a charger leaves its floor and reaches its maximum.
        self.start = self.floor / self.weight
        self.stop = self.ceiling / self.weight

    def admission_order(self) -> list[int]:
        tier = self.tier.tolist()
        charging, started, ids = self.charging, self.started, self.ids

        def key(i: int) -> tuple[int, bool, float, str]:
            start = started[i]
            return (-tier[i], not charging[i], start.timestamp() if start else math.inf, ids[i])

        return sorted(range(self.size), key=key)


def _per_node(owners: Ints, values: Floats, size: int) -> Floats:
    """Sum per node of the chargers' values under it, given each charger's ancestor at every
    height (size counts the placeholder, whose sum comes last)."""
    weights = np.concatenate((values,) * len(owners))
    return np.bincount(owners.ravel(), weights, size).astype(np.float64, copy=False)


def _columns(chargers: Sequence[ChargerInput]) -> tuple[tuple[Any, ...], ...]:
    """The chargers' fields, one tuple per field, in the given order."""
    return tuple(zip(*chargers, strict=False)) or ((),) * len(ChargerInput._fields)


def _lookup(index: dict[str, int], keys: Sequence[str]) -> Sequence[int]:
    """index[key] for every key, in one C-level call (itemgetter of one key returns it bare)."""
    if len(keys) < 2:
        return [index[key] for key in keys]
    found: tuple[int, ...] = itemgetter(*keys)(index)
    return found


def _column(values: Sequence[object], code: str) -> npt.NDArray[Any]:
    """One input column as a (read-only) array: struct packs Python numbers several times faster
    than numpy converts them, which matters for thousands of chargers every cycle."""
    return np.frombuffer(_packer(len(values), code).pack(*values), dtype=code)


@lru_cache(maxsize=32)
def _packer(count: int, code: str) -> struct.Struct:
    return struct.Struct(f"{count}{code}")


def _admit(tree: _Tree, fleet: _Fleet) -> Ints:
    """Admit chargers and return the node that refused each one (-1 for none). When every ready
    charger's minimum fits at once, walking the order would admit them all: skip the walk."""
    demand = _per_node(fleet.owners, np.where(fleet.ready, fleet.floor, 0.0), tree.size + 1)
    if (demand[:-1] <= tree.headroom + EPSILON_KW).all():
        fleet.admitted[:] = fleet.ready
        return np.full(fleet.size, -1, dtype=np.int64)
    return _admit_in_order(tree, fleet)


def _admit_in_order(tree: _Tree, fleet: _Fleet) -> Ints:
    """Reserve each ready charger's minimum along its path, in priority order, while it fits."""
    binding = np.full(fleet.size, -1, dtype=np.int64)
    residual = tree.headroom.tolist()
    floors = fleet.floor.tolist()
    ready = fleet.ready.tolist()
    paths = [tree.paths[node] for node in fleet.node.tolist()]
    for i in fleet.admission_order():
        if not ready[i]:
            continue
        floor = floors[i]
        short = [n for n in paths[i] if residual[n] < floor - EPSILON_KW]
        if short:
            binding[i] = min(short, key=lambda n: (residual[n], n))
            continue
        for n in paths[i]:
            residual[n] -= floor
        fleet.admitted[i] = True
    return binding


def _tiers(fleet: _Fleet) -> list[int]:
    """The admitted tiers, highest first (usually just one, found without sorting)."""
    tiers = fleet.tier[fleet.admitted]
    if tiers.size and tiers.min() == tiers.max():
        return [int(tiers[0])]
    ordered: list[int] = np.unique(tiers)[::-1].tolist()
    return ordered


def _fill_tier(tree: _Tree, fleet: _Fleet, tier: int, kw: Floats, binding: Ints) -> None:
    """Water-fill one tier; higher tiers keep their values, lower tiers their reserved floors."""
    member = fleet.admitted & (fleet.tier == tier)
    capacity = np.concatenate((tree.headroom, [np.inf]))
    others = fleet.admitted & ~member
    if others.any():
        taken = np.where(fleet.tier > tier, kw, fleet.floor) * others
        capacity -= _per_node(fleet.owners, taken, capacity.size)
    owners = np.where(member, fleet.owners, fleet.placeholder)
    fill = _Fill(fleet, owners, capacity)
    level = np.full(fleet.size, np.inf)
    bound_by = np.full(fleet.size, -1, dtype=np.int64)
    for height, owner in enumerate(owners):
        reach = fill.saturation_levels(height, level)[owner]
        tighter = reach < level
        np.minimum(level, reach, out=level)
        np.copyto(bound_by, owner, where=tighter)
    reach = fleet.weight * level
    np.copyto(kw, np.minimum(np.maximum(reach, fleet.floor), fleet.ceiling), where=member)
    np.copyto(binding, np.where(reach < fleet.maximum - EPSILON_KW, bound_by, -1), where=member)


class _Fill:
    """One tier's capacities and floors per node, solved one height at a time.

    A charger's load is its floor until t = start, grows with slope w, and stops at
    min(level, stop), where level is what the nodes below it allow. A node's load is piecewise
    linear between the sorted breakpoints of its chargers, and it saturates where that load
    reaches its capacity; a node its floors already fill saturates where its load would start
    to rise.
    """

    def __init__(self, fleet: _Fleet, owners: Ints, capacity: Floats) -> None:
        self.owners = owners
        # The same, in the smallest integer type: numpy sorts those by radix.
        self.events = owners.astype(np.min_scalar_type(capacity.size))
        self.capacity = capacity
        self.base = _per_node(owners, fleet.floor, capacity.size)
        crowded = capacity <= self.base + EPSILON_KW
        self.limit = np.where(crowded, np.inf, capacity + EPSILON_KW)
        self.crowded = np.full(capacity.size, np.inf)
        if crowded.any():
            starts = np.concatenate((fleet.start,) * len(owners))
            np.minimum.at(self.crowded, owners.ravel(), starts)
            self.crowded[~crowded] = np.inf
        self.stop = fleet.stop
        # Per charger: where it starts, where it ends below this height, the slope changes there.
        self.breakpoints = np.stack((fleet.start, fleet.stop, fleet.weight, -fleet.weight))
        self.positions = np.arange(2 * fleet.size)

    def saturation_levels(self, height: int, level: Floats) -> Floats:
        """The level at which each node of one height saturates (math.inf if it never does)."""
        owner = self.owners[height]
        start, end, weight = self.breakpoints[:3]
        np.maximum(start, np.minimum(level, self.stop), out=end)
        span = end - start
        full = self.base + np.bincount(owner, weight * span, self.capacity.size)
        pending = full > self.limit
        if not pending.any():
            return self.crowded
        moving = (pending[owner] & (span > 0)).nonzero()[0]
        nodes = pending.nonzero()[0]
        sizes = 2 * np.bincount(owner[moving], minlength=self.capacity.size)[nodes]
        starts = sizes.cumsum() - sizes
        picked = self.breakpoints.take(moving, axis=1)
        points = picked[:2].ravel()
        order = points.argsort()
        if nodes.size > 1:
            events = self.events[height].take(moving)
            order = order[np.concatenate((events, events))[order].argsort(kind="stable")]
        points = points[order]
        change = picked[2:].ravel()[order]
        # Slopes need no restart per node (each node's changes sum to zero); moments do, so
        # that rounding stays relative to each node's own load.
        slope = change.cumsum()
        moment = change * points
        moment[starts[1:]] -= np.add.reduceat(moment, starts)[:-1]
        moment.cumsum(out=moment)
        capacity = self.capacity[nodes]
        load = self.base[nodes].repeat(sizes) + points * slope - moment
        below = np.where(load <= capacity.repeat(sizes), self.positions[: points.size], -1)
        # A pending node's load starts at its floors, under capacity, and ends above it, so its
        # last breakpoint under capacity is neither missing nor its last one (but for rounding).
        j = np.maximum(np.maximum.reduceat(below, starts), starts)
        after = np.minimum(j + 1, starts + sizes - 1)
        rise = np.maximum(capacity - load[j], 0.0) / np.maximum(slope[j], np.finfo(float).tiny)
        saturation = self.crowded.copy()
        saturation[nodes] = np.minimum(points[j] + rise, points[after])
        return saturation
