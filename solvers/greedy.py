"""Greedy baseline: repeatedly take the batch of unit moves that helps most.

Lexicographic like the model: first hard-rule violations of the current state (pools below `lo` or above
`hi`), then deviation, then moved nodes. Busy units (PRODUCT §9) are only told apart at the end: every busy
unit that leaves a pool is swapped for an idle unit of the same pool and commodity when one is left (the
same counts everywhere, fewer busy nodes moved). Each round looks at the pools and (pool, flavor) cells that are
short or over, tries every class -> arrival pair that can help them, and applies the best batch. It never
breaks a final-state rule that holds. No optimality claim: its status is FEASIBLE or INFEASIBLE.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict

from solvers.problem import FlowProblem, band_distance
from solvers.result import FlowResult, Status


class _State:
    def __init__(self, p: FlowProblem) -> None:
        self.p = p
        self.out = [0] * len(p.classes)
        self.into = [0] * len(p.arrivals)
        self.x = [pool.count for pool in p.pools]
        self.cell = [c.count for c in p.cells]
        self.cell_of = {(c.pool, c.flavor): i for i, c in enumerate(p.cells)}
        self.free = [s.free for s in p.subnets]
        self.moves = 0
        self.busy_moves = 0

    def violation(self, pool: int, x: int) -> int:
        data = self.p.pools[pool]
        over = x - data.hi if data.hi is not None and x > data.hi else 0
        return max(0, data.lo - x) + over

    def delta(self, ci: int, aj: int, k: int) -> tuple[int, int, int] | None:
        """(Δviolation, Δdeviation, Δmoves) of moving k units of class ci through arrival aj; None if not allowed."""
        p = self.p
        c, a = p.classes[ci], p.arrivals[aj]
        n = k * c.size
        if self.out[ci] + k > c.count or (p.max_moves is not None and self.moves + n > p.max_moves):
            return None
        src, dst = c.pool, a.pool
        tsub, ssub = p.pools[dst].subnet, p.pools[src].subnet
        if tsub != ssub and self.free[tsub] - n * p.ips_per_node < p.subnets[tsub].lo:
            return None
        tcell = self.cell_of.get((dst, a.flavor))
        if tcell is not None and p.cells[tcell].cap is not None:
            cap = p.cells[tcell].cap
            assert cap is not None
            if self.cell[tcell] + n > max(cap, p.cells[tcell].count):
                return None
        dv = (self.violation(src, self.x[src] - n) - self.violation(src, self.x[src])
              + self.violation(dst, self.x[dst] + n) - self.violation(dst, self.x[dst]))
        dd = (band_distance(self.x[src] - n, p.pools[src].target) - band_distance(self.x[src], p.pools[src].target)
              + band_distance(self.x[dst] + n, p.pools[dst].target) - band_distance(self.x[dst], p.pools[dst].target))
        scell = self.cell_of.get((src, c.flavor))
        if scell is not None:
            t = p.cells[scell].target
            dd += band_distance(self.cell[scell] - n, t) - band_distance(self.cell[scell], t)
        if tcell is not None:
            t = p.cells[tcell].target
            dd += band_distance(self.cell[tcell] + n, t) - band_distance(self.cell[tcell], t)
        return dv, dd, n

    def apply(self, ci: int, aj: int, k: int) -> None:
        p = self.p
        c, a = p.classes[ci], p.arrivals[aj]
        n = k * c.size
        self.out[ci] += k
        self.into[aj] += k
        self.x[c.pool] -= n
        self.x[a.pool] += n
        scell, tcell = self.cell_of.get((c.pool, c.flavor)), self.cell_of.get((a.pool, a.flavor))
        if scell is not None:
            self.cell[scell] -= n
        if tcell is not None:
            self.cell[tcell] += n
        ssub, tsub = p.pools[c.pool].subnet, p.pools[a.pool].subnet
        self.free[tsub] -= n * p.ips_per_node
        if ssub >= 0:
            self.free[ssub] += n * p.ips_per_node
        self.moves += n
        self.busy_moves += n if c.busy else 0


def solve_greedy(p: FlowProblem, max_rounds: int = 10_000) -> FlowResult:
    """Greedy placement; FEASIBLE when it meets every final-state rule, else INFEASIBLE."""
    start = time.perf_counter()
    s = _State(p)
    by_comm_classes: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(p.classes):
        by_comm_classes[c.commodity].append(i)
    arrivals_into: dict[int, list[int]] = defaultdict(list)
    for j, a in enumerate(p.arrivals):
        arrivals_into[a.pool].append(j)
    classes_in: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(p.classes):
        classes_in[c.pool].append(i)
    arrivals_of: dict[int, list[int]] = defaultdict(list)
    for j, a in enumerate(p.arrivals):
        arrivals_of[a.commodity].append(j)

    def best_for(pairs: list[tuple[int, int]]) -> tuple[tuple[float, float, int], int, int, int] | None:
        best: tuple[tuple[float, float, int], int, int, int] | None = None
        for ci, aj in pairs:
            left = p.classes[ci].count - s.out[ci]
            if left <= 0:
                continue
            for k in sorted({left, max(1, left // 2), 1}, reverse=True):
                d = s.delta(ci, aj, k)
                if d is None:
                    continue
                dv, dd, dm = d
                if (dv, dd) >= (0, 0):
                    continue
                key = (dv / k, dd / k, dm)
                if best is None or key < best[0]:
                    best = (key, ci, aj, k)
                break
        return best

    for _ in range(max_rounds):
        # Each pool that is short or over takes its best batch in turn; rounds repeat until none improves.
        improved = False
        short = sorted({i for i, pool in enumerate(p.pools)
                        if s.x[i] < pool.lo or (pool.target is not None and s.x[i] < pool.target[0])}
                       | {c.pool for i, c in enumerate(p.cells) if c.target is not None and s.cell[i] < c.target[0]})
        over = sorted({i for i, pool in enumerate(p.pools)
                       if (pool.hi is not None and s.x[i] > pool.hi)
                       or (pool.target is not None and s.x[i] > pool.target[1])}
                      | {c.pool for i, c in enumerate(p.cells) if c.target is not None and s.cell[i] > c.target[1]})
        into_short = ([(ci, aj) for aj in arrivals_into[t] for ci in by_comm_classes[p.arrivals[aj].commodity]
                       if p.classes[ci].pool != t] for t in short)
        out_of_over = ([(ci, aj) for ci in classes_in[src] for aj in arrivals_of[p.classes[ci].commodity]
                        if p.arrivals[aj].pool != src] for src in over)
        for pairs in itertools.chain(into_short, out_of_over):
            best = best_for(pairs)
            if best is not None:
                s.apply(best[1], best[2], best[3])
                improved = True
        if not improved:
            break
    _prefer_idle(p, s)
    seconds = time.perf_counter() - start
    feasible = all(s.violation(i, x) == 0 for i, x in enumerate(s.x))
    deviation = sum(band_distance(x, pool.target) for x, pool in zip(s.x, p.pools, strict=True))
    deviation += sum(band_distance(n, c.target) for n, c in zip(s.cell, p.cells, strict=True))
    status = Status.FEASIBLE if feasible else Status.INFEASIBLE
    return FlowResult(status, tuple(s.out), tuple(s.into), deviation if feasible else None,
                      s.moves if feasible else None, None, seconds, "greedy", "",
                      s.busy_moves if feasible else None)


def _prefer_idle(p: FlowProblem, s: _State) -> None:
    """Swap busy departures for idle ones of the same pool and commodity (identical counts, smaller B)."""
    idle_of = {(c.pool, c.commodity, c.cluster): i for i, c in enumerate(p.classes) if not c.busy}
    for bi, c in enumerate(p.classes):
        ii = idle_of.get((c.pool, c.commodity, c.cluster))
        if not c.busy or ii is None or not s.out[bi]:
            continue
        n = min(s.out[bi], p.classes[ii].count - s.out[ii])
        s.out[bi] -= n
        s.out[ii] += n
        s.busy_moves -= n * c.size
