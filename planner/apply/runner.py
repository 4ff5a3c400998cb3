"""Apply a reviewed plan: dry-run by default; with `execute`, run it wave by wave with a journal and a lock.

Owns: the order of work of an executed run (the expected digest, the project lock shared with `auto`, the
run lock, journal, reconciliation with the API after a crash, the staleness gate, waves, at most
`max_parallel` steps in flight, polling) and its outcome (`ApplyResult`, or an error of `planner.errors`).
The pieces live beside it: `submit` (one step's request), `poll` (one step's job, then `guard`: do the hard
rules still hold where it landed?), `inflight` (migrations in flight counted as landed), `resume` (what the
journal left open), `drift` (the staleness gate), `acceptance` (was a request accepted?), `dryrun`, and
`session` (the state they share), `busy` and `drain` (PRODUCT §9: the busy re-check before each step, and under
`workloads.busy_nodes: drain` the drains and the wait for drained nodes). Every phase change goes through the
step state machine (`steps`).
Must not: print, exit, install signal handlers (the CLI does; it sets `stop`), or send a write from a
dry-run: a dry-run only ever asks `client_factory(True)` for a client, which refuses anything but reads.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from planner.apply.busy import BusyNodeError
from planner.apply.drain import settle_unanswered, wait_drained
from planner.apply.drift import check_stale
from planner.apply.dryrun import dry_run
from planner.apply.journal import JOURNAL_FORMAT, Journal, run_lock
from planner.apply.options import ApplyOptions, ApplyResult, ClientFactory, Connection, ProgressFn
from planner.apply.poll import poll
from planner.apply.resume import reconcile
from planner.apply.session import Session
from planner.apply.steps import Phase, StepRun, replay
from planner.apply.submit import submit
from planner.errors import ApiError, ApplyFailedError, ExecutionError, InputError, StalePlanError
from planner.locks import project_lock
from planner.modelarts.client import ModelArtsClient
from planner.planfile import PlanDocument


def apply_plan(plan: PlanDocument, plan_path: Path, client_factory: ClientFactory, options: ApplyOptions, *,
               progress: ProgressFn | None = None, stop: threading.Event | None = None) -> ApplyResult:
    """Dry-run (default) or execute `plan`; see docs/apply.md.

    `client_factory(read_only)` builds a client; a dry-run only ever calls it with True. Raises
    StalePlanError (`.changes`), ExecutionError (`.step_id`, `.journal`; ApplyFailedError adds `.result`),
    ApiError, LockedError, InputError.
    """
    session = Session(plan, Path(plan_path), options, progress, stop or threading.Event())
    if options.expect_digest is not None and options.expect_digest != plan.digest:
        raise InputError(f"the plan's digest is {plan.digest}, not {options.expect_digest} (--expect-digest): it is "
                         f"not the plan that was reviewed; nothing was sent", source=str(plan_path), path="$.digest")
    if not options.execute:
        return dry_run(session, client_factory)
    return _execute(session, client_factory)


def connection_of(session: Session, client: ModelArtsClient) -> Connection:
    """Where this run talks to: the endpoint and region the caller gave (else the region's default endpoint and
    the plan's region), the project and workspace of the client."""
    o = session.options
    return Connection(endpoint=o.endpoint, region=o.region or session.plan.region, project_id=client.project_id,
                      workspace_id=client.workspace_id or "0")


def _project_lock(session: Session, client: ModelArtsClient) -> contextlib.AbstractContextManager[object]:
    """The project lock (planner.locks), shared with `auto` on this host; none when the caller holds it. Its
    region is the plan's (the region `auto` plans in), else the connection's."""
    if session.options.project_locked:
        return contextlib.nullcontext()
    where = connection_of(session, client)
    return project_lock(where.project_id, session.plan.region or where.region, where.workspace_id,
                        lock_dir=session.options.lock_dir, timeout=session.options.lock_timeout,
                        note=f"apply {session.plan_path.absolute()}")


def _execute(session: Session, client_factory: ClientFactory) -> ApplyResult:
    owner = f"project {session.plan.project_id} plan {session.plan_path}"
    with client_factory(False) as client, _project_lock(session, client), \
            run_lock(session.journal_path, owner=owner, timeout=session.options.lock_timeout):
        records = session.read_records()
        if records and not session.options.resume:
            raise InputError("the journal already records a run of this plan; pass --resume to continue it "
                             "(or --journal FILE to keep a separate journal)", source=str(session.journal_path))
        replay(session.runs, records, source=str(session.journal_path))
        session.check_project(client)
        if not records:
            if session.options.resume:
                session.note(f"no journal at {session.journal_path}: starting from the first step")
            # A fresh run: refuse a stale plan before anything is written or sent.
            check_stale(session, session.snapshot(client), [], list(session.runs.values()))
        with _open_journal(session, client, resumed=bool(records)):
            try:
                interrupted = _run(session, client, resumed=bool(records))
            except ApiError as exc:
                in_flight = session.in_flight()
                session.write("stopped", reason=f"API error: {exc}", in_flight=in_flight)
                raise ApiError(f"{exc}; {len(in_flight)} step(s) in flight; {session.resume_hint()}") from exc
            except ExecutionError as exc:  # a lost answer the API cannot account for
                session.write("stopped", reason=str(exc), in_flight=session.in_flight())
                raise
        result = session.result(executed=True, requests=session.requests, interrupted=interrupted)
    if session.failures:
        also = f"; also {session.refusal}" if session.refusal is not None else ""
        raise ApplyFailedError(session.failure_message() + also, step_id=session.failures[0].id,
                               journal=str(session.journal_path), result=result)
    if session.refusal is not None:
        raise session.refusal
    return result


@contextlib.contextmanager
def _open_journal(session: Session, client: ModelArtsClient, *, resumed: bool) -> Iterator[None]:
    with Journal(session.journal_path) as journal:
        session.journal = journal
        o = session.options
        session.write("start", format=JOURNAL_FORMAT, plan=session.fingerprint, plan_path=str(session.plan_path),
                      project_id=session.plan.project_id, steps=session.total, resume=resumed,
                      pid=os.getpid(), digest=session.plan.digest,
                      connection=connection_of(session, client).to_record(),
                      options={"max_parallel": o.max_parallel, "poll_interval": o.poll_interval,
                               "job_timeout": o.job_timeout, "keep_going": o.keep_going,
                               "allow_drift": o.allow_drift})
        if session.changes:
            session.write("drift_accepted", changes=session.changes)
        try:
            yield
        finally:
            session.journal = None


def _run(session: Session, client: ModelArtsClient, *, resumed: bool) -> bool:
    """Reconcile (after a crash), track what is in flight, re-check staleness, then run the waves.

    Returns True when a stop request ended the run with steps not started.
    """
    if resumed:
        _resume(session, client)
    for wave in sorted({r.wave for r in session.runs.values()}):
        if session.halted():
            break
        _run_wave(session, client, [r for r in session.runs.values() if r.wave == wave])
    pending = [r.id for r in session.not_sent()]
    if session.refusal is not None:  # the run stops before a step whose node became busy (`keep`): exit 4
        session.write("refused", reason="busy", changes=session.refusal.changes, pending=pending)
        return False
    if session.stop.is_set() and pending:
        session.write("stopped", reason="signal", pending=pending)
        session.note(f"stopped on request: {len(pending)} step(s) not started; {session.resume_hint()}")
        return True
    session.write("finished", done=session.done(), failed=sorted(r.id for r in session.failures), pending=pending)
    return False


def _resume(session: Session, client: ModelArtsClient) -> None:
    """Settle what the journal left open, track the steps in flight to their end, then re-check staleness."""
    reconcile(session, client)
    settle_unanswered(session)
    in_flight = session.in_phase(Phase.SUBMITTED)
    if in_flight:
        session.note(f"tracking step(s) {', '.join(str(r.id) for r in in_flight)} already in flight")
        _track(session, client, in_flight)
    remaining = session.not_sent()
    if not remaining or session.halted():
        return
    moved = session.in_phase(Phase.SUCCEEDED, Phase.SUBMITTED, Phase.TIMED_OUT)  # done, or may still land
    try:
        check_stale(session, session.snapshot(client), moved, remaining)
    except StalePlanError as exc:
        session.write("refused", reason="busy" if isinstance(exc, BusyNodeError) else "stale", changes=exc.changes)
        raise
    if session.changes:
        session.write("drift_accepted", changes=session.changes)


def _track(session: Session, client: ModelArtsClient, in_flight: list[StepRun]) -> None:
    """Poll the steps until each has left SUBMITTED (succeeded, failed or timed out)."""
    while in_flight:
        time.sleep(session.options.poll_interval)
        for run in list(in_flight):
            poll(session, client, run)
            if run.phase is not Phase.SUBMITTED:
                in_flight.remove(run)


def _run_wave(session: Session, client: ModelArtsClient, wave: list[StepRun]) -> None:
    """Run the wave's steps not sent yet, at most `max_parallel` at once (a step counts from its first drain or
    its POST), and watch them to their end: jobs polled, drained nodes waited for, then their migrate sent."""
    queue = deque(r for r in wave if r.phase is Phase.PENDING)
    active = [r for r in wave if r.phase in (Phase.SUBMITTED, Phase.DRAINED)]
    while True:
        while queue and len(active) < session.options.max_parallel and not session.halted():
            run = queue[0]
            submit(session, client, run)
            if run.phase is Phase.PENDING:  # reads failed, the API did not take it, or refused: after a pause
                break
            queue.popleft()
            if run.phase in (Phase.SUBMITTED, Phase.DRAINED):
                active.append(run)
        if session.halted():  # steps waiting for drained nodes sent nothing yet: they wait no more
            active = [r for r in active if r.phase is Phase.SUBMITTED]
        if not active and (not queue or session.halted()):
            return
        time.sleep(session.options.poll_interval)
        for run in list(active):
            _watch(session, client, run)
            if run.phase in (Phase.SUBMITTED, Phase.DRAINED):
                continue
            active.remove(run)
            if run.phase is Phase.PENDING:  # its migrate was not accepted (or a drain not taken): try again
                queue.appendleft(run)


def _watch(session: Session, client: ModelArtsClient, run: StepRun) -> None:
    """One look at an active step: poll its job, or see whether its drained nodes are idle and send it then."""
    if run.phase is Phase.SUBMITTED:
        poll(session, client, run)
    elif not session.halted() and wait_drained(session, client, run):
        submit(session, client, run)
