"""The report's charts as PNG bytes, drawn with matplotlib's Agg renderer.

matplotlib is an optional dependency (the `report` extra), so it is imported inside the functions;
figures are built with `matplotlib.figure.Figure` directly, never through pyplot, so nothing here
touches global state or a display. Heights grow with the number of rows, so labels never overlap.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from planner.errors import PoolshiftError
from planner.planfile import PlanDocument

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

BEFORE = "#b8c2cc"
AFTER = "#2f6fb3"
TARGET = "#d9480f"
STAGING = "#f2a541"
WIDTH_IN = 9.0
DPI = 110
GANTT_MAX_STEPS = 30


def _figure(rows: int, *, row_in: float = 0.32, extra_in: float = 1.1) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the installation
        raise PoolshiftError("the HTML report needs matplotlib: pip install 'poolshift[report]'") from None
    return Figure(figsize=(WIDTH_IN, extra_in + row_in * max(rows, 1)), dpi=DPI, layout="constrained")


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def short(name: str, limit: int = 34) -> str:
    """Shorten a long pool or subnet id in the middle so that both ends stay recognisable."""
    if len(name) <= limit:
        return name
    keep = (limit - 1) // 2
    return f"{name[:keep]}…{name[-(limit - 1 - keep) :]}"


def _style(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", color="#e6e9ed", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=9)


def pool_totals_png(plan: PlanDocument) -> bytes:
    """Nodes per pool before and after, with the target as a marker."""
    names = plan.display_names()
    pools = sorted(plan.pools, key=lambda p: (names[p], p))
    fig = _figure(len(pools), row_in=0.55)
    ax = fig.add_subplot()
    ys = list(range(len(pools)))
    h = 0.38
    before = [plan.pools[p].before for p in pools]
    after = [plan.pools[p].after for p in pools]
    b1 = ax.barh([y - h / 2 for y in ys], before, height=h, color=BEFORE, label="before")
    b2 = ax.barh([y + h / 2 for y in ys], after, height=h, color=AFTER, label="after")
    ax.bar_label(b1, padding=7, fontsize=8, color="#555")
    ax.bar_label(b2, padding=7, fontsize=8, color=AFTER)
    targets: list[tuple[int, int]] = []
    for p, y in zip(pools, ys, strict=True):
        target = plan.pools[p].target
        if target is not None:
            targets.append((target, y))
    if targets:
        ax.scatter(
            [t for t, _ in targets],
            [y for _, y in targets],
            marker="|",
            s=420,
            linewidths=2.5,
            color=TARGET,
            zorder=3,
            label="target",
        )
    ax.set_yticks(ys, [short(names[p]) for p in pools])
    ax.invert_yaxis()
    ax.set_xlabel("nodes", fontsize=9)
    ax.set_xlim(0, max([*before, *after, *(t for t, _ in targets), 1]) * 1.15)
    _style(ax)
    fig.legend(loc="outside upper center", ncols=3, frameon=False, fontsize=9)
    return _png(fig)


def _flavor_colors(flavors: Sequence[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"] if len(flavors) <= 10 else colormaps["tab20"]
    return {f: cmap(i % cmap.N) for i, f in enumerate(flavors)}


def flavor_mix_png(plan: PlanDocument) -> bytes:
    """Per pool, two stacked bars (before, after) split by flavor."""
    names = plan.display_names()
    pools = sorted(plan.pools, key=lambda p: (names[p], p))
    flavors = sorted({f for p in pools for f in plan.pools[p].by_flavor})
    rows = 2 * len(pools)
    fig = _figure(rows + len(flavors) // 2, row_in=0.3, extra_in=1.3)
    ax = fig.add_subplot()
    colors = _flavor_colors(flavors)
    ys_before = [3 * i for i in range(len(pools))]
    ys_after = [y + 1 for y in ys_before]
    left_b = [0] * len(pools)
    left_a = [0] * len(pools)
    for flavor in flavors:
        vb = [plan.pools[p].by_flavor.get(flavor, (0, 0))[0] for p in pools]
        va = [plan.pools[p].by_flavor.get(flavor, (0, 0))[1] for p in pools]
        ax.barh(ys_before, vb, left=left_b, height=0.8, color=colors[flavor], alpha=0.55)
        ax.barh(ys_after, va, left=left_a, height=0.8, color=colors[flavor], label=flavor)
        left_b = [x + v for x, v in zip(left_b, vb, strict=True)]
        left_a = [x + v for x, v in zip(left_a, va, strict=True)]
    ticks = [y for pair in zip(ys_before, ys_after, strict=True) for y in pair]
    labels = [lab for p in pools for lab in (f"{short(names[p])}  before", "after")]
    ax.set_yticks(ticks, labels)
    ax.invert_yaxis()
    for y, total in zip(ys_before, left_b, strict=True):
        ax.text(total, y, f" {total}", va="center", fontsize=8, color="#555")
    for y, total in zip(ys_after, left_a, strict=True):
        ax.text(total, y, f" {total}", va="center", fontsize=8, color="#222")
    ax.set_xlim(0, max([*left_b, *left_a, 1]) * 1.12)
    ax.set_xlabel("nodes (faded: before, solid: after)", fontsize=9)
    _style(ax)
    if flavors:
        fig.legend(loc="outside lower center", ncols=2, frameon=False, fontsize=8.5)
    return _png(fig)


def subnet_headroom_png(plan: PlanDocument) -> bytes:
    """Free addresses per subnet before and after, with the reserve that must stay free."""
    subnets = sorted(plan.subnets)
    fig = _figure(len(subnets), row_in=0.55)
    ax = fig.add_subplot()
    ys = list(range(len(subnets)))
    h = 0.38
    before = [plan.subnets[s].free_before for s in subnets]
    after = [plan.subnets[s].free_after for s in subnets]
    reserve = [plan.subnets[s].reserve for s in subnets]
    b1 = ax.barh([y - h / 2 for y in ys], before, height=h, color=BEFORE, label="free before")
    b2 = ax.barh([y + h / 2 for y in ys], after, height=h, color=AFTER, label="free after")
    ax.bar_label(b1, padding=7, fontsize=8, color="#555")
    ax.bar_label(b2, padding=7, fontsize=8, color=AFTER)
    ax.scatter(reserve, ys, marker="|", s=420, linewidths=2.5, color=TARGET, zorder=3, label="reserve")
    ax.set_yticks(ys, [short(s) for s in subnets])
    ax.invert_yaxis()
    ax.set_xlabel("free IP addresses", fontsize=9)
    ax.set_xlim(0, max([*before, *after, *reserve, 1]) * 1.15)
    _style(ax)
    fig.legend(loc="outside upper center", ncols=3, frameon=False, fontsize=9)
    return _png(fig)


def timeline_png(plan: PlanDocument) -> bytes:
    """The steps in order: one bar per request in its wave (or nodes per wave when there are many)."""
    if len(plan.steps) > GANTT_MAX_STEPS:
        return _wave_totals_png(plan)
    steps = plan.steps
    fig = _figure(len(steps), row_in=0.42)
    ax = fig.add_subplot()
    for row, step in enumerate(steps):
        color = STAGING if step.staging else AFTER
        ax.barh(
            row,
            0.9,
            left=step.wave - 0.45,
            height=0.7,
            color=color,
            hatch="//" if step.staging else None,
            edgecolor="white",
        )
    waves = max((s.wave for s in steps), default=1)
    ax.set_xlim(0.5, waves + 0.5)
    ax.set_xticks(range(1, waves + 1), [f"wave {w}" for w in range(1, waves + 1)])
    names = plan.display_names()
    labels = [
        f"#{s.id}  {short(names.get(s.source, s.source), 24)} → {short(names.get(s.target, s.target), 24)}"
        f"  ×{len(s.nodes)}"
        for s in steps
    ]
    ax.set_yticks(range(len(steps)), labels)
    ax.set_ylim(len(steps) - 0.5, -0.5)
    _style(ax)
    ax.grid(axis="x", visible=False)
    for w in range(1, waves):
        ax.axvline(w + 0.5, color="#e6e9ed", linewidth=0.8)
    if any(s.staging for s in steps):
        from matplotlib.patches import Patch

        fig.legend(
            handles=[Patch(color=AFTER, label="move"), Patch(facecolor=STAGING, hatch="//", label="staging")],
            loc="outside upper center",
            ncols=2,
            frameon=False,
            fontsize=9,
        )
    return _png(fig)


def _wave_totals_png(plan: PlanDocument) -> bytes:
    waves = max((s.wave for s in plan.steps), default=1)
    moved = [0] * waves
    staged = [0] * waves
    for step in plan.steps:
        (staged if step.staging else moved)[step.wave - 1] += len(step.nodes)
    fig = _figure(6, row_in=0.45)
    ax = fig.add_subplot()
    xs = list(range(1, waves + 1))
    ax.bar(xs, moved, color=AFTER, label="nodes moved")
    ax.bar(xs, staged, bottom=moved, color=STAGING, hatch="//", edgecolor="white", label="staging hops")
    ax.set_xlabel("wave", fontsize=9)
    ax.set_ylabel("nodes", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=9)
    fig.legend(loc="outside upper center", ncols=2, frameon=False, fontsize=9)
    return _png(fig)
