"""Small random FlowProblems (hypothesis), a brute force over every placement, and the check that a solve gives
the brute force's answer with and without an idea switched on, for the solver tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace

from hypothesis import strategies as st

from solvers.flow import solve_flow
from solvers.params import SolveParams
from solvers.problem import (
    Arrival,
    Commodity,
    FlavorCell,
    FlowProblem,
    PoolData,
    SubnetData,
    UnitClass,
    deviation_of,
    feasibility_errors,
    final_counts,
)
from solvers.result import FlowResult, Status

Key = tuple[int, int, int]  # (D, B, M)
MAX_CLASSES = 5  # brute force: at most 3^5 departure vectors ...
MAX_UNITS = 4  # ... and, per commodity, the ways to spread at most 4 units over its arrivals


@st.composite
def flow_problems(draw: st.DrawFn, busy: bool = True, sizes: tuple[int, ...] = (1, 1, 2)) -> FlowProblem:
    """2-3 pools, 1-2 commodities (unit sizes drawn from `sizes`), idle and busy classes, a few arrivals,
    cells and subnets.

    Small enough for `brute_force` (at most a few thousand placements).
    """
    n_pools = draw(st.integers(2, 3))
    n_sub = draw(st.integers(1, 2))
    commodities = [Commodity(flavor=k, size=draw(st.sampled_from(sizes)), cluster=-1)
                   for k in range(draw(st.integers(1, 2)))]
    slots = [(p, k, b) for p in range(n_pools) for k in range(len(commodities))
             for b in ((False, True) if busy else (False,))]
    chosen = draw(st.lists(st.sampled_from(slots), min_size=1, max_size=MAX_CLASSES, unique=True))
    classes: list[UnitClass] = []
    units = [0] * len(commodities)
    for p, k, is_busy in sorted(chosen):
        count = min(draw(st.integers(1, 2)), MAX_UNITS - units[k])
        if count > 0:
            units[k] += count
            classes.append(UnitClass(p, k, commodities[k].flavor, commodities[k].size, 0, count, is_busy))
    counts = [sum(c.size * c.count for c in classes if c.pool == p) + draw(st.integers(0, 2))
              for p in range(n_pools)]
    pools = []
    for p in range(n_pools):
        lo = draw(st.integers(0, counts[p] + (2 if draw(st.integers(0, 5)) == 0 else 0)))  # sometimes must fill
        hi = draw(st.one_of(st.none(), st.integers(counts[p], counts[p] + 4)))
        target = draw(st.one_of(st.none(), st.integers(0, counts[p] + 6), st.integers(0, counts[p] + 6)))
        pools.append(PoolData(counts[p], lo, hi, None if target is None else (target, target), p % n_sub, 0))
    arrivals = [Arrival(k, p, commodities[k].flavor) for k in range(len(commodities)) for p in range(n_pools)
                if draw(st.integers(0, 3)) > 0]
    cells = []
    for p in range(n_pools):
        for comm in commodities:
            if draw(st.integers(0, 3)) == 0:
                have = sum(c.size * c.count for c in classes if c.pool == p and c.flavor == comm.flavor)
                target = draw(st.one_of(st.none(), st.integers(0, have + 3)))
                cap = draw(st.one_of(st.none(), st.integers(0, have + 3)))
                cells.append(FlavorCell(p, comm.flavor, have, None if target is None else (target, target), cap))
    subnets = [SubnetData(free=(f := draw(st.integers(0, 10))), lo=draw(st.integers(0, min(f, 3))))
               for _ in range(n_sub)]
    max_moves = draw(st.one_of(st.none(), st.integers(0, 6)))
    problem = FlowProblem(tuple(pools), tuple(commodities), tuple(classes), tuple(arrivals), tuple(cells),
                          tuple(subnets), ips_per_node=draw(st.sampled_from((1, 1, 2))), max_moves=max_moves,
                          n_flavors=len(commodities))
    problem.validate()
    return problem


def drain_window_problem() -> FlowProblem:
    """Pool 1 needs 3 nodes and its subnet has no free address, so pool 0 (same subnet, no target) must send 3: its
    one idle node and a busy super node of 4. The (D, B) LP sends half the super node (B = 2); every placement sends
    all of it (B = 4): the staged solve's (D, B) bound is 2 short, a window the proof must close (optimum (0, 4, 7))."""
    comm = (Commodity(0, 1, -1), Commodity(1, 4, -1))
    pools = (PoolData(5, 0, None, None, 0, 0), PoolData(0, 0, None, (3, 3), 0, 0), PoolData(3, 0, None, None, 1, 0))
    classes = (UnitClass(0, 0, 0, 1, 0, 1), UnitClass(0, 1, 1, 4, 0, 1, busy=True), UnitClass(2, 0, 0, 1, 0, 3))
    arrivals = (Arrival(0, 1, 0), Arrival(0, 2, 0), Arrival(1, 2, 1))
    return FlowProblem(pools, comm, classes, arrivals, (), (SubnetData(0, 0), SubnetData(10, 0)))


def key_of(p: FlowProblem, out: tuple[int, ...], into: tuple[int, ...]) -> Key:
    counts = final_counts(p, out, into)
    return deviation_of(p, counts), counts.busy_moves, counts.moves


def _spreads(total: int, parts: int) -> list[tuple[int, ...]]:
    """Every way to write `total` as `parts` non-negative integers, in order."""
    if parts == 0:
        return [()] if total == 0 else []
    return [(first, *rest) for first in range(total + 1) for rest in _spreads(total - first, parts - 1)]


def placements(p: FlowProblem) -> Iterator[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every placement (departures, arrivals) that meets every rule: every departure vector, and for each every way
    to spread each commodity's departures over its arrivals (conservation), checked with `feasibility_errors`."""
    arrivals_of = [[j for j, a in enumerate(p.arrivals) if a.commodity == k] for k in range(len(p.commodities))]
    for out in itertools.product(*(range(c.count + 1) for c in p.classes)):
        sent = [0] * len(p.commodities)
        for c, n in zip(p.classes, out, strict=True):
            sent[c.commodity] += n
        options = [_spreads(sent[k], len(arrivals_of[k])) for k in range(len(p.commodities))]
        for choice in itertools.product(*options):
            into = [0] * len(p.arrivals)
            for k, spread in enumerate(choice):
                for j, n in zip(arrivals_of[k], spread, strict=True):
                    into[j] = n
            if not feasibility_errors(p, out, tuple(into)):
                yield out, tuple(into)


def brute_force(p: FlowProblem) -> Key | None:
    """The lexicographically smallest (D, B, M) over every placement that meets every rule (None: none does)."""
    return min((key_of(p, out, into) for out, into in placements(p)), default=None)


def without_busy(p: FlowProblem) -> FlowProblem:
    """The same problem with every class idle (busy state ignored)."""
    return replace(p, classes=tuple(replace(c, busy=False) for c in p.classes))


def solves_as_brute_force(p: FlowProblem, params: SolveParams, *others: SolveParams) -> list[FlowResult]:
    """Solve `p` with `params`, then with each of `others` (the same with one idea switched off): the first answer
    is the brute force's (D, B, M), OPTIMAL and meeting every rule (INFEASIBLE when there is none, and then the
    others are not solved), and so is every other one. The results, in that order."""
    first = solve_flow(p, params)
    best = brute_force(p)
    if best is None:
        assert first.status == Status.INFEASIBLE
        return [first]
    assert first.status == Status.OPTIMAL
    assert not feasibility_errors(p, first.out, first.into)
    assert key_of(p, first.out, first.into) == best == (first.deviation, first.busy_moves, first.moves)
    results = [first]
    for other in others:
        result = solve_flow(p, other)
        assert (result.status, result.deviation, result.busy_moves, result.moves) == (Status.OPTIMAL, *best)
        results.append(result)
    return results
