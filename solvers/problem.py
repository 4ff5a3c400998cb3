"""The class-level placement problem: integers only, ids as indices.

Interchangeable movable units (same source pool, flavor, unit size and cluster) form a `UnitClass`; the
model decides how many units of each class leave, and how many units of each `Commodity` (flavor, unit
size and, when cross-cluster moves are forbidden, cluster) arrive in each pool (`Arrival`). Because any
source of a commodity may feed any of its arrivals, the model's size grows with pools × flavors × unit
sizes, never with nodes × pools.

Busy units (PRODUCT §9, `drain`) form classes of their own, of the same commodity as the idle ones: they are
interchangeable for every target, and only the objective tells them apart (B, busy nodes moved, between
deviation and moves).

Final-state rules encoded here (PRODUCT §4, final state): per-pool bounds `lo..hi`, per-(pool, flavor)
caps, per-subnet free addresses (`free - ips·arriving + ips·leaving >= lo`), the total move cap.
Deviation (PRODUCT §5) is the distance of each pool count, and each (pool, flavor) count, to its target
band `[low, high]` (a plain target has low == high).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

Band = tuple[int, int]


@dataclass(frozen=True)
class PoolData:
    """One pool: its current node count, final bounds, optional target band and subnet index (-1: none)."""

    count: int
    lo: int
    hi: int | None
    target: Band | None
    subnet: int
    cluster: int


@dataclass(frozen=True)
class Commodity:
    """Units that are interchangeable for every target: flavor, unit size, cluster (-1 when it does not matter)."""

    flavor: int
    size: int
    cluster: int


@dataclass(frozen=True)
class UnitClass:
    """`count` movable units of one commodity sitting in `pool` (flavor `flavor`, cluster `cluster`).

    `busy`: the units run workloads (PRODUCT §9, `busy_nodes: drain`); moving one counts toward B in the
    objective (D, B, M). The planner splits a (pool, flavor, size, cluster) group into an idle and a busy
    class of the same commodity.
    """

    pool: int
    commodity: int
    flavor: int
    size: int
    cluster: int
    count: int
    busy: bool = False


@dataclass(frozen=True)
class Arrival:
    """Units of `commodity` may arrive in `pool`, where they run as `flavor`."""

    commodity: int
    pool: int
    flavor: int


@dataclass(frozen=True)
class FlavorCell:
    """A (pool, flavor) count that matters: it has a target band and/or a cap (`maxCount`)."""

    pool: int
    flavor: int
    count: int
    target: Band | None
    cap: int | None


@dataclass(frozen=True)
class SubnetData:
    """A subnet: free addresses now, and the least it may keep in the final state."""

    free: int
    lo: int


@dataclass(frozen=True)
class FlowProblem:
    """Everything the solvers need, as integers."""

    pools: tuple[PoolData, ...]
    commodities: tuple[Commodity, ...]
    classes: tuple[UnitClass, ...]
    arrivals: tuple[Arrival, ...]
    cells: tuple[FlavorCell, ...]
    subnets: tuple[SubnetData, ...]
    ips_per_node: int = 1
    max_moves: int | None = None
    n_flavors: int = 0

    @cached_property
    def movable_nodes(self) -> int:
        """Nodes that could move at all (an upper bound on moves); a sum over the classes, computed once."""
        return sum(c.size * c.count for c in self.classes)

    @cached_property
    def busy_nodes(self) -> int:
        """Busy nodes that could move (an upper bound on B); computed once."""
        return sum(c.size * c.count for c in self.classes if c.busy)

    def validate(self) -> None:
        """Raise ValueError when indices or numbers are out of range (a bug in the caller)."""
        n_pools, n_comm, n_sub = len(self.pools), len(self.commodities), len(self.subnets)
        for p in self.pools:
            if p.count < 0 or p.lo < 0 or (p.hi is not None and p.hi < 0) or not (-1 <= p.subnet < n_sub):
                raise ValueError(f"bad pool data {p}")
        for c in self.classes:
            if not (0 <= c.pool < n_pools and 0 <= c.commodity < n_comm) or c.count < 0 or c.size < 1:
                raise ValueError(f"bad class {c}")
            k = self.commodities[c.commodity]
            if k.flavor != c.flavor or k.size != c.size or (k.cluster != -1 and k.cluster != c.cluster):
                raise ValueError(f"class {c} does not match its commodity {k}")
        for a in self.arrivals:
            if not (0 <= a.pool < n_pools and 0 <= a.commodity < n_comm) or self.pools[a.pool].subnet < 0:
                raise ValueError(f"bad arrival {a}")
        for cell in self.cells:
            if not 0 <= cell.pool < n_pools:
                raise ValueError(f"bad cell {cell}")


def band_distance(value: int, band: Band | None) -> int:
    """Distance of `value` to the band (0 inside it, or when there is no band)."""
    if band is None:
        return 0
    low, high = band
    if value < low:
        return low - value
    if value > high:
        return value - high
    return 0


@dataclass(frozen=True)
class FinalCounts:
    """Counts a flow leads to: per pool, per cell and free addresses per subnet."""

    pools: tuple[int, ...]
    cells: tuple[int, ...]
    subnet_free: tuple[int, ...]
    moves: int
    busy_moves: int = 0


def final_counts(problem: FlowProblem, out: tuple[int, ...], into: tuple[int, ...]) -> FinalCounts:
    """Apply class departures and arrivals to the current counts."""
    pools = [p.count for p in problem.pools]
    cell_index = {(c.pool, c.flavor): i for i, c in enumerate(problem.cells)}
    cells = [c.count for c in problem.cells]
    free = [s.free for s in problem.subnets]
    moves = busy = 0
    for c, n in zip(problem.classes, out, strict=True):
        if not n:
            continue
        nodes = n * c.size
        moves += nodes
        busy += nodes if c.busy else 0
        pools[c.pool] -= nodes
        i = cell_index.get((c.pool, c.flavor))
        if i is not None:
            cells[i] -= nodes
        s = problem.pools[c.pool].subnet
        if s >= 0:
            free[s] += nodes * problem.ips_per_node
    for a, n in zip(problem.arrivals, into, strict=True):
        if not n:
            continue
        nodes = n * problem.commodities[a.commodity].size
        pools[a.pool] += nodes
        i = cell_index.get((a.pool, a.flavor))
        if i is not None:
            cells[i] += nodes
        free[problem.pools[a.pool].subnet] -= nodes * problem.ips_per_node
    return FinalCounts(tuple(pools), tuple(cells), tuple(free), moves, busy)


def deviation_of(problem: FlowProblem, counts: FinalCounts) -> int:
    """Deviation D of PRODUCT §5 for the given final counts."""
    d = sum(band_distance(n, p.target) for n, p in zip(counts.pools, problem.pools, strict=True))
    d += sum(band_distance(n, c.target) for n, c in zip(counts.cells, problem.cells, strict=True))
    return d


def feasibility_errors(problem: FlowProblem, out: tuple[int, ...], into: tuple[int, ...]) -> list[str]:
    """Which final-state rules a flow breaks (used by greedy and tests; the planner's verifier is separate)."""
    errs: list[str] = []
    for i, (c, n) in enumerate(zip(problem.classes, out, strict=True)):
        if not 0 <= n <= c.count:
            errs.append(f"class {i}: {n} units leave, {c.count} exist")
    for i, n in enumerate(into):
        if n < 0:
            errs.append(f"arrival {i}: negative")
    supply = [0] * len(problem.commodities)
    demand = [0] * len(problem.commodities)
    for c, n in zip(problem.classes, out, strict=True):
        supply[c.commodity] += n
    for a, n in zip(problem.arrivals, into, strict=True):
        demand[a.commodity] += n
    for k, (sup, dem) in enumerate(zip(supply, demand, strict=True)):
        if sup != dem:
            errs.append(f"commodity {k}: {sup} units leave but {dem} arrive")
    counts = final_counts(problem, out, into)
    for i, (n, p) in enumerate(zip(counts.pools, problem.pools, strict=True)):
        if n < p.lo or (p.hi is not None and n > p.hi):
            errs.append(f"pool {i}: {n} nodes outside {p.lo}..{p.hi}")
    for i, (n, cell) in enumerate(zip(counts.cells, problem.cells, strict=True)):
        if cell.cap is not None and n > max(cell.cap, cell.count):
            errs.append(f"cell {i}: {n} nodes above cap {cell.cap}")
    for i, (f, sub) in enumerate(zip(counts.subnet_free, problem.subnets, strict=True)):
        if f < sub.lo:
            errs.append(f"subnet {i}: {f} free addresses, needs {sub.lo}")
    if problem.max_moves is not None and counts.moves > problem.max_moves:
        errs.append(f"{counts.moves} moves exceed max_moves {problem.max_moves}")
    errs += self_move_errors(problem, out, into)
    return errs


def self_move_errors(problem: FlowProblem, out: tuple[int, ...], into: tuple[int, ...]) -> list[str]:
    """Arrivals a pool's own units would have to make: per commodity, a pool's departures plus its arrivals
    may not exceed the commodity's total departures (else some unit would move to its own pool)."""
    total = [0] * len(problem.commodities)
    own: dict[tuple[int, int], int] = {}
    for c, n in zip(problem.classes, out, strict=True):
        total[c.commodity] += n
        own[(c.commodity, c.pool)] = own.get((c.commodity, c.pool), 0) + n
    errs = []
    for j, (a, n) in enumerate(zip(problem.arrivals, into, strict=True)):
        if n and own.get((a.commodity, a.pool), 0) + n > total[a.commodity]:
            errs.append(f"arrival {j}: {n} units would include the pool's own departures")
    return errs
