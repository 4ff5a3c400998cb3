"""`poolshift show`: a plan for a reviewer, as an aligned text report or Markdown.

Owns: the sections of a plan a reviewer reads (what the requests do, pools that change or have a target, the
requests in order with every node they move, what keeps targets out of reach, subnets that change, nodes that may
not move), and the section layout `inventory show` shares. A summary listing
(`top`) keeps the top rows of each section and counts the rest, so a 100k-node plan fits a pull-request comment;
a text report fits a terminal width. Reads only the plan file model. Must not: print (the CLI prints) or compute
plans. The summary lines `plan` prints are `planner.review.summary`'s (re-exported here).
"""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass, field

from planner.planfile import PlanDocument
from planner.review.report_data import PlanView, attention_lines, off_target, rest_line, step_flags
from planner.review.summary import summary_lines
from planner.review.tables import Cell, md_escape, md_table, numeric_columns, text_table

__all__ = ["Section", "render_plan", "render_sections", "summary_lines"]


@dataclass
class Section:
    """A titled table; `rest` rows were left out of a summary listing; `notes` follow the table."""

    title: str
    headers: list[str]
    rows: list[list[Cell]]
    rest: int = 0
    what: str = "rows"
    notes: list[str] = field(default_factory=list)
    wrap: list[int] | None = None  # text columns that wrap on a narrow terminal (None: any text column)
    droppable: list[int] = field(default_factory=list)  # columns hidden when wrapping is not enough


def _pool_section(view: PlanView, top: int | None) -> Section:
    doc = view.doc
    if top is None:
        pools = [p for p in view.pools if doc.pools[p].before != doc.pools[p].after
                 or doc.pools[p].target is not None or doc.pools[p].flavor_targets]
        title, rest = "Pools that change or have a target", 0
    else:
        pools, rest = view.changed_pools[:top], max(0, len(view.changed_pools) - top)
        title = "Pools that change (largest change first)"
    rows: list[list[Cell]] = []
    for name in pools:
        p = doc.pools[name]
        changes = ", ".join(f"{f} {b}->{a}" for f, (b, a) in sorted(p.by_flavor.items()) if b != a)
        rows.append([name, p.display_name, p.before, p.after, p.target, off_target(p), p.floor, p.max,
                     changes or "-"])
    headers = ["pool", "name", "before", "after", "target", "off target", "floor", "max", "flavor changes"]
    return Section(title, headers, rows, rest, "pools that change", wrap=[8], droppable=[1, 6, 7, 5])


def _step_section(view: PlanView, top: int | None, arrow: str) -> Section:
    cut = view.top_steps(top)
    rows: list[list[Cell]] = [
        [s.id, s.wave, view.name(s.source), view.name(s.target), s.flavor, s.size,
         "; ".join(step_flags(s, arrow=arrow)) or "-", ", ".join(s.nodes)]
        for s in cut.shown
    ]
    title = "Requests (in order)" if top is None else \
        "Requests (in order; those to look at first: ending workloads, staging, relabels, super nodes, " \
        "cross-cluster, then the largest)"
    headers = ["id", "wave", "from pool", "to pool", "flavor", "nodes", "what it does", "node names"]
    return Section(title, headers, rows, cut.rest, "requests", wrap=[4, 6, 7], droppable=[1, 5])


def _residual_section(view: PlanView, top: int | None) -> Section:
    doc = view.doc
    pools = view.residual if top is None else view.residual[:top]
    rows: list[list[Cell]] = [[p, doc.pools[p].residual.deviation,  # type: ignore[union-attr]
                               "; ".join(doc.pools[p].residual.limited_by)]  # type: ignore[union-attr]
                              for p in pools]
    totals, flavors = view.off_total()
    notes = [f"deviation left {doc.summary.deviation_after}: {totals} at pool totals, {flavors} at per-flavor "
             f"targets"] if doc.summary.deviation_after or totals or flavors else []
    return Section("Targets not reached, and what limits them", ["pool", "deviation left", "limited by"], rows,
                   len(view.residual) - len(pools), "pools off target", notes, wrap=[2])


def _other_sections(view: PlanView, top: int | None) -> list[Section]:
    doc = view.doc
    subnets = view.changed_subnets if top is None else view.changed_subnets[:top]
    subnet_rows: list[list[Cell]] = [[sid, doc.subnets[sid].free_before, doc.subnets[sid].free_after,
                                      doc.subnets[sid].reserve] for sid in subnets]
    excluded = Counter((e["pool"], e["reason"]) for e in doc.excluded)
    ranked = sorted(excluded.items(), key=lambda kv: (-kv[1], kv[0])) if top is not None else sorted(excluded.items())
    shown = ranked if top is None else ranked[:top]
    return [
        Section("Subnets that change", ["subnet", "free before", "free after", "reserve"], subnet_rows,
                len(view.changed_subnets) - len(subnets), "subnets that change"),
        Section("Nodes that may not move", ["pool", "reason", "nodes"], [[p, r, n] for (p, r), n in shown],
                len(ranked) - len(shown), "(pool, reason) rows", wrap=[1]),
    ]


def render_plan(doc: PlanDocument, fmt: str = "table", *, top: int | None = None, width: int | None = None) -> str:
    """The plan for a reviewer, as an aligned text report ("table") or Markdown ("md").

    `top`: keep the top rows of each section (changed pools only) and count the rest; None lists everything.
    `width`: fit text tables into that many columns (None: one line per row).
    """
    view = PlanView(doc)
    markdown = fmt == "md"
    arrow = "→" if markdown else "->"
    lines = summary_lines(doc)
    attention = attention_lines(doc)
    if attention:
        lines += ["what the requests do: " + "; ".join(attention)]
    sections = [_pool_section(view, top), _step_section(view, top, arrow), _residual_section(view, top),
                *_other_sections(view, top)]
    return render_sections(f"poolshift plan for project {doc.project_id}", lines, sections, markdown=markdown,
                           width=width)


def render_sections(head: str, lines: list[str], sections: list[Section], *, markdown: bool,
                    width: int | None = None) -> str:
    """A titled report: a heading, a few summary lines, then one table per section ("none" when empty)."""
    if markdown:
        out = [f"# {md_escape(head)}", ""] if lines else [f"# {md_escape(head)}"]
        out += [f"- {md_escape(line)}" for line in lines]
        for s in sections:
            out += ["", f"## {md_escape(s.title)}", ""]
            out.append(md_table(s.headers, s.rows, numeric=numeric_columns(s.rows, len(s.headers)))
                       if s.rows else "_none_")
            if s.rest:
                out += ["", f"_{md_escape(rest_line(s.rest, s.what))}_"]
            out += [f"\n{md_escape(note)}" for note in s.notes]
        return "\n".join(out) + "\n"
    out = [head, *lines] if width is None else [wrapped for line in (head, *lines)
                                                for wrapped in textwrap.wrap(line, width, break_on_hyphens=False)]
    for s in sections:
        table = text_table(s.headers, s.rows, numeric=numeric_columns(s.rows, len(s.headers)), width=width,
                           wrap=s.wrap, droppable=s.droppable)
        out += ["", f"{s.title}\n{table}" if s.rows else f"{s.title}: none"]
        notes = [rest_line(s.rest, s.what)] if s.rest else []
        notes += s.notes
        out += notes if width is None else [w for note in notes for w in textwrap.wrap(note, width)]
    return "\n".join(out)
