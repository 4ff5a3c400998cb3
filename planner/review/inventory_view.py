"""`poolshift inventory show`: what a snapshot holds, as the planner reads it, in tables.

Owns: the inventory report's sections, read from the inventory's plain columns (no DataFrame is built): pools
(nodes, movable nodes, cluster, subnet, whether they take part), the flavors each pool accepts with their
`maxCount` and node counts, subnets, super nodes, every node that may not move with the reason, every busy node
with the workloads it runs (PRODUCT §9: name, type, priority; `busy_nodes` gives the same for `--format json`),
and every pool whose subnet is unknown (for a pulled snapshot, with what `inventory pull` tried). Must not:
print (the CLI prints) or plan.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from planner.inventory import Inventory, flavor_counts
from planner.modelarts.objects import Workload
from planner.review.show import Section, render_sections
from planner.review.tables import Cell


def _pool_rows(inv: Inventory) -> list[list[Cell]]:
    nodes, pools = inv.columns["nodes"], inv.columns["pools"]
    movable_by_pool = Counter(str(p) for p, ok in zip(nodes["pool"], nodes["movable"], strict=True) if ok)
    rows: list[list[Cell]] = []
    for pool, display, count, cluster, subnet, part, why in zip(
            pools["pool"], pools["display_name"], pools["node_count"], pools["cluster"], pools["subnet"],
            pools["takes_part"], pools["excluded_reason"], strict=True):
        rows.append([str(pool), str(display), int(count), movable_by_pool[str(pool)], str(cluster),
                     subnet if isinstance(subnet, str) else "unknown", "yes" if part else f"no ({why})"])
    return rows


def _flavor_rows(inv: Inventory) -> list[list[Cell]]:
    """One row per (pool, flavor): the flavors a pool accepts (with maxCount), and any flavor it holds but does
    not accept."""
    cells = flavor_counts(inv)
    pf = inv.columns["pool_flavors"]
    accepted: dict[tuple[str, str], int | None] = {
        (str(p), str(f)): (None if cap is None else int(cap))
        for p, f, cap in zip(pf["pool"], pf["flavor"], pf["max_count"], strict=True)
    }
    rows: list[list[Cell]] = []
    for (pool, flavor) in sorted(set(accepted) | set(cells)):
        if (pool, flavor) in accepted:
            cap = accepted[(pool, flavor)]
            rows.append([pool, flavor, cells.get((pool, flavor), 0), "yes", "no cap" if cap is None else cap])
        else:
            rows.append([pool, flavor, cells[(pool, flavor)], "no (held, not accepted)", "-"])
    return rows


def _super_node_rows(inv: Inventory) -> list[list[Cell]]:
    nodes = inv.columns["nodes"]
    members: dict[str, list[tuple[str, str, str, bool, str]]] = defaultdict(list)
    for node, pool, flavor, unit, size, movable, reason in zip(
            nodes["node"], nodes["pool"], nodes["flavor"], nodes["unit"], nodes["unit_size"], nodes["movable"],
            nodes["reason"], strict=True):
        if int(size) > 1:
            members[str(unit)].append((str(node), str(pool), str(flavor), bool(movable), str(reason)))
    rows: list[list[Cell]] = []
    for unit, group in sorted(members.items()):
        pool, flavor = group[0][1], group[0][2]
        stuck = [f"{n}: {r}" for n, _, _, ok, r in group if not ok]
        rows.append([unit, pool, flavor, len(group), "yes" if not stuck else "no (" + "; ".join(stuck) + ")",
                     ", ".join(n for n, *_ in group)])
    return rows


def _unknown_subnet_rows(inv: Inventory) -> list[list[Cell]]:
    """Pools whose subnet is unknown: what `inventory pull` tried (pulled snapshot), else why."""
    tried: dict[str, str] = {}
    recorded = inv.raw.get("pool_subnets")
    if isinstance(recorded, dict):
        from planner.modelarts.subnets import unknown_subnet_warnings

        for line in unknown_subnet_warnings(recorded):
            pool = line.removeprefix("pool ").split(":", 1)[0]
            tried[pool] = line.split(": ", 1)[1] if ": " in line else line
    pools = inv.columns["pools"]
    rows: list[list[Cell]] = []
    for pool, subnet, reason in zip(pools["pool"], pools["subnet"], pools["subnet_reason"], strict=True):
        if not isinstance(subnet, str) or not subnet:
            rows.append([str(pool), tried.pop(str(pool), None) or str(reason or "no subnet in the snapshot")])
    rows += [[pool, why] for pool, why in sorted(tried.items())]
    return rows


def _workload_text(w: Workload) -> str:
    facts = [f for f in (w.type, "" if w.priority is None else f"priority {w.priority}") if f]
    return f"{w.name} ({', '.join(facts)})" if facts else w.name


def busy_nodes_json(inv: Inventory) -> list[dict[str, Any]]:
    """Each busy node: its pool, the Running workloads on it (name, type, priority), and why it is busy."""
    nodes = inv.columns["nodes"]
    return [{"node": str(n), "pool": str(p), "reason": str(r),
             "workloads": [{"name": w.name, "type": w.type, "priority": w.priority} for w in ws]}
            for n, p, busy, ws, r in zip(nodes["node"], nodes["pool"], nodes["busy"], nodes["workloads"],
                                         nodes["busy_reason"], strict=True) if busy]


def _busy_section(inv: Inventory) -> Section:
    """Busy nodes (PRODUCT §9), one row each, sorted by pool and node, with what moving it would end."""
    nodes = inv.columns["nodes"]
    found = sorted((str(p), str(n), ", ".join(_workload_text(w) for w in ws) or str(r))
                   for n, p, b, ws, r in zip(nodes["node"], nodes["pool"], nodes["busy"], nodes["workloads"],
                                             nodes["busy_reason"], strict=True) if b)
    rows: list[list[Cell]] = [[node, pool, runs] for pool, node, runs in found]
    notes = [] if inv.workloads_known else [
        "the snapshot has no workloads (pulled before poolshift read them): only accelerators in use tell a busy "
        "node; run `poolshift inventory pull` again to see what runs where"]
    return Section("Busy nodes (moving one ends what runs on it)", ["node", "pool", "runs"], rows, notes=notes,
                   wrap=[2])


def render_inventory(inv: Inventory, fmt: str = "table", *, width: int | None = None) -> str:
    """The snapshot's pools, accepted flavors, subnets, super nodes, nodes that may not move, busy nodes, unknown
    subnets."""
    nodes = inv.columns["nodes"]
    sub = inv.columns["subnets"]
    subnet_rows: list[list[Cell]] = [
        [str(a), str(b), str(c), int(d), int(e), int(f)]
        for a, b, c, d, e, f in zip(sub["subnet"], sub["network"], sub["cidr"], sub["total_ips"], sub["used_ips"],
                                    sub["free_ips"], strict=True)
    ]
    stuck = sorted((str(p), str(n), str(r)) for n, p, r, ok in zip(nodes["node"], nodes["pool"], nodes["reason"],
                                                                     nodes["movable"], strict=True) if not ok)
    stuck_rows: list[list[Cell]] = [[n, p, r] for p, n, r in stuck]
    reasons = Counter(r for _, _, r in stuck)
    sections = [
        Section("Pools", ["pool", "name", "nodes", "movable", "cluster", "subnet", "takes part"], _pool_rows(inv),
                wrap=[6], droppable=[1, 4]),
        Section("Flavors each pool accepts", ["pool", "flavor", "nodes", "accepted", "maxCount"], _flavor_rows(inv)),
        Section("Subnets", ["subnet", "network", "cidr", "total", "used", "free"], subnet_rows),
        Section("Super nodes (each moves whole, in one request)",
                ["super node", "pool", "flavor", "nodes", "may move", "members"], _super_node_rows(inv), wrap=[4, 5]),
        Section("Nodes that may not move, by reason", ["reason", "nodes"],
                [[k, v] for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))], wrap=[0]),
        Section("Nodes that may not move", ["node", "pool", "reason"], stuck_rows, wrap=[2]),
        _busy_section(inv),
        Section("Pools whose subnet is unknown (they never receive nodes)", ["pool", "why"],
                _unknown_subnet_rows(inv), wrap=[1]),
    ]
    head = (f"inventory {inv.source}: project {inv.project_id}, {len(inv.columns['pools']['pool'])} pools, "
            f"{len(nodes['node'])} nodes, {sum(1 for ok in nodes['movable'] if ok)} movable, "
            f"{sum(1 for b in nodes['busy'] if b)} busy")
    return render_sections(head, [], sections, markdown=fmt == "md", width=width)
