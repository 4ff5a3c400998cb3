"""What every view of a plan shows (show, report in HTML and Markdown, diff): the rows, their order, what each
request does, and which rows a summary keeps.

Owns: reading a `PlanDocument` into rows and labels: pools (by shown name, or the largest changes first), the
deviation each pool keeps ("off target": its total and per-flavor targets, the same sum as the summary's
deviation after), what each request does (relabels, super node, cross-cluster, staging hop, workloads it ends),
the ranking a summary listing uses (top N with a count of the rest), excluded nodes by reason.
Must not: render (show, report_md, report_html do) or change the plan.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Generic, TypeVar

from planner.planfile import PlanDocument, PlanStep, PoolRow
from planner.review.tables import fmt

T = TypeVar("T")
DEFAULT_TOP = 30
"""Rows per section in a summary listing (the default for Markdown)."""


@dataclass(frozen=True)
class FlavorRow:
    pool: str
    flavor: str
    before: int
    after: int
    target: str | None
    off: int | None  # distance to the flavor target after the plan (None: no target)


@dataclass(frozen=True)
class Cut(Generic[T]):
    """The rows a listing shows, and how many it leaves out (a summary listing keeps the top N)."""

    shown: list[T]
    rest: int

    @classmethod
    def of(cls, rows: Sequence[T], top: int | None) -> Cut[T]:
        """The first `top` rows (all of them when `top` is None)."""
        if top is None or len(rows) <= top:
            return cls(list(rows), 0)
        return cls(list(rows[:top]), len(rows) - top)


def _band(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def _distance(have: int, band: tuple[int, int]) -> int:
    return max(0, band[0] - have) + max(0, have - band[1])


def off_target(row: PoolRow) -> int | None:
    """How far the pool ends from its targets: total and per flavor (PRODUCT §5); None when it has none."""
    if row.target is None and not row.flavor_targets:
        return None
    off = 0 if row.target is None else abs(row.after - row.target)
    for flavor, value in (row.flavor_targets or {}).items():
        off += _distance(row.by_flavor.get(flavor, (0, 0))[1], _band(value))
    return off


def flavor_target_text(value: int | tuple[int, int]) -> str:
    """A per-flavor target: a number, or a `[low, high]` band as `low–high`."""
    low, high = _band(value)
    return str(low) if low == high else f"{low}–{high}"


class PlanView:
    """A plan read for display: names to show, rows in display order, rankings (built once, read many times)."""

    def __init__(self, doc: PlanDocument) -> None:
        self.doc = doc

    @cached_property
    def names(self) -> dict[str, str]:
        """Pool id -> the name to show (display names when they tell the pools apart, else ids)."""
        return self.doc.display_names()

    def name(self, pool: str) -> str:
        return self.names.get(pool, pool)

    def label(self, pool: str) -> str:
        """`display (id)` when the shown name differs from the id."""
        row = self.doc.pools.get(pool)
        display = row.display_name if row is not None else ""
        return f"{display} ({pool})" if display and display != pool else pool

    @cached_property
    def pools(self) -> list[str]:
        """Pool ids by shown name, then id."""
        return sorted(self.doc.pools, key=lambda p: (self.names[p], p))

    @cached_property
    def changed_pools(self) -> list[str]:
        """Pools whose node count or flavor mix changes: the largest change first, then by shown name."""
        rows = self.doc.pools
        changed = [p for p in self.pools if rows[p].before != rows[p].after
                   or any(b != a for b, a in rows[p].by_flavor.values())]
        return sorted(changed, key=lambda p: (-_moved(rows[p]), self.names[p], p))

    @cached_property
    def flavor_rows(self) -> list[FlavorRow]:
        """One row per (pool, flavor), by pool then flavor."""
        out = []
        for pool in self.pools:
            row = self.doc.pools[pool]
            targets = row.flavor_targets or {}
            for flavor in sorted(row.by_flavor):
                before, after = row.by_flavor[flavor]
                target = targets.get(flavor)
                out.append(FlavorRow(pool, flavor, before, after,
                                     None if target is None else flavor_target_text(target),
                                     None if target is None else _distance(after, _band(target))))
        return out

    @cached_property
    def changed_flavor_rows(self) -> list[FlavorRow]:
        """Flavor rows whose count changes, the largest change first."""
        rows = [f for f in self.flavor_rows if f.before != f.after]
        return sorted(rows, key=lambda f: (-abs(f.after - f.before), self.names[f.pool], f.pool, f.flavor))

    @cached_property
    def residual(self) -> list[str]:
        """Pools that end off a target (`pools[p].residual`), the largest deviation left first."""
        rows = self.doc.pools
        off = [p for p in self.pools if rows[p].residual is not None]
        return sorted(off, key=lambda p: (-rows[p].residual.deviation, self.names[p], p))  # type: ignore[union-attr]

    @cached_property
    def changed_subnets(self) -> list[str]:
        """Subnets whose free addresses change, the largest change first."""
        subnets = self.doc.subnets
        changed = [s for s in sorted(subnets) if subnets[s].free_before != subnets[s].free_after]
        return sorted(changed, key=lambda s: (-abs(subnets[s].free_after - subnets[s].free_before), s))

    @cached_property
    def ranked_steps(self) -> list[PlanStep]:
        """Requests a reviewer should look at first: those that end workloads, staging hops, relabels, super
        nodes, cross-cluster moves, then the largest; ties in plan order."""
        return sorted(self.doc.steps, key=lambda s: (*(not flag for flag in _attention(s)), -s.size, s.id))

    def top_steps(self, top: int | None) -> Cut[PlanStep]:
        """The top requests by `ranked_steps`, shown in plan order."""
        cut = Cut.of(self.ranked_steps, top)
        return Cut(sorted(cut.shown, key=lambda s: s.id), cut.rest)

    def off_total(self) -> tuple[int, int]:
        """(deviation left at pool totals, deviation left at per-flavor targets): their sum is D after."""
        total = flavors = 0
        for row in self.doc.pools.values():
            if row.target is not None:
                total += abs(row.after - row.target)
        for f in self.flavor_rows:
            flavors += f.off or 0
        return total, flavors


def _moved(row: PoolRow) -> int:
    """Nodes in and out of a pool (per flavor, so a relabel counts)."""
    return sum(abs(a - b) for b, a in row.by_flavor.values()) or abs(row.after - row.before)


def _attention(step: PlanStep) -> tuple[bool, ...]:
    return (bool(step.disrupts), step.staging, bool(step.relabels), step.super_node, step.crosses_clusters)


def step_flags(step: PlanStep, *, arrow: str = "→") -> list[str]:
    """What a request does beyond moving idle nodes of one flavor inside a cluster, one phrase each."""
    flags: list[str] = []
    ended: dict[tuple[str, str], set[str]] = defaultdict(set)
    for d in step.disrupts:
        ended[(d.type, d.workload)].add(d.node)
    flags += [f"ends {kind} {workload} on {len(nodes)} node(s)" for (kind, workload), nodes in ended.items()]
    if step.staging:
        flags.append("staging hop")
    relabels = Counter((r.from_flavor, r.to_flavor) for r in step.relabels)
    flags += [f"relabels {n} node(s) {a} {arrow} {b}" for (a, b), n in relabels.items()]
    creating = step.body.resourceSpec.creatingStep
    if creating is not None:
        flags.append(f"super node ({creating.type} of {creating.step})")
    if step.crosses_clusters:
        flags.append(f"crosses clusters {step.body.fromClusterName} {arrow} {step.body.toClusterName}")
    return flags


def attention_lines(doc: PlanDocument) -> list[str]:
    """Counts of what the requests do that a reviewer must know about (empty when nothing stands out)."""
    steps = doc.steps
    lines = []
    disrupting = [s for s in steps if s.disrupts]
    if disrupting:
        workloads = {(d.type, d.workload) for s in disrupting for d in s.disrupts}
        nodes = {(s.id, d.node) for s in disrupting for d in s.disrupts}
        lines.append(f"{len(disrupting)} request(s) end {len(workloads)} running workload(s) on {len(nodes)} node(s)")
    staging = [s for s in steps if s.staging]
    if staging:
        lines.append(f"{len(staging)} request(s) are staging hops ({sum(s.size for s in staging)} node moves)")
    relabel = [s for s in steps if s.relabels]
    if relabel:
        lines.append(f"{len(relabel)} request(s) relabel {sum(len(s.relabels) for s in relabel)} node(s) "
                     "to another flavor")
    supers = [s for s in steps if s.super_node]
    if supers:
        lines.append(f"{len(supers)} request(s) move super nodes ({sum(s.size for s in supers)} nodes)")
    crossing = [s for s in steps if s.crosses_clusters]
    if crossing:
        lines.append(f"{len(crossing)} request(s) cross clusters")
    return lines


def excluded_by_reason(plan: PlanDocument) -> list[tuple[str, int]]:
    """(reason, node count), most frequent first, then by reason."""
    counts = Counter(e["reason"] for e in plan.excluded)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def headline(plan: PlanDocument) -> list[tuple[str, str]]:
    s = plan.summary
    return [
        ("status", s.status),
        ("deviation", f"{s.deviation_before} → {s.deviation_after}"),
        ("bound", fmt(s.bound)),
        ("moves", str(s.moves)),
        ("requests", str(s.requests)),
        ("waves", str(s.waves)),
        ("staging moves", str(s.staging_moves)),
        ("excluded nodes", str(len(plan.excluded))),
    ]


def rest_line(rest: int, what: str, flag: str = "--full") -> str:
    """`… and 12 more pools (--full lists every one)` for a listing cut to its top rows."""
    return f"… and {rest:,} more {what} ({flag} lists every one)"
