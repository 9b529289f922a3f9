"""Linear-programming references for the allocator (scipy HiGHS): optimum total and the
lexicographically max-min fair allocation by iterative LP."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linprog

from depotgrid.manage.balancing.allocate import ChargerInput, NodeInput


def constraint_matrix(
    nodes: Sequence[NodeInput], chargers: Sequence[ChargerInput]
) -> tuple[np.ndarray, np.ndarray]:
    """One row per node: the chargers under it; right side: the node's headroom."""
    parent = {n.node_id: n.parent_id for n in nodes}
    rows = {n.node_id: k for k, n in enumerate(nodes)}
    a = np.zeros((len(nodes), len(chargers)))
    for j, charger in enumerate(chargers):
        node: str | None = charger.node_id
        while node is not None:
            a[rows[node], j] = 1.0
            node = parent[node]
    b = np.array([max(0.0, n.cap_kw - max(0.0, n.uncontrolled_kw)) for n in nodes])
    return a, b


def optimum_total(
    nodes: Sequence[NodeInput],
    chargers: Sequence[ChargerInput],
    bounds: Sequence[tuple[float, float]],
) -> float:
    a, b = constraint_matrix(nodes, chargers)
    result = linprog(-np.ones(len(chargers)), A_ub=a, b_ub=b, bounds=bounds, method="highs")
    assert result.status == 0, result.message
    return float(-result.fun)


def max_min_fair(
    nodes: Sequence[NodeInput],
    chargers: Sequence[ChargerInput],
    bounds: Sequence[tuple[float, float]],
    tol: float = 1e-7,
) -> np.ndarray:
    """Weighted max-min fair x with floors: raise t with x_i >= max(floor_i, w_i t) for unfrozen
    chargers; freeze those that cannot exceed that; repeat until all are frozen."""
    a, b = constraint_matrix(nodes, chargers)
    n = len(chargers)
    weights = np.array([c.weight for c in chargers])
    frozen: dict[int, float] = {j: lo for j, (lo, hi) in enumerate(bounds) if hi - lo <= tol}
    while len(frozen) < n:
        free = [j for j in range(n) if j not in frozen]
        t = _max_level(a, b, bounds, weights, frozen, free)
        floors = {j: max(bounds[j][0], min(bounds[j][1], weights[j] * t)) for j in free}
        newly = {}
        for j in free:
            if weights[j] * t >= bounds[j][1] - tol:
                newly[j] = bounds[j][1]
            elif _max_single(a, b, bounds, frozen, floors, j) <= floors[j] + tol:
                newly[j] = floors[j]
        if not newly:
            j = min(free, key=lambda k: (_max_single(a, b, bounds, frozen, floors, k), k))
            newly[j] = floors[j]
        frozen.update(newly)
    return np.array([frozen[j] for j in range(n)])


def _level_rows(n: int, free: Sequence[int], weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.zeros((len(free), n + 1))
    for r, j in enumerate(free):
        rows[r, j] = -1.0
        rows[r, n] = weights[j]
    return rows, np.zeros(len(free))


def _max_level(a, b, bounds, weights, frozen, free) -> float:  # type: ignore[no-untyped-def]
    n = a.shape[1]
    level_rows, level_b = _level_rows(n, free, weights)
    a_ub = np.vstack([np.hstack([a, np.zeros((a.shape[0], 1))]), level_rows])
    b_ub = np.concatenate([b, level_b])
    var_bounds = [
        (v, v) if j in frozen else bounds[j] for j, v in ((j, frozen.get(j, 0.0)) for j in range(n))
    ] + [(0, None)]
    c = np.zeros(n + 1)
    c[n] = -1.0
    result = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=var_bounds, method="highs")
    assert result.status == 0, result.message
    return float(result.x[n])


def _max_single(a, b, bounds, frozen, floors, target) -> float:  # type: ignore[no-untyped-def]
    n = a.shape[1]
    var_bounds = []
    for j in range(n):
        if j in frozen:
            var_bounds.append((frozen[j], frozen[j]))
        else:
            var_bounds.append((floors[j], bounds[j][1]))
    c = np.zeros(n)
    c[target] = -1.0
    result = linprog(c, A_ub=a, b_ub=b, bounds=var_bounds, method="highs")
    assert result.status == 0, result.message
    return float(-result.fun)
