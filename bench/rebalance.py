"""Allocation time of the load balancer, and HiGHS solving the same instance's LP.

Random depot trees of depth 3 to 5 (grid connection -> boards -> sub-boards -> ...), chargers
on the leaves and inner boards, oversubscribed 0.3-0.9x, with a fixed seed. For each size it
prints the allocation's median and p99 over repeated runs, the LP solve time with scipy's HiGHS
(max total power, same constraints), the speed-up, and checks both totals agree.
Run: uv run python -m bench.rebalance [--repeats 50]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np
from scipy.optimize import linprog

from depotgrid.manage.balancing.allocate import ChargerInput, NodeInput, allocate
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


def lp_time(
    nodes: list[NodeInput], chargers: list[ChargerInput], admitted: set[str]
) -> tuple[float, float]:
    rows = {n.node_id: k for k, n in enumerate(nodes)}
    parent = {n.node_id: n.parent_id for n in nodes}
    a = np.zeros((len(nodes), len(chargers)))
    for j, charger in enumerate(chargers):
        node: str | None = charger.node_id
        while node is not None:
            a[rows[node], j] = 1.0
            node = parent[node]
    b = np.array([max(0.0, n.cap_kw - n.uncontrolled_kw) for n in nodes])
    bounds = [(c.min_kw, c.max_kw) if c.charger_id in admitted else (0, 0) for c in chargers]
    started = time.perf_counter()
    result = linprog(-np.ones(len(chargers)), A_ub=a, b_ub=b, bounds=bounds, method="highs")
    return time.perf_counter() - started, float(-result.fun)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()
    print(
        f"{'chargers':>9} {'nodes':>6} {'depth':>5} {'median ms':>10} {'p99 ms':>8} "
        f"{'HiGHS ms':>9} {'speed-up':>9} {'total kW':>10} {'LP kW':>10}"
    )
    for size in SIZES:
        nodes, chargers = make_instance(size, args.seed + size)
        repeats = max(5, args.repeats if size <= 2_000 else args.repeats // 5)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            result = allocate(nodes, chargers)
            times.append(time.perf_counter() - started)
        admitted = {s.charger_id for s in result.setpoints if s.admitted}
        highs, lp_total = min(lp_time(nodes, chargers, admitted) for _ in range(3))
        times.sort()
        median, p99 = statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))]
        depth = max(_depth(nodes, n.node_id) for n in nodes)
        print(
            f"{size:>9} {len(nodes):>6} {depth:>5} {median * 1e3:>10.2f} {p99 * 1e3:>8.2f} "
            f"{highs * 1e3:>9.2f} {highs / median:>8.1f}x {result.total_kw:>10.1f} "
            f"{lp_total:>10.1f}"
        )


def _depth(nodes: list[NodeInput], node_id: str) -> int:
    parent = {n.node_id: n.parent_id for n in nodes}
    depth, node = 1, parent[node_id]
    while node is not None:
        depth, node = depth + 1, parent[node]
    return depth


if __name__ == "__main__":
    main()
