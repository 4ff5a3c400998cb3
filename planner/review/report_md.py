"""The plan report as GitHub-flavoured Markdown, for a pull-request comment (no images: comments drop data URIs).

Owns: the Markdown layout of the report's sections. Must not: compute plan figures (report_data does).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from planner.planfile import PlanDocument
from planner.review.report_data import (
    excluded_by_reason,
    flavor_rows,
    ordered_pools,
    pool_label,
    step_notes,
    steps_by_wave,
)
from planner.review.tables import fmt, md_escape, md_table, signed


def render_markdown(plan: PlanDocument, *, title: str = "poolshift plan") -> str:
    """The plan as GitHub-flavoured Markdown: summary line, tables, steps by wave, excluded nodes."""
    s = plan.summary
    out = [f"## {md_escape(title)}", ""]
    out.append(
        f"**{s.status}** · deviation **{s.deviation_before} → {s.deviation_after}** (bound {fmt(s.bound)}) · "
        f"**{s.moves}** node moves in **{s.requests}** requests over **{plan.summary.waves}** waves"
        + (f" · {s.staging_moves} staging move(s)" if s.staging_moves else "")
    )
    if s.blocked_by:
        out += ["", "> **Blocked by:** " + "; ".join(md_escape(b) for b in s.blocked_by)]
    out += _counts(plan)
    out += _steps(plan)
    out += _excluded(plan)
    out += [
        "",
        f"<sub>project `{plan.project_id}` · inventory `{plan.inventory_fingerprint}` · "
        f"spec `{plan.spec_fingerprint}`</sub>",
    ]
    return "\n".join(out) + "\n"


def _counts(plan: PlanDocument) -> list[str]:
    """Pools, flavors and subnet headroom, before and after."""
    out = ["", "### Pools", ""]
    out.append(
        md_table(
            ["pool", "before", "after", "change", "target"],
            [
                [pool_label(p, r), r.before, r.after, signed(r.after - r.before), r.target]
                for p, r in ((p, plan.pools[p]) for p in ordered_pools(plan))
            ],
            numeric=[False, True, True, True, True],
        )
    )
    frows = flavor_rows(plan)
    if frows:
        out += ["", "### Flavors", ""]
        out.append(
            md_table(
                ["pool", "flavor", "before", "after", "change", "target"],
                [
                    [plan.pool_name(f.pool), f.flavor, f.before, f.after, signed(f.after - f.before), f.target]
                    for f in frows
                ],
                numeric=[False, False, True, True, True, True],
            )
        )
    if plan.subnets:
        out += ["", "### Subnet headroom", ""]
        out.append(
            md_table(
                ["subnet", "free before", "free after", "reserve", "headroom after"],
                [
                    [sid, n.free_before, n.free_after, n.reserve, n.free_after - n.reserve]
                    for sid, n in sorted(plan.subnets.items())
                ],
                numeric=[False, True, True, True, True],
            )
        )
    return out


def _steps(plan: PlanDocument) -> list[str]:
    """The requests in order, and their nodes (folded)."""
    out = ["", "### Steps", ""]
    if plan.steps:
        rows: list[list[Any]] = []
        for wave, steps in steps_by_wave(plan).items():
            for step in steps:
                rows.append(
                    [
                        step.id,
                        wave,
                        plan.pool_name(step.source),
                        plan.pool_name(step.target),
                        step.flavor,
                        len(step.nodes),
                        step_notes(step),
                    ]
                )
        out.append(
            md_table(
                ["#", "wave", "from", "to", "flavor", "nodes", "notes"],
                rows,
                numeric=[True, True, False, False, False, True, False],
            )
        )
        out += ["", "<details><summary>Nodes per step</summary>", ""]
        out += [f"- #{step.id}: " + ", ".join(f"`{n}`" for n in step.nodes) for step in plan.steps]
        out += ["", "</details>"]
    else:
        out.append("No moves: the current placement is kept.")
    return out


def _excluded(plan: PlanDocument) -> list[str]:
    """Nodes that may not move, by reason."""
    out = ["", f"### Excluded nodes ({len(plan.excluded)})", ""]
    if plan.excluded:
        by_reason: dict[str, list[str]] = defaultdict(list)
        for e in plan.excluded:
            by_reason[e.reason].append(f"`{e.node}` ({plan.pool_name(e.pool)})")
        out.append(
            md_table(
                ["reason", "nodes", "which"],
                [[reason, n, ", ".join(by_reason[reason])] for reason, n in excluded_by_reason(plan)],
                numeric=[False, True, False],
            )
        )
    else:
        out.append("None.")
    return out
