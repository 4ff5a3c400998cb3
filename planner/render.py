"""Text renderings for people: aligned tables and Markdown for plans and inventories.

Owns: turning plan documents and inventories into strings. Must not: print (the CLI prints) or compute plans.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from planner.inventory import Inventory, flavor_counts

Cell = str | int | float | None


def _cell(v: Cell) -> str:
    return "-" if v is None else str(v)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, title: str = "") -> str:
    """An aligned plain-text table; numbers right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) and rows for i in range(len(headers))]

    def fmt(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths,
                                                                                                    strict=True))).rstrip()

    lines = [title] if title else []
    lines += [fmt(list(headers)), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in cells]
    return "\n".join(lines)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""
    def esc(v: Cell) -> str:
        return _cell(v).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _plan_sections(doc: dict[str, Any]) -> list[tuple[str, list[str], list[list[Cell]]]]:
    pools = doc.get("pools") or {}
    pool_rows: list[list[Cell]] = []
    for name in sorted(pools):
        p = pools[name]
        if p.get("before") == p.get("after") and p.get("target") is None and not p.get("flavor_targets"):
            continue
        flavors = p.get("by_flavor") or {}
        changes = ", ".join(f"{f} {b}->{a}" for f, (b, a) in sorted(flavors.items()) if b != a)
        pool_rows.append([name, p.get("display_name"), p.get("before"), p.get("after"), p.get("target"),
                          p.get("floor"), p.get("max"), changes or "-"])
    step_rows: list[list[Cell]] = []
    for s in doc.get("steps") or []:
        body = s.get("body") or {}
        names = body.get("migrateNodeNames") or []
        shown = ", ".join(names[:3]) + (f", +{len(names) - 3} more" if len(names) > 3 else "")
        step_rows.append([s.get("id"), s.get("wave"), "yes" if s.get("staging") else "", s.get("pool_name"),
                          body.get("toPoolName"), (body.get("resourceSpec") or {}).get("flavor"), len(names),
                          f"{body.get('fromClusterName')} -> {body.get('toClusterName')}", shown])
    excluded: dict[tuple[str, str], int] = {}
    for e in doc.get("excluded") or []:
        key = (str(e.get("pool")), str(e.get("reason")))
        excluded[key] = excluded.get(key, 0) + 1
    excluded_rows: list[list[Cell]] = [[p, r, n] for (p, r), n in sorted(excluded.items())]
    residual_rows: list[list[Cell]] = [
        [name, pools[name]["residual"].get("deviation"), "; ".join(pools[name]["residual"].get("limited_by") or [])]
        for name in sorted(pools) if pools[name].get("residual")
    ]
    subnets = doc.get("subnets") or {}
    subnet_rows: list[list[Cell]] = [
        [sid, v.get("free_before"), v.get("free_after"), v.get("reserve")]
        for sid, v in sorted(subnets.items()) if v.get("free_before") != v.get("free_after")
    ]
    return [
        ("Pools that change or have a target", ["pool", "name", "before", "after", "target", "floor", "max",
                                                 "flavor changes"], pool_rows),
        ("Requests (in order)", ["id", "wave", "staging", "from pool", "to pool", "flavor", "nodes", "clusters",
                                 "node names"], step_rows),
        ("Targets not reached, and what limits them", ["pool", "deviation left", "limited by"], residual_rows),
        ("Subnets that change", ["subnet", "free before", "free after", "reserve"], subnet_rows),
        ("Nodes that may not move", ["pool", "reason", "nodes"], excluded_rows),
    ]


def summary_lines(doc: dict[str, Any]) -> list[str]:
    """Key facts of a plan, one per line."""
    s = doc.get("summary") or {}
    lines = [
        f"status {s.get('status')}  deviation {s.get('deviation_before')} -> {s.get('deviation_after')} "
        f"(proven bound {s.get('bound')})",
        f"{s.get('moves')} node moves in {s.get('requests')} requests, {s.get('waves')} wave(s)"
        f" ({s.get('staging_moves', 0)} staging moves, {s.get('cross_cluster_requests', 0)} cross-cluster requests)",
        f"solver {s.get('solve_seconds')} s; inventory {doc.get('inventory_fingerprint')}",
    ]
    for b in s.get("blocked_by") or []:
        lines.append(f"blocked: {b}")
    return lines


def render_plan(doc: dict[str, Any], fmt: str = "table") -> str:
    """The plan for a reviewer, as an aligned text report ("table") or Markdown ("md")."""
    sections = _plan_sections(doc)
    if fmt == "md":
        out = [f"# poolshift plan for project `{doc.get('project_id')}`", ""]
        out += [f"- {line}" for line in summary_lines(doc)]
        for title, headers, rows in sections:
            out += ["", f"## {title}", ""]
            out.append(markdown_table(headers, rows) if rows else "_none_")
        return "\n".join(out) + "\n"
    out = [f"poolshift plan for project {doc.get('project_id')}"] + summary_lines(doc)
    for title, headers, rows in sections:
        out += ["", text_table(headers, rows, title=title) if rows else f"{title}: none"]
    return "\n".join(out)


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
    if fmt == "md":
        out = [f"# {head}"]
        for title, headers, rows in sections:
            out += ["", f"## {title}", "", markdown_table(headers, rows) if rows else "_none_"]
        return "\n".join(out) + "\n"
    out = [head]
    for title, headers, rows in sections:
        out += ["", text_table(headers, rows, title=title) if rows else f"{title}: none"]
    return "\n".join(out)
