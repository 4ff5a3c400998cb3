"""The report's charts, as inline SVG: only what changes, the largest changes first, the rest summarised.

Owns: which rows each chart draws (pools that change, with their targets; the flavor mix of the pools that
change; subnets whose headroom changes, with the reserve; the requests by wave, or the nodes per wave when there
are many) and the sentence that counts what a chart leaves out. A 100k-node plan draws as fast and as tall as a
small one. Must not: lay out the page (report_html does) or draw (svg does).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.review.report_data import PlanView
from planner.review.svg import Legend, Mark, Row, Segment, column_chart, hbar_chart, timeline

BEFORE = "#b8c2cc"
AFTER = "#2f6fb3"
TARGET = "#d9480f"
STAGING = "#f2a541"
CHART_TOP = 25
"""Rows a chart draws at most; what it leaves out is counted under it."""
GANTT_MAX_STEPS = 30
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354",
           "#756bb1", "#636363"]


@dataclass(frozen=True)
class Chart:
    """An SVG chart and, when it leaves rows out, a sentence that says what."""

    svg: str
    rest: str | None = None


def pool_totals(view: PlanView, top: int = CHART_TOP) -> Chart | None:
    """Nodes before and after for the pools that change most, with their targets; None when none changes."""
    plan = view.doc
    changed = view.changed_pools
    if not changed:
        return None
    rows = []
    for pool in changed[:top]:
        r = plan.pools[pool]
        marks = (Mark(r.target, TARGET, f"target {r.target}"),) if r.target is not None else ()
        rows.append(Row(view.name(pool), ((Segment(r.before, BEFORE, f"before: {r.before}"),),
                                          (Segment(r.after, AFTER, f"after: {r.after}"),)), marks, view.label(pool)))
    svg = hbar_chart(rows, legend=[Legend("before", BEFORE), Legend("after", AFTER), Legend("target", TARGET, "mark")],
                     axis_label="nodes", title="nodes per pool before and after, with targets")
    rest = changed[top:]
    unchanged = len(plan.pools) - len(changed)
    note = None
    if rest or unchanged:
        moved = sum(abs(plan.pools[p].after - plan.pools[p].before) for p in rest)
        parts = [f"{len(rest):,} more pools change (by {moved:,} nodes in all)"] if rest else []
        parts += [f"{unchanged:,} pools do not change"] if unchanged else []
        note = "Not drawn: " + "; ".join(parts) + "."
    return Chart(svg, note)


def flavor_mix(view: PlanView, top: int = CHART_TOP) -> Chart | None:
    """Per pool that changes, two stacked bars (before faded, after solid) split by flavor."""
    plan = view.doc
    pools = [p for p in view.changed_pools if any(b != a for b, a in plan.pools[p].by_flavor.values())]
    if not pools:
        return None
    shown = pools[:top]
    flavors = sorted({f for p in shown for f in plan.pools[p].by_flavor})
    color = {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(flavors)}
    rows = []
    for pool in shown:
        cells = sorted(plan.pools[pool].by_flavor.items())
        before = tuple(Segment(b, color[f], f"{f} before: {b}", faded=True) for f, (b, _) in cells)
        after = tuple(Segment(a, color[f], f"{f} after: {a}") for f, (_, a) in cells)
        rows.append(Row(view.name(pool), (before, after), tip=view.label(pool)))
    legend = [Legend(f, color[f]) for f in flavors]
    svg = hbar_chart(rows, legend=legend, axis_label="nodes (faded: before, solid: after)",
                     title="nodes per pool and flavor before and after")
    rest = len(pools) - len(shown)
    return Chart(svg, f"Not drawn: {rest:,} more pools whose flavor mix changes." if rest else None)


def subnet_headroom(view: PlanView, top: int = CHART_TOP) -> Chart | None:
    """Free addresses before and after for the subnets that change most, with the reserve."""
    plan = view.doc
    changed = view.changed_subnets
    if not changed:
        return None
    rows = []
    for sid in changed[:top]:
        n = plan.subnets[sid]
        rows.append(Row(sid, ((Segment(max(0, n.free_before), BEFORE, f"free before: {n.free_before}"),),
                              (Segment(max(0, n.free_after), AFTER, f"free after: {n.free_after}"),)),
                        (Mark(n.reserve, TARGET, f"reserve {n.reserve}"),)))
    svg = hbar_chart(rows, legend=[Legend("free before", BEFORE), Legend("free after", AFTER),
                                   Legend("reserve", TARGET, "mark")],
                     axis_label="free IP addresses", title="free addresses per subnet before and after")
    rest = len(changed) - len(rows)
    unchanged = len(plan.subnets) - len(changed)
    parts = ([f"{rest:,} more subnets change"] if rest else []) + \
        ([f"{unchanged:,} subnets do not change"] if unchanged else [])
    return Chart(svg, "Not drawn: " + "; ".join(parts) + "." if parts else None)


def steps_timeline(view: PlanView) -> Chart | None:
    """The requests by wave: one bar per request, or nodes per wave when there are more than GANTT_MAX_STEPS."""
    steps = view.doc.steps
    if not steps:
        return None
    waves = max(s.wave for s in steps)
    legend = [Legend("move", AFTER)] + ([Legend("staging hop", STAGING)] if any(s.staging for s in steps) else [])
    if len(steps) <= GANTT_MAX_STEPS:
        rows = [(f"#{s.id}  {view.name(s.source)} → {view.name(s.target)}  ×{s.size}", s.wave,
                 STAGING if s.staging else AFTER, f"request {s.id}, wave {s.wave}: {s.size} node(s) {s.flavor}")
                for s in steps]
        return Chart(timeline(rows, waves, legend=legend, title="the requests in order, by wave"))
    moved = [0] * waves
    staged = [0] * waves
    for s in steps:
        (staged if s.staging else moved)[s.wave - 1] += s.size
    columns = [(str(w + 1), (Segment(moved[w], AFTER, f"wave {w + 1}: {moved[w]} node(s) moved"),
                             Segment(staged[w], STAGING, f"wave {w + 1}: {staged[w]} staging hop(s)")))
               for w in range(waves)]
    return Chart(column_chart(columns, legend=legend, x_label="wave", y_label="nodes",
                              title="nodes moved per wave"))
