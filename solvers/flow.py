"""The placement model: how many units of each class leave, how many of each commodity arrive where.

Variables: `out[c]` (units of class c that leave its pool) and `in[a]` (units arriving through arrival a),
plus one deviation variable per target band. One function per rule family adds its rows; each docstring
states the rule. The objective is lexicographic (deviation first, then moved nodes), encoded exactly as
`W·D + M` with `W` larger than any possible M.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from solvers.backends import get_backend
from solvers.linear import LinearModel
from solvers.params import SolveParams
from solvers.problem import FlowProblem, deviation_of, final_counts
from solvers.result import FlowResult, Status


@dataclass(frozen=True)
class Restrictions:
    """Extra constraints added when a placement proved unreachable (PRODUCT §5 reachability).

    `closed_classes`: classes that may not send; `closed_arrivals`: arrivals that may not be used;
    `one_way_pools`: pools that may send or receive, not both; `pool_caps`/`pool_floors`: tighter final
    bounds for some pools.
    """

    closed_classes: frozenset[int] = frozenset()
    closed_arrivals: frozenset[int] = frozenset()
    one_way_pools: frozenset[int] = frozenset()
    pool_caps: dict[int, int] = field(default_factory=dict)
    pool_floors: dict[int, int] = field(default_factory=dict)


@dataclass
class _Vars:
    out: list[int]
    into: list[int]
    pool_terms: list[dict[int, int]]
    cell_terms: list[dict[int, int]]
    devs: list[int] = field(default_factory=list)


def _add_variables(m: LinearModel, p: FlowProblem, r: Restrictions) -> _Vars:
    """out[c] in [0, count]; in[a] in [0, units of the commodity outside the target pool]."""
    supply: dict[int, int] = defaultdict(int)
    supply_in_pool: dict[tuple[int, int], int] = defaultdict(int)
    for i, c in enumerate(p.classes):
        if i not in r.closed_classes:
            supply[c.commodity] += c.count
            supply_in_pool[(c.commodity, c.pool)] += c.count
    out = [m.var(0, 0 if i in r.closed_classes else c.count, f"out[{i}]") for i, c in enumerate(p.classes)]
    into = [
        m.var(0, 0 if j in r.closed_arrivals else supply[a.commodity] - supply_in_pool[(a.commodity, a.pool)],
              f"in[{j}]")
        for j, a in enumerate(p.arrivals)
    ]
    pool_terms: list[dict[int, int]] = [defaultdict(int) for _ in p.pools]
    cell_of = {(cell.pool, cell.flavor): i for i, cell in enumerate(p.cells)}
    cell_terms: list[dict[int, int]] = [defaultdict(int) for _ in p.cells]
    for i, c in enumerate(p.classes):
        pool_terms[c.pool][out[i]] -= c.size
        ci = cell_of.get((c.pool, c.flavor))
        if ci is not None:
            cell_terms[ci][out[i]] -= c.size
    for j, a in enumerate(p.arrivals):
        size = p.commodities[a.commodity].size
        pool_terms[a.pool][into[j]] += size
        ci = cell_of.get((a.pool, a.flavor))
        if ci is not None:
            cell_terms[ci][into[j]] += size
    return _Vars(out, into, pool_terms, cell_terms)


def _conservation(m: LinearModel, p: FlowProblem, v: _Vars) -> None:
    """Every unit that leaves arrives somewhere: per commodity, Σ out = Σ in."""
    terms: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for i, c in enumerate(p.classes):
        terms[c.commodity][v.out[i]] += 1
    for j, a in enumerate(p.arrivals):
        terms[a.commodity][v.into[j]] -= 1
    for k in sorted(terms):
        m.row(terms[k], 0, 0, f"conserve[{k}]")


def _no_self_moves(m: LinearModel, p: FlowProblem, v: _Vars) -> None:
    """A pool's own units cannot be its arrivals: out(p,k) + in(k,p) <= T(k) = Σ out(k), so the flow splits
    into moves between different pools. T(k) is one variable per commodity, which keeps these rows short."""
    by_comm: dict[int, list[int]] = defaultdict(list)
    out_at: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, c in enumerate(p.classes):
        by_comm[c.commodity].append(v.out[i])
        out_at[(c.commodity, c.pool)].append(v.out[i])
    total: dict[int, int] = {}
    for j, a in enumerate(p.arrivals):
        own = out_at.get((a.commodity, a.pool))
        if not own:
            continue
        k = a.commodity
        if k not in total:
            ub = sum(m.ubs[x] for x in by_comm[k])
            total[k] = m.var(0, ub, f"total[{k}]")
            m.row({**dict.fromkeys(by_comm[k], 1), total[k]: -1}, 0, 0, f"total_def[{k}]")
        terms: dict[int, int] = dict.fromkeys(own, 1)
        terms[v.into[j]] = 1
        terms[total[k]] = -1
        m.row(terms, None, 0, f"noself[{j}]")


def _pool_bounds(m: LinearModel, p: FlowProblem, v: _Vars, r: Restrictions) -> None:
    """Every pool ends within [lo, hi] (PRODUCT §4 rules 1 and 2, final state)."""
    for i, pool in enumerate(p.pools):
        lo = max(pool.lo, r.pool_floors.get(i, 0))
        hi = pool.hi
        if i in r.pool_caps:
            hi = r.pool_caps[i] if hi is None else min(hi, r.pool_caps[i])
        m.row(v.pool_terms[i], lo - pool.count, None, f"pool_lo[{i}]", f"pool_lo:{i}")
        if hi is not None:
            m.row(v.pool_terms[i], None, hi - pool.count, f"pool_hi[{i}]", f"pool_hi:{i}")


def _flavor_caps(m: LinearModel, p: FlowProblem, v: _Vars) -> None:
    """A (pool, flavor) with `maxCount` ends at most at max(maxCount, its current count)."""
    for i, cell in enumerate(p.cells):
        if cell.cap is not None:
            m.row(v.cell_terms[i], None, max(cell.cap, cell.count) - cell.count, f"cap[{i}]", f"cap:{i}")


def _subnet_room(m: LinearModel, p: FlowProblem, v: _Vars) -> None:
    """Each subnet keeps at least `lo` free addresses: free - ips·arriving + ips·leaving >= lo."""
    terms: list[dict[int, int]] = [defaultdict(int) for _ in p.subnets]
    ips = p.ips_per_node
    for i, c in enumerate(p.classes):
        s = p.pools[c.pool].subnet
        if s >= 0:
            terms[s][v.out[i]] += ips * c.size
    for j, a in enumerate(p.arrivals):
        terms[p.pools[a.pool].subnet][v.into[j]] -= ips * p.commodities[a.commodity].size
    for s, sub in enumerate(p.subnets):
        m.row(terms[s], sub.lo - sub.free, None, f"subnet[{s}]", f"subnet:{s}")


def _move_cap(m: LinearModel, p: FlowProblem, v: _Vars) -> None:
    """At most `max_moves` nodes move."""
    if p.max_moves is not None:
        m.row({v.out[i]: c.size for i, c in enumerate(p.classes)}, None, p.max_moves, "max_moves", "max_moves")


def _one_way(m: LinearModel, p: FlowProblem, v: _Vars, r: Restrictions) -> None:
    """A one-way pool either sends or receives: a switch b with send <= U·b and receive <= U·(1-b)."""
    for pi in sorted(r.one_way_pools):
        send = {v.out[i]: c.size for i, c in enumerate(p.classes) if c.pool == pi}
        recv = {v.into[j]: p.commodities[a.commodity].size for j, a in enumerate(p.arrivals) if a.pool == pi}
        if not send or not recv:
            continue
        big = p.movable_nodes + 1
        b = m.var(0, 1, f"sends[{pi}]")
        m.row({**send, b: -big}, None, 0, f"oneway_send[{pi}]")
        m.row({**recv, b: big}, None, big, f"oneway_recv[{pi}]")


def _deviation(m: LinearModel, p: FlowProblem, v: _Vars) -> dict[int, int]:
    """dev >= low - count and dev >= count - high for each target band; returns the D terms."""
    terms: dict[int, int] = {}

    def band(expr: dict[int, int], base: int, low: int, high: int, name: str) -> None:
        # count = base + expr
        d = m.var(0, max(low, p.movable_nodes + base), name)
        m.row({**expr, d: 1}, low - base, None, name + ".lo")
        m.row({**{x: -c for x, c in expr.items()}, d: 1}, base - high, None, name + ".hi")
        v.devs.append(d)
        terms[d] = 1

    for i, pool in enumerate(p.pools):
        if pool.target is not None:
            band(v.pool_terms[i], pool.count, pool.target[0], pool.target[1], f"dev_pool[{i}]")
    for i, cell in enumerate(p.cells):
        if cell.target is not None:
            band(v.cell_terms[i], cell.count, cell.target[0], cell.target[1], f"dev_cell[{i}]")
    return terms


def build_model(p: FlowProblem, restrictions: Restrictions | None = None) -> tuple[LinearModel, _Vars, int]:
    """The linear model of `p`; returns (model, variables, W) where the objective is W·D + M."""
    r = restrictions or Restrictions()
    m = LinearModel()
    v = _add_variables(m, p, r)
    _conservation(m, p, v)
    _no_self_moves(m, p, v)
    _pool_bounds(m, p, v, r)
    _flavor_caps(m, p, v)
    _subnet_room(m, p, v)
    _move_cap(m, p, v)
    _one_way(m, p, v, r)
    dev_terms = _deviation(m, p, v)
    weight = p.movable_nodes + 1
    objective = {d: weight for d in dev_terms}
    for i, c in enumerate(p.classes):
        objective[v.out[i]] = c.size
    m.minimize(objective)
    return m, v, weight


def infeasible_rules(p: FlowProblem, params: SolveParams | None = None,
                     restrictions: Restrictions | None = None) -> list[str]:
    """A small set of rule tags (`pool_lo:i`, `pool_hi:i`, `cap:i`, `subnet:s`, `max_moves`) that cannot all hold.

    Found by CP-SAT with one assumption literal per rule (single worker, as assumptions require). Returns
    [] when the rules can all hold, or when no core was found in the time limit.
    """
    from solvers.backends.cpsat import find_core

    params = params or SolveParams()
    try:
        m, _, _ = build_model(p, restrictions)
    except ValueError as exc:
        return [str(exc)]
    m.objective = {}
    return find_core(m, params)


def solve_flow(p: FlowProblem, params: SolveParams | None = None,
               restrictions: Restrictions | None = None) -> FlowResult:
    """Solve the class-level model; the answer's D and M are recomputed from the flows, not read off the solver."""
    params = params or SolveParams()
    try:
        m, v, weight = build_model(p, restrictions)
    except ValueError as exc:  # a constant row that cannot hold: nothing can change it
        return FlowResult(Status.INFEASIBLE, (), (), None, None, None, 0.0, params.backend, str(exc))
    answer = get_backend(params.backend)(m, params)
    if answer.values is None:
        status = Status.INFEASIBLE if answer.status == "INFEASIBLE" else Status.UNKNOWN
        return FlowResult(status, (), (), None, None, None, answer.seconds, params.backend, answer.detail)
    out = tuple(answer.values[x] for x in v.out)
    into = tuple(answer.values[x] for x in v.into)
    counts = final_counts(p, out, into)
    dev = deviation_of(p, counts)
    if answer.status == "OPTIMAL":
        bound = dev
        status = Status.OPTIMAL
    else:
        raw = answer.bound if answer.bound is not None else 0.0
        bound = max(0, math.floor(math.ceil(raw - 1e-6) / weight))
        proven = bound >= dev and _moves_proven(answer.bound, weight, dev, counts.moves)
        status = Status.OPTIMAL if proven else Status.FEASIBLE
    return FlowResult(status, out, into, dev, counts.moves, bound, answer.seconds, params.backend)


def _moves_proven(bound: float | None, weight: int, dev: int, moves: int) -> bool:
    """A FEASIBLE answer whose bound already equals W·D + M is optimal in both levels."""
    return bound is not None and math.ceil(bound - 1e-6) >= weight * dev + moves
