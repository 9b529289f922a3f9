"""Allocation time of the load balancer, and HiGHS solving the same instance's LP.

Random depot trees of depth 3 to 5 (grid connection -> boards -> sub-boards -> ...), chargers
on the leaves and inner boards, oversubscribed 0.3-0.9x, with a fixed seed. Each repeat runs the
allocation and then HiGHS, so both see the same machine load; garbage collection is off while
timing, for both, as timeit does. Per size it prints:

- median and p99 ms: `allocate(nodes, chargers)` from the NodeInput and ChargerInput lists
  (turning them into columns included), then reading `total_kw` and the `kw` column, the
  per-charger setpoints: the same answer the LP gives (x and its objective);
- w/ records ms: the median of that plus building the per-charger and per-node records
  (`setpoints`, `nodes`) the balancing cycle reads, which `allocate` leaves to first use;
- HiGHS ms and HiGHS best: median and best of `scipy.optimize.linprog(method="highs")` on the LP
  with the admitted set fixed (maximise total power subject to every node's headroom and each
  charger's bounds). Only the call is timed: the problem is built beforehand, the matrix in the
  sparse (CSC) form HiGHS takes natively and the bounds as an array;
- speed-up: HiGHS ms over median ms, both medians of the same interleaved runs;
- ns/(n log n): the median in ns over n log2 n, which stays flat or falls while growth is no
  worse than n log n;
- both totals, and whether they agree (1e-6 relative).

The allocator's hot loops are compiled by numba on their first call in a process (or loaded from
numba's on-disk cache, docs/decisions/0004-numba-allocation-kernel.md). That one-time cost is
excluded from the timings: `warm_up()` runs first, and its time is printed on its own, with
whether the kernels came from the cache or were compiled.

Run: uv run python -m bench.rebalance [--repeats 50]
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import time
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from depotgrid.manage.balancing import kernel
from depotgrid.manage.balancing.allocate import (
    Allocation,
    ChargerInput,
    NodeInput,
    allocate,
    warm_up,
)
from depotgrid.manage.balancing.reasons import PHYSICAL_RATING

SIZES = (50, 500, 2_000, 10_000)


def make_instance(chargers: int, seed: int) -> tuple[list[NodeInput], list[ChargerInput]]:
    rnd = random.Random(seed)
    depth = rnd.randint(3, 5)
    inner = max(2, min(200, chargers // 10))
    nodes = [NodeInput("grid", None, 0.0, reasons=(PHYSICAL_RATING,))]
    levels = [["grid"]]
    per_level = max(1, (inner - 1) // (depth - 1))
    for level in range(1, depth):
        names = [f"l{level}-{k}" for k in range(per_level)]
        nodes += [
            NodeInput(name, rnd.choice(levels[-1]), 0.0, reasons=(PHYSICAL_RATING,))
            for name in names
        ]
        levels.append(names)
    hosts = [n.node_id for n in nodes if n.parent_id is not None]
    placed = [
        ChargerInput(
            f"c{j:05d}",
            rnd.choice(hosts),
            rnd.choice([0.0, 4.2, 6.0]),
            rnd.choice([22.0, 50.0, 150.0]),
            weight=rnd.choice([1.0, 1.0, 2.0]),
            charging=rnd.random() < 0.5,
        )
        for j in range(chargers)
    ]
    demand = _demand_under(nodes, placed)
    sized = [
        NodeInput(
            n.node_id,
            n.parent_id,
            demand[n.node_id] * rnd.uniform(0.3, 0.9),
            rnd.choice([0.0, 5.0]),
            n.reasons,
        )
        for n in nodes
    ]
    return sized, placed


def _demand_under(nodes: list[NodeInput], chargers: list[ChargerInput]) -> dict[str, float]:
    parent = {n.node_id: n.parent_id for n in nodes}
    demand = dict.fromkeys(parent, 0.0)
    for charger in chargers:
        node: str | None = charger.node_id
        while node is not None:
            demand[node] += charger.max_kw
            node = parent[node]
    return demand


class LinearProgram:
    """The instance's LP with the admitted set fixed: maximise total power subject to every
    node's headroom and each charger's bounds. Built once, in the sparse (CSC) form HiGHS takes
    natively and with the bounds as an array, so that timing `solve` times HiGHS alone."""

    def __init__(
        self, nodes: list[NodeInput], chargers: list[ChargerInput], admitted: set[str]
    ) -> None:
        rows = {n.node_id: k for k, n in enumerate(nodes)}
        parent = {n.node_id: n.parent_id for n in nodes}
        entries: list[tuple[int, int]] = []
        for j, charger in enumerate(chargers):
            node: str | None = charger.node_id
            while node is not None:
                entries.append((rows[node], j))
                node = parent[node]
        row, col = np.array(entries).T
        shape = (len(nodes), len(chargers))
        self.a = sparse.csc_array((np.ones(len(entries)), (row, col)), shape=shape)
        self.b = np.array([max(0.0, n.cap_kw - max(0.0, n.uncontrolled_kw)) for n in nodes])
        self.bounds = np.array(
            [(c.min_kw, c.max_kw) if c.charger_id in admitted else (0.0, 0.0) for c in chargers]
        )
        self.cost = -np.ones(len(chargers))

    def solve(self) -> float:
        result = linprog(self.cost, A_ub=self.a, b_ub=self.b, bounds=self.bounds, method="highs")
        return float(-result.fun)


@dataclass
class Runs:
    solve: list[float] = field(default_factory=list)
    with_records: list[float] = field(default_factory=list)
    highs: list[float] = field(default_factory=list)


def measure(
    nodes: list[NodeInput], chargers: list[ChargerInput], repeats: int
) -> tuple[Runs, Allocation, float]:
    """Alternate allocation runs and HiGHS runs, so both see the same machine load."""
    result = allocate(nodes, chargers)
    lp = LinearProgram(nodes, chargers, {s.charger_id for s in result.setpoints if s.admitted})
    optimum = lp.solve()
    runs = Runs()
    for _ in range(repeats):
        del result  # the previous run's records are freed here, not inside the next timing
        started = time.perf_counter()
        result = allocate(nodes, chargers)
        _ = result.total_kw, result.kw
        solved = time.perf_counter()
        _ = result.setpoints, result.nodes
        recorded = time.perf_counter()
        lp.solve()
        runs.solve.append(solved - started)
        runs.with_records.append(recorded - started)
        runs.highs.append(time.perf_counter() - recorded)
    return runs, result, optimum


def report_warm_up() -> None:
    """Load or compile the kernels, as the first allocation of a process would, and say how long
    it took."""
    started = time.perf_counter()
    warm_up()
    took = time.perf_counter() - started
    source = "loaded from numba's cache" if kernel.fill.stats.cache_hits else "compiled, now cached"
    print(f"one-time JIT on the first call in this process: {took * 1e3:.0f} ms ({source})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()
    report_warm_up()
    print(
        f"{'chargers':>9} {'nodes':>6} {'depth':>5} {'median ms':>10} {'p99 ms':>8} "
        f"{'w/ records ms':>14} {'HiGHS ms':>9} {'HiGHS best':>11} {'speed-up':>9} "
        f"{'ns/(n log n)':>13} {'total kW':>10} {'LP kW':>10} {'agree':>6}"
    )
    for size in SIZES:
        nodes, chargers = make_instance(size, args.seed + size)
        repeats = max(5, args.repeats if size <= 2_000 else args.repeats // 5)
        gc.disable()
        try:
            runs, result, optimum = measure(nodes, chargers, repeats)
        finally:
            gc.enable()
        times = sorted(runs.solve)
        median, p99 = statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))]
        highs = statistics.median(runs.highs)
        depth = max(_depth(nodes, n.node_id) for n in nodes)
        agree = math.isclose(result.total_kw, optimum, rel_tol=1e-6)
        print(
            f"{size:>9} {len(nodes):>6} {depth:>5} {median * 1e3:>10.2f} {p99 * 1e3:>8.2f} "
            f"{statistics.median(runs.with_records) * 1e3:>14.2f} {highs * 1e3:>9.2f} "
            f"{min(runs.highs) * 1e3:>11.2f} {highs / median:>8.1f}x "
            f"{median * 1e9 / (size * math.log2(size)):>13.1f} {result.total_kw:>10.1f} "
            f"{optimum:>10.1f} {'yes' if agree else 'NO':>6}"
        )


def _depth(nodes: list[NodeInput], node_id: str) -> int:
    parent = {n.node_id: n.parent_id for n in nodes}
    depth, node = 1, parent[node_id]
    while node is not None:
        depth, node = depth + 1, parent[node]
    return depth


if __name__ == "__main__":
    main()
