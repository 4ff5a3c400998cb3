"""Inventory + spec -> the solvers' integer problem, and the index maps to read an answer back.

Owns: resolving spec pool keys (metadata.name or display name) and pins against the inventory, the checks
that need both (unknown pools or nodes, flavor targets a pool does not accept), floors and ceilings of
PRODUCT §4, flavor resolution through `flavor_compat`, `balance: even` bands, movable units grouped into
classes, and the list of nodes that may not move with their reasons.
Must not: solve, order or write anything.

Busy units (PRODUCT §9, facts from `planner.planning.busy`): under `keep` they may not move ("busy: runs …");
under `drain` they form classes of their own (`UnitClass.busy`, counted in B); under `ignore` they share the
idle units' classes. In every class the idle units come first, so node choice always takes idle nodes first.

Flavor resolution (PRODUCT §3): a node of flavor f arriving in pool t runs as f whenever t accepts f, else as
the first flavor of `flavor_compat[f]` (in the listed order) that t accepts; it is never relabelled when it fits.

`balance: even`: for each flavor f, the pools that take part, have no `target`, have no flavor target
for f and accept f share the f nodes they hold now, N over k pools: each gets the band
[floor(N/k), ceil(N/k)] as its flavor target (deviation counts the distance to that band).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import compress
from operator import itemgetter, not_
from typing import Any

from planner.errors import InputError
from planner.inventory import Inventory, flavor_counts
from planner.modelarts.objects import PoolNameError
from planner.planfile import Excluded
from planner.planning.busy import BusyFacts, busy_facts
from planner.planning.rules import PoolRules, StepRules, resolve_flavor
from planner.spec import Spec
from solvers.problem import Arrival, Band, Commodity, FlavorCell, FlowProblem, PoolData, SubnetData, UnitClass


@dataclass(frozen=True)
class Context:
    """Index maps between the integer problem and the inventory, the per-step rules, and what a plan reports."""

    rules: StepRules
    pool_ids: list[str]
    flavors: list[str]
    subnet_ids: list[str]
    clusters: list[str]
    class_units: list[list[str]]        # per class: unit ids, in stable (sorted) order
    unit_nodes: dict[str, list[str]]    # unit id -> node names (sorted)
    node_cluster: dict[str, str]
    flavor_targets: dict[tuple[str, str], Band]
    excluded: list[Excluded]            # the plan's `excluded` entries, by pool
    busy: BusyFacts


def _resolve_spec_pools(inv: Inventory, spec: Spec, source: str) -> dict[str, tuple[str, Any]]:
    """Spec pool keys (pool id or display name) -> pool id; unknown and shared names are InputErrors."""
    names = inv.pool_names
    out: dict[str, tuple[str, Any]] = {}
    for key, pspec in spec.pools.items():
        try:
            pool = names.resolve(key)
        except PoolNameError as exc:
            raise InputError(str(exc), source=source, path=f"pools.{key}") from exc
        if pool in out:
            raise InputError(f"pool {pool} is named twice (as {out[pool][0]!r} and {key!r})",
                             source=source, path=f"pools.{key}")
        out[pool] = (key, pspec)
    return out


@dataclass(frozen=True)
class _Index:
    """Positions of ids in the integer problem."""

    pools: dict[str, int]
    flavors: dict[str, int]
    clusters: dict[str, int]
    subnets: dict[str, int]


def build_problem(inv: Inventory, spec: Spec, *, spec_source: str = "<spec>") -> tuple[FlowProblem, Context]:
    """Translate an inventory and a spec into a FlowProblem and the Context to read its answer back."""
    spec_pools = _resolve_spec_pools(inv, spec, spec_source)
    pools, nodes, pf = inv.columns["pools"], inv.columns["nodes"], inv.columns["pool_flavors"]
    pool_ids: list[str] = list(pools["pool"])
    accepted: dict[str, dict[str, int | None]] = {p: {} for p in pool_ids}
    for pool, flavor, cap in zip(pf["pool"], pf["flavor"], pf["max_count"], strict=True):
        accepted[pool][flavor] = cap
    if spec.pin:
        _check_pins(spec, set(nodes["node"]), spec_source)
    flavor_targets = _flavor_targets(spec_pools, accepted, spec_source)
    cell_counts = flavor_counts(inv)
    if spec.balance == "even":
        _even_bands(inv, spec_pools, accepted, cell_counts, flavor_targets)

    subnet_ids: list[str] = list(inv.columns["subnets"]["subnet"])
    clusters: list[str] = sorted(set(pools["cluster"]) | set(nodes["cluster"]))
    flavors = sorted(set(nodes["flavor"]) | set(pf["flavor"]) | {g for gs in spec.flavor_compat.values() for g in gs})
    index = _Index(pools={p: i for i, p in enumerate(pool_ids)}, flavors={f: i for i, f in enumerate(flavors)},
                   clusters={c: i for i, c in enumerate(clusters)}, subnets={s: i for i, s in enumerate(subnet_ids)})
    pool_rules, pool_data = _pool_rules(inv, spec, spec_pools, index)
    busy = busy_facts(inv, spec.workload_rules.busy_nodes)
    excluded, unit_nodes, grouped = _units_of(inv, spec, pool_rules, busy)
    commodities, classes, class_units = _classes(grouped, index, busy, cross=spec.limits.allow_cross_cluster)
    arrivals = _arrivals(commodities, classes, pool_rules, flavors, index, accepted, spec.flavor_compat)
    cells = _cells(arrivals, flavor_targets, accepted, cell_counts, pool_ids, flavors, index)

    defaults = spec.defaults
    subnet_free = {s: int(n) for s, n in zip(subnet_ids, inv.columns["subnets"]["free_ips"], strict=True)}
    problem = FlowProblem(
        pools=tuple(pool_data), commodities=tuple(commodities), classes=tuple(classes), arrivals=tuple(arrivals),
        cells=tuple(cells),
        subnets=tuple(SubnetData(free=subnet_free[s], lo=min(subnet_free[s], defaults.ip_reserve)) for s in subnet_ids),
        ips_per_node=defaults.ips_per_node, max_moves=spec.limits.max_moves, n_flavors=len(flavors),
    )
    problem.validate()
    rules = StepRules(pools=pool_rules, accepted=accepted, cells=cell_counts, subnet_free=subnet_free,
                      ips_per_node=defaults.ips_per_node, ip_reserve=defaults.ip_reserve,
                      flavor_compat=dict(spec.flavor_compat))
    context = Context(
        rules=rules, pool_ids=pool_ids, flavors=flavors, subnet_ids=subnet_ids, clusters=clusters,
        class_units=class_units, unit_nodes=unit_nodes,
        node_cluster=dict(zip(nodes["node"], nodes["cluster"], strict=True)),
        flavor_targets=flavor_targets, excluded=sorted(excluded, key=itemgetter("pool")), busy=busy,
    )
    return problem, context


def _check_pins(spec: Spec, known_nodes: set[str], source: str) -> None:
    """Every pinned node must exist."""
    for i, name in enumerate(spec.pin):
        if name not in known_nodes:
            raise InputError(f"unknown node {name!r}", source=source, path=f"pin[{i}]")


def _flavor_targets(spec_pools: dict[str, tuple[str, Any]], accepted: dict[str, dict[str, int | None]],
                    source: str) -> dict[tuple[str, str], Band]:
    """The spec's per-flavor targets as bands; a target for a flavor the pool does not accept is an InputError."""
    flavor_targets: dict[tuple[str, str], Band] = {}
    for pool, (key, pspec) in spec_pools.items():
        for flavor, count in pspec.flavors.items():
            if flavor not in accepted[pool]:
                raise InputError(f"pool {pool} does not accept flavor {flavor!r}",
                                 source=source, path=f"pools.{key}.flavors.{flavor}")
            flavor_targets[(pool, flavor)] = (count, count)
    return flavor_targets


def _pool_rules(inv: Inventory, spec: Spec, spec_pools: dict[str, tuple[str, Any]],
                index: _Index) -> tuple[dict[str, PoolRules], list[PoolData]]:
    """Floors and ceilings of PRODUCT §4 per pool, in the user's terms and as the solver's bounds."""
    pools = inv.columns["pools"]
    pool_rules: dict[str, PoolRules] = {}
    pool_data: list[PoolData] = []
    for pool, count, row_subnet, takes_part, cluster in zip(pools["pool"], pools["node_count"], pools["subnet"],
                                                            pools["takes_part"], pools["cluster"], strict=True):
        pspec = spec_pools.get(pool, (None, None))[1]
        smin = pspec.min if pspec is not None else None
        floor = max(2, spec.defaults.min_nodes, smin or 0)
        accept = pspec.accept if pspec is not None else True
        give = pspec.give if pspec is not None else True
        target = pspec.target if pspec is not None else None
        subnet = row_subnet if isinstance(row_subnet, str) else None
        if takes_part:
            lo = max(smin or 0, min(count, floor))
            hi = pspec.max if pspec is not None else None
            if not give:
                lo = max(lo, count)
            if not accept or subnet is None:
                hi = count if hi is None else min(hi, count)
        else:
            lo, hi = count, count
        pool_rules[pool] = PoolRules(pool, int(count), floor, lo, hi, target, bool(takes_part), accept, give, subnet,
                                     str(cluster), inv.pool_names.label(pool))
        pool_data.append(PoolData(count=int(count), lo=lo, hi=hi, target=None if target is None else (target, target),
                                  subnet=index.subnets[subnet] if subnet is not None else -1,
                                  cluster=index.clusters[str(cluster)]))
    return pool_rules, pool_data


UnitFacts = tuple[str, str, int, str, bool]  # pool, flavor, unit size, cluster, busy (a class of its own: drain)
MovableUnits = tuple[list[Excluded], dict[str, list[str]], dict[UnitFacts, list[str]]]


def _units_of(inv: Inventory, spec: Spec, pool_rules: dict[str, PoolRules], busy: BusyFacts) -> MovableUnits:
    """`_movable_units`, remembered on the inventory (`Inventory.derived`) for its next plan with the same pins,
    busy policy, pools that may not give and batch size (what whatif's scenarios sharing the caller's inventory
    change is targets and limits): 0.2-0.3 s a plan at 100k nodes. Only the last one is kept; the result is only
    read."""
    key = ("movable units", frozenset(spec.pin), busy.policy, frozenset(p for p, r in pool_rules.items() if not r.give),
           spec.limits.max_batch_size)
    found = inv.derived.get(key)
    if found is None:
        inv.derived.clear()
        found = inv.derived[key] = _movable_units(inv, spec, pool_rules, busy)
    return found


def _movable_units(inv: Inventory, spec: Spec, pool_rules: dict[str, PoolRules], busy: BusyFacts) -> MovableUnits:
    """Nodes that may not move (with why), and the movable units: their nodes, and the units of each class (the
    facts of a unit are its first member's), in node order."""
    col = inv.columns["nodes"]
    names, units, sizes = col["node"], col["unit"], col["unit_size"]
    kept = busy.node_reason if busy.keeps else {}
    split = busy.busy_units if busy.splits else frozenset()
    no_give = {p for p, r in pool_rules.items() if not r.give}
    why = _spec_reasons(col, set(spec.pin), kept, no_give, spec.limits.max_batch_size)
    blocked_units: dict[str, str] = {}  # a unit moves only if every member may move
    for unit, name in compress(zip(units, names, strict=True), why):  # the nodes with a reason
        if unit not in blocked_units or name < blocked_units[unit]:
            blocked_units[unit] = name
    if blocked_units:  # (a unit of one node is blocked only by its own reason)
        for k in compress(range(len(names)), map((1).__lt__, sizes)):
            if not why[k] and units[k] in blocked_units:
                why[k] = f"super node member {blocked_units[units[k]]} may not move"
    # in node order, so that a stable sort by pool orders them by (pool, node)
    excluded: list[Excluded] = [{"node": names[k], "pool": col["pool"][k], "reason": why[k]}
                                for k in compress(range(len(why)), why)]
    unit_nodes: dict[str, list[str]] = {}
    grouped: dict[UnitFacts, list[str]] = {}
    shared: list[list[str]] = []  # the member lists of units with several nodes (sorted at the end)
    for name, pool, flavor, cluster, unit, size in compress(
            zip(names, col["pool"], col["flavor"], col["cluster"], units, sizes, strict=True), map(not_, why)):
        if size == 1:
            unit_nodes[unit] = [name]
        elif unit in unit_nodes:
            unit_nodes[unit].append(name)
            continue
        else:
            unit_nodes[unit] = members = [name]
            shared.append(members)
        facts = (pool, flavor, int(size), cluster, unit in split)
        found = grouped.get(facts)
        if found is None:
            grouped[facts] = [unit]
        else:
            found.append(unit)
    for members in shared:
        members.sort()
    return excluded, unit_nodes, grouped


def _spec_reasons(col: dict[str, list[Any]], pinned: set[str], kept: dict[str, str], no_give: set[str],
                  batch: int) -> list[str]:
    """Each node's reason not to move ("" when it may): the inventory's, else the spec's (pinned, busy under
    `keep`, in a pool that may not give, a super node larger than max_batch_size)."""
    if not (pinned or kept or no_give) and max(col["unit_size"], default=0) <= batch:
        return list(col["reason"])  # none of the spec's reasons applies to any node
    own: list[str] = []
    for name, pool, size, why in zip(col["node"], col["pool"], col["unit_size"], col["reason"], strict=True):
        if not why:
            if name in pinned:
                why = "pinned by the spec"
            elif name in kept:
                why = kept[name]
            elif pool in no_give:
                why = "pool may not give (give: false)"
            elif size > batch:
                why = f"super node larger than max_batch_size ({batch})"
        own.append(why)
    return own


def _classes(grouped: dict[UnitFacts, list[str]], index: _Index, busy: BusyFacts, *, cross: bool
             ) -> tuple[list[Commodity], list[UnitClass], list[list[str]]]:
    """Interchangeable units grouped into classes (pool, flavor, size, cluster, busy) of commodities (flavor, size
    and, when cross-cluster moves are forbidden, cluster); the units of each class in stable order, idle first."""
    commodities: list[Commodity] = []
    commodity_index: dict[tuple[int, int, int], int] = {}
    classes: list[UnitClass] = []
    class_units: list[list[str]] = []
    idle_first = busy.policy == "ignore" and busy.busy_units  # (drain: busy units are in classes of their own)
    for (pool, flavor, size, cluster, is_busy), units in sorted(grouped.items()):  # (`grouped` is only read)
        members = sorted(units, key=lambda u: (u in busy.busy_units, u)) if idle_first else sorted(units)
        fi, ci = index.flavors[flavor], index.clusters[cluster]
        ckey = (fi, size, -1 if cross else ci)
        k = commodity_index.setdefault(ckey, len(commodities))
        if k == len(commodities):
            commodities.append(Commodity(flavor=fi, size=size, cluster=ckey[2]))
        classes.append(UnitClass(pool=index.pools[pool], commodity=k, flavor=fi, size=size, cluster=ci,
                                 count=len(members), busy=is_busy))
        class_units.append(members)
    return commodities, classes, class_units


def _arrivals(commodities: list[Commodity], classes: list[UnitClass], pool_rules: dict[str, PoolRules],
              flavors: list[str], index: _Index, accepted: dict[str, dict[str, int | None]],
              compat: dict[str, list[str]]) -> list[Arrival]:
    """Every commodity to every pool that may receive it, with the flavor it runs as there."""
    supply_pools: dict[int, set[int]] = {}
    for c in classes:
        supply_pools.setdefault(c.commodity, set()).add(c.pool)
    receivers = [(i, r) for i, r in enumerate(pool_rules.values())
                 if r.takes_part and r.accept and r.subnet is not None]
    in_cluster: dict[int, list[tuple[int, PoolRules]]] = {}  # a commodity of one cluster goes to its pools only
    for i, r in receivers:
        in_cluster.setdefault(index.clusters[r.cluster], []).append((i, r))
    runs_as: dict[tuple[int, str], str | None] = {}  # (flavor, pool) -> the flavor it runs as there
    arrivals: list[Arrival] = []
    for k, comm in enumerate(commodities):
        sources = supply_pools.get(k, set())
        for i, r in receivers if comm.cluster == -1 else in_cluster.get(comm.cluster, []):
            if not sources or (len(sources) == 1 and i in sources):
                continue  # no unit of this commodity outside the pool
            if (comm.flavor, r.pool) not in runs_as:
                runs_as[comm.flavor, r.pool] = resolve_flavor(compat, flavors[comm.flavor], accepted[r.pool])
            g = runs_as[comm.flavor, r.pool]
            if g is None:
                continue
            cap = accepted[r.pool][g]
            if cap is not None and comm.size > cap:
                continue  # a unit of this size never fits under maxCount
            arrivals.append(Arrival(commodity=k, pool=i, flavor=index.flavors[g]))
    return arrivals


def _cells(arrivals: list[Arrival], flavor_targets: dict[tuple[str, str], Band],
           accepted: dict[str, dict[str, int | None]], cell_counts: dict[tuple[str, str], int], pool_ids: list[str],
           flavors: list[str], index: _Index) -> list[FlavorCell]:
    """(pool, flavor) counts that matter: those with a target band, and capped ones that arrivals could reach."""
    cell_keys = {(index.pools[p], index.flavors[f]) for (p, f) in flavor_targets}
    for a in arrivals:
        if accepted[pool_ids[a.pool]].get(flavors[a.flavor]) is not None:
            cell_keys.add((a.pool, a.flavor))
    cells: list[FlavorCell] = []
    for pi, fi in sorted(cell_keys):
        pool, flavor = pool_ids[pi], flavors[fi]
        cells.append(FlavorCell(pool=pi, flavor=fi, count=int(cell_counts.get((pool, flavor), 0)),
                                target=flavor_targets.get((pool, flavor)), cap=accepted[pool].get(flavor)))
    return cells


def _even_bands(inv: Inventory, spec_pools: dict[str, tuple[str, Any]], accepted: dict[str, dict[str, int | None]],
                cell_counts: dict[tuple[str, str], int], flavor_targets: dict[tuple[str, str], Band]) -> None:
    """`balance: even`: pools without a target share each flavor they accept, [floor(N/k), ceil(N/k)] each."""
    free_pools = [
        p for p, takes in zip(inv.columns["pools"]["pool"], inv.columns["pools"]["takes_part"], strict=True)
        if takes and (p not in spec_pools or spec_pools[p][1].target is None)
    ]
    all_flavors = sorted({f for p in free_pools for f in accepted[p]})
    for flavor in all_flavors:
        members = [p for p in free_pools if flavor in accepted[p] and (p, flavor) not in flavor_targets]
        if not members:
            continue
        total = sum(cell_counts.get((p, flavor), 0) for p in members)
        k = len(members)
        band = (total // k, -(-total // k))
        for p in members:
            flavor_targets[(p, flavor)] = band
