"""The plan report as GitHub-flavoured Markdown, for a pull-request comment (no images: comments drop data URIs).

Owns: the Markdown layout of the report's sections, and keeping a summary report inside one pull-request comment
(GitHub's limit is 65,536 characters; a summary listing stays under COMMENT_LIMIT by showing fewer rows).
Every name and the title are escaped (`tables.md_escape` / `md_code`): raw HTML in a plan is shown, never run.
Must not: compute plan figures (report_data does).
"""

from __future__ import annotations

from planner.planfile import PlanDocument
from planner.review.report_data import (
    DEFAULT_TOP,
    Cut,
    PlanView,
    attention_lines,
    excluded_by_reason,
    off_target,
    rest_line,
    step_flags,
)
from planner.review.tables import Cell, Md, fmt, md_code, md_escape, md_table, signed

COMMENT_LIMIT = 60_000
"""Characters a summary report keeps under (GitHub refuses comments over 65,536)."""


def render_markdown(plan: PlanDocument, *, title: str = "poolshift plan", top: int | None = DEFAULT_TOP) -> str:
    """The plan as GitHub-flavoured Markdown.

    `top`: a summary (only what changes, the top rows of each section, a count of the rest), shortened further
    until it fits COMMENT_LIMIT; None: the full listing.
    """
    text = _render(PlanView(plan), title, top)
    while top is not None and top > 1 and len(text) > COMMENT_LIMIT:
        top //= 2
        text = _render(PlanView(plan), title, top)
    return text


def _render(view: PlanView, title: str, top: int | None) -> str:
    plan = view.doc
    s = plan.summary
    out = [f"## {md_escape(title)}", ""]
    out.append(
        f"**{s.status}** · deviation **{s.deviation_before} → {s.deviation_after}** (bound {fmt(s.bound)}) · "
        f"**{s.moves}** node moves in **{s.requests}** requests over **{s.waves}** waves"
        + (f" · {s.staging_moves} staging move(s)" if s.staging_moves else "")
    )
    out += ["", f"plan digest `{md_escape(plan.digest)}`"]
    if s.blocked_by:
        out += ["", "> **Blocked by:** " + "; ".join(md_escape(b) for b in s.blocked_by)]
    attention = attention_lines(plan)
    if attention:
        out += ["", "**What the requests do:**", "", *(f"- {md_escape(line)}" for line in attention)]
    out += _pools(view, top)
    out += _residual(view, top)
    out += _steps(view, top)
    out += _excluded(view, top)
    out += [
        "",
        f"<sub>project {md_code(plan.project_id)} · inventory {md_code(plan.inventory_fingerprint)} · "
        f"spec {md_code(plan.spec_fingerprint)}</sub>",
    ]
    return "\n".join(out) + "\n"


def _section(heading: str, headers: list[str], rows: list[list[Cell]], numeric: list[bool], rest: int,
             what: str, empty: str | None = None) -> list[str]:
    out = ["", f"### {heading}", ""]
    if not rows:
        return out + [empty] if empty else []
    out.append(md_table(headers, rows, numeric=numeric))
    if rest:
        out += ["", f"_{md_escape(rest_line(rest, what))}_"]
    return out


def _pools(view: PlanView, top: int | None) -> list[str]:
    """Pools, flavors and subnet headroom, before and after (a summary: only what changes)."""
    plan = view.doc
    pools = Cut.of(view.pools if top is None else view.changed_pools, top)
    heading = "Pools" if top is None else f"Pools that change ({len(view.changed_pools)}, largest change first)"
    rows: list[list[Cell]] = [[view.label(p), r.before, r.after, signed(r.after - r.before), r.target, off_target(r)]
                              for p, r in ((p, plan.pools[p]) for p in pools.shown)]
    out = _section(heading, ["pool", "before", "after", "change", "target", "off target after"], rows,
                   [False, True, True, True, True, True], pools.rest, "pools that change",
                   "No pool changes." if top is not None else "The plan lists no pools.")
    frows = Cut.of(view.flavor_rows if top is None else view.changed_flavor_rows, top)
    out += _section("Flavors" if top is None else "Flavors that change", ["pool", "flavor", "before", "after",
                                                                          "change", "target", "off target after"],
                    [[view.name(f.pool), f.flavor, f.before, f.after, signed(f.after - f.before), f.target, f.off]
                     for f in frows.shown],
                    [False, False, True, True, True, True, True], frows.rest, "(pool, flavor) rows that change")
    subnets = Cut.of(sorted(plan.subnets) if top is None else view.changed_subnets, top)
    out += _section("Subnet headroom" if top is None else "Subnets that change",
                    ["subnet", "free before", "free after", "reserve", "headroom after"],
                    [[sid, n.free_before, n.free_after, n.reserve, n.free_after - n.reserve]
                     for sid, n in ((sid, plan.subnets[sid]) for sid in subnets.shown)],
                    [False, True, True, True, True], subnets.rest, "subnets that change")
    return out


def _residual(view: PlanView, top: int | None) -> list[str]:
    """Targets not reached, and what limits them; the deviation left adds up to the summary's."""
    plan = view.doc
    pools = Cut.of(view.residual, top)
    rows: list[list[Cell]] = []
    for p in pools.shown:
        residual = plan.pools[p].residual
        assert residual is not None
        rows.append([view.label(p), residual.deviation, "; ".join(residual.limited_by)])
    out = _section("Targets not reached, and what limits them", ["pool", "deviation left", "limited by"], rows,
                   [False, True, False], pools.rest, "pools off target", "Every target is reached.")
    totals, flavors = view.off_total()
    if totals or flavors:
        out += ["", f"Deviation after: **{plan.summary.deviation_after}** = {totals} at pool totals + {flavors} at "
                    "per-flavor targets."]
    return out


def _steps(view: PlanView, top: int | None) -> list[str]:
    """The requests in order (a summary: those to look at first), what each does, and all of their nodes."""
    plan = view.doc
    if not plan.steps:
        return ["", "### Steps", "", "No moves: the current placement is kept."]
    cut = view.top_steps(top)
    rows: list[list[Cell]] = [
        [step.id, step.wave, view.name(step.source), view.name(step.target), step.flavor, step.size,
         "; ".join(step_flags(step)) or "-"]
        for step in cut.shown
    ]
    heading = "Steps" if top is None else \
        "Steps (those to look at first: ending workloads, staging, relabels, super nodes, cross-cluster, largest)"
    out = _section(heading, ["#", "wave", "from", "to", "flavor", "nodes", "what it does"], rows,
                   [True, True, False, False, False, True, False], cut.rest, "requests")
    out += ["", "<details><summary>Nodes per step</summary>", ""]
    out += [f"- #{step.id}: " + ", ".join(md_code(n) for n in step.nodes) for step in cut.shown]
    return out + ["", "</details>"]


def _excluded(view: PlanView, top: int | None) -> list[str]:
    """Nodes that may not move: counted by reason, then each node (a summary: the first ones)."""
    plan = view.doc
    out = ["", f"### Excluded nodes ({len(plan.excluded)})", ""]
    if not plan.excluded:
        return out + ["None."]
    reasons = Cut.of(excluded_by_reason(plan), top)
    out.append(md_table(["reason", "nodes"], [[reason, n] for reason, n in reasons.shown], numeric=[False, True]))
    if reasons.rest:
        out += ["", f"_{md_escape(rest_line(reasons.rest, 'reasons'))}_"]
    ordered = sorted(plan.excluded, key=lambda e: (view.name(e["pool"]), e["pool"], e["node"]))
    nodes = Cut.of(ordered, top)
    out += ["", md_table(["node", "pool", "reason"],
                         [[Md(md_code(e["node"])), view.name(e["pool"]), e["reason"]] for e in nodes.shown])]
    if nodes.rest:
        out += ["", f"_{md_escape(rest_line(nodes.rest, 'excluded nodes'))}_"]
    return out
