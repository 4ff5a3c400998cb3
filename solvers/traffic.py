"""Traffic cuts: valid inequalities that close the LP gap in moves that super nodes open.

A pool whose movable nodes are mostly super nodes (4 or 8 nodes a unit) can only send certain totals X:
the sums of its units' sizes. To lose 5 nodes toward its target, a pool of one 8-node unit must send all 8
and take 3 back; the LP relaxation sends 5/8 of the unit and takes nothing. Each node that arrives somewhere
left somewhere else, so the moves are half the total traffic, M = ½ Σ_P (X_P + A_P) (departures X_P plus
arrivals A_P of pool P), and a lower bound on one pool's traffic T_P = X_P + A_P raises the LP's bound on M.

For a pool P with a target band and a few enough small units that its possible departures S_P (subset sums of
its units) leave gaps: its loss L = X - A = count - final lies within `dev_P` of the band's losses, and
`X in S_P`, `A >= 0` give T = 2X - L >= T_min(L) = 2·min{X in S_P : X >= max(L, 0)} - L. So
T_P >= f(dev_P) = min of T_min over the losses within dev_P of the band, a non-increasing function of the
integer dev_P; the lower convex envelope of f gives rows `(d2 - d1)·T_P - (f2 - f1)·dev_P >= ...`, one per
hull edge. They hold for every integer solution (a larger dev_P only widens the losses allowed), so the
optimum never changes; they raise the LP bound on M (benchmarks/RESULTS.md, "Drain solve (session 21)").

Owns: finding these rows. Must not: change the model's integer solutions.
"""

from __future__ import annotations

import itertools

from solvers.linear import LinearModel
from solvers.model import Vars
from solvers.problem import FlowProblem

MAX_REACH = 4096  # pools that could send more nodes than this are not cut (their sums leave no gaps anyway)


def add_traffic_cuts(m: LinearModel, p: FlowProblem, v: Vars) -> int:
    """Add every traffic cut of `p` to `m`; returns how many rows were added."""
    before = len(m.rows)
    units: dict[int, list[tuple[int, int, int]]] = {}  # pool -> (variable, size, count) of its classes
    for i, c in enumerate(p.classes):
        units.setdefault(c.pool, []).append((v.out[i], c.size, c.count))
    arrivals: dict[int, dict[int, int]] = {}
    for j, a in enumerate(p.arrivals):
        arrivals.setdefault(a.pool, {})[v.into[j]] = p.commodities[a.commodity].size
    for pi, dev in v.pool_dev.items():
        pool, mine = p.pools[pi], units.get(pi, [])
        if pool.target is None or not any(size > 1 for _, size, _ in mine):
            continue
        sums = subset_sums([(size, count) for _, size, count in mine])
        if sums is None or all(sums):
            continue  # every total can be sent: no gap to close
        low, high = pool.target
        points = traffic_bounds(sums, pool.count - high, pool.count - low)
        traffic = {x: size for x, size, _ in mine}
        for x, size in arrivals.get(pi, {}).items():
            traffic[x] = traffic.get(x, 0) + size
        for (d1, f1), (d2, f2) in _lower_hull(points):
            row = {x: (d2 - d1) * c for x, c in traffic.items()}
            row[dev] = row.get(dev, 0) - (f2 - f1)
            m.row(row, f1 * (d2 - d1) - (f2 - f1) * d1, None, f"traffic_pool[{pi}]")
    return len(m.rows) - before


def subset_sums(units: list[tuple[int, int]]) -> list[bool] | None:
    """`sums[x]`: whether x nodes can be sent by choosing some of the units (size, count); None above MAX_REACH."""
    reach = sum(size * count for size, count in units)
    if reach > MAX_REACH:
        return None
    sums = [True] + [False] * reach
    for size, count in units:
        for _ in range(count):
            for x in range(reach, size - 1, -1):
                sums[x] = sums[x] or sums[x - size]
    return sums


def traffic_bounds(sums: list[bool], loss_low: int, loss_high: int) -> list[tuple[int, int]]:
    """Points (d, f(d)): the least traffic of a pool whose loss lies within d of `loss_low..loss_high`, for d
    from 0 until f stops falling (the loss 0 reached, or every loss the sums allow)."""
    reach = len(sums) - 1
    least = [0] * (reach + 2)  # least[x]: the smallest possible total >= x (reach + 1: none)
    least[reach + 1] = reach + 1
    for x in range(reach, -1, -1):
        least[x] = x if sums[x] else least[x + 1]

    def t_min(loss: int) -> int | None:
        if loss <= 0:
            return -loss
        if loss > reach:
            return None
        return 2 * least[loss] - loss

    best: int | None = None
    for loss in range(loss_low, loss_high + 1):
        t = t_min(loss)
        best = t if best is None or (t is not None and t < best) else best
    points: list[tuple[int, int]] = []
    d = 0
    while True:
        if best is not None:
            points.append((d, best))
        if best == 0 or (loss_low - d <= 0 and loss_high + d > reach):
            return points
        d += 1
        for loss in (loss_low - d, loss_high + d):
            t = t_min(loss)
            if t is not None and (best is None or t < best):
                best = t


def _lower_hull(points: list[tuple[int, int]]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The edges of the lower convex hull of `points` (sorted by d) that give a row: one per edge, plus the
    last point's level as a flat edge (f never goes below it)."""
    hull: list[tuple[int, int]] = []
    for point in points:
        while len(hull) >= 2:
            (xa, ya), (xb, yb) = hull[-2], hull[-1]
            if (yb - ya) * (point[0] - xa) >= (point[1] - ya) * (xb - xa):
                hull.pop()
            else:
                break
        hull.append(point)
    edges = list(itertools.pairwise(hull))
    if hull and hull[-1][1] > 0:
        d, f = hull[-1]
        edges.append(((d, f), (d + 1, f)))
    return edges
