"""Watching one submitted step: its job's phase, then the nodes arriving, within `--job-timeout`.

Owns: what ends a SUBMITTED step: SUCCEEDED once the job succeeded and every node is `Available` in the
target pool (then the hard rules are checked on the landed state, planner.apply.guard); FAILED when the job
failed (or, for an accepted request whose job is unknown, the nodes are back in the source pool); TIMED_OUT
when neither happened within the job timeout (the job is not cancelled; the next run tracks it again).
Reads that fail count towards the session's limit.
Must not: send anything, or choose which steps to watch (that is the runner).
"""

from __future__ import annotations

import time

from planner.apply.guard import check_landed
from planner.apply.live import node_phase, read_view
from planner.apply.session import Session
from planner.apply.steps import Phase, StepRun
from planner.errors import ApiError
from planner.modelarts.client import ModelArtsClient


def poll(session: Session, client: ModelArtsClient, run: StepRun) -> None:
    """One look at a SUBMITTED step; it may end SUCCEEDED, FAILED or TIMED_OUT, or stay SUBMITTED."""
    started = run.submitted_at if run.submitted_at is not None else time.monotonic()
    try:
        if run.job_id is not None:
            job = client.get_job(run.job_id, pool_name=run.pool_name)
            phase, message = str(job.get("phase") or ""), str(job.get("message") or "")
        else:
            phase, message = "Success", ""  # accepted but its job is unknown: the nodes tell
        if "Failed" in phase:
            session.fail(run, f"job {run.job_id} ended {phase}" + (f": {message}" if message else ""))
            return
        ended = phase == "Success" and _landed(session, client, run)
        if not ended:
            run.read_failures = 0
    except ApiError as exc:
        session.read_failed(run, exc)
        return
    if ended:
        if run.phase is Phase.SUCCEEDED:
            check_landed(session, client, run)  # raises ExecutionError when someone else broke a hard rule
        return
    if time.monotonic() - started > session.options.job_timeout:
        _time_out(session, run)


def _landed(session: Session, client: ModelArtsClient, run: StepRun) -> bool:
    """After a successful job: True once the step ended (its nodes arrived, or came back without a job)."""
    view = read_view(client, {run.pool_name, run.target}, networks=False)
    places = {n: view.where(n) for n in run.names}
    if all(p == run.target and node_phase(view.nodes[p][n]) == "Available" for n, p in places.items()):
        session.move(run, "succeeded", job_id=run.job_id)
        session.tell(f"step {run.id}: done, {len(run.names)} node(s) in pool {run.target}")
        return True
    if run.job_id is None and all(p == run.pool_name for p in places.values()):
        session.fail(run, f"its nodes are back in pool {run.pool_name}: the migration did not complete")
        return True
    return False


def _time_out(session: Session, run: StepRun) -> None:
    """The job has not ended in time: TIMED_OUT (a `timeout` record); the run stops as for a failed step."""
    seconds = session.options.job_timeout
    reason = (f"job {run.job_id} has not ended (or its nodes not arrived) after {seconds:g} s; "
              f"it may still be running")
    session.move(run, "timeout", job_id=run.job_id, seconds=seconds, reason=reason)
    session.failures.append(run)
    session.tell(f"step {run.id}: {reason}")
