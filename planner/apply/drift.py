"""The staleness gate: may the remaining steps of a plan run on the live inventory as it is now?

Owns: the decision from what `planner.apply.live.stale_changes`, the busy nodes of the remaining steps under
`workloads.busy_nodes: keep` (PRODUCT §9: a node that became busy since the plan), the independent verifier (with
the plan's own spec) and a replay of every remaining step's preconditions find on the live snapshot (migrations
in flight already counted as landed by the caller): note that nothing the plan depends on changed, accept drift
(`--allow-drift`, only when the verifier accepts every remaining step and each of them would pass its
preconditions in turn), or refuse with `StalePlanError` listing the changes (`BusyNodeError` for a node that
became busy under `keep`: no flag lets it move), before anything is sent. A plan the
verifier refuses on the very inventory it claims to be made from was modified (a forged plan, resealed):
InputError (exit 2).
Must not: read the API (it is given the snapshot), write the journal, or send anything.
"""

from __future__ import annotations

from planner.apply.busy import BusyNodeError, busy_in_snapshot
from planner.apply.live import LiveView, stale_changes, step_problems
from planner.apply.session import Session
from planner.apply.steps import StepRun
from planner.errors import InputError, StalePlanError
from planner.files import JsonObject
from planner.planfile import PlanDocument, PlanStep


def first_failing_step(view: LiveView, plan: PlanDocument,
                       remaining: list[PlanStep]) -> tuple[PlanStep, list[str]] | None:
    """Replay the remaining steps on `view`, wave by wave, as apply will send them: each step's preconditions
    (planner.apply.live.step_problems) on the state the steps before it leave; the first step that would fail,
    with its problems, or None. (Issue 17.2: a run that sends step 1 and then fails step 2 on every resume.)"""
    ips = plan.spec.defaults.ips_per_node
    waves: dict[int, list[PlanStep]] = {}
    for step in remaining:
        waves.setdefault(step.wave, []).append(step)
    for wave in sorted(waves):
        for step in waves[wave]:
            problems = step_problems(view, step, plan)
            if problems:
                return step, problems
            view.land(step, ips)
        view.free_sources(waves[wave], ips)
    return None


def check_stale(session: Session, snapshot: JsonObject, moved: list[StepRun], remaining: list[StepRun]) -> None:
    """Refuse (StalePlanError) when what changed matters to the remaining steps, unless drift is allowed.

    `moved`: steps done or in flight (their nodes count as moved); accepted drift goes to `session.changes`.
    """
    from planner.verify import verify_steps

    if not remaining:
        return
    view = LiveView.from_snapshot(snapshot)
    busy = busy_changes(session, snapshot, remaining)
    changes = busy + stale_changes(view, session.plan, moved=[r.step for r in moved],
                                   remaining=[r.step for r in remaining])
    problems = verify_steps(snapshot, session.spec, [r.step for r in remaining])
    if problems and not moved and _made_from(session, snapshot):
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(f"the plan was modified: on the very inventory it was made from, the independent verifier "
                         f"refuses it with its own spec: {problems[0]}{more}; nothing was sent",
                         source=str(session.plan_path), path="$.steps")
    if busy:
        _refuse_busy(session, busy, resumed=bool(moved) or session.options.resume)
    if not changes and problems:
        changes = [f"the remaining steps no longer pass the verifier: {p}" for p in problems]
    failing = first_failing_step(LiveView.from_snapshot(snapshot), session.plan, [r.step for r in remaining])
    if failing is not None and (not changes or (session.options.allow_drift and not problems)):
        step, why = failing
        raise StalePlanError(f"the plan is stale: step {step.id} would not pass its preconditions on the live "
                             f"inventory ({'; '.join(why)}); refused before sending any of the remaining steps; "
                             f"plan again",
                             changes=changes + [f"step {step.id} would fail: {p}" for p in why])
    if not changes:
        _note_unchanged(session, snapshot, moved, remaining)
        return
    if session.options.allow_drift and not problems:
        session.changes = changes
        session.note(f"the inventory drifted ({len(changes)} change(s)); --allow-drift: every remaining step still "
                     f"passes the verifier on the live inventory, so they run")
        return
    if session.options.allow_drift:
        changes = changes + [f"verifier: {p}" for p in problems if f"verifier: {p}" not in changes]
        advice = "the remaining steps do not pass the verifier on the live inventory; plan again"
    else:
        advice = "plan again, or pass --allow-drift to run it if its remaining steps still verify"
    more = f" (and {len(changes) - 1} more)" if len(changes) > 1 else ""
    raise StalePlanError(f"the plan is stale: {changes[0]}{more}; {advice}", changes=changes)


def busy_changes(session: Session, snapshot: JsonObject, remaining: list[StepRun]) -> list[str]:
    """Under `workloads.busy_nodes: keep` (PRODUCT §9), each node of a remaining step that runs something now: a
    change the plan cannot run with (the planner never moves a busy node under `keep`; this one became busy)."""
    if session.spec.workload_rules.busy_nodes != "keep":
        return []
    return [f"{b.describe()} (step {run.id}), and workloads.busy_nodes is keep"
            for run in remaining for b in busy_in_snapshot(snapshot, run.names).values()]


def _refuse_busy(session: Session, busy: list[str], *, resumed: bool) -> None:
    """Nodes of the remaining steps run something and the spec says `keep`: nothing is sent (exit 4); neither
    `--allow-drift` nor planning from this inventory would move them, so the advice is to wait."""
    more = f" (and {len(busy) - 1} more)" if len(busy) > 1 else ""
    then = session.resume_hint() if resumed else "run the same command again"
    raise BusyNodeError(f"the plan cannot run now: {busy[0]}{more}, so that node never moves; no further step was "
                        f"sent; wait for the workload to end (or plan again, or drain it), then {then}", changes=busy)


def _made_from(session: Session, snapshot: JsonObject) -> bool:
    """The live inventory is exactly the one the plan says it was made from."""
    from planner.inventory import fingerprint_snapshot

    return fingerprint_snapshot(snapshot) == session.plan.inventory_fingerprint


def _note_unchanged(session: Session, snapshot: JsonObject, moved: list[StepRun], remaining: list[StepRun]) -> None:
    """Nothing the remaining steps depend on changed: say so, and whether the inventory is the plan's own."""
    if moved:
        session.note(f"{len(moved)} step(s) already done or in flight; the other {len(remaining)} still match "
                     f"the live inventory")
        return
    if _made_from(session, snapshot):
        session.note("the live inventory is the one the plan was made from")
    else:
        session.note("the live inventory differs from the one the plan was made from, but nothing this plan "
                     "depends on changed (its nodes, pools, node counts and subnet headroom)")
