"""The planning flow: snapshot + spec -> problem -> solve -> nodes -> requests -> order -> waves -> verify -> plan.

Owns: calling the pieces in order, turning solver outcomes into PlanningErrors, building the plan document
of PRODUCT §6, and refusing to return any plan the independent verifier rejects.
Must not: print, exit, or touch files other than those it is asked to read.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from planner import __version__
from planner.errors import PlanningError
from planner.inventory import Inventory, build_inventory, flavor_counts, read_snapshot_file
from planner.planning.explain import residual_report, restrictions_for
from planner.planning.order import Blocker, State, Step, assign_waves, explain_blocked, group_requests, safe_order
from planner.planning.placement import choose_moves
from planner.planning.problem import Context, build_problem
from planner.planning.staging import order_with_staging
from planner.spec import Spec, parse_spec, read_spec_file
from solvers.flow import Restrictions, solve_flow
from solvers.params import SolveParams
from solvers.problem import FlowProblem, deviation_of, feasibility_errors, final_counts
from solvers.result import FlowResult, Status


@dataclass(frozen=True)
class PlanOptions:
    """Options of one planning run (solver parameters, wave caps)."""

    time_limit: float = 30.0
    workers: int = 1
    seed: int = 0
    backend: str = "cpsat"
    max_parallel: int = 10
    per_pool: int = 2
    staging: bool = True
    max_rounds: int = 12

    def solve_params(self) -> SolveParams:
        return SolveParams(time_limit=self.time_limit, workers=self.workers, seed=self.seed, backend=self.backend)


@dataclass
class Plan:
    """A verified plan: its document (the plan file content) and the pieces it was built from."""

    document: dict[str, Any]
    steps: list[Step]
    result: FlowResult
    context: Context
    timings: dict[str, float] = field(default_factory=dict)


def load_problem(inventory_path: str | Path, spec_path: str | Path) -> tuple[FlowProblem, Context]:
    """Read both files and build the integer problem (benchmarks and baselines use this)."""
    inv = build_inventory(read_snapshot_file(inventory_path), source=str(inventory_path))
    spec = parse_spec(read_spec_file(spec_path), source=str(spec_path))
    return build_problem(inv, spec, spec_source=str(spec_path))


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while planning.

    A large snapshot is millions of small dicts; every collection walks all of them again, which made
    reading a 100k-node snapshot 2.4x slower and building the model 1.4x slower (benchmarks/RESULTS.md).
    Planning creates no reference cycles worth collecting, and the collector is restored on the way out.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def plan_files(inventory_path: str | Path, spec_path: str | Path, options: PlanOptions | None = None) -> Plan:
    """Plan from a snapshot file and a spec file."""
    with gc_paused():
        snapshot = read_snapshot_file(inventory_path)
        spec_data = read_spec_file(spec_path)
        return make_plan(snapshot, spec_data, options=options, snapshot_source=str(inventory_path),
                         spec_source=str(spec_path))


def make_plan(snapshot: dict[str, Any], spec_data: dict[str, Any], *, options: PlanOptions | None = None,
              snapshot_source: str = "<snapshot>", spec_source: str = "<spec>") -> Plan:
    """Plan from a snapshot dict and a spec mapping; raises InputError (2) or PlanningError (3)."""
    with gc_paused():
        return _make_plan(snapshot, spec_data, options or PlanOptions(), snapshot_source, spec_source)


def _make_plan(snapshot: dict[str, Any], spec_data: dict[str, Any], options: PlanOptions,
               snapshot_source: str, spec_source: str) -> Plan:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    inv = build_inventory(snapshot, source=snapshot_source)
    spec = parse_spec(spec_data, source=spec_source)
    problem, ctx = build_problem(inv, spec, spec_source=spec_source)
    timings["model_input"] = time.perf_counter() - t0

    result, ordered, blocked_by = _reachable_plan(problem, ctx, options, timings)
    t2 = time.perf_counter()
    steps = assign_waves(ordered, ctx, max_parallel=options.max_parallel, per_pool=options.per_pool)
    timings["order"] = timings.get("order", 0.0) + time.perf_counter() - t2

    document = build_document(inv, spec, problem, ctx, result, steps, options)
    document["summary"]["blocked_by"] = blocked_by
    residual = residual_report(problem, ctx, result, document)
    for pool, info in residual.items():
        document["pools"][pool]["residual"] = info
    t3 = time.perf_counter()
    from planner.verify import verify_plan

    problems = verify_plan(inv.raw, spec, document)
    timings["verify"] = time.perf_counter() - t3
    if problems:
        raise AssertionError("the verifier rejected the plan (a poolshift bug): " + "; ".join(problems[:5]))
    return Plan(document, steps, result, ctx, timings)


def _reachable_plan(problem: FlowProblem, ctx: Context, options: PlanOptions,
                    timings: dict[str, float]) -> tuple[FlowResult, list[Step], list[str]]:
    """Solve, order (staging where needed); when no order reaches the placement, restrict and solve again.

    Returns the solver result (status FEASIBLE when a restriction was needed, bound from the first solve),
    the ordered steps and, in words, what kept a better placement out of reach (PRODUCT §5 reachability).
    """
    zero = (tuple(0 for _ in problem.classes), tuple(0 for _ in problem.arrivals))
    current_valid = not feasibility_errors(problem, *zero)
    # No solution hint: the current placement as a hint made CP-SAT 3x slower at 100k nodes (RESULTS.md).
    restrictions = Restrictions()
    blocked_by: list[str] = []
    first: FlowResult | None = None
    last_blocked: list[tuple[Step, list[Blocker]]] = []
    timings.setdefault("solve", 0.0)
    timings.setdefault("order", 0.0)
    for attempt in range(options.max_rounds):
        t1 = time.perf_counter()
        result = solve_flow(problem, options.solve_params(), restrictions)
        timings["solve"] += time.perf_counter() - t1
        if first is None:
            if result.status == Status.INFEASIBLE:
                raise _infeasible(problem, ctx, options)
            if result.status == Status.UNKNOWN:
                raise PlanningError(f"the solver found no placement within the time limit "
                                    f"({options.time_limit:g} s); raise --time-limit", rules=["time limit"])
            first = result
        elif not result.has_solution:
            break
        t2 = time.perf_counter()
        steps = group_requests(choose_moves(problem, ctx, result), ctx.spec.limits.max_batch_size)
        if options.staging:
            staged = order_with_staging(steps, ctx)
            ordered, blocked = staged.ordered, staged.blocked
        else:
            plain = safe_order(steps, ctx)
            ordered, blocked = plain.ordered, plain.blocked
        timings["order"] += time.perf_counter() - t2
        if not blocked:
            if attempt == 0:
                return result, ordered, blocked_by
            return replace(result, status=Status.FEASIBLE, bound=first.bound), ordered, blocked_by
        last_blocked = blocked
        added, words = restrictions_for(blocked, problem, ctx, restrictions)
        if added is None:
            break
        restrictions = added
        blocked_by.extend(w for w in words if w not in blocked_by)
    assert first is not None
    if current_valid:
        before = deviation_of(problem, final_counts(problem, *zero))
        blocked_by.append("no safe order reaches a better placement; the plan keeps the current one")
        return (FlowResult(Status.FEASIBLE, zero[0], zero[1], before, 0, first.bound, first.seconds, first.backend),
                [], blocked_by)
    raise explain_blocked(last_blocked)


def _infeasible(problem: FlowProblem, ctx: Context, options: PlanOptions) -> PlanningError:
    from planner.planning.explain import explain_infeasible

    return explain_infeasible(problem, ctx, options.solve_params())


def build_document(inv: Inventory, spec: Spec, problem: FlowProblem, ctx: Context, result: FlowResult,
                   steps: list[Step], options: PlanOptions) -> dict[str, Any]:
    """The plan file content of PRODUCT §6 (deterministic apart from `created_at`)."""
    before = final_counts(problem, tuple(0 for _ in problem.classes), tuple(0 for _ in problem.arrivals))
    deviation_before = deviation_of(problem, before)
    state = State.initial(ctx)
    for s in steps:
        state.apply(s)
    after_count, free_after = state.count, state.free
    staging_moves = sum(s.size for s in steps if s.staging)
    before_cells = flavor_counts(inv)
    by_flavor: dict[str, dict[str, list[int]]] = {p: {} for p in ctx.pool_ids}
    for pool, flavor in set(before_cells) | set(state.cell) | set(ctx.flavor_targets):
        by_flavor[pool][flavor] = [before_cells.get((pool, flavor), 0), state.cell.get((pool, flavor), 0)]
    pools: dict[str, Any] = {}
    pool_cols = inv.columns["pools"]
    display = dict(zip(pool_cols["pool"], pool_cols["display_name"], strict=True))
    excluded_reason = dict(zip(pool_cols["pool"], pool_cols["excluded_reason"], strict=True))
    for pool in ctx.pool_ids:
        r = ctx.rules[pool]
        entry: dict[str, Any] = {
            "before": r.count, "after": after_count[pool], "target": r.target, "floor": r.floor,
            "max": r.hi if r.takes_part else None, "display_name": display[pool],
            "by_flavor": by_flavor[pool], "takes_part": r.takes_part, "cluster": r.cluster, "subnet": r.subnet,
        }
        targets = {f: list(b) if b[0] != b[1] else b[0] for (p, f), b in ctx.flavor_targets.items() if p == pool}
        if targets:
            entry["flavor_targets"] = targets
        if not r.takes_part:
            entry["excluded_reason"] = excluded_reason[pool]
        pools[pool] = entry
    subnets = {
        s: {"free_before": ctx.subnet_free[s], "free_after": free_after[s], "reserve": ctx.ip_reserve}
        for s in ctx.subnet_ids
    }
    moves = sum(s.size for s in steps)
    assert result.deviation is not None
    summary: dict[str, Any] = {
        "moves": moves, "requests": len(steps), "waves": max((s.wave for s in steps), default=0),
        "staging_moves": staging_moves, "deviation_before": deviation_before,
        "deviation_after": result.deviation, "status": str(result.status), "bound": result.bound,
        "solve_seconds": round(result.seconds, 3), "cross_cluster_requests": sum(
            1 for s in steps if s.from_cluster != s.to_cluster),
        "blocked_by": [],
    }
    return {
        "format": "poolshift.plan/v1",
        "project_id": inv.project_id,
        "region": inv.region,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "generator": {"poolshift": __version__, "backend": options.backend, "workers": options.workers,
                      "seed": options.seed, "time_limit": options.time_limit},
        "inventory_fingerprint": inv.fingerprint,
        "spec_fingerprint": spec.fingerprint,
        "spec": spec.model_dump(mode="json"),
        "summary": summary,
        "pools": pools,
        "subnets": subnets,
        "excluded": ctx.excluded,
        "steps": [
            {"id": s.id, "wave": s.wave, "staging": s.staging, "pool_name": s.source, "body": s.body()}
            for s in steps
        ],
    }
