"""The rows every plan report shows (HTML and Markdown alike): pools, flavors, steps by wave, excluded nodes.

Owns: reading a `PlanDocument` into the report's rows and labels. Must not: render (report_md, report_html do).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from planner.planfile import PlanDocument, PlanStep, PoolRow
from planner.review.tables import fmt


@dataclass(frozen=True)
class FlavorRow:
    pool: str
    flavor: str
    before: int
    after: int
    target: str | None


def pool_label(name: str, row: PoolRow) -> str:
    """`display (id)` when the plan carries a display name that differs from the pool id."""
    display = row.display_name
    return f"{display} ({name})" if display and display != name else name


def _flavor_targets(row: PoolRow) -> dict[str, str]:
    """Per-flavor targets when the plan carries them: a number, or a `[low, high]` band."""
    out: dict[str, str] = {}
    for flavor, value in (row.flavor_targets or {}).items():
        out[flavor] = str(value) if isinstance(value, int) else f"{value[0]}–{value[1]}"
    return out


def ordered_pools(plan: PlanDocument) -> list[str]:
    """Pool ids in the order reports show them: by shown name, then id."""
    names = plan.display_names()
    return sorted(plan.pools, key=lambda p: (names[p], p))


def flavor_rows(plan: PlanDocument) -> list[FlavorRow]:
    """One row per (pool, flavor), sorted by pool then flavor."""
    rows = []
    for pool in ordered_pools(plan):
        row = plan.pools[pool]
        targets = _flavor_targets(row)
        for flavor in sorted(row.by_flavor):
            before, after = row.by_flavor[flavor]
            rows.append(FlavorRow(pool, flavor, before, after, targets.get(flavor)))
    return rows


def steps_by_wave(plan: PlanDocument) -> dict[int, list[PlanStep]]:
    """Steps grouped by wave, waves ascending, steps in plan order within a wave."""
    waves: dict[int, list[PlanStep]] = defaultdict(list)
    for step in plan.steps:
        waves[step.wave].append(step)
    return dict(sorted(waves.items()))


def excluded_by_reason(plan: PlanDocument) -> list[tuple[str, int]]:
    """(reason, node count), most frequent first, then by reason."""
    counts = Counter(e.reason for e in plan.excluded)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def step_notes(step: PlanStep) -> str:
    notes = []
    if step.staging:
        notes.append("staging hop")
    if step.body.fromClusterName != step.body.toClusterName:
        notes.append(f"cross-cluster ({step.body.fromClusterName} → {step.body.toClusterName})")
    creating = step.body.resourceSpec.creatingStep
    if creating is not None:
        notes.append(f"{creating.type} of {creating.step}")
    return "; ".join(notes)


def headline(plan: PlanDocument) -> list[tuple[str, str]]:
    s = plan.summary
    return [
        ("status", s.status),
        ("deviation", f"{s.deviation_before} → {s.deviation_after}"),
        ("bound", fmt(s.bound)),
        ("moves", str(s.moves)),
        ("requests", str(s.requests)),
        ("waves", str(plan.summary.waves)),
        ("staging moves", str(s.staging_moves)),
        ("excluded nodes", str(len(plan.excluded))),
    ]
