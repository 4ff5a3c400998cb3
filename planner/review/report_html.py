"""The plan report as one self-contained HTML page: CSS inline, charts as PNG data URIs, nothing from the network.

Owns: the HTML layout of the report's sections. Must not: compute plan figures (report_data does) or draw
charts (charts does).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from html import escape
from typing import Any

from planner.planfile import PlanDocument
from planner.review.report_data import (
    excluded_by_reason,
    flavor_rows,
    headline,
    ordered_pools,
    step_notes,
    steps_by_wave,
)
from planner.review.tables import fmt, signed

_CSS = """
:root { --fg:#1f2933; --muted:#616e7c; --line:#e4e7eb; --accent:#2f6fb3; --warn:#d9480f; --bg:#f7f9fb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--fg); background: var(--bg); }
main { max-width: 1040px; margin: 0 auto; padding: 28px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 36px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 8px; }
.meta { color: var(--muted); font-size: 12px; margin: 0; word-break: break-all; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px; margin-top: 18px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 20px; font-weight: 600; margin-top: 2px; }
.status-OPTIMAL { color: #2b8a3e; } .status-FEASIBLE { color: #b7791f; }
.notice { margin-top: 14px; padding: 10px 14px; border-left: 4px solid var(--warn); background: #fff4e6; }
figure { margin: 8px 0 12px; background: #fff; border: 1px solid var(--line); border-radius: 8px;
         padding: 8px; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #f0f3f6; font-weight: 600; font-size: 12px; color: var(--muted); }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td.up { color: #2b8a3e; } td.down { color: var(--warn); }
.id { color: var(--muted); font-size: 11px; }
td code { white-space: nowrap; }
table.steps td:nth-child(2), table.steps td:nth-child(3) { white-space: nowrap; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
tr.wave td { background: #eef3f9; font-weight: 600; padding-top: 7px; }
tr.wave td span { color: var(--muted); font-weight: 400; }
.tag { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 11px; background: #fff0d6;
       color: #8a5300; margin-left: 4px; }
.empty { color: var(--muted); font-style: italic; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
"""


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _table(headers: list[str], rows: list[list[Any]], numeric: list[bool]) -> str:
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
            text = escape(fmt(cell))
            classes = ["n"] if numeric[i] else []
            if isinstance(cell, str) and numeric[i] and cell[:1] in "+-" and cell[1:].isdigit():
                classes.append("up" if cell[0] == "+" else "down")
            cls = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{cls}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


@dataclass(frozen=True)
class _Raw:
    """A cell that is already HTML."""

    html: str


def _pool_cell(plan: PlanDocument, pool: str, *, with_id: bool = False) -> _Raw:
    """The pool's shown name; its id as a second line (`with_id`) or as a tooltip."""
    name = plan.pool_name(pool)
    if name == pool:
        return _Raw(escape(pool))
    if with_id:
        return _Raw(f'{escape(name)}<div class="id">{escape(pool)}</div>')
    return _Raw(f'<span title="{escape(pool)}">{escape(name)}</span>')


def _nodes_html(nodes: list[str]) -> _Raw:
    return _Raw(" ".join(f"<code>{escape(n)}</code>" for n in nodes))


def _steps_table(plan: PlanDocument) -> str:
    """All steps in one table, a header row before each wave."""
    headers = ["#", "from", "to", "flavor", "nodes", "node names", "notes"]
    head = "".join(f'<th class="n">{h}</th>' if h in ("#", "nodes") else f"<th>{h}</th>" for h in headers)
    body = []
    for wave, steps in steps_by_wave(plan).items():
        nodes = sum(len(st.nodes) for st in steps)
        body.append(
            f'<tr class="wave"><td colspan="{len(headers)}">Wave {wave} <span>· {len(steps)} request(s), '
            f"{nodes} node(s); the requests of a wave may run at the same time</span></td></tr>"
        )
        for st in steps:
            notes = step_notes(st)
            tag = f'<span class="tag">{escape(notes)}</span>' if notes else ""
            body.append(
                f'<tr><td class="n">{st.id}</td><td>{_pool_cell(plan, st.source).html}</td>'
                f"<td>{_pool_cell(plan, st.target).html}</td>"
                f'<td>{escape(st.flavor)}</td><td class="n">{len(st.nodes)}</td>'
                f"<td>{_nodes_html(st.nodes).html}</td><td>{tag}</td></tr>"
            )
    return f'<table class="steps"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def render_html(plan: PlanDocument, *, title: str = "poolshift plan") -> str:
    """The plan as one self-contained HTML page with embedded PNG charts."""

    s = plan.summary
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">project <span class="mono">{escape(plan.project_id)}</span> · inventory '
        f'<span class="mono">{escape(plan.inventory_fingerprint)}</span> · spec '
        f'<span class="mono">{escape(plan.spec_fingerprint)}</span></p>',
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

    parts += _counts_html(plan)
    parts += _steps_html(plan)
    parts.append(
        f"<footer>Generated by poolshift from a {escape(plan.format)} file. "
        f"Solver status {escape(s.status)}, solved in {escape(fmt(s.solve_seconds))} s.</footer>"
    )
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def _counts_html(plan: PlanDocument) -> list[str]:
    """Pools and flavors before and after, and subnet headroom: a chart and a table each."""
    from planner.review import charts

    parts = ["<h2>Pools: nodes before and after</h2>"]
    if plan.pools:
        parts.append(_img(charts.pool_totals_png(plan), "nodes per pool before and after, with targets"))
        parts.append(
            _table(
                ["pool", "before", "after", "change", "target", "off target after"],
                [
                    [
                        _pool_cell(plan, p, with_id=True),
                        r.before,
                        r.after,
                        signed(r.after - r.before),
                        r.target,
                        None if r.target is None else abs(r.after - r.target),
                    ]
                    for p, r in ((p, plan.pools[p]) for p in ordered_pools(plan))
                ],
                [False, True, True, True, True, True],
            )
        )
    else:
        parts.append('<p class="empty">The plan lists no pools.</p>')

    frows = flavor_rows(plan)
    parts.append("<h2>Flavors per pool</h2>")
    if frows:
        parts.append(_img(charts.flavor_mix_png(plan), "nodes per pool and flavor before and after"))
        parts.append(
            _table(
                ["pool", "flavor", "before", "after", "change", "target"],
                [
                    [_pool_cell(plan, f.pool), f.flavor, f.before, f.after, signed(f.after - f.before), f.target]
                    for f in frows
                ],
                [False, False, True, True, True, True],
            )
        )
    else:
        parts.append('<p class="empty">The plan has no per-flavor counts.</p>')

    parts.append("<h2>Subnet headroom</h2>")
    if plan.subnets:
        parts.append(_img(charts.subnet_headroom_png(plan), "free addresses per subnet before and after"))
        parts.append(
            _table(
                ["subnet", "free before", "free after", "reserve", "headroom after"],
                [
                    [sid, n.free_before, n.free_after, n.reserve, n.free_after - n.reserve]
                    for sid, n in sorted(plan.subnets.items())
                ],
                [False, True, True, True, True],
            )
        )
    else:
        parts.append('<p class="empty">This plan file carries no subnet figures.</p>')

    return parts


def _steps_html(plan: PlanDocument) -> list[str]:
    """The steps by wave (timeline and table), and the nodes that may not move."""
    from planner.review import charts

    parts = ["<h2>Steps in order</h2>"]
    if plan.steps:
        parts.append(_img(charts.timeline_png(plan), "the requests in order, by wave"))
        parts.append(_steps_table(plan))
    else:
        parts.append('<p class="empty">No moves: the current placement is kept.</p>')

    parts.append(f"<h2>Excluded nodes ({len(plan.excluded)})</h2>")
    if plan.excluded:
        parts.append(_table(["reason", "nodes"], [[r, n] for r, n in excluded_by_reason(plan)], [False, True]))
        parts.append("<h3>Each node</h3>")
        parts.append(
            _table(
                ["node", "pool", "reason"],
                [
                    [_Raw(f"<code>{escape(e.node)}</code>"), _pool_cell(plan, e.pool), e.reason]
                    for e in sorted(plan.excluded, key=lambda e: (plan.pool_name(e.pool), e.pool, e.node))
                ],
                [False, False, False],
            )
        )
    else:
        parts.append('<p class="empty">Every node may move.</p>')
    return parts
