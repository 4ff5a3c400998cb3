"""Resuming: settle what the journal left open before a resumed run sends anything (and its dry-run preview).

Owns: per step, what the journal's last word means now: `submitting` without an answer -> ask the one
acceptance rule (SUBMITTED with the job it found, or PENDING: `not_accepted`); FAILED -> PENDING (`retry`:
tried again, its preconditions checked again); TIMED_OUT -> SUBMITTED (`track`: the same job is watched
again, never resent). `preview` makes the same moves in memory only, for `--resume` without `--execute` (and
DRAINING -> DRAINED, which a resumed run journals as `drain_unanswered`: planner.apply.drain).
Must not: send a write, or run the waves (that is the runner).
"""

from __future__ import annotations

import time

from planner.apply.session import Session
from planner.apply.steps import Phase, track_timed_out
from planner.modelarts.client import ModelArtsClient


def reconcile(session: Session, client: ModelArtsClient) -> None:
    """Settle every step the journal left open; journals what it decides (the run's `start` record is written)."""
    track_timed_out(session.runs.values())   # the `start` record just written says so in the journal
    for run in session.runs.values():
        if run.phase is Phase.SUBMITTING:
            verdict = session.accepted(client, run)
            if verdict.accepted:
                session.move(run, "submitted", job_id=verdict.job_id, recovered=True, reason=verdict.note)
            else:
                session.move(run, "not_accepted", reason=verdict.note)
            session.note(f"step {run.id}: the request of the interrupted run "
                         f"{'was' if verdict.accepted else 'was not'} accepted ({verdict.note})")
        elif run.phase is Phase.FAILED:
            session.note(f"step {run.id} failed before ({run.reason}); trying it again")
            session.move(run, "retry")
        if run.phase is Phase.SUBMITTED:
            run.submitted_at = time.monotonic()


def preview(session: Session, client: ModelArtsClient) -> None:
    """What `reconcile` would decide, in memory only (a dry-run writes nothing and sends nothing)."""
    track_timed_out(session.runs.values())
    for run in session.runs.values():
        if run.phase is Phase.SUBMITTING:
            verdict = session.accepted(client, run)
            session.note(f"step {run.id}: its last request {'was' if verdict.accepted else 'was not'} accepted "
                         f"({verdict.note})")
            if verdict.accepted:
                run.to(Phase.SUBMITTED, job_id=verdict.job_id)
            else:
                run.to(Phase.PENDING)
        elif run.phase is Phase.FAILED:
            session.note(f"step {run.id} failed before ({run.reason}); a resumed run tries it again")
            run.to(Phase.PENDING)
        elif run.phase is Phase.DRAINING:
            session.note(f"step {run.id}: the drain of the interrupted run may have reached the API; a resumed run "
                         f"does not send it again")
            run.to(Phase.DRAINED)
