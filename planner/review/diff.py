"""What changed between two plans: summary, pools, nodes, requests, their order, excluded nodes.

Timings (`*_seconds`) and timestamps (`*_at`) are ignored: two runs of the same inputs differ only
there. Requests are matched by their body (node set order ignored), staging flag and what they do (relabels,
workloads they end), so a request that only changed its id or wave counts as kept and shows up under "order";
every added or removed request says what it does (relabels, super node, cross-cluster, staging, workloads ended).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from planner.planfile import PlanDocument, PlanStep
from planner.review.report_data import step_flags
from planner.review.tables import fmt, md_escape, md_table, text_table

_IDENTITY_KEYS = ("project_id", "inventory_fingerprint", "spec_fingerprint")
_SUMMARY_ORDER = (
    "status",
    "deviation_before",
    "deviation_after",
    "bound",
    "moves",
    "staging_moves",
    "requests",
    "waves",
    "blocked_by",
)


def _ignored(key: str) -> bool:
    return key.endswith(("_seconds", "_at"))


@dataclass(frozen=True)
class Change:
    """One field that differs: `key` names it, `before` is plan A's value, `after` plan B's."""

    key: str
    before: Any
    after: Any


@dataclass(frozen=True)
class PoolChange:
    pool: str
    key: str
    before: Any
    after: Any


@dataclass(frozen=True)
class SubnetChange:
    subnet: str
    key: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Hop:
    source: str
    target: str
    flavor: str
    staging: bool

    def label(self) -> str:
        extra = " (staging)" if self.staging else ""
        return f"{self.source} -> {self.target} as {self.flavor}{extra}"


@dataclass(frozen=True)
class NodeChange:
    """A node whose moves differ; an empty route means the node does not move in that plan."""

    node: str
    kind: str  # added | removed | changed
    before: tuple[Hop, ...]
    after: tuple[Hop, ...]


@dataclass(frozen=True)
class RequestRef:
    id: int
    wave: int
    staging: bool
    source: str
    target: str
    flavor: str
    nodes: tuple[str, ...]
    does: tuple[str, ...] = ()  # what the request does beyond a plain move (report_data.step_flags)

    @classmethod
    def of(cls, step: PlanStep) -> RequestRef:
        return cls(step.id, step.wave, step.staging, step.source, step.target, step.flavor, tuple(step.nodes),
                   tuple(step_flags(step, arrow="->")))

    def route(self) -> str:
        extra = " [staging]" if self.staging else ""
        return f"{self.source} -> {self.target} {self.flavor} x{len(self.nodes)}{extra}"

    def label(self) -> str:
        return f"#{self.id} wave {self.wave}: {self.route()}"


@dataclass(frozen=True)
class OrderChange:
    """A request present in both plans whose wave or position among the shared requests moved."""

    request: str
    before_id: int
    before_wave: int
    after_id: int
    after_wave: int


@dataclass(frozen=True)
class ExcludedRef:
    node: str
    pool: str
    reason: str


@dataclass(frozen=True)
class PlanDiff:
    identity: list[Change] = field(default_factory=list)
    summary: list[Change] = field(default_factory=list)
    pools: list[PoolChange] = field(default_factory=list)
    subnets: list[SubnetChange] = field(default_factory=list)
    nodes: list[NodeChange] = field(default_factory=list)
    requests_added: list[RequestRef] = field(default_factory=list)
    requests_removed: list[RequestRef] = field(default_factory=list)
    requests_kept: int = 0
    order: list[OrderChange] = field(default_factory=list)
    excluded_added: list[ExcludedRef] = field(default_factory=list)
    excluded_removed: list[ExcludedRef] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        """True when nothing but timings and timestamps differ."""
        return not (
            self.identity
            or self.summary
            or self.pools
            or self.subnets
            or self.nodes
            or self.requests_added
            or self.requests_removed
            or self.order
            or self.excluded_added
            or self.excluded_removed
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["identical"] = self.identical
        return data


def _summary_values(plan: PlanDocument) -> dict[str, Any]:
    values = plan.summary.model_dump()
    return {k: v for k, v in values.items() if not _ignored(k)}


def _ordered_keys(keys: set[str]) -> list[str]:
    known = [k for k in _SUMMARY_ORDER if k in keys]
    return known + sorted(keys - set(known))


def _diff_summary(a: PlanDocument, b: PlanDocument) -> list[Change]:
    va, vb = _summary_values(a), _summary_values(b)
    return [Change(k, va.get(k), vb.get(k)) for k in _ordered_keys(set(va) | set(vb)) if va.get(k) != vb.get(k)]


def _diff_pools(a: PlanDocument, b: PlanDocument) -> list[PoolChange]:
    out: list[PoolChange] = []
    for pool in sorted(set(a.pools) | set(b.pools)):
        pa, pb = a.pools.get(pool), b.pools.get(pool)
        if pa is None or pb is None:
            out.append(PoolChange(pool, "pool", "present" if pa else None, "present" if pb else None))
            continue
        for key in ("before", "after", "target"):
            if getattr(pa, key) != getattr(pb, key):
                out.append(PoolChange(pool, key, getattr(pa, key), getattr(pb, key)))
        for flavor in sorted(set(pa.by_flavor) | set(pb.by_flavor)):
            fa, fb = pa.by_flavor.get(flavor), pb.by_flavor.get(flavor)
            for i, when in enumerate(("before", "after")):
                xa = fa[i] if fa else None
                xb = fb[i] if fb else None
                if xa != xb:
                    out.append(PoolChange(pool, f"{flavor} {when}", xa, xb))
    return out


def _diff_subnets(a: PlanDocument, b: PlanDocument) -> list[SubnetChange]:
    out: list[SubnetChange] = []
    for sid in sorted(set(a.subnets) | set(b.subnets)):
        sa, sb = a.subnets.get(sid), b.subnets.get(sid)
        for key in ("free_before", "free_after", "reserve"):
            va = getattr(sa, key) if sa else None
            vb = getattr(sb, key) if sb else None
            if va != vb:
                out.append(SubnetChange(sid, key, va, vb))
    return out


def _routes(plan: PlanDocument) -> dict[str, tuple[Hop, ...]]:
    routes: dict[str, list[Hop]] = defaultdict(list)
    for step in plan.steps:
        hop = Hop(step.source, step.target, step.flavor, step.staging)
        for node in step.nodes:
            routes[node].append(hop)
    return {node: tuple(hops) for node, hops in routes.items()}


def _diff_nodes(a: PlanDocument, b: PlanDocument) -> list[NodeChange]:
    ra, rb = _routes(a), _routes(b)
    out: list[NodeChange] = []
    for node in sorted(set(ra) | set(rb)):
        before, after = ra.get(node, ()), rb.get(node, ())
        if before == after:
            continue
        kind = "added" if not before else "removed" if not after else "changed"
        out.append(NodeChange(node, kind, before, after))
    return out


def _request_key(step: PlanStep) -> str:
    body = step.body.model_dump()
    body["migrateNodeNames"] = sorted(body["migrateNodeNames"])
    does = sorted(step_flags(step))  # a request that now ends a workload or relabels a node is not the same request
    return json.dumps({"body": body, "staging": step.staging, "pool_name": step.pool_name, "does": does},
                      sort_keys=True)


def _diff_requests(a: PlanDocument, b: PlanDocument
                   ) -> tuple[list[RequestRef], list[RequestRef], list[OrderChange], int]:
    unmatched_b: dict[str, list[int]] = defaultdict(list)
    for j, step in enumerate(b.steps):
        unmatched_b[_request_key(step)].append(j)
    pairs: list[tuple[int, int]] = []
    removed: list[RequestRef] = []
    for i, step in enumerate(a.steps):
        candidates = unmatched_b.get(_request_key(step))
        if candidates:
            pairs.append((i, candidates.pop(0)))
        else:
            removed.append(RequestRef.of(step))
    matched_b = {j for _, j in pairs}
    added = [RequestRef.of(s) for j, s in enumerate(b.steps) if j not in matched_b]
    rank_b = {j: r for r, j in enumerate(sorted(matched_b))}
    order: list[OrderChange] = []
    for rank_a, (i, j) in enumerate(pairs):
        sa, sb = a.steps[i], b.steps[j]
        if rank_a != rank_b[j] or sa.wave != sb.wave:
            order.append(OrderChange(RequestRef.of(sa).route(), sa.id, sa.wave, sb.id, sb.wave))
    return added, removed, order, len(pairs)


def _diff_excluded(a: PlanDocument, b: PlanDocument) -> tuple[list[ExcludedRef], list[ExcludedRef]]:
    ea = {ExcludedRef(e["node"], e["pool"], e["reason"]) for e in a.excluded}
    eb = {ExcludedRef(e["node"], e["pool"], e["reason"]) for e in b.excluded}

    def key(e: ExcludedRef) -> tuple[str, str, str]:
        return (e.pool, e.node, e.reason)

    return sorted(eb - ea, key=key), sorted(ea - eb, key=key)


def diff_plans(a: PlanDocument, b: PlanDocument) -> PlanDiff:
    """Compare plan A (old) with plan B (new)."""
    identity = [Change(k, getattr(a, k), getattr(b, k)) for k in _IDENTITY_KEYS if getattr(a, k) != getattr(b, k)]
    added, removed, order, kept = _diff_requests(a, b)
    exc_added, exc_removed = _diff_excluded(a, b)
    return PlanDiff(
        identity=identity,
        summary=_diff_summary(a, b),
        pools=_diff_pools(a, b),
        subnets=_diff_subnets(a, b),
        nodes=_diff_nodes(a, b),
        requests_added=added,
        requests_removed=removed,
        requests_kept=kept,
        order=order,
        excluded_added=exc_added,
        excluded_removed=exc_removed,
    )


def _value(v: Any) -> str:
    if isinstance(v, list):
        return ", ".join(str(x) for x in v) if v else "(none)"
    return fmt(v)


def _delta(before: Any, after: Any) -> str:
    if isinstance(before, int | float) and isinstance(after, int | float) and not isinstance(before, bool):
        d = after - before
        return fmt(d) if d < 0 else "+" + fmt(d)
    return ""


_NODE_KIND = {"added": "moves only in B", "removed": "moves only in A", "changed": "moves differ"}


def _route(hops: tuple[Hop, ...]) -> str:
    return "; ".join(h.label() for h in hops) if hops else "(stays)"


def render_diff(d: PlanDiff, *, name_a: str, name_b: str, markdown: bool = False) -> str:
    """The diff for a reader, as plain text or as Markdown for a pull-request comment."""
    table = md_table if markdown else text_table
    out: list[str] = []

    def heading(text: str) -> None:
        out.append("")
        out.append(f"### {text}" if markdown else f"{text}:")

    title = f"Plan diff: {name_a} -> {name_b}"
    out.append(f"## {md_escape(title)}" if markdown else title)
    if d.identical:
        out.append("")
        out.append("No changes (timings and timestamps ignored).")
        return "\n".join(out) + "\n"
    if d.identity:
        heading("Inputs")
        out.append(table(["field", "A", "B"], [[c.key, _value(c.before), _value(c.after)] for c in d.identity]))
    if d.summary:
        heading("Summary")
        out.append(
            table(
                ["field", "A", "B", "change"],
                [[c.key, _value(c.before), _value(c.after), _delta(c.before, c.after)] for c in d.summary],
                numeric=[False, True, True, True],
            )
        )
    if d.pools:
        heading("Pools")
        out.append(
            table(
                ["pool", "field", "A", "B", "change"],
                [[c.pool, c.key, _value(c.before), _value(c.after), _delta(c.before, c.after)] for c in d.pools],
                numeric=[False, False, True, True, True],
            )
        )
    if d.subnets:
        heading("Subnets")
        out.append(
            table(
                ["subnet", "field", "A", "B", "change"],
                [[c.subnet, c.key, _value(c.before), _value(c.after), _delta(c.before, c.after)] for c in d.subnets],
                numeric=[False, False, True, True, True],
            )
        )
    if d.nodes:
        heading(f"Nodes ({len(d.nodes)} with different moves)")
        out.append(
            table(
                ["node", "change", "A", "B"],
                [[n.node, _NODE_KIND[n.kind], _route(n.before), _route(n.after)] for n in d.nodes],
            )
        )
    if d.requests_added or d.requests_removed:
        heading(f"Requests ({len(d.requests_added)} added, {len(d.requests_removed)} removed, {d.requests_kept} kept)")
        rows = [[sign, r.label(), "; ".join(r.does) or "-", ", ".join(r.nodes)]
                for sign, refs in (("+", d.requests_added), ("-", d.requests_removed)) for r in refs]
        out.append(table(["", "request", "what it does", "nodes"], rows))
    if d.order:
        heading("Order (requests in both plans that moved)")
        out.append(
            table(
                ["request", "A", "B"],
                [
                    [o.request, f"#{o.before_id} wave {o.before_wave}", f"#{o.after_id} wave {o.after_wave}"]
                    for o in d.order
                ],
            )
        )
    if d.excluded_added or d.excluded_removed:
        heading("Excluded nodes")
        rows = [["+", e.node, e.pool, e.reason] for e in d.excluded_added]
        rows += [["-", e.node, e.pool, e.reason] for e in d.excluded_removed]
        out.append(table(["", "node", "pool", "reason"], rows))
    return "\n".join(out) + "\n"
