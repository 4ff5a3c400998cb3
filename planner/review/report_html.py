"""The plan report as one self-contained HTML page: CSS inline, charts as inline SVG, nothing from the network.

Owns: the HTML layout of the report's sections: summary cards and the plan digest, what the requests do, pools,
targets not reached, flavors, subnets, steps by wave, excluded nodes. Charts draw only what changes (top rows,
the rest counted under them); tables list everything. Every name is escaped. Must not: compute plan figures
(report_data does) or draw (charts, svg do).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from html import escape
from typing import Any

from planner.planfile import PlanDocument
from planner.review import charts
from planner.review.report_data import (
    PlanView,
    attention_lines,
    excluded_by_reason,
    headline,
    off_target,
    step_flags,
)
from planner.review.tables import fmt, signed

_CSS = """
:root { --fg:#1f2933; --muted:#616e7c; --line:#e4e7eb; --accent:#2f6fb3; --warn:#d9480f; --bg:#f7f9fb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--fg); background: var(--bg); }
main { max-width: 1040px; margin: 0 auto; padding: 28px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; word-break: break-word; }
h2 { font-size: 18px; margin: 36px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 8px; }
.meta { color: var(--muted); font-size: 12px; margin: 0; word-break: break-all; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px; margin-top: 18px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 20px; font-weight: 600; margin-top: 2px; }
.status-OPTIMAL { color: #2b8a3e; } .status-FEASIBLE { color: #b7791f; }
.notice { margin-top: 14px; padding: 10px 14px; border-left: 4px solid var(--warn); background: #fff4e6; }
.attention { margin-top: 14px; padding: 10px 14px; border-left: 4px solid var(--accent); background: #eef3f9; }
.notice ul, .attention ul { margin: 4px 0 0; padding-left: 20px; }
figure { margin: 8px 0 12px; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px; }
figure svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #f0f3f6; font-weight: 600; font-size: 12px; color: var(--muted); }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td.up { color: #2b8a3e; } td.down { color: var(--warn); }
.id { color: var(--muted); font-size: 11px; }
td code { white-space: nowrap; } td code.list { white-space: normal; word-spacing: .6em; }
table.steps td:nth-child(2), table.steps td:nth-child(3) { white-space: nowrap; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
tr.wave td { background: #eef3f9; font-weight: 600; padding-top: 7px; }
tr.wave td span { color: var(--muted); font-weight: 400; }
.tag { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 11px; background: #fff0d6;
       color: #8a5300; margin: 1px 4px 1px 0; }
.tag.ends { background: #ffe3e3; color: #a61e1e; }
.empty { color: var(--muted); font-style: italic; }
details { margin: 8px 0 12px; } details > summary { cursor: pointer; color: var(--accent); margin-bottom: 6px; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
"""


@dataclass(frozen=True)
class _Raw:
    """A cell that is already HTML."""

    html: str


def _figure(chart: charts.Chart | None) -> str:
    if chart is None:
        return ""
    caption = f"<figcaption>{escape(chart.rest)}</figcaption>" if chart.rest else ""
    return f"<figure>{chart.svg}{caption}</figure>"


def _table(headers: list[str], rows: list[list[Any]], numeric: list[bool], cls: str = "") -> str:
    head = "".join(
        f'<th class="n">{escape(h)}</th>' if numeric[i] else f"<th>{escape(h)}</th>" for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if isinstance(cell, _Raw):
                cells.append(f"<td>{cell.html}</td>")
                continue
            classes = ["n"] if numeric[i] else []
            if isinstance(cell, str) and numeric[i] and cell[:1] in "+-" and cell[1:].isdigit():
                classes.append("up" if cell[0] == "+" else "down")
            attr = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attr}>{escape(fmt(cell))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


OPEN_ROWS = 30
"""A table of at most this many rows is shown open; a longer one is folded under its summary line."""


def _fold(summary: str, table: str, rows: int) -> str:
    """A table under a summary line: open when short, folded (one click away) when long."""
    attr = " open" if rows <= OPEN_ROWS else ""
    return f"<details{attr}><summary>{escape(summary)}</summary>{table}</details>"


def _pool_cell(view: PlanView, pool: str, *, with_id: bool = False) -> _Raw:
    """The pool's shown name; its id as a second line (`with_id`) or as a tooltip."""
    name = view.name(pool)
    if name == pool:
        return _Raw(escape(pool))
    if with_id:
        return _Raw(f'{escape(name)}<div class="id">{escape(pool)}</div>')
    return _Raw(f'<span title="{escape(pool)}">{escape(name)}</span>')


def _nodes_html(nodes: list[str]) -> str:
    return " ".join(f"<code>{escape(n)}</code>" for n in nodes)


def render_html(plan: PlanDocument, *, title: str = "poolshift plan") -> str:
    """The plan as one self-contained HTML page with inline SVG charts."""
    view = PlanView(plan)
    s = plan.summary
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">project <span class="mono">{escape(plan.project_id)}</span> · inventory '
        f'<span class="mono">{escape(plan.inventory_fingerprint)}</span> · spec '
        f'<span class="mono">{escape(plan.spec_fingerprint)}</span></p>',
        f'<p class="meta">plan digest <span class="mono">{escape(plan.digest)}</span></p>',
        '<div class="cards">',
    ]
    for key, value in headline(plan):
        cls = f" status-{escape(value)}" if key == "status" else ""
        parts.append(
            f'<div class="card"><div class="k">{escape(key)}</div><div class="v{cls}">{escape(value)}</div></div>'
        )
    parts.append("</div>")
    if s.blocked_by:
        items = "".join(f"<li>{escape(b)}</li>" for b in s.blocked_by)
        parts.append(f'<div class="notice"><strong>A better placement was blocked by:</strong><ul>{items}</ul></div>')
    attention = attention_lines(plan)
    if attention:
        items = "".join(f"<li>{escape(line)}</li>" for line in attention)
        parts.append(f'<div class="attention"><strong>What the requests do:</strong><ul>{items}</ul></div>')
    parts += _pools_html(view)
    parts += _residual_html(view)
    parts += _flavors_html(view)
    parts += _steps_html(view)
    parts += _excluded_html(view)
    parts.append(
        f"<footer>Generated by poolshift from a {escape(plan.format)} file. "
        f"Solver status {escape(s.status)}, solved in {escape(fmt(s.solve_seconds))} s.</footer>"
    )
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def _pools_html(view: PlanView) -> list[str]:
    """Nodes per pool before and after: the chart of what changes, and every pool in the table."""
    plan = view.doc
    parts = ["<h2>Pools: nodes before and after</h2>"]
    if not plan.pools:
        return parts + ['<p class="empty">The plan lists no pools.</p>']
    chart = charts.pool_totals(view)
    parts.append(_figure(chart) if chart else '<p class="empty">No pool changes.</p>')
    rows = [[_pool_cell(view, p, with_id=True), r.before, r.after, signed(r.after - r.before), r.target,
             off_target(r)] for p, r in ((p, plan.pools[p]) for p in view.pools)]
    table = _table(["pool", "before", "after", "change", "target", "off target after"], rows,
                   [False, True, True, True, True, True])
    parts.append(_fold(f"Every pool ({len(rows):,}; {len(view.changed_pools):,} change)", table, len(rows)))
    return parts


def _residual_html(view: PlanView) -> list[str]:
    """Targets not reached, and what limits them; the deviation left adds up to the summary's."""
    plan = view.doc
    parts = ["<h2>Targets not reached, and what limits them</h2>"]
    if not view.residual:
        return parts + ['<p class="empty">Every target is reached.</p>']
    rows: list[list[Any]] = []
    for p in view.residual:
        residual = plan.pools[p].residual
        assert residual is not None
        rows.append([_pool_cell(view, p, with_id=True), residual.deviation,
                     _Raw("<br>".join(escape(why) for why in residual.limited_by))])
    parts.append(_table(["pool", "deviation left", "limited by"], rows, [False, True, False]))
    totals, flavors = view.off_total()
    parts.append(f"<p>Deviation after: <strong>{plan.summary.deviation_after}</strong> = {totals} at pool totals + "
                 f"{flavors} at per-flavor targets.</p>")
    return parts


def _flavors_html(view: PlanView) -> list[str]:
    """Nodes per pool and flavor, and subnet headroom: charts of what changes, tables of everything."""
    plan = view.doc
    parts = ["<h2>Flavors per pool</h2>"]
    if view.flavor_rows:
        parts.append(_figure(charts.flavor_mix(view)))
        listed = [f for f in view.flavor_rows if f.before != f.after or f.target is not None]
        rows = [[_pool_cell(view, f.pool), f.flavor, f.before, f.after, signed(f.after - f.before), f.target, f.off]
                for f in listed]
        if rows:
            table = _table(["pool", "flavor", "before", "after", "change", "target", "off target after"], rows,
                           [False, False, True, True, True, True, True])
            parts.append(_fold(f"Every count that changes or has a target ({len(rows):,})", table, len(rows)))
        unlisted = len(view.flavor_rows) - len(listed)
        if unlisted:
            parts.append(f'<p class="empty">{unlisted:,} (pool, flavor) counts that do not change and have no '
                         "target are not listed.</p>")
    else:
        parts.append('<p class="empty">The plan has no per-flavor counts.</p>')
    parts.append("<h2>Subnet headroom</h2>")
    if plan.subnets:
        parts.append(_figure(charts.subnet_headroom(view)))
        rows = [[sid, n.free_before, n.free_after, n.reserve, n.free_after - n.reserve]
                for sid, n in sorted(plan.subnets.items())]
        table = _table(["subnet", "free before", "free after", "reserve", "headroom after"], rows,
                       [False, True, True, True, True])
        parts.append(_fold(f"Every subnet ({len(rows):,}; {len(view.changed_subnets):,} change)", table, len(rows)))
    else:
        parts.append('<p class="empty">This plan file carries no subnet figures.</p>')
    return parts


def _flag_tags(flags: list[str]) -> str:
    return "".join(f'<span class="tag{" ends" if f.startswith("ends ") else ""}">{escape(f)}</span>' for f in flags)


def _steps_html(view: PlanView) -> list[str]:
    """The steps by wave: the timeline, then every request with what it does and all of its nodes."""
    plan = view.doc
    parts = ["<h2>Steps in order</h2>"]
    if not plan.steps:
        return parts + ['<p class="empty">No moves: the current placement is kept.</p>']
    parts.append(_figure(charts.steps_timeline(view)))
    headers = ["#", "from", "to", "flavor", "nodes", "node names", "what it does"]
    head = "".join(f'<th class="n">{h}</th>' if h in ("#", "nodes") else f"<th>{h}</th>" for h in headers)
    body = []
    for wave, steps in plan.waves():
        nodes = sum(st.size for st in steps)
        body.append(f'<tr class="wave"><td colspan="{len(headers)}">Wave {wave} <span>· {len(steps)} request(s), '
                    f"{nodes} node(s); the requests of a wave may run at the same time</span></td></tr>")
        body += [f'<tr><td class="n">{st.id}</td><td>{_pool_cell(view, st.source).html}</td>'
                 f"<td>{_pool_cell(view, st.target).html}</td><td>{escape(st.flavor)}</td>"
                 f'<td class="n">{st.size}</td><td>{_nodes_html(st.nodes)}</td><td>{_flag_tags(step_flags(st))}</td>'
                 "</tr>" for st in steps]
    table = f'<table class="steps"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    parts.append(_fold(f"Every request ({len(plan.steps):,}) with all of its nodes and what it does", table,
                       len(plan.steps)))
    return parts


def _excluded_html(view: PlanView) -> list[str]:
    """Nodes that may not move: counted by reason, then every node by pool and reason."""
    plan = view.doc
    parts = [f"<h2>Excluded nodes ({len(plan.excluded)})</h2>"]
    if not plan.excluded:
        return parts + ['<p class="empty">Every node may move.</p>']
    reasons = excluded_by_reason(plan)
    parts.append(_fold(f"Nodes by reason ({len(reasons):,} reasons)",
                       _table(["reason", "nodes"], [[r, n] for r, n in reasons], [False, True]), len(reasons)))
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for e in plan.excluded:
        groups[(e["pool"], e["reason"])].append(e["node"])
    rows = [[_pool_cell(view, pool), reason, len(nodes),
             _Raw(f'<code class="list">{escape(" ".join(sorted(nodes)))}</code>')]
            for (pool, reason), nodes in sorted(groups.items(), key=lambda kv: (view.name(kv[0][0]), kv[0]))]
    table = _table(["pool", "reason", "nodes", "node names"], rows, [False, False, True, False])
    parts.append(_fold(f"Each node, by pool and reason ({len(plan.excluded):,} nodes)", table, len(rows)))
    return parts
