"""Lattice cuts: valid inequalities that close the LP gap super nodes open.

A count that can only change in steps of g (a pool that sends and receives nothing but super nodes of 4 and
8, or the part of a pool outside its flavor-target cells) can only take the values `base + g·z`. Its
distance to a target band is then at least the distance from the band to that lattice, and the LP
relaxation, which moves fractions of super nodes, does not know it. For such an expression E (integer
coefficients with gcd g > 1) and a deviation sum S with S >= |E - band| for every solution, the lower convex
envelope of `dist(x, band)` sampled on the lattice gives rows `d·S - s·E >= rhs` (one per hull edge that is
not already a band row). They hold for every integer solution, so the optimum never changes; they only
raise the LP bound (benchmarks/RESULTS.md: the LP bound equals the integer optimum on every 100k instance
with them, 2-4 deviation units below it without).

Expressions cut, for every pool with a target and every cell (pool, flavor) with a target:
- the pool count (deviation: the pool's);
- the cell count (deviation: the cell's);
- the pool count minus the counts of any set of its target cells (deviation: the pool's plus those cells').
  The triangle inequality gives |E - (t_pool - Σ t_cell)| <= dev_pool + Σ dev_cell.

Substituted lattice cuts (`separate`, on an LP optimum): where single nodes move too, an expression has no
lattice (gcd 1), and without cross-cluster moves that is where the gap was (hard 100k s3, D 3 short of the optimum:
a pool of single nodes and 8-node units, 39 nodes wanting 16 and one cell 5, reachable at 16 only with two whole
units, the LP sending 13/8 of one). Each term whose coefficient the super-node size g does not divide is moved to
one of its bounds b, the one nearer its LP value: Q = E + c·(b - x) keeps only the lattice terms, and
|Q - E| = |c|·|x - b|, which is `|c|·(x - lb)` or `|c|·(ub - x)` (x within its bounds), a linear expression. So
S + Σ |c|·|x - b| >= dist(Q, band) for every solution within the variable bounds, and the same hull rows hold with
that sum on the deviation side. Only the rows the LP optimum violates are added, a few dozen a round (solvers/flow.py
`_separate`; the LP's duals still certify the bound exactly, solvers/relax.py). Hard 100k nocross drain, s3: the
(D, B) bound from D 3 short to B 1 short, stage M's from 19 moves short to 1; s4: D closed (B 10 short), stage M's
from 71 short to 23.

What none of these rows closes: single-row cuts of the same kind on the rules' rows (subnet room, pool bounds, caps:
their one-sided band, E <= ub) found violated rows on hard 100k s4 nocross drain's stage M but left its bound 23
short (the LP moved to another optimum of the same value), where SCIP's Gomory cuts alone closed it at the root;
those rows are not kept. Nor the B gap the LP opens by sending a fraction of a busy super node from a pool with no
target (session 21; hard 100k s1, s4 nocross): strong branching on the LP proves those windows
(solvers/branching.py), CP-SAT after it.

Owns: finding these rows. Must not: change the model's integer solutions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from functools import reduce

from solvers.linear import LinearModel
from solvers.model import Vars
from solvers.problem import Band, FlowProblem, band_distance
from solvers.vicinity import fractional

VIOLATION = 1e-6  # a row the LP optimum violates by less (per unit of its deviation weight) is not cut
MAX_CELL_SUBSET = 3  # subsets of a pool's target cells combined with its pool row (pools have 1-4 cells)


def add_lattice_cuts(m: LinearModel, p: FlowProblem, v: Vars) -> int:
    """Add every lattice cut of `p` to `m`; returns how many rows were added."""
    before = len(m.rows)
    for terms, base, band, devs, name in _expressions(p, v):
        _cut(m, terms, base, band, dict.fromkeys(devs, 1), name)
    return len(m.rows) - before


def separate(m: LinearModel, p: FlowProblem, v: Vars, values: list[float]) -> int:
    """Add the substituted lattice cuts (module docstring) that `values`, an LP optimum, violates; returns how many.

    Per expression and per super-node size g in it: the terms whose coefficient g divides stay, every other term
    goes to the bound nearer its value (the substitution that costs the least distance at this point).
    """
    before = len(m.rows)
    for terms, base, band, devs, name in _expressions(p, v):
        expr = {x: c for x, c in terms.items() if c}
        for g in sorted({abs(c) for c in expr.values() if abs(c) > 1}):
            kept = {x: c for x, c in expr.items() if c % g == 0}
            if not fractional([values[x] for x in kept]):
                continue  # the lattice part is integral here: no hull edge can cut this point
            shift, distance, constant = base, dict.fromkeys(devs, 1), 0
            for x, c in expr.items():
                if c % g:
                    if values[x] - m.lbs[x] > m.ubs[x] - values[x]:  # |c|·(ub - x) to the distance sum
                        shift, distance[x], constant = shift + c * m.ubs[x], -abs(c), constant + abs(c) * m.ubs[x]
                    else:  # |c|·(x - lb)
                        shift, distance[x], constant = shift + c * m.lbs[x], abs(c), constant - abs(c) * m.lbs[x]
            _cut(m, kept, shift, band, distance, f"{name}~{g}", constant, values)
    return len(m.rows) - before


def _expressions(p: FlowProblem, v: Vars) -> Iterator[tuple[dict[int, int], int, Band, list[int], str]]:
    """(terms, base, band, deviation variables, name) of every expression cut: the count is `base + Σ terms`, the
    deviation variables' sum is at least its distance to `band` in every solution."""
    cells_of: dict[int, list[int]] = {}
    for ci in v.cell_dev:
        cells_of.setdefault(p.cells[ci].pool, []).append(ci)
    for ci, dev in v.cell_dev.items():
        cell = p.cells[ci]
        assert cell.target is not None
        yield v.cell_terms[ci], cell.count, cell.target, [dev], f"lattice_cell[{ci}]"
    for pi, dev in v.pool_dev.items():
        pool = p.pools[pi]
        assert pool.target is not None
        yield v.pool_terms[pi], pool.count, pool.target, [dev], f"lattice_pool[{pi}]"
        cells = sorted(cells_of.get(pi, []))
        for r in range(1, min(len(cells), MAX_CELL_SUBSET) + 1):
            for subset in itertools.combinations(cells, r):
                terms = dict(v.pool_terms[pi])
                base, (low, high) = pool.count, pool.target
                for ci in subset:
                    cell = p.cells[ci]
                    assert cell.target is not None
                    for x, c in v.cell_terms[ci].items():
                        terms[x] = terms.get(x, 0) - c
                    base -= cell.count
                    low, high = low - cell.target[1], high - cell.target[0]
                devs = [dev, *(v.cell_dev[ci] for ci in subset)]
                yield terms, base, (low, high), devs, f"lattice_pool[{pi}]-cells{list(subset)}"


def _cut(m: LinearModel, terms: dict[int, int], base: int, band: Band, distance: dict[int, int], name: str,
         constant: int = 0, point: list[float] | None = None) -> None:
    """Rows `d·S - s·(base + Σ terms) >= d·f(x1) - s·x1` for each edge (x1, x2) of the lattice hull, where
    S = constant + Σ distance·x is at least the count's distance to `band`; with `point`, only the rows it violates."""
    expr = {x: c for x, c in terms.items() if c}
    g = reduce(math.gcd, (abs(c) for c in expr.values()), 0)
    if g <= 1:
        return
    for (x1, y1), (x2, y2) in hull_edges(base, g, band):
        d, s = x2 - x1, y2 - y1
        if abs(s) == d:
            continue  # slope ±1: implied by the band rows
        row: dict[int, int] = {x: -s * c for x, c in expr.items()}
        for x, c in distance.items():
            row[x] = row.get(x, 0) + d * c
        rhs = d * y1 - s * x1 + s * base - d * constant
        if point is None or sum(c * point[x] for x, c in row.items()) < rhs - VIOLATION * d:
            m.row(row, rhs, None, name)


def hull_edges(base: int, g: int, band: Band) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Edges of the lower convex hull of (x, dist(x, band)) over the lattice x = base + g·z near the band.

    Beyond the window the distance grows with slope ±1 on both sides, so the window's edges are the hull's.
    """
    low, high = band
    x = base + ((low - 2 * g - base) // g) * g
    hull: list[tuple[int, int]] = []
    while x <= high + 2 * g:
        point = (x, band_distance(x, band))
        while len(hull) >= 2:
            (xa, ya), (xb, yb) = hull[-2], hull[-1]
            if (yb - ya) * (point[0] - xa) >= (point[1] - ya) * (xb - xa):
                hull.pop()  # hull[-1] is not below the segment hull[-2] -> point
            else:
                break
        hull.append(point)
        x += g
    return list(itertools.pairwise(hull))
