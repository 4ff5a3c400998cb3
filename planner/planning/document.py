"""The one place a plan document (`planner.planfile.PlanDocument`, PRODUCT §6) is built, complete.

Owns: replaying the ordered steps on the per-step rules' state to get every after-figure (pool and
(pool, flavor) counts, free addresses), the residual deviation of each pool, each step's `disrupts` and the
summary (B, `busy_moves`, counted from the disrupts), then building the frozen `PlanDocument` in one go.
Deterministic apart from `created_at` and `solve_seconds`.
Must not: solve, order or verify (the pipeline does), or write files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from planner import __version__
from planner.inventory import Inventory, flavor_counts
from planner.planfile import (
    Generator,
    PlanDocument,
    PlanStep,
    PoolRow,
    Residual,
    SubnetRow,
    Summary,
)
from planner.planning.busy import busy_moves, disruptions
from planner.planning.explain import residual_report
from planner.planning.moves import Step
from planner.planning.problem import Context
from planner.planning.rules import State
from planner.spec import Spec
from solvers.problem import FlowProblem, deviation_of, final_counts
from solvers.result import FlowResult


@dataclass(frozen=True)
class Settings:
    """The generator settings a plan records."""

    backend: str
    workers: int
    seed: int
    time_limit: float


def build_document(inv: Inventory, spec: Spec, problem: FlowProblem, ctx: Context, result: FlowResult,
                   steps: list[Step], settings: Settings, blocked_by: list[str], *,
                   inventory_fingerprint: str) -> PlanDocument:
    """The plan file content of PRODUCT §6 for `steps` (already ordered, numbered and in waves), recording
    `inventory_fingerprint` (the inventory's, or what make_plan records without one: see its `fingerprint`)."""
    after = State.initial(ctx.rules)
    for s in steps:
        after.apply(s)
    moves = sum(s.size for s in steps)
    pool_cols = inv.columns["pools"]
    excluded_reason = dict(zip(pool_cols["pool"], pool_cols["excluded_reason"], strict=True))
    residual = residual_report(ctx, after, moves=moves, max_moves=spec.limits.max_moves,
                               allow_cross_cluster=spec.limits.allow_cross_cluster, blocked_by=blocked_by,
                               excluded_reason=excluded_reason)
    nothing = (tuple(0 for _ in problem.classes), tuple(0 for _ in problem.arrivals))
    assert result.deviation is not None and result.bound is not None
    disrupts = disruptions(steps, ctx.busy)
    summary = Summary(
        moves=moves, requests=len(steps), waves=max((s.wave for s in steps), default=0),
        staging_moves=sum(s.size for s in steps if s.staging),
        deviation_before=deviation_of(problem, final_counts(problem, *nothing)),
        deviation_after=result.deviation, status=str(result.status), bound=result.bound,
        solve_seconds=round(result.seconds, 3),
        cross_cluster_requests=sum(1 for s in steps if s.from_cluster != s.to_cluster), blocked_by=blocked_by,
        busy_moves=busy_moves(disrupts),
    )
    return PlanDocument(
        format="poolshift.plan/v1",
        project_id=inv.project_id,
        region=inv.region,
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        generator=Generator(poolshift=__version__, backend=settings.backend, workers=settings.workers,
                            seed=settings.seed, time_limit=settings.time_limit),
        inventory_fingerprint=inventory_fingerprint,
        spec_fingerprint=spec.fingerprint,
        spec=spec,
        summary=summary,
        pools=_pool_rows(inv, ctx, after, residual, excluded_reason),
        subnets={s: SubnetRow(free_before=ctx.rules.subnet_free[s], free_after=after.free[s],
                              reserve=ctx.rules.ip_reserve) for s in ctx.subnet_ids},
        excluded=ctx.excluded,  # typed dicts (planner.planfile.Excluded), checked once here
        steps=[PlanStep.model_validate({
            "id": s.id, "wave": s.wave, "staging": s.staging, "pool_name": s.source, "body": s.body(),
            "relabels": [{"node": n, "from": f, "to": s.flavor}
                         for n, f in zip(s.nodes, s.source_flavors, strict=True) if f != s.flavor],
            "disrupts": ends,
        }) for s, ends in zip(steps, disrupts, strict=True)],
        digest="",
    ).sealed()


def _pool_rows(inv: Inventory, ctx: Context, after: State, residual: dict[str, Residual],
               excluded_reason: dict[str, str]) -> dict[str, PoolRow]:
    """Each pool before and after, with its flavors, bounds, targets and what is left of them."""
    before_cells = flavor_counts(inv)
    by_flavor: dict[str, dict[str, tuple[int, int]]] = {p: {} for p in ctx.pool_ids}
    for pool, flavor in set(before_cells) | set(after.cell) | set(ctx.flavor_targets):
        by_flavor[pool][flavor] = (before_cells.get((pool, flavor), 0), after.cell.get((pool, flavor), 0))
    display = dict(zip(inv.columns["pools"]["pool"], inv.columns["pools"]["display_name"], strict=True))
    targets_of: dict[str, dict[str, int | tuple[int, int]]] = {}  # pool -> its flavor targets, in their order
    for (p, f), b in ctx.flavor_targets.items():
        targets_of.setdefault(p, {})[f] = b if b[0] != b[1] else b[0]
    rows: dict[str, PoolRow] = {}
    for pool in ctx.pool_ids:
        r = ctx.rules.pools[pool]
        targets = targets_of.get(pool, {})
        rows[pool] = PoolRow(
            before=r.count, after=after.count[pool], target=r.target, floor=r.floor,
            max=r.hi if r.takes_part else None, display_name=display[pool], by_flavor=by_flavor[pool],
            accepts=dict(ctx.rules.accepted.get(pool, {})),
            takes_part=r.takes_part, cluster=r.cluster, subnet=r.subnet, flavor_targets=targets or None,
            excluded_reason=None if r.takes_part else excluded_reason[pool], residual=residual.get(pool),
        )
    return rows
