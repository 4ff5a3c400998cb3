"""The class-level placement model as a LinearModel: variables, one function per rule family, the objective.

Variables: `out[c]` (units of class c that leave its pool) and `in[a]` (units arriving through arrival a),
plus one deviation variable per target band. One function per rule family adds its rows; each docstring
states the rule. The objective is lexicographic, (deviation D, busy nodes moved B, moved nodes M), encoded
exactly as `Wd·D + Wb·B + M` (`Weights`): `Wb` exceeds any M and `Wd` exceeds any `Wb·B + M`, so comparing
the weighted sums compares (D, B, M) lexicographically. Without busy classes B is always 0 and the
objective is today's `W·D + M`.

Owns: the formulation (shared by CP-SAT, the MIP backends, the LP relaxation and the per-node baseline).
Must not: solve anything, or know where the problem came from.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from solvers.linear import LinearModel
from solvers.problem import FlowProblem


@dataclass(frozen=True)
class Restrictions:
    """Extra constraints added when a placement proved unreachable (PRODUCT §5 reachability).

    `closed_arrivals`: arrivals that may not be used; `one_way_pools`: pools that may send or receive,
    not both (a binary switch per pool).
    """

    closed_arrivals: frozenset[int] = frozenset()
    one_way_pools: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Weights:
    """Objective weights: the objective is `deviation·D + busy·B + M` (one move weighs 1)."""

    deviation: int
    busy: int

    @classmethod
    def of(cls, p: FlowProblem) -> Weights:
        busy = p.movable_nodes + 1
        return cls(deviation=busy * (p.busy_nodes + 1), busy=busy)

    def split(self, value: int) -> tuple[int, int, int]:
        """(D, B, M) of an objective value."""
        d, rest = divmod(value, self.deviation)
        b, m = divmod(rest, self.busy)
        return d, b, m

    def class_cost(self, size: int, busy: bool) -> int:
        """Objective weight of one unit of a class leaving: its nodes count as moves (and busy moves)."""
        return size * (1 + (self.busy if busy else 0))


@dataclass
class Vars:
    """Indices of the model's variables, and the count expressions rows are built from."""

    out: list[int]
    into: list[int]
    pool_terms: list[dict[int, int]]
    cell_terms: list[dict[int, int]]
    devs: list[int] = field(default_factory=list)
    pool_dev: dict[int, int] = field(default_factory=dict)  # pool index -> its deviation variable
    cell_dev: dict[int, int] = field(default_factory=dict)  # cell index -> its deviation variable


def add_variables(m: LinearModel, p: FlowProblem, r: Restrictions) -> Vars:
    """out[c] in [0, count]; in[a] in [0, units of the commodity outside the target pool]."""
    supply: dict[int, int] = defaultdict(int)
    supply_in_pool: dict[tuple[int, int], int] = defaultdict(int)
    for c in p.classes:
        supply[c.commodity] += c.count
        supply_in_pool[(c.commodity, c.pool)] += c.count
    out = [m.var(0, c.count, f"out[{i}]") for i, c in enumerate(p.classes)]
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
    return Vars(out, into, pool_terms, cell_terms)


def conservation(m: LinearModel, p: FlowProblem, v: Vars) -> None:
    """Every unit that leaves arrives somewhere: per commodity, Σ out = Σ in."""
    terms: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for i, c in enumerate(p.classes):
        terms[c.commodity][v.out[i]] += 1
    for j, a in enumerate(p.arrivals):
        terms[a.commodity][v.into[j]] -= 1
    for k in sorted(terms):
        m.row(terms[k], 0, 0, f"conserve[{k}]")


def no_self_moves(m: LinearModel, p: FlowProblem, v: Vars) -> None:
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


def pool_bounds(m: LinearModel, p: FlowProblem, v: Vars) -> None:
    """Every pool ends within [lo, hi] (PRODUCT §4 rules 1 and 2, final state)."""
    for i, pool in enumerate(p.pools):
        m.row(v.pool_terms[i], pool.lo - pool.count, None, f"pool_lo[{i}]", f"pool_lo:{i}")
        if pool.hi is not None:
            m.row(v.pool_terms[i], None, pool.hi - pool.count, f"pool_hi[{i}]", f"pool_hi:{i}")


def flavor_caps(m: LinearModel, p: FlowProblem, v: Vars) -> None:
    """A (pool, flavor) with `maxCount` ends at most at max(maxCount, its current count)."""
    for i, cell in enumerate(p.cells):
        if cell.cap is not None:
            m.row(v.cell_terms[i], None, max(cell.cap, cell.count) - cell.count, f"cap[{i}]", f"cap:{i}")


def subnet_room(m: LinearModel, p: FlowProblem, v: Vars) -> None:
    """Each subnet keeps at least `lo` free addresses: ips·(arriving - leaving) <= free - lo.

    Every coefficient is a multiple of `ips_per_node`, so the row is divided by it and its bound rounded
    down: the same integer solutions, a tighter LP relaxation.
    """
    terms: list[dict[int, int]] = [defaultdict(int) for _ in p.subnets]
    for i, c in enumerate(p.classes):
        s = p.pools[c.pool].subnet
        if s >= 0:
            terms[s][v.out[i]] -= c.size
    for j, a in enumerate(p.arrivals):
        terms[p.pools[a.pool].subnet][v.into[j]] += p.commodities[a.commodity].size
    for s, sub in enumerate(p.subnets):
        m.row(terms[s], None, (sub.free - sub.lo) // p.ips_per_node, f"subnet[{s}]", f"subnet:{s}")


def move_cap(m: LinearModel, p: FlowProblem, v: Vars) -> None:
    """At most `max_moves` nodes move."""
    if p.max_moves is not None:
        m.row({v.out[i]: c.size for i, c in enumerate(p.classes)}, None, p.max_moves, "max_moves", "max_moves")


def one_way(m: LinearModel, p: FlowProblem, v: Vars, r: Restrictions) -> None:
    """A one-way pool either sends or receives: a switch b with send <= U·b and receive <= U·(1-b)."""
    big = p.movable_nodes + 1
    for pi in sorted(r.one_way_pools):
        send = {v.out[i]: c.size for i, c in enumerate(p.classes) if c.pool == pi}
        recv = {v.into[j]: p.commodities[a.commodity].size for j, a in enumerate(p.arrivals) if a.pool == pi}
        if not send or not recv:
            continue
        b = m.var(0, 1, f"sends[{pi}]")
        m.row({**send, b: -big}, None, 0, f"oneway_send[{pi}]")
        m.row({**recv, b: big}, None, big, f"oneway_recv[{pi}]")


def deviation(m: LinearModel, p: FlowProblem, v: Vars) -> None:
    """dev >= low - count and dev >= count - high for each target band (pools, then cells)."""
    movable = p.movable_nodes

    def band(expr: dict[int, int], base: int, low: int, high: int, name: str) -> int:
        # count = base + expr
        d = m.var(0, max(low, movable + base), name)
        m.row({**expr, d: 1}, low - base, None, name + ".lo")
        m.row({**{x: -c for x, c in expr.items()}, d: 1}, base - high, None, name + ".hi")
        v.devs.append(d)
        return d

    for i, pool in enumerate(p.pools):
        if pool.target is not None:
            v.pool_dev[i] = band(v.pool_terms[i], pool.count, pool.target[0], pool.target[1], f"dev_pool[{i}]")
    for i, cell in enumerate(p.cells):
        if cell.target is not None:
            v.cell_dev[i] = band(v.cell_terms[i], cell.count, cell.target[0], cell.target[1], f"dev_cell[{i}]")


def build_model(p: FlowProblem, restrictions: Restrictions | None = None) -> tuple[LinearModel, Vars, Weights]:
    """The linear model of `p` and its objective `Wd·D + Wb·B + M`; raises ValueError for a constant row
    that cannot hold (it names the rule)."""
    r = restrictions or Restrictions()
    m = LinearModel()
    v = add_variables(m, p, r)
    conservation(m, p, v)
    no_self_moves(m, p, v)
    pool_bounds(m, p, v)
    flavor_caps(m, p, v)
    subnet_room(m, p, v)
    move_cap(m, p, v)
    one_way(m, p, v, r)
    deviation(m, p, v)
    weights = Weights.of(p)
    objective = dict.fromkeys(v.devs, weights.deviation)
    for i, c in enumerate(p.classes):
        objective[v.out[i]] = weights.class_cost(c.size, c.busy)
    m.minimize(objective)
    return m, v, weights


def complete_hint(m: LinearModel, values: list[int]) -> None:
    """Set the helper variables (deviation, commodity totals) to the least value their defining rows allow."""
    flows = {x for x, n in enumerate(m.names) if n.startswith(("out[", "in["))}
    for row in m.rows:
        helpers = [(x, c) for x, c in zip(row.vars, row.coefs, strict=True) if x not in flows]
        if len(helpers) != 1:
            continue
        x, c = helpers[0]
        rest = sum(cc * values[xx] for xx, cc in zip(row.vars, row.coefs, strict=True) if xx != x)
        if row.lb is not None and c > 0:
            values[x] = max(values[x], min(m.ubs[x], max(m.lbs[x], math.ceil((row.lb - rest) / c))))
        if row.lb is not None and row.ub is not None and row.lb == row.ub and c < 0:
            values[x] = min(m.ubs[x], max(m.lbs[x], (row.lb - rest) // c))
