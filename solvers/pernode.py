"""Per-unit boolean model: one 0/1 variable per (unit, pool it may go to). A benchmark baseline only.

Same rules and objective as `solvers.model` (lexicographic (D, B, M): a busy unit moved counts toward B),
but the model grows with units × pools; it exists to show what the class-level model saves, and to
cross-check it on small instances.
"""

from __future__ import annotations

from collections import defaultdict

from solvers.backends import get_backend
from solvers.linear import LinearModel
from solvers.model import Vars, Weights, deviation, flavor_caps, pool_bounds
from solvers.params import SolveParams
from solvers.problem import FlowProblem, deviation_of, final_counts
from solvers.result import FlowResult, Status


def solve_pernode(p: FlowProblem, params: SolveParams | None = None) -> FlowResult:
    """Solve with one boolean per (unit, allowed target); D and M recomputed from the answer."""
    params = params or SolveParams()
    m = LinearModel()
    arrivals_of: dict[int, list[int]] = defaultdict(list)
    for j, a in enumerate(p.arrivals):
        arrivals_of[a.commodity].append(j)
    pool_terms: list[dict[int, int]] = [defaultdict(int) for _ in p.pools]
    cell_of = {(c.pool, c.flavor): i for i, c in enumerate(p.cells)}
    cell_terms: list[dict[int, int]] = [defaultdict(int) for _ in p.cells]
    subnet_terms: list[dict[int, int]] = [defaultdict(int) for _ in p.subnets]
    weights = Weights.of(p)
    moves: dict[int, int] = {}
    go: list[tuple[int, int, int]] = []  # (var, class, arrival)
    ips = p.ips_per_node
    for ci, c in enumerate(p.classes):
        ssub = p.pools[c.pool].subnet
        scell = cell_of.get((c.pool, c.flavor))
        for u in range(c.count):
            options = [aj for aj in arrivals_of[c.commodity] if p.arrivals[aj].pool != c.pool]
            xs = []
            for aj in options:
                a = p.arrivals[aj]
                x = m.var(0, 1, f"go[{ci}.{u}->{aj}]")
                xs.append(x)
                go.append((x, ci, aj))
                pool_terms[c.pool][x] -= c.size
                pool_terms[a.pool][x] += c.size
                if scell is not None:
                    cell_terms[scell][x] -= c.size
                tcell = cell_of.get((a.pool, a.flavor))
                if tcell is not None:
                    cell_terms[tcell][x] += c.size
                subnet_terms[p.pools[a.pool].subnet][x] -= ips * c.size
                if ssub >= 0:
                    subnet_terms[ssub][x] += ips * c.size
                moves[x] = weights.class_cost(c.size, c.busy)
            if xs:
                m.row(dict.fromkeys(xs, 1), None, 1, f"one[{ci}.{u}]")
    v = Vars(out=[], into=[], pool_terms=pool_terms, cell_terms=cell_terms)
    try:
        pool_bounds(m, p, v)
        flavor_caps(m, p, v)
        for s, sub in enumerate(p.subnets):
            m.row(subnet_terms[s], sub.lo - sub.free, None, f"subnet[{s}]")
        if p.max_moves is not None:
            m.row({x: p.classes[ci].size for x, ci, _ in go}, None, p.max_moves, "max_moves")
    except ValueError:
        return FlowResult(Status.INFEASIBLE, (), (), None, None, None, 0.0, "pernode")
    deviation(m, p, v)
    m.minimize({**dict.fromkeys(v.devs, weights.deviation), **moves})
    answer = get_backend(params.backend)(m, params)
    if answer.values is None:
        status = Status.INFEASIBLE if answer.status == "INFEASIBLE" else Status.UNKNOWN
        return FlowResult(status, (), (), None, None, None, answer.seconds, "pernode")
    out = [0] * len(p.classes)
    into = [0] * len(p.arrivals)
    for x, ci, aj in go:
        if answer.values[x]:
            out[ci] += 1
            into[aj] += 1
    counts = final_counts(p, tuple(out), tuple(into))
    dev = deviation_of(p, counts)
    status = Status.OPTIMAL if answer.status == "OPTIMAL" else Status.FEASIBLE
    bound = dev if status == Status.OPTIMAL else None
    return FlowResult(status, tuple(out), tuple(into), dev, counts.moves, bound, answer.seconds, "pernode", "",
                      counts.busy_moves)
