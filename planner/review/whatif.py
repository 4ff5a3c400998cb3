"""What-if planning: plan every scenario of a scenario file and compare the outcomes side by side.

Each scenario's snapshot and spec are built first (`planner.review.scenarios`), and the caller's snapshot is
derived (validated) once, so a bad scenario or snapshot stops the run (exit 2) before any solving. Scenarios
without inventory overrides share that one `Inventory`; a scenario with overrides edits a copy-on-write view
of the caller's snapshot (planner.review.scenarios.snapshot) instead of a deep copy, and its inventory is
derived where the scenario is planned, so two workers derive theirs at the same time (7 scenarios at 100k
nodes, 4 with overrides: 8.6-9.3 s against 10.2-11.7 s deriving them all first, benchmarks/RESULTS.md). Then
every scenario is planned through `planner.planning.make_plan` (or the planner function given, which takes an
`Inventory` or a raw snapshot as make_plan does), in up to two worker processes when there are several. The
workers are forked once the jobs are built, so they inherit the inventories and edited snapshots instead of
receiving them (one pickled job was 39 MB and 1.2 s at 100k nodes); only the outcomes travel back. Threads
would share them too, but the planner's Python stages hold the GIL: two threads planned 7 scenarios at 100k
nodes no faster than one (benchmarks/RESULTS.md). Where `fork` is not available, threads.
Workers return plain values, never exceptions: poolshift's errors carry keyword-only attributes that do not
survive pickling.
A scenario that has no feasible placement (PlanningError) is an outcome like any other and does not stop the
others; an InputError from the planner (for example a spec overlay naming an unknown pool) is raised after
all scenarios finished, naming the scenario.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
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
from planner.review.tables import md_escape, md_table, text_table

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
        plan=document,
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
    base = build_inventory(shared, source=snapshot_source)  # checks the caller's snapshot before any solving
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
    """Plan every job, in up to two forked workers when there are several; outcomes keep the jobs' order.

    An InputError or other poolshift error from the planner is raised once all jobs finished, for the
    first scenario that had one; infeasible scenarios are returned as outcomes.
    """
    workers = max(1, min(max_workers, MAX_WORKERS, len(jobs)))
    with gc_paused():  # once for all: a thread's own pause would re-enable it under the other's feet
        outcomes = [_plan_one(job) for job in jobs] if workers == 1 else _in_workers(jobs, workers)
    for outcome in outcomes:
        if outcome.error_kind == "input":
            raise InputError(outcome.error or "bad input", path=None)
        if outcome.error_kind == "error":
            raise _error_for_exit(outcome.error_exit, f"scenario {outcome.name}: {outcome.error}")
    return outcomes


_FORKED_JOBS: Sequence[_Job] = ()  # the jobs a forked worker inherits; it is sent only their index


def _plan_inherited(index: int) -> ScenarioOutcome:
    return _plan_one(_FORKED_JOBS[index])


def _in_workers(jobs: Sequence[_Job], workers: int) -> list[ScenarioOutcome]:
    global _FORKED_JOBS
    pool: Executor
    if "fork" not in multiprocessing.get_all_start_methods():
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="whatif") as pool:
            return list(pool.map(_plan_one, jobs))
    _FORKED_JOBS = jobs
    try:
        # fork before any solver ran in this process: no solver threads or locks to inherit; a fork context
        # starts all workers at once, before the executor's own thread
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_plan_inherited, range(len(jobs))))
    finally:
        _FORKED_JOBS = ()


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
) -> list[ScenarioOutcome]:
    """Plan each scenario (see the module docstring) and return the outcomes in file order."""
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
        )
    return run_jobs(jobs, max_workers=max_workers)


# ----------------------------------------------------------------------------------------------- output

_HEADERS = [
    "scenario",
    "feasible",
    "status",
    "D before",
    "D after",
    "moves",
    "busy",
    "requests",
    "waves",
    "staging",
    "binding rules",
]
_NUMERIC = [False, False, False, True, True, True, True, True, True, True, False]


def _row(o: ScenarioOutcome, *, wrap: int | None) -> list[Any]:
    name = o.name + (" (baseline)" if o.baseline and o.name != "baseline" else "")
    if o.feasible:
        why = "; ".join(o.binding) or "-"
    else:
        why = "; ".join(o.binding) or (o.error or "infeasible")
    if wrap is not None and len(why) > wrap:
        why = why[: wrap - 1] + "…"
    return [
        name,
        "yes" if o.feasible else "NO",
        o.status,
        o.deviation_before,
        o.deviation_after,
        o.moves,
        o.busy_moves,
        o.requests,
        o.waves,
        o.staging_moves,
        why,
    ]


def render_comparison(outcomes: Sequence[ScenarioOutcome], *, markdown: bool = False) -> str:
    """The scenarios side by side as a text table, or a Markdown table with details below it."""
    if markdown:
        lines = [
            "## What-if scenarios",
            "",
            md_table(_HEADERS, [_row(o, wrap=None) for o in outcomes], numeric=_NUMERIC),
        ]
        described = [o for o in outcomes if o.description]
        if described:
            lines += ["", *(f"- **{md_escape(o.name)}**: {md_escape(o.description or '')}" for o in described)]
        infeasible = [o for o in outcomes if not o.feasible]
        for o in infeasible:
            lines += ["", f"**{md_escape(o.name)}** has no feasible placement: {md_escape(o.error or '')}"]
        return "\n".join(lines) + "\n"
    lines = [text_table(_HEADERS, [_row(o, wrap=70) for o in outcomes], numeric=_NUMERIC)]
    for o in outcomes:
        if not o.feasible:
            lines.append(f"{o.name}: {o.error}")
    return "\n".join(lines) + "\n"


def comparison_document(outcomes: Sequence[ScenarioOutcome]) -> dict[str, Any]:
    """`{"scenarios": [...], "baseline": name | None}` for `--output json`."""
    baseline = next((o.name for o in outcomes if o.baseline), None)
    return {"scenarios": [o.to_dict() for o in outcomes], "baseline": baseline}
