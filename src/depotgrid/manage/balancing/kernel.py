"""The allocator's hot loops, compiled by numba: admission of minimums and the exact fill.

allocate.py describes the algorithm and turns the inputs into the flat arrays these take; here
plain loops are as fast as the machine, where numpy needed ~50 calls per tree height. numba
compiles each kernel on first use and caches the machine code on disk (see
docs/decisions/0004-numba-allocation-kernel.md).

Conventions: N nodes numbered in id order, and N itself a placeholder for "none"; parent[v] is node
v's parent (N for a root), height[v] its height (longest distance down to a leaf), and lifted[h, v]
its lowest ancestor-or-self of height h or more (N where there is none; the last row is all N).
Chargers are numbered in id order and node[i] is charger i's node.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

import numba
import numpy as np
import numpy.typing as npt
import structlog
from numba.core.dispatcher import Dispatcher

EPSILON_KW = 1e-9
TINY = float(np.finfo(np.float64).tiny)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Table = npt.NDArray[np.int64]  # lifted: (heights + 1, N + 1)

Kernel = TypeVar("Kernel", bound=Callable[..., Any])
log = structlog.get_logger(__name__)


def _compiled(function: Kernel) -> Dispatcher[Kernel]:
    """numba.njit(cache=True): compiled on first call, the machine code cached on disk. Where
    numba finds no writable cache directory it refuses to cache at all: then compile in every
    process rather than fail the import."""
    try:
        return numba.njit(cache=True)(function)
    except RuntimeError:
        _uncached()
        return numba.njit()(function)


@cache
def _uncached() -> None:
    log.warning(
        "numba_cache_unavailable",
        hint="set NUMBA_CACHE_DIR to a writable directory; until then every process compiles "
        "the allocator's kernels on first use",
    )


@_compiled
def charger_columns(
    minimum: Floats, maximum: Floats, weight: Floats, ready: Bools
) -> tuple[Floats, Bools]:
    """Per charger (rows): floor and ceiling (the bounds made consistent), maximum, weight, and
    the levels at which it leaves its floor and reaches its ceiling; and whether it is ready
    (told so, with a positive maximum)."""
    columns = np.empty((6, minimum.size))
    usable = np.empty(minimum.size, dtype=np.bool_)
    for i in range(minimum.size):
        floor = min(max(minimum[i], 0.0), max(maximum[i], 0.0))
        ceiling = max(maximum[i], floor)
        columns[0, i], columns[1, i] = floor, ceiling
        columns[2, i], columns[3, i] = maximum[i], weight[i]
        columns[4, i], columns[5, i] = floor / weight[i], ceiling / weight[i]
        usable[i] = ready[i] and maximum[i] > 0
    return columns, usable


@_compiled
def node_sums(parent: Ints, node: Ints, values: Floats) -> Floats:
    """Per node, the sum of the values of the chargers under it (and 0 for the placeholder)."""
    sums = np.zeros(parent.size + 1)
    for i in range(node.size):
        n = node[i]
        while n < parent.size:
            sums[n] += values[i]
            n = parent[n]
    return sums


@_compiled
def minimums_fit(parent: Ints, node: Ints, floor: Floats, ready: Bools, headroom: Floats) -> bool:
    """Whether every ready charger's minimum fits at once: then no admission order refuses
    anyone."""
    wanted = np.zeros(node.size)
    for i in range(node.size):
        if ready[i]:
            wanted[i] = floor[i]
    demand = node_sums(parent, node, wanted)
    fits = True
    for n in range(headroom.size):
        fits = fits and demand[n] <= headroom[n] + EPSILON_KW
    return fits


@_compiled
def admit_in_order(
    parent: Ints, node: Ints, floor: Floats, ready: Bools, headroom: Floats, order: Ints
) -> tuple[Bools, Ints]:
    """Reserve each ready charger's minimum under all its ancestors, in the given order, while it
    fits. Returns who is admitted and the node that refused each other ready charger (-1)."""
    admitted = np.zeros(node.size, dtype=np.bool_)
    refused_by = np.full(node.size, -1, dtype=np.int64)
    residual = headroom.copy()
    for i in order:
        if not ready[i]:
            continue
        refused_by[i] = _tightest(parent, node[i], residual, floor[i])
        if refused_by[i] < 0:
            n = node[i]
            while n < parent.size:
                residual[n] -= floor[i]
                n = parent[n]
            admitted[i] = True
    return admitted, refused_by


@_compiled
def _tightest(parent: Ints, n: int, residual: Floats, need: float) -> int:
    """The node from n up without room for need that has the least room (lowest index on ties),
    or -1 when every one has room."""
    tightest = -1
    while n < parent.size:
        if residual[n] < need - EPSILON_KW and (
            tightest < 0
            or residual[n] < residual[tightest]
            or (residual[n] == residual[tightest] and n < tightest)
        ):
            tightest = n
        n = parent[n]
    return tightest


@_compiled
def fill(
    parent: Ints,
    height: Ints,
    lifted: Table,
    node: Ints,
    headroom: Floats,
    columns: Floats,
    tier: Ints,
    admitted: Bools,
    tiers: Ints,
    order: Ints,
    binding: Ints,
) -> Floats:
    """Water-fill the admitted chargers tier by tier (tiers: the admitted ones, highest first)
    and return their kW.

    columns holds floor, ceiling, maximum, weight, start and stop per charger (rows); order sorts
    the breakpoints: the start levels then the stop levels. Writes into binding the node that
    limits each admitted charger (-1 when it reaches its maximum or nothing limits it).
    """
    floor, ceiling, maximum, weight = columns[0], columns[1], columns[2], columns[3]
    kw = np.zeros(node.size)
    for t in tiers:
        member = np.zeros(node.size, dtype=np.bool_)
        # Higher tiers keep what they got, lower tiers their reserved floors.
        taken, others = np.zeros(node.size), False
        for i in range(node.size):
            if admitted[i]:
                member[i] = tier[i] == t
                if not member[i]:
                    taken[i], others = kw[i] if tier[i] > t else floor[i], True
        capacity = np.append(headroom, np.inf)
        if others:
            capacity -= node_sums(parent, node, taken)
        saturation = _saturations(parent, height, lifted, node, member, capacity, columns, order)
        level, bound_by = _lowest(parent, height, lifted.shape[0] - 1, saturation)
        for i in range(node.size):
            if member[i]:
                reach = weight[i] * level[node[i]]
                kw[i] = min(max(reach, floor[i]), ceiling[i])
                binding[i] = bound_by[node[i]] if reach < maximum[i] - EPSILON_KW else -1
    return kw


@_compiled
def _lowest(parent: Ints, height: Ints, heights: int, saturation: Floats) -> tuple[Floats, Ints]:
    """Per node, min(T_a over it and its ancestors a) and the lowest node attaining it: top
    down, a parent being higher than its children."""
    level = np.full(saturation.size, np.inf)
    bound_by = np.full(saturation.size, -1, dtype=np.int64)
    for h in range(heights - 1, -1, -1):
        for n in range(height.size):
            if height[n] == h:
                up = parent[n]
                if saturation[n] <= level[up]:
                    level[n], bound_by[n] = saturation[n], n
                else:
                    level[n], bound_by[n] = level[up], bound_by[up]
    return level, bound_by


# Rows of the per-node state of one tier's fill: the floors under the node, how far its load
# rises above them up to where it saturates (or at all), its members' lowest start level; and
# while a pass sweeps it: its last breakpoint, its load there, and the slope after it as a
# compensated sum (slope plus drift: see _sum).
_BASE, _RISE, _FIRST, _POINT, _LOAD, _SLOPE, _DRIFT = range(7)
# What a height's pass does with a breakpoint, by the node above it at that height.
_KEEP, _SWEEP, _DROP = range(3)

# Breakpoints in ascending order, as columns: the node they are under (or that node's lowest
# ancestor still to be solved), the level, the slope change there and its rounding error.
Breakpoints = tuple[Ints, Floats, Floats, Floats]


@_compiled
def _saturations(
    parent: Ints,
    height: Ints,
    lifted: Table,
    node: Ints,
    member: Bools,
    capacity: Floats,
    columns: Floats,
    order: Ints,
) -> Floats:
    """T_n for every node, one height at a time from the bottom.

    A member's load is its floor up to its start level, then rises with slope w up to its stop
    level. A node its floors already fill saturates at its members' lowest start level; one
    whose load, once the nodes below have saturated, ends above its capacity saturates where it
    crosses it; others never do (inf).

    The breakpoints live in one ascending list that shrinks as the heights go up: a node that
    saturates at T drops its breakpoints above T and adds one at T taking off the slope it
    still had, so the nodes above see its load stop there; and breakpoints at the same level
    under the same node above are merged.
    """
    state = np.zeros((7, capacity.size))
    for n in range(capacity.size):
        state[_FIRST, n] = np.inf
    floor, weight, start, stop = columns[0], columns[3], columns[4], columns[5]
    for i in range(node.size):
        if member[i]:
            n = node[i]
            state[_BASE, n] += floor[i]
            state[_RISE, n] += weight[i] * (stop[i] - start[i])
            state[_FIRST, n] = min(state[_FIRST, n], start[i])
    live = _breakpoints(node, member, columns, order, capacity.size)
    added = (np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0))
    saturation = np.full(capacity.size, np.inf)
    mode = np.full(capacity.size, _KEEP)
    for h in range(lifted.shape[0] - 1):
        if _classify(h, height, capacity, state, mode, saturation):
            live, added = _pass(h, lifted, live, added, mode, capacity, state, saturation)
        _close(h, height, parent, mode, state, saturation)
    return saturation


@_compiled
def _breakpoints(node: Ints, member: Bools, columns: Floats, order: Ints, size: int) -> Breakpoints:
    """The breakpoints of the members that rise at all: +w at a start level, -w at a stop
    level, merged per node and level."""
    weight, start, stop = columns[3], columns[4], columns[5]
    count = node.size
    origin, at = np.empty(order.size, np.int64), np.empty(order.size)
    change, error = np.empty(order.size), np.zeros(order.size)
    slot = np.full(size, -1, dtype=np.int64)  # each node's entry at the current level
    found = run = 0  # entries, and where the current level's begin
    for e in order:
        starts = e < count
        i = e if starts else e - count
        if not member[i] or stop[i] <= start[i]:
            continue
        level = start[i] if starts else stop[i]
        delta = weight[i] if starts else -weight[i]
        if found > run and level != at[found - 1]:
            run = found
        n = node[i]
        if slot[n] >= run:
            change[slot[n]], error[slot[n]] = _sum(change[slot[n]], error[slot[n]], delta)
        else:
            slot[n] = found
            origin[found], at[found], change[found] = n, level, delta
            found += 1
    return origin[:found], at[:found], change[:found], error[:found]


@_compiled
def _classify(
    h: int, height: Ints, capacity: Floats, state: Floats, mode: Ints, saturation: Floats
) -> bool:
    """Decide what this height's pass does for each node of the height and prepare its sweep;
    True if the pass has anything to do."""
    busy = False
    for n in range(height.size):
        if height[n] != h:
            continue
        base = state[_BASE, n]
        if capacity[n] <= base + EPSILON_KW:
            saturation[n], mode[n], state[_RISE, n] = state[_FIRST, n], _DROP, 0.0
            busy = True
        elif base + state[_RISE, n] > capacity[n] + EPSILON_KW:
            mode[n] = _SWEEP
            state[_POINT, n], state[_LOAD, n] = 0.0, base
            state[_SLOPE, n], state[_DRIFT, n] = 0.0, 0.0
            busy = True
    return busy


@_compiled
def _pass(
    h: int,
    lifted: Table,
    live: Breakpoints,
    added: Breakpoints,
    mode: Ints,
    capacity: Floats,
    state: Floats,
    saturation: Floats,
) -> tuple[Breakpoints, Breakpoints]:
    """Raise the level through the breakpoints (live and added, merged) for every node swept at
    this height at once. Returns the breakpoints kept for the heights above, under their
    lowest node there and merged per level, and those added where swept nodes saturated.

    Like the rising level, a node saturates after the last breakpoint still within its
    capacity, on that breakpoint's slope, no further than the next breakpoint.
    """
    origin, at, change, error = live
    added_origin, added_at, added_change, added_error = added
    size, none = origin.size + added_origin.size, lifted.shape[1] - 1
    kept_origin, kept_at = np.empty(size, np.int64), np.empty(size)
    kept_change, kept_error = np.empty(size), np.empty(size)
    new_origin, new_at = np.empty(none, np.int64), np.empty(none)
    new_change, new_error = np.empty(none), np.empty(none)
    slot = np.full(none, -1, dtype=np.int64)  # each node's entry at the current level
    here, higher = lifted[h], lifted[h + 1]
    a = f = kept = run = new = 0
    while a < origin.size or f < added_origin.size:
        if f == added_origin.size or (a < origin.size and at[a] <= added_at[f]):
            o, level, delta, lost = origin[a], at[a], change[a], error[a]
            a += 1
        else:
            o, level, delta, lost = added_origin[f], added_at[f], added_change[f], added_error[f]
            f += 1
        n = here[o]
        if mode[n] == _DROP:
            continue
        if mode[n] == _SWEEP:
            point, load = state[_POINT, n], state[_LOAD, n]
            rate = state[_SLOPE, n] + state[_DRIFT, n]
            grown = load + rate * (level - point)
            if grown > capacity[n]:
                rise = max(capacity[n] - load, 0.0) / max(rate, TINY)
                saturation[n] = min(point + rise, level)
                state[_RISE, n] = load + rate * (saturation[n] - point) - state[_BASE, n]
                mode[n] = _DROP
                new_origin[new], new_at[new] = n, saturation[n]
                new_change[new], new_error[new] = -state[_SLOPE, n], -state[_DRIFT, n]
                new += 1
                continue
            state[_POINT, n], state[_LOAD, n] = level, grown
            state[_SLOPE, n], state[_DRIFT, n] = _sum(
                state[_SLOPE, n], state[_DRIFT, n] + lost, delta
            )
        up = higher[o]
        if up == none:
            continue  # every node above it is solved
        if kept > run and level != kept_at[kept - 1]:
            run = kept
        if slot[up] >= run:
            s = slot[up]
            kept_change[s], kept_error[s] = _sum(kept_change[s], kept_error[s] + lost, delta)
        else:
            slot[up] = kept
            kept_origin[kept], kept_at[kept] = up, level
            kept_change[kept], kept_error[kept] = delta, lost
            kept += 1
    rank = _ascending(new_at[:new])
    return (
        (kept_origin[:kept], kept_at[:kept], kept_change[:kept], kept_error[:kept]),
        (new_origin[rank], new_at[rank], new_change[rank], new_error[rank]),
    )


@_compiled
def _close(
    h: int, height: Ints, parent: Ints, mode: Ints, state: Floats, saturation: Floats
) -> None:
    """Finish the nodes of this height and pass their floors and rise on to their parents. A
    node swept to its last breakpoint without crossing (rounding) saturates there."""
    for n in range(height.size):
        if height[n] != h:
            continue
        if mode[n] == _SWEEP:
            saturation[n] = state[_POINT, n]
            state[_RISE, n] = state[_LOAD, n] - state[_BASE, n]
        up = parent[n]
        state[_BASE, up] += state[_BASE, n]
        state[_RISE, up] += state[_RISE, n]
        state[_FIRST, up] = min(state[_FIRST, up], state[_FIRST, n])


@_compiled
def _ascending(values: Floats) -> Ints:
    """The permutation that sorts values: a plain merge sort (numba's own sorts take seconds to
    compile)."""
    rank, spare = np.arange(values.size), np.empty(values.size, dtype=np.int64)
    width = 1
    while width < values.size:
        for low in range(0, values.size, 2 * width):
            middle, high = min(low + width, values.size), min(low + 2 * width, values.size)
            a, b = low, middle
            for k in range(low, high):
                if b == high or (a < middle and values[rank[a]] <= values[rank[b]]):
                    spare[k], a = rank[a], a + 1
                else:
                    spare[k], b = rank[b], b + 1
        rank, spare = spare, rank
        width *= 2
    return rank


@_compiled
def _sum(total: float, lost: float, value: float) -> tuple[float, float]:
    """total + value, and lost plus the rounding error of that sum: compensated summation with
    Knuth's branch-free TwoSum (a branch on magnitudes would be mispredicted half the time)."""
    summed = total + value
    part = summed - total
    return summed, lost + ((total - (summed - part)) + (value - part))
