"""`poolshift inventory show`: pools × flavors, subnets and movable counts of a snapshot, as tables.

Owns: the inventory report's sections. Must not: print (the CLI prints) or plan.
"""

from __future__ import annotations

from collections import Counter

from planner.inventory import Inventory, flavor_counts
from planner.review.show import render_sections
from planner.review.tables import Cell


def render_inventory(inv: Inventory, fmt: str = "table") -> str:
    """Pools × flavors, subnets and movable counts."""
    nodes, pools = inv.nodes, inv.pools
    cells = flavor_counts(inv)
    movable_by_pool = Counter(str(p) for p in nodes.loc[nodes["movable"], "pool"])
    pool_rows: list[list[Cell]] = []
    for pool, display, count, cluster, subnet, part, why in zip(
            pools["pool"], pools["display_name"], pools["node_count"], pools["cluster"], pools["subnet"],
            pools["takes_part"], pools["excluded_reason"], strict=True):
        flavors = ", ".join(f"{f}: {n}" for (p, f), n in sorted(cells.items()) if p == pool)
        pool_rows.append([str(pool), str(display), int(count), movable_by_pool[str(pool)], flavors or "-",
                          str(cluster), subnet if isinstance(subnet, str) else "-",
                          "yes" if part else f"no ({why})"])
    sub = inv.subnets
    subnet_rows: list[list[Cell]] = [
        [str(a), str(b), str(c), int(d), int(e), int(f)]
        for a, b, c, d, e, f in zip(sub["subnet"], sub["network"], sub["cidr"], sub["total_ips"], sub["used_ips"],
                                    sub["free_ips"], strict=True)
    ]
    reasons = Counter(str(r) for r in nodes.loc[~nodes["movable"], "reason"])
    reason_rows: list[list[Cell]] = [[k, v] for k, v in sorted(reasons.items())]
    sections = [
        ("Pools", ["pool", "name", "nodes", "movable", "flavors", "cluster", "subnet", "takes part"], pool_rows),
        ("Subnets", ["subnet", "network", "cidr", "total", "used", "free"], subnet_rows),
        ("Nodes that may not move", ["reason", "nodes"], reason_rows),
    ]
    head = (f"inventory {inv.source}: project {inv.project_id}, {len(pools)} pools, {len(nodes)} nodes, "
            f"{int(nodes['movable'].sum()) if len(nodes) else 0} movable")
    return render_sections(head, [], sections, markdown=fmt == "md")
