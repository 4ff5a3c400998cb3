"""Inventory + spec -> the solvers' integer problem, and the index maps to read an answer back.

Owns: resolving spec pool keys (metadata.name or display name) and pins against the inventory, the checks
that need both (unknown pools or nodes, flavor targets a pool does not accept), floors and ceilings of
PRODUCT §4, flavor resolution through `flavor_compat`, `balance: even` bands, movable units grouped into
classes, and the list of nodes that may not move with their reasons.
Must not: solve, order or write anything.

Flavor resolution: a node of flavor f arriving in pool t runs as the first flavor t accepts from
`flavor_compat[f]` (in the listed order), then f itself; with no `flavor_compat` entry, only f.

`balance: even`: for each flavor f, the pools that take part, have no `target`, have no flavor target
for f and accept f share the f nodes they hold now, N over k pools: each gets the band
[floor(N/k), ceil(N/k)] as its flavor target (deviation counts the distance to that band).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.errors import InputError
from planner.inventory import Inventory, flavor_counts
from planner.modelarts.objects import PoolNameError
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
    excluded: list[dict[str, str]]


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


def build_problem(inv: Inventory, spec: Spec, *, spec_source: str = "<spec>") -> tuple[FlowProblem, Context]:
    """Translate an inventory and a spec into a FlowProblem and the Context to read its answer back."""
    spec_pools = _resolve_spec_pools(inv, spec, spec_source)
    pools = inv.columns["pools"]
    pool_ids: list[str] = list(pools["pool"])
    pool_index = {p: i for i, p in enumerate(pool_ids)}
    accepted: dict[str, dict[str, int | None]] = {p: {} for p in pool_ids}
    pf = inv.columns["pool_flavors"]
    for pool, flavor, cap in zip(pf["pool"], pf["flavor"], pf["max_count"], strict=True):
        accepted[pool][flavor] = cap

    nodes = inv.columns["nodes"]
    known_nodes = set(nodes["node"])
    for i, name in enumerate(spec.pin):
        if name not in known_nodes:
            raise InputError(f"unknown node {name!r}", source=spec_source, path=f"pin[{i}]")
    flavor_targets: dict[tuple[str, str], Band] = {}
    for pool, (key, pspec) in spec_pools.items():
        for flavor, count in pspec.flavors.items():
            if flavor not in accepted[pool]:
                raise InputError(f"pool {pool} does not accept flavor {flavor!r}",
                                 source=spec_source, path=f"pools.{key}.flavors.{flavor}")
            flavor_targets[(pool, flavor)] = (count, count)

    counts = dict(zip(pools["pool"], pools["node_count"], strict=True))
    cell_counts = flavor_counts(inv)
    defaults = spec.defaults

    if spec.balance == "even":
        _even_bands(inv, spec_pools, accepted, cell_counts, flavor_targets)

    # --- per-pool rules
    pool_rules: dict[str, PoolRules] = {}
    subnet_ids: list[str] = list(inv.columns["subnets"]["subnet"])
    subnet_index = {s: i for i, s in enumerate(subnet_ids)}
    clusters: list[str] = sorted(set(pools["cluster"]) | set(nodes["cluster"]))
    cluster_index = {c: i for i, c in enumerate(clusters)}
    pool_data: list[PoolData] = []
    for pool, row_subnet, row_part, row_cluster in zip(pools["pool"], pools["subnet"], pools["takes_part"],
                                                       pools["cluster"], strict=True):
        pspec = spec_pools.get(pool, (None, None))[1]
        count = int(counts[pool])
        smin = pspec.min if pspec is not None and pspec.min is not None else None
        smax = pspec.max if pspec is not None and pspec.max is not None else None
        floor = max(2, defaults.min_nodes, smin or 0)
        accept = pspec.accept if pspec is not None else True
        give = pspec.give if pspec is not None else True
        target = pspec.target if pspec is not None else None
        takes_part = bool(row_part)
        if takes_part:
            lo = max(smin or 0, min(count, floor))
            hi = smax
            if not give:
                lo = max(lo, count)
            if not accept or not isinstance(row_subnet, str):
                hi = count if hi is None else min(hi, count)
        else:
            lo, hi = count, count
        subnet = row_subnet if isinstance(row_subnet, str) else None
        pool_rules[pool] = PoolRules(pool, count, floor, lo, hi, target, takes_part, accept, give, subnet,
                                str(row_cluster))
        pool_data.append(PoolData(
            count=count, lo=lo, hi=hi, target=None if target is None else (target, target),
            subnet=subnet_index[subnet] if subnet is not None else -1,
            cluster=cluster_index[str(row_cluster)],
        ))

    # --- movable units and exclusions (plain lists: one pass over the nodes)
    pinned = set(spec.pin)
    no_give = {p for p, r in pool_rules.items() if not r.give}
    batch = spec.limits.max_batch_size
    col = nodes
    own: list[str] = []
    for name, pool, size, why in zip(col["node"], col["pool"], col["unit_size"], col["reason"], strict=True):
        if not why:
            if name in pinned:
                why = "pinned by the spec"
            elif pool in no_give:
                why = "pool may not give (give: false)"
            elif size > batch:
                why = f"super node larger than max_batch_size ({batch})"
        own.append(why)
    # a unit moves only if every member may move
    blocked_units: dict[str, str] = {}
    for unit, name, why in zip(col["unit"], col["node"], own, strict=True):
        if why and (unit not in blocked_units or name < blocked_units[unit]):
            blocked_units[unit] = name
    excluded: list[dict[str, str]] = []
    unit_nodes: dict[str, list[str]] = {}
    unit_facts: dict[str, tuple[str, str, int, str]] = {}
    for name, pool, flavor, cluster, unit, size, why in zip(col["node"], col["pool"], col["flavor"], col["cluster"],
                                                            col["unit"], col["unit_size"], own, strict=True):
        if not why and unit in blocked_units:
            why = f"super node member {blocked_units[unit]} may not move"
        if why:
            excluded.append({"node": name, "pool": pool, "reason": why})
            continue
        unit_nodes.setdefault(unit, []).append(name)
        unit_facts.setdefault(unit, (pool, flavor, int(size), cluster))
    for members in unit_nodes.values():
        members.sort()

    flavors = sorted(set(col["flavor"]) | set(pf["flavor"])
                     | {g for gs in spec.flavor_compat.values() for g in gs})
    flavor_index = {f: i for i, f in enumerate(flavors)}
    cross = spec.limits.allow_cross_cluster

    commodities: list[Commodity] = []
    commodity_index: dict[tuple[int, int, int], int] = {}
    classes: list[UnitClass] = []
    class_units: list[list[str]] = []
    grouped: dict[tuple[str, str, int, str], list[str]] = {}
    for unit in sorted(unit_facts):
        grouped.setdefault(unit_facts[unit], []).append(unit)
    for (pool, flavor, size, cluster), members in sorted(grouped.items()):
        fi, ci = flavor_index[flavor], cluster_index[cluster]
        ckey = (fi, size, -1 if cross else ci)
        k = commodity_index.setdefault(ckey, len(commodities))
        if k == len(commodities):
            commodities.append(Commodity(flavor=fi, size=size, cluster=ckey[2]))
        classes.append(UnitClass(pool=pool_index[pool], commodity=k, flavor=fi, size=size, cluster=ci,
                                 count=len(members)))
        class_units.append(members)

    # --- arrivals: every commodity to every pool that may receive it
    supply_pools: dict[int, set[int]] = {}
    for c in classes:
        supply_pools.setdefault(c.commodity, set()).add(c.pool)
    receivers = [
        (i, r) for i, r in enumerate(pool_rules.values())
        if r.takes_part and r.accept and r.subnet is not None
    ]
    arrivals: list[Arrival] = []
    arrival_flavor: set[tuple[int, int]] = set()
    for k, comm in enumerate(commodities):
        f = flavors[comm.flavor]
        sources = supply_pools.get(k, set())
        for i, r in receivers:
            if not sources or (len(sources) == 1 and i in sources):
                continue  # no unit of this commodity outside the pool
            if comm.cluster != -1 and cluster_index[r.cluster] != comm.cluster:
                continue
            g = resolve_flavor(spec.flavor_compat, f, accepted[r.pool])
            if g is None:
                continue
            cap = accepted[r.pool][g]
            if cap is not None and comm.size > cap:
                continue  # a unit of this size never fits under maxCount
            arrivals.append(Arrival(commodity=k, pool=i, flavor=flavor_index[g]))
            arrival_flavor.add((i, flavor_index[g]))

    # --- cells: (pool, flavor) counts with a target band or a cap that arrivals could reach
    cells: list[FlavorCell] = []
    cell_keys = {(pool_index[p], flavor_index[f]) for (p, f) in flavor_targets}
    for (pi, fi) in arrival_flavor:
        if accepted[pool_ids[pi]].get(flavors[fi]) is not None:
            cell_keys.add((pi, fi))
    for pi, fi in sorted(cell_keys):
        pool, flavor = pool_ids[pi], flavors[fi]
        cells.append(FlavorCell(pool=pi, flavor=fi, count=int(cell_counts.get((pool, flavor), 0)),
                                target=flavor_targets.get((pool, flavor)), cap=accepted[pool].get(flavor)))

    subnet_free = dict(zip(inv.columns["subnets"]["subnet"], inv.columns["subnets"]["free_ips"], strict=True))
    subnets = [
        SubnetData(free=int(subnet_free[s]), lo=min(int(subnet_free[s]), defaults.ip_reserve)) for s in subnet_ids
    ]
    problem = FlowProblem(
        pools=tuple(pool_data), commodities=tuple(commodities), classes=tuple(classes),
        arrivals=tuple(arrivals), cells=tuple(cells), subnets=tuple(subnets),
        ips_per_node=defaults.ips_per_node, max_moves=spec.limits.max_moves, n_flavors=len(flavors),
    )
    problem.validate()
    rules = StepRules(
        pools=pool_rules, accepted=accepted, cells=cell_counts,
        subnet_free={k: int(v) for k, v in subnet_free.items()}, ips_per_node=defaults.ips_per_node,
        ip_reserve=defaults.ip_reserve, flavor_compat=dict(spec.flavor_compat),
    )
    context = Context(
        rules=rules, pool_ids=pool_ids, flavors=flavors, subnet_ids=subnet_ids, clusters=clusters,
        class_units=class_units, unit_nodes=unit_nodes,
        node_cluster=dict(zip(col["node"], col["cluster"], strict=True)),
        flavor_targets=flavor_targets, excluded=sorted(excluded, key=lambda e: (e["pool"], e["node"])),
    )
    return problem, context


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
