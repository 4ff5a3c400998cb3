"""The planning flow: snapshot + spec -> problem -> solve -> nodes -> requests -> order -> waves -> verify -> plan.

Owns: calling the pieces in order, the reachability loop of PRODUCT §5 (solve, order, and when no safe order
reaches the placement, restrict and solve again), turning solver outcomes into PlanningErrors, the warnings a
plan carries (the spec's, and PRODUCT §9's "busy nodes unknown"), refusing to return any plan the
independent verifier rejects, the work done in a thread beside the solve (`_Aside`: the inventory fingerprint
and the verifier's reading of the snapshot, while the solvers hold no interpreter lock), and the time of each
stage (`Plan.timings`, read by benchmarks/stages.py). The plan document itself is built in `document`.
Must not: print, exit, or touch files other than those it is asked to read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from planner.collector import paused
from planner.errors import SolverTimeoutError
from planner.inventory import Inventory, build_inventory, read_snapshot_file
from planner.planfile import PlanDocument
from planner.planning.busy import unknown_warning
from planner.planning.document import Settings, build_document
from planner.planning.explain import explain_infeasible, restrictions_for
from planner.planning.moves import Step
from planner.planning.order import assign_waves, explain_blocked, group_requests
from planner.planning.placement import choose_moves
from planner.planning.problem import Context, build_problem
from planner.planning.rules import Blocker
from planner.planning.staging import order_with_staging
from planner.spec import Limits, parse_spec, read_spec_file
from solvers.flow import Restrictions, solve_flow
from solvers.params import SolveParams
from solvers.problem import FlowProblem, deviation_of, feasibility_errors, final_counts
from solvers.result import FlowResult, Status

T = TypeVar("T")


@dataclass(frozen=True)
class PlanOptions:
    """Options of one planning run (solver parameters, wave caps)."""

    time_limit: float = 30.0
    workers: int = 1
    seed: int = 0
    backend: str = "cpsat"
    wave_size: int = 10      # at most this many requests in one wave
    per_pool: int = 2        # at most this many requests of one wave touch one pool
    max_rounds: int = 12     # solves in the reachability loop before giving up on a better placement

    def solve_params(self) -> SolveParams:
        return SolveParams(time_limit=self.time_limit, workers=self.workers, seed=self.seed, backend=self.backend)


@dataclass
class Plan:
    """A verified plan: its document (the plan file content) and the pieces it was built from."""

    document: PlanDocument
    steps: list[Step]
    result: FlowResult
    context: Context
    # Seconds per stage, in this order: inventory, spec, problem, solve (every solve of the reachability loop),
    # order, fingerprint, document, verify. An inventory passed in already derived takes next to no time in its stage.
    # The fingerprint and the verifier's reading of the snapshot are done aside during the solve (`_Aside`):
    # "fingerprint" is the wait for what is left of them, "verify" the replay of the steps.
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # one line each, naming the file: the CLI prints them


def load_problem(inventory_path: str | Path, spec_path: str | Path) -> tuple[FlowProblem, Context]:
    """Read both files and build the integer problem (benchmarks and baselines use this)."""
    inv = build_inventory(read_snapshot_file(inventory_path), source=str(inventory_path))
    spec = parse_spec(read_spec_file(spec_path), source=str(spec_path))
    return build_problem(inv, spec, spec_source=str(spec_path))


# What a plan made with `make_plan(..., fingerprint=False)` records as its inventory fingerprint.
UNRECORDED_FINGERPRINT = "unrecorded"


def make_plan(snapshot: dict[str, Any] | Inventory, spec_data: dict[str, Any], *,
              options: PlanOptions | None = None, snapshot_source: str = "<snapshot>",
              spec_source: str = "<spec>", fingerprint: bool = True, reuse: Inventory | None = None) -> Plan:
    """Plan from a snapshot dict (or an inventory already derived from one, which is only read, so several plans
    can share it) and a spec mapping; raises InputError (2), PlanningError (3) or SolverTimeoutError (8).

    `fingerprint=False` is for a caller that reads the plan's figures and never writes the plan (`whatif` without
    `--save-plans`): the inventory fingerprint is not computed and the document records UNRECORDED_FINGERPRINT,
    which no snapshot has (apply would refuse such a plan as stale). `reuse`: for a raw snapshot edited
    copy-on-write from the snapshot of this inventory (kept with its readings), whose unedited node and workload
    lists are then not read again (planner.inventory `build_inventory`)."""
    with paused():
        return _make_plan(snapshot, spec_data, options or PlanOptions(), snapshot_source, spec_source, fingerprint,
                          reuse)


def _make_plan(snapshot: dict[str, Any] | Inventory, spec_data: dict[str, Any], options: PlanOptions,
               snapshot_source: str, spec_source: str, fingerprint: bool = True, reuse: Inventory | None = None
               ) -> Plan:
    timings: dict[str, float] = {}
    lap = _Laps(timings)
    inv = snapshot if isinstance(snapshot, Inventory) else \
        build_inventory(snapshot, source=snapshot_source, reuse=reuse)
    lap("inventory")
    spec = parse_spec(spec_data, source=spec_source)
    lap("spec")
    problem, ctx = build_problem(inv, spec, spec_source=spec_source)
    lap("problem")
    from planner.verify import read_ahead, verify_plan

    aside = _Aside(lambda: (inv.fingerprint if fingerprint else UNRECORDED_FINGERPRINT, read_ahead(inv.raw, spec)))
    result, ordered, blocked_by = _reachable_plan(problem, ctx, options, spec.limits, timings)
    steps = assign_waves(ordered, ctx.rules, max_parallel=options.wave_size, per_pool=options.per_pool)
    lap("order", less=timings["solve"])  # _reachable_plan timed its solves; the rest of the lap is ordering
    recorded, world = aside.result()
    lap("fingerprint")  # what is left of the work aside once the plan is ordered
    settings = Settings(options.backend, options.workers, options.seed, options.time_limit)
    document = build_document(inv, spec, problem, ctx, result, steps, settings, blocked_by,
                              inventory_fingerprint=recorded)
    lap("document")
    problems = verify_plan(inv.raw, spec, document, world)
    lap("verify")
    if problems:
        raise AssertionError("the verifier rejected the plan (a poolshift bug): " + "; ".join(problems[:5]))
    warnings = [f"{spec_source}: {w}" for w in spec.warnings()]
    unknown = unknown_warning(ctx.busy)
    if unknown:
        warnings.append(f"{snapshot_source}: {unknown}")
    return Plan(document, steps, result, ctx, timings, warnings)


class _Aside(Generic[T]):
    """`work` done in a thread beside the solve: the inventory fingerprint and the verifier's own reading of the
    snapshot need neither the solver nor its answer, and the solvers release the interpreter lock while they
    search (GLOP through MathOpt, SCIP through solvers/backends/mpsolver.py, CP-SAT), so on a second core the
    thread's Python runs meanwhile.
    `result()` waits for it and returns its value or raises what it raised. A daemon: a plan that fails does not
    wait for it."""

    def __init__(self, work: Callable[[], T]) -> None:
        self._outcome: tuple[T | None, BaseException | None] = (None, None)
        self._thread = threading.Thread(target=self._run, args=(work,), name="poolshift-aside", daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], T]) -> None:
        try:
            self._outcome = (work(), None)
        except BaseException as error:  # handed to the caller by result()
            self._outcome = (None, error)

    def result(self) -> T:
        self._thread.join()
        value, error = self._outcome
        if error is not None:
            raise error
        return cast(T, value)


class _Laps:
    """Adds the time since the previous lap to a stage of `timings` (`less`: seconds timed apart inside it)."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings, self.mark = timings, time.perf_counter()

    def __call__(self, stage: str, less: float = 0.0) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self.mark - less
        self.mark = now


def _reachable_plan(problem: FlowProblem, ctx: Context, options: PlanOptions, limits: Limits,
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
    for attempt in range(options.max_rounds):
        t1 = time.perf_counter()
        result = solve_flow(problem, options.solve_params(), restrictions)
        timings["solve"] += time.perf_counter() - t1
        if first is None:
            if result.status == Status.INFEASIBLE:
                raise explain_infeasible(problem, ctx, options.solve_params())
            if result.status == Status.UNKNOWN:
                raise SolverTimeoutError(
                    f"the solver hit its time limit of {options.time_limit:g} s before it found any placement (this "
                    f"says nothing about feasibility); give it more time, e.g. --time-limit "
                    f"{max(60.0, 4 * options.time_limit):g}")
            first = result
        elif not result.has_solution:
            break
        steps = group_requests(choose_moves(problem, ctx, result), limits.max_batch_size)
        staged = order_with_staging(steps, ctx.rules, allow_cross_cluster=limits.allow_cross_cluster)
        ordered, blocked = staged.ordered, staged.blocked
        if not blocked:
            if attempt == 0:
                return result, ordered, blocked_by
            return _reached(result, first, ordered, blocked_by)
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
        current = FlowResult(Status.FEASIBLE, zero[0], zero[1], before, 0, first.bound, first.seconds, first.backend)
        return _reached(current, first, [], blocked_by)
    raise explain_blocked(last_blocked)


def _reached(result: FlowResult, first: FlowResult, ordered: list[Step],
             blocked_by: list[str]) -> tuple[FlowResult, list[Step], list[str]]:
    """A reachable placement found after restricting the model (PRODUCT §5): OPTIMAL, and nothing to report, when
    it has the same (D, B, M) as the proven final-state optimum; otherwise FEASIBLE with the optimum's bound and
    what blocked the better placement."""
    if first.status == Status.OPTIMAL and _dbm(result) == _dbm(first):
        return replace(result, status=Status.OPTIMAL, bound=first.bound), ordered, []
    return replace(result, status=Status.FEASIBLE, bound=first.bound), ordered, blocked_by


def _dbm(result: FlowResult) -> tuple[int | None, int, int | None]:
    """(D, B, M) of a solver result: the lexicographic objective of PRODUCT §5 and §9."""
    return result.deviation, result.busy_moves or 0, result.moves
