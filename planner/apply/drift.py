"""The staleness gate: may the remaining steps of a plan run on the live inventory as it is now?

Owns: the decision from what `planner.apply.live.stale_changes` and the independent verifier find on the
live snapshot: note that nothing the plan depends on changed, accept drift (`--allow-drift`, only when the
verifier accepts every remaining step), or refuse with `StalePlanError` listing the changes.
Must not: read the API (it is given the snapshot), write the journal, or send anything.
"""

from __future__ import annotations

from planner.apply.live import LiveView, stale_changes
from planner.apply.session import Session
from planner.apply.steps import StepRun
from planner.errors import StalePlanError
from planner.files import JsonObject


def check_stale(session: Session, snapshot: JsonObject, moved: list[StepRun], remaining: list[StepRun]) -> None:
    """Refuse (StalePlanError) when what changed matters to the remaining steps, unless drift is allowed.

    `moved`: steps done or in flight (their nodes count as moved); accepted drift goes to `session.changes`.
    """
    from planner.verify import verify_steps

    if not remaining:
        return
    view = LiveView.from_snapshot(snapshot)
    changes = stale_changes(view, session.plan, moved=[r.step for r in moved],
                            remaining=[r.step for r in remaining])
    problems = verify_steps(snapshot, session.spec, [r.step for r in remaining])
    if not changes and problems:
        changes = [f"the remaining steps no longer pass the verifier: {p}" for p in problems]
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


def _note_unchanged(session: Session, snapshot: JsonObject, moved: list[StepRun], remaining: list[StepRun]) -> None:
    """Nothing the remaining steps depend on changed: say so, and whether the inventory is the plan's own."""
    if moved:
        session.note(f"{len(moved)} step(s) already done or in flight; the other {len(remaining)} still match "
                     f"the live inventory")
        return
    from planner.inventory import fingerprint_snapshot

    if fingerprint_snapshot(snapshot) == session.plan.inventory_fingerprint:
        session.note("the live inventory is the one the plan was made from")
    else:
        session.note("the live inventory differs from the one the plan was made from, but nothing this plan "
                     "depends on changed (its nodes, pools, node counts and subnet headroom)")
