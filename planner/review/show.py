"""`poolshift show`: a plan for a reviewer, as an aligned text report or Markdown.

Owns: the sections of a plan a reviewer reads (pools that change or have a target, the requests in order, what
keeps targets out of reach, subnets that change, nodes that may not move) and the summary lines `plan` prints.
Reads only the plan file model. Must not: print (the CLI prints) or compute plans.
"""

from __future__ import annotations

from planner.planfile import PlanDocument
from planner.review.tables import Cell, md_table, numeric_columns, text_table


def _plan_sections(doc: PlanDocument) -> list[tuple[str, list[str], list[list[Cell]]]]:
    pool_rows: list[list[Cell]] = []
    for name, p in sorted(doc.pools.items()):
        if p.before == p.after and p.target is None and not p.flavor_targets:
            continue
        changes = ", ".join(f"{f} {b}->{a}" for f, (b, a) in sorted(p.by_flavor.items()) if b != a)
        pool_rows.append([name, p.display_name, p.before, p.after, p.target, p.floor, p.max, changes or "-"])
    step_rows: list[list[Cell]] = []
    for s in doc.steps:
        names = s.nodes
        shown = ", ".join(names[:3]) + (f", +{len(names) - 3} more" if len(names) > 3 else "")
        step_rows.append([s.id, s.wave, "yes" if s.staging else "", s.source, s.target, s.flavor, s.size,
                          f"{s.body.fromClusterName} -> {s.body.toClusterName}", shown])
    excluded: dict[tuple[str, str], int] = {}
    for e in doc.excluded:
        excluded[(e.pool, e.reason)] = excluded.get((e.pool, e.reason), 0) + 1
    excluded_rows: list[list[Cell]] = [[p, r, n] for (p, r), n in sorted(excluded.items())]
    residual_rows: list[list[Cell]] = [
        [name, row.residual.deviation, "; ".join(row.residual.limited_by)]
        for name, row in sorted(doc.pools.items()) if row.residual is not None
    ]
    subnet_rows: list[list[Cell]] = [
        [sid, v.free_before, v.free_after, v.reserve]
        for sid, v in sorted(doc.subnets.items()) if v.free_before != v.free_after
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


def _proof(doc: PlanDocument) -> str:
    """What the status means, in words: proven, or what was lost and why (never a bound beside another number)."""
    s = doc.summary
    if s.status == "OPTIMAL":
        return "proven optimal"
    if s.blocked_by:
        return (f"the best placement has deviation {s.bound}, but no safe order reaches it; blocked by: "
                + "; ".join(s.blocked_by))
    return f"not proven optimal: the solver's time limit ran out; no placement has a deviation below {s.bound}"


def summary_lines(doc: PlanDocument) -> list[str]:
    """Key facts of a plan, one per line."""
    s = doc.summary
    return [
        f"status {s.status}  deviation {s.deviation_before} -> {s.deviation_after} ({_proof(doc)})",
        f"{s.moves} node moves in {s.requests} requests, {s.waves} wave(s)"
        f" ({s.staging_moves} staging moves, {s.cross_cluster_requests} cross-cluster requests)",
        f"solver {s.solve_seconds} s; inventory {doc.inventory_fingerprint}",
    ]


def render_plan(doc: PlanDocument, fmt: str = "table") -> str:
    """The plan for a reviewer, as an aligned text report ("table") or Markdown ("md")."""
    return render_sections(f"poolshift plan for project {doc.project_id}", summary_lines(doc), _plan_sections(doc),
                           markdown=fmt == "md")


def render_sections(head: str, lines: list[str], sections: list[tuple[str, list[str], list[list[Cell]]]], *,
                    markdown: bool) -> str:
    """A titled report: a heading, a few summary lines, then one table per section ("none" when empty)."""
    if markdown:
        out = [f"# {head}", ""] if lines else [f"# {head}"]
        out += [f"- {line}" for line in lines]
        for title, headers, rows in sections:
            out += ["", f"## {title}", ""]
            out.append(md_table(headers, rows, numeric=numeric_columns(rows, len(headers))) if rows else "_none_")
        return "\n".join(out) + "\n"
    out = [head, *lines]
    for title, headers, rows in sections:
        table = text_table(headers, rows, numeric=numeric_columns(rows, len(headers)))
        out += ["", f"{title}\n{table}" if rows else f"{title}: none"]
    return "\n".join(out)


