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

Nodes of equal height (longest distance down to a leaf) have disjoint subtrees, so the fill goes
up one height at a time, every node of a height in one pass over the breakpoints in ascending
order (sorted once, by numpy); the list shrinks as nodes saturate. Those loops, and admission,
are compiled by numba (kernel.py). Everything is ordered by id first, so shuffled inputs give
identical output. Chargers arrive as named tuples and turn into columns with one zip;
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

from depotgrid.manage.balancing import kernel
from depotgrid.manage.balancing.kernel import EPSILON_KW, Bools, Floats, Ints, Table
from depotgrid.manage.balancing.reasons import (
    ANCESTOR_SATURATED,
    CHARGER_MAX,
    MIN_NOT_AVAILABLE,
    NOT_READY,
)

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
    limits or refused each charger (-1 for none), charger_nodes that of its own node; parent
    holds each node's parent (len(nodes_in) for a root).
    """

    nodes_in: tuple[NodeInput, ...]
    charger_ids: tuple[str, ...]
    kw: Floats = field(repr=False)
    admitted: Bools = field(repr=False)
    binding: Ints = field(repr=False)
    ready: Bools = field(repr=False)
    maximum: Floats = field(repr=False)
    charger_nodes: Ints = field(repr=False)
    parent: Ints = field(repr=False)
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
        allocated = kernel.node_sums(self.parent, self.charger_nodes, self.kw)[:-1]
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
    admitted, binding = _admit(tree, fleet)
    kw = kernel.fill(
        tree.parent,
        tree.height,
        tree.lifted,
        fleet.node,
        tree.headroom,
        fleet.columns,
        fleet.tier,
        admitted,
        _tiers(fleet.tier, admitted),
        fleet.breakpoint_order,
        binding,
    )
    return Allocation(
        nodes_in=tuple(tree.nodes),
        charger_ids=fleet.ids,
        kw=kw,
        admitted=admitted,
        binding=binding,
        ready=fleet.ready,
        maximum=fleet.maximum,
        charger_nodes=fleet.node,
        parent=tree.parent,
        headroom=tree.headroom,
    )


def warm_up() -> None:
    """Compile the kernels now, or load them from numba's cache: seconds when that cache is cold,
    which a process can spend at start instead of in its first allocation. Takes every path:
    admission walked in order, two tiers, per-node records."""
    nodes = [NodeInput("grid", None, 1.0)]
    chargers = [ChargerInput("a", "grid", 1.0, 2.0), ChargerInput("b", "grid", 1.0, 2.0, tier=1)]
    _ = allocate(nodes, chargers).nodes


class _Tree:
    """Nodes by index with their structure (cached: it changes far less often than caps)."""

    def __init__(self, nodes: Sequence[NodeInput]) -> None:
        self.nodes = nodes
        self.size = len(nodes)
        fields = attrgetter("node_id", "parent_id", "cap_kw", "uncontrolled_kw")
        rows = map(fields, nodes)
        ids, parents, cap, uncontrolled = tuple(zip(*rows, strict=True)) or ((),) * 4
        self.index, self.parent, self.height, self.lifted = _structure(ids, parents)
        load = np.maximum(0.0, _column(uncontrolled, "d"))
        self.headroom: Floats = np.maximum(0.0, _column(cap, "d") - load)


@lru_cache(maxsize=64)
def _structure(
    ids: tuple[str, ...], parents: tuple[str | None, ...]
) -> tuple[dict[str, int], Ints, Ints, Table]:
    """Index, and the tree as kernel.py takes it: parents, heights and lifted (placeholder
    len(ids))."""
    index = {node_id: i for i, node_id in enumerate(ids)}
    if len(index) != len(ids):
        raise AllocationInputError("node ids must be unique")
    for node_id, parent_id in zip(ids, parents, strict=True):
        if parent_id is not None and parent_id not in index:
            raise AllocationInputError(f"node {node_id} has unknown parent {parent_id}")
    none = len(ids)
    parent = [none if p is None else index[p] for p in parents]
    paths = [_path(node, parent) for node in range(none)]
    height = [0] * none
    for path in paths:
        for up, node in enumerate(path):
            height[node] = max(height[node], up)
    rows = max(height, default=0) + 1
    lifted = np.full((rows + 1, none + 1), none, dtype=np.int64)
    for node, path in enumerate(paths):
        # Heights rise strictly along a path: walk it once while h rises.
        k = 0
        for h in range(rows):
            while k < len(path) and height[path[k]] < h:
                k += 1
            if k < len(path):
                lifted[h, node] = path[k]
    return index, np.array(parent, dtype=np.int64), np.array(height, dtype=np.int64), lifted


def _path(node: int, parent: Sequence[int]) -> list[int]:
    """The node and its ancestors, nearest first."""
    path = [node]
    above = parent[node]
    while above < len(parent):
        if len(path) > len(parent):
            raise AllocationInputError("the circuit tree has a cycle")
        path.append(above)
        above = parent[above]
    return path


class _Fleet:
    """The chargers as columns, in id order."""

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
        share: Floats = _column(weight, "d")
        positive = share > 0
        if not positive.all():
            bad = self.ids[int(positive.argmin())]
            raise AllocationInputError(f"charger {bad} needs a positive weight")
        self.columns, self.ready = kernel.charger_columns(
            _column(minimum, "d"), _column(maximum, "d"), share, _column(ready, "?")
        )
        self.floor, self.maximum = self.columns[0], self.columns[2]
        # The fill's breakpoints (start levels, then stop levels), sorted by numpy's faster sort.
        self.breakpoint_order: Ints = np.argsort(self.columns[4:].ravel())
        self.tier: Ints = _column(tier, "q")

    def admission_order(self) -> Ints:
        """Tier (highest first), running sessions first, earliest session start, then id."""
        started = [math.inf if start is None else start.timestamp() for start in self.started]
        keys = (_column(started, "d"), ~_column(self.charging, "?"), -self.tier)
        order: Ints = np.lexsort(keys)
        return order


def _tiers(tier: Ints, admitted: Bools) -> Ints:
    """The admitted tiers, highest first (usually just one, found without sorting)."""
    chosen = tier[admitted]
    if chosen.size and chosen.min() == chosen.max():
        return chosen[:1]
    found: Ints = np.unique(chosen)[::-1].copy()  # contiguous, like the above: one kernel type
    return found


def _admit(tree: _Tree, fleet: _Fleet) -> tuple[Bools, Ints]:
    """Who is admitted, and the node that refused each other ready charger (-1 for none). When
    every ready charger's minimum fits at once, walking the order would admit them all: skip it."""
    if kernel.minimums_fit(tree.parent, fleet.node, fleet.floor, fleet.ready, tree.headroom):
        return fleet.ready.copy(), np.full(fleet.size, -1, dtype=np.int64)
    return _admit_in_order(tree, fleet)


def _admit_in_order(tree: _Tree, fleet: _Fleet) -> tuple[Bools, Ints]:
    """Reserve each ready charger's minimum along its path, in priority order, while it fits."""
    return kernel.admit_in_order(
        tree.parent, fleet.node, fleet.floor, fleet.ready, tree.headroom, fleet.admission_order()
    )


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
