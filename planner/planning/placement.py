"""Flows -> which units move where: a stable, deterministic choice of nodes.

Owns: splitting each commodity's departures and arrivals into (source pool -> target pool) moves, never a
pool to itself, preferring moves inside one cluster and few distinct pairs; then picking the units of each
class in sorted order. Must not: decide how many move (the solver did) or order them (planner.planning.order).
"""

from __future__ import annotations

from collections import defaultdict

from planner.planning.moves import Move
from planner.planning.problem import Context
from solvers.problem import FlowProblem
from solvers.result import FlowResult


def _pair_commodity(supply: list[tuple[int, int, int, int]], demand: list[tuple[int, int, int, int]]
                    ) -> list[tuple[int, int, int]]:
    """Split supply (class, pool, cluster, units) and demand (arrival, pool, cluster, units) into
    (class, arrival, units) pairs with different pools; same-cluster pairs first, largest first."""
    left_s = {s[0]: s[3] for s in supply}
    left_d = {d[0]: d[3] for d in demand}
    pairs: dict[tuple[int, int], int] = defaultdict(int)
    supply_order = sorted(supply, key=lambda s: (-s[3], s[1], s[0]))
    demand_order = sorted(demand, key=lambda d: (-d[3], d[1], d[0]))
    for same_cluster in (True, False):
        for d in demand_order:
            for s in supply_order:
                if left_d[d[0]] == 0:
                    break
                if s[1] == d[1] or left_s[s[0]] == 0 or (same_cluster and s[2] != d[2]):
                    continue
                n = min(left_s[s[0]], left_d[d[0]])
                pairs[(s[0], d[0])] += n
                left_s[s[0]] -= n
                left_d[d[0]] -= n
    # Left over: only same-pool matches remain. Reroute through an existing pair (q->t) as q->p and p->t.
    pool_of_s = {s[0]: s[1] for s in supply}
    pool_of_d = {d[0]: d[1] for d in demand}
    for si in sorted(left_s):
        while left_s[si]:
            p = pool_of_s[si]
            di = next((d for d in sorted(left_d) if left_d[d] and pool_of_d[d] == p), None)
            if di is None:
                raise AssertionError("flow does not balance: supply left without demand")
            swap = next(((q, t) for (q, t), n in sorted(pairs.items())
                         if n and pool_of_s[q] != p and pool_of_d[t] != p), None)
            if swap is None:
                raise AssertionError("flow cannot be split without a self-move (no-self constraint broken)")
            q, t = swap
            n = min(left_s[si], pairs[swap])
            pairs[swap] -= n
            pairs[(q, di)] += n
            pairs[(si, t)] += n
            left_s[si] -= n
            left_d[di] -= n
    return sorted((s, d, n) for (s, d), n in pairs.items() if n)


def choose_moves(problem: FlowProblem, ctx: Context, result: FlowResult) -> list[Move]:
    """Turn a solver answer into concrete unit moves, deterministically."""
    supply: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)
    demand: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)
    for i, (c, n) in enumerate(zip(problem.classes, result.out, strict=True)):
        if n:
            supply[c.commodity].append((i, c.pool, c.cluster, n))
    for j, (a, n) in enumerate(zip(problem.arrivals, result.into, strict=True)):
        if n:
            demand[a.commodity].append((j, a.pool, problem.pools[a.pool].cluster, n))
    taken = [0] * len(problem.classes)
    moves: list[Move] = []
    for k in sorted(set(supply) | set(demand)):
        for ci, aj, n in _pair_commodity(supply[k], demand[k]):
            cls = problem.classes[ci]
            arr = problem.arrivals[aj]
            source = ctx.pool_ids[cls.pool]
            target = ctx.pool_ids[arr.pool]
            units = ctx.class_units[ci][taken[ci]:taken[ci] + n]
            taken[ci] += n
            for unit in units:
                nodes = tuple(ctx.unit_nodes[unit])
                moves.append(Move(
                    unit=unit, nodes=nodes, source=source, target=target, flavor=ctx.flavors[arr.flavor],
                    source_flavor=ctx.flavors[cls.flavor], from_cluster=ctx.node_cluster[nodes[0]],
                    to_cluster=ctx.rules.pools[target].cluster,
                ))
    return sorted(moves, key=lambda m: (m.source, m.target, m.flavor, m.unit))
