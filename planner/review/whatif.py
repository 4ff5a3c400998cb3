"""What-if planning: plan every scenario of a scenario file, for the comparison of planner.review.whatif_output.

Each scenario's snapshot and spec are built first (`planner.review.scenarios`), and the caller's snapshot is
derived (validated) once, so a bad scenario or snapshot stops the run (exit 2) before any solving. Scenarios
without inventory overrides share that one `Inventory`; a scenario with overrides edits a copy-on-write view
of the caller's snapshot (planner.review.scenarios.snapshot) instead of a deep copy, and its inventory is
derived where the scenario is planned, so two processes derive theirs at the same time (7 scenarios at 100k
nodes, 4 with overrides: 8.6-9.3 s against 10.2-11.7 s deriving them all first, benchmarks/RESULTS.md), and
from the caller's readings (`make_plan(..., reuse=)`): only the node and workload lists its edits copied are
read, the others' rows are taken (0.34-0.65 of the CPU time of a fresh derivation at 100k). Then
every scenario is planned through `planner.planning.make_plan` (or the planner function given, which takes an
`Inventory` or a raw snapshot as make_plan does).

With several scenarios and two jobs (`max_workers`), the parent plans scenarios itself while one forked worker
plans others, both from one queue, longest first (`longest_first`: the scenarios that derive their own
inventory, then those sharing the caller's). The worker takes the next from the front itself whenever it is free
(the queue is a lock and two counters in memory the fork shares), the parent from the back: so the scenarios
sharing the caller's inventory are mostly planned in the parent, which derives facts such as the inventory
fingerprint once for all of them, and the last scenarios of the run are the short ones. The worker is forked
once the jobs are built, so it inherits the inventories and edited snapshots instead of receiving them (one
pickled job was 39 MB and 1.2 s at 100k nodes); only its outcomes travel back. Threads would share them too, but
the planner's Python stages hold the GIL: two threads planned 7 scenarios at 100k nodes no faster than one
(benchmarks/RESULTS.md). Where `fork` is not available, two threads.

Only what the comparison shows is kept unless the caller keeps the plans (`keep_plans`, the CLI's
`--save-plans`): without, an outcome carries no plan document (nothing to send back from the worker) and no
scenario computes its inventory fingerprint, which only a written plan records (`make_plan(...,
fingerprint=False)`); every plan is still checked by the independent verifier. A kept plan is the complete,
verified, sealed plan `poolshift plan` would write for the scenario's inventory and spec.

Workers return plain values, never exceptions: poolshift's errors carry keyword-only attributes that do not
survive pickling. A scenario that has no feasible placement (PlanningError) is an outcome like any other and
does not stop the others; an InputError from the planner (for example a spec overlay naming an unknown pool, or a
pin of the caller's spec naming a node the scenario removed) is raised after all scenarios finished, naming the
scenario. Any other exception (a bug) stops the run: the worker
finishes its current scenario and the exception is raised.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from planner.errors import (
    ApiError,
    ExecutionError,
    InputError,
    LockedError,
    PlanningError,
    PoolshiftError,
    SolverTimeoutError,
    StalePlanError,
)
from planner.inventory import Inventory, build_inventory
from planner.planfile import PlanDocument
from planner.planning import gc_paused, make_plan
from planner.review.scenarios import NodeIndex, ScenarioFile, Where, apply_scenario, scenario_key

MAX_WORKERS = 2
Planner = Callable[..., Any]  # make_plan's signature; returns an object with a `document: PlanDocument`


@dataclass(frozen=True)
class ScenarioOutcome:
    """One scenario's result: the plan's figures, or why there is no plan."""

    name: str
    description: str | None
    baseline: bool
    feasible: bool
    status: str | None = None
    deviation_before: int | None = None
    deviation_after: int | None = None
    bound: float | None = None
    moves: int | None = None
    busy_moves: int | None = None  # B of PRODUCT §9: nodes moved while busy
    requests: int | None = None
    waves: int | None = None
    staging_moves: int | None = None
    binding: tuple[str, ...] = ()
    blocking_pools: tuple[str, ...] = ()
    error: str | None = None
    error_kind: str | None = None  # infeasible | input | error
    error_exit: int | None = None
    seconds: float = 0.0
    plan: PlanDocument | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON view: everything but the plan document."""
        data = asdict(self)
        del data["plan"]
        data["binding"] = list(self.binding)
        data["blocking_pools"] = list(self.blocking_pools)
        return data


@dataclass(frozen=True)
class _Job:
    index: int
    scenario: str
    description: str | None
    baseline: bool
    # The caller's inventory, shared by the scenarios without inventory overrides (the planner only reads it), or
    # a scenario's edited raw snapshot, derived by the planner where the scenario is planned.
    inventory: Inventory | dict[str, Any]
    spec: dict[str, Any]
    options: Any
    snapshot_source: str
    spec_source: str
    planner: Planner
    keep_plan: bool = True  # False: no plan document in the outcome (none sent back), no inventory fingerprint
    # With an edited raw snapshot: the caller's inventory, kept with its readings, whose node and workload lists
    # the edited snapshot shares copy-on-write (make_plan's `reuse`: only the lists an edit copied are read).
    base: Inventory | None = None


def binding_rules(document: PlanDocument) -> list[str]:
    """What keeps a plan's deviation up, in the words `show` and `report` use: first what made a better placement
    unreachable (`summary.blocked_by`), then, for each pool left off its target, the rules that limit it
    (`pools[p].residual`, found by the planner), prefixed with the pool's display name."""
    rules: list[str] = list(document.summary.blocked_by)
    names = document.display_names()
    for pool, row in sorted(document.pools.items()):
        if row.residual is not None:
            rules += [f"{names[pool]}: {why}" for why in row.residual.limited_by if why not in rules]
    return list(dict.fromkeys(rules))


def _plan_one(job: _Job) -> ScenarioOutcome:
    """Plan one scenario; runs in a worker or inline. Returns values, never poolshift errors."""
    base: dict[str, Any] = {"name": job.scenario, "description": job.description, "baseline": job.baseline}
    t0 = time.perf_counter()
    try:
        plan = job.planner(
            job.inventory,
            job.spec,
            options=job.options,
            snapshot_source=job.snapshot_source,
            spec_source=job.spec_source,
            fingerprint=job.keep_plan,  # the fingerprint only a kept plan records (none is shown)
            reuse=job.base,
        )
    except PoolshiftError as exc:
        kind = "infeasible" if isinstance(exc, PlanningError) else "input" if isinstance(exc, InputError) else "error"
        why: dict[str, Any] = (
            {"binding": tuple(exc.rules), "blocking_pools": tuple(exc.pools)} if isinstance(exc, PlanningError) else {}
        )
        return ScenarioOutcome(**base, feasible=False, error=str(exc), error_kind=kind, error_exit=exc.exit_code,
                               seconds=time.perf_counter() - t0, **why)
    document: PlanDocument = plan.document
    summary = document.summary
    return ScenarioOutcome(
        **base,
        feasible=True,
        status=summary.status,
        deviation_before=summary.deviation_before,
        deviation_after=summary.deviation_after,
        bound=summary.bound,
        moves=summary.moves,
        busy_moves=summary.busy_moves,
        requests=summary.requests,
        waves=summary.waves,
        staging_moves=summary.staging_moves,
        binding=tuple(binding_rules(document)),
        seconds=time.perf_counter() - t0,
        plan=document if job.keep_plan else None,
    )


def prepare_jobs(
    scenarios: ScenarioFile,
    snapshot: Mapping[str, Any],
    spec: Mapping[str, Any],
    *,
    scenarios_source: str,
    snapshot_source: str,
    spec_source: str,
    options: Any = None,
    planner: Planner = make_plan,
    only: Sequence[str] = (),
    keep_plans: bool = True,
) -> list[_Job]:
    """Build every scenario's snapshot and spec; a bad override or snapshot raises InputError before any solving.

    The caller's snapshot is derived once, and the scenarios without inventory overrides share that `Inventory`;
    a scenario with overrides gets its edited raw snapshot (see the module docstring)."""
    known = [s.name for s in scenarios.scenarios]
    unknown = [name for name in only if name not in known]
    if unknown:
        raise InputError(
            f"no scenario named {unknown[0]!r} (scenarios: {', '.join(known)})", source="arguments", path="--only"
        )
    jobs = []
    shared = snapshot if isinstance(snapshot, dict) else dict(snapshot)
    # checks the caller's snapshot before any solving; its readings serve the scenarios that edit it
    base = build_inventory(shared, source=snapshot_source, keep_readings=True)
    names = NodeIndex(shared)  # node names of the caller's snapshot, indexed once for every scenario's edits
    for index, sc in enumerate(scenarios.scenarios):
        if only and sc.name not in only:
            continue
        where = Where(scenarios_source, index, sc.name)
        snap, merged = apply_scenario(shared, spec, sc, where, names)
        source = (snapshot_source if sc.is_baseline or not sc.inventory
                  else f"{snapshot_source} + {scenarios_source}:{scenario_key(index, sc.name)}")
        jobs.append(
            _Job(
                index=index,
                scenario=sc.name,
                description=sc.description,
                baseline=sc.is_baseline,
                inventory=base if snap is shared else snap,
                spec=merged,
                options=options,
                snapshot_source=source,
                spec_source=spec_source
                if not sc.spec
                else f"{spec_source} + {scenarios_source}:{scenario_key(index, sc.name)}",
                planner=planner,
                keep_plan=keep_plans,
                base=None if snap is shared else base,
            )
        )
    return jobs


# A worker's error comes back as (exit code, message); this rebuilds an error of the class that has that code.
_ERROR_CLASSES: dict[int, type[PoolshiftError]] = {
    cls.exit_code: cls for cls in (PlanningError, StalePlanError, ApiError, ExecutionError, LockedError,
                                   SolverTimeoutError)
}


def _error_for_exit(exit_code: int | None, message: str) -> PoolshiftError:
    """An error of the planner.errors class whose exit code is `exit_code` (PoolshiftError, exit 1, if none)."""
    return _ERROR_CLASSES.get(exit_code or 1, PoolshiftError)(message)


def run_jobs(jobs: Sequence[_Job], *, max_workers: int = MAX_WORKERS) -> list[ScenarioOutcome]:
    """Plan every job: inline, or with the parent and a forked worker taking turns (see the module docstring);
    outcomes keep the jobs' order.

    An InputError or other poolshift error from the planner is raised once all jobs finished, for the
    first scenario that had one; infeasible scenarios are returned as outcomes.
    """
    workers = max(1, min(max_workers, MAX_WORKERS, len(jobs)))
    with gc_paused():  # once for all: a thread's own pause would re-enable it under the other's feet
        outcomes = [_plan_one(job) for job in jobs] if workers == 1 else _in_workers(jobs, workers)
    for job, outcome in zip(jobs, outcomes, strict=True):
        if outcome.error_kind == "input":
            message = outcome.error or "bad input"
            # its own words name the scenario when their source is a spec or snapshot it edited; when they name the
            # caller's file (a pin of the unedited spec that the scenario's edits removed), say which scenario
            named = scenario_key(job.index, job.scenario) in message
            raise InputError(message if named else f"scenario {job.scenario}: {message}", path=None)
        if outcome.error_kind == "error":
            raise _error_for_exit(outcome.error_exit, f"scenario {outcome.name}: {outcome.error}")
    return outcomes


def longest_first(jobs: Sequence[_Job]) -> list[int]:
    """The jobs' positions, those that derive their own inventory first (they take longest), each group in order."""
    return sorted(range(len(jobs)), key=lambda i: isinstance(jobs[i].inventory, Inventory))


class _Queue:
    """The jobs not started yet, longest first, shared by the parent and its forked workers (a lock and two counters
    in shared memory, inherited by the fork): the workers take from the front, the parent from the back."""

    def __init__(self, order: Sequence[int], context: Any) -> None:
        self._order = list(order)
        self._ends = context.RawArray("i", [0, len(self._order)])  # the next job from the front; one past the back
        self._lock = context.Lock()

    def take(self, *, front: bool) -> int | None:
        with self._lock:
            low, high = int(self._ends[0]), int(self._ends[1])
            if low >= high:
                return None
            if front:
                self._ends[0] = low + 1
                return self._order[low]
            self._ends[1] = high - 1
            return self._order[high - 1]

    def clear(self) -> None:
        with self._lock:
            self._ends[0] = self._ends[1]


_FORKED: tuple[Sequence[_Job], _Queue] | None = None  # what a forked worker inherits: the jobs and their queue


def _take_and_plan(index: int | None = None) -> tuple[int, ScenarioOutcome] | None:
    """In a forked worker: plan job `index`, else the job at the front of the queue (None when none is left). A bug
    (any exception: poolshift errors come back as values) empties the queue, so that the parent stops too, and is
    raised."""
    assert _FORKED is not None
    jobs, queue = _FORKED
    index = queue.take(front=True) if index is None else index
    if index is None:
        return None
    try:
        return index, _plan_one(jobs[index])
    except BaseException:
        queue.clear()
        raise


def _in_workers(jobs: Sequence[_Job], workers: int) -> list[ScenarioOutcome]:
    """The parent plans jobs itself while `workers - 1` forked workers plan others, all taking them from one queue
    (`_Queue`) as they become free; threads where `fork` is not available."""
    global _FORKED
    if "fork" not in multiprocessing.get_all_start_methods():
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="whatif") as threads:
            return list(threads.map(_plan_one, jobs))
    context = multiprocessing.get_context("fork")
    queue = _Queue(longest_first(jobs), context)
    outcomes: list[ScenarioOutcome | None] = [None] * len(jobs)
    _FORKED = (jobs, queue)
    try:
        # The first submit forks every worker (a fork context starts them all at once, before the executor's own
        # thread), here, before any solver ran in this process: no solver threads or locks to inherit. Each worker
        # is given its first job (the longest); then it takes its next job itself when it is free: one task per
        # job, those that find the queue empty end at once.
        with ProcessPoolExecutor(max_workers=workers - 1, mp_context=context) as pool:
            firsts = [queue.take(front=True) for _ in range(workers - 1)]
            tasks = [pool.submit(_take_and_plan, first) for first in firsts]
            tasks += [pool.submit(_take_and_plan) for _ in range(len(jobs) - len(firsts))]
            try:
                while (index := queue.take(front=False)) is not None:
                    outcomes[index] = _plan_one(jobs[index])
            finally:
                queue.clear()  # after a failure here, the workers stop after their current job
            for task in tasks:
                done = task.result()
                if done is not None:
                    outcomes[done[0]] = done[1]
    finally:
        _FORKED = None
    done_all = [outcome for outcome in outcomes if outcome is not None]
    assert len(done_all) == len(jobs), "a scenario was neither planned by the parent nor by a worker"
    return done_all


def run_whatif(
    scenarios: ScenarioFile,
    snapshot: Mapping[str, Any],
    spec: Mapping[str, Any],
    *,
    scenarios_source: str,
    snapshot_source: str = "<snapshot>",
    spec_source: str = "<spec>",
    options: Any = None,
    planner: Planner = make_plan,
    only: Sequence[str] = (),
    max_workers: int = MAX_WORKERS,
    keep_plans: bool = True,
) -> list[ScenarioOutcome]:
    """Plan each scenario (see the module docstring) and return the outcomes in file order; with
    `keep_plans=False` the outcomes carry no plan document (`plan` is None)."""
    with gc_paused():
        jobs = prepare_jobs(
            scenarios,
            snapshot,
            spec,
            scenarios_source=scenarios_source,
            snapshot_source=snapshot_source,
            spec_source=spec_source,
            options=options,
            planner=planner,
            only=only,
            keep_plans=keep_plans,
        )
    return run_jobs(jobs, max_workers=max_workers)
