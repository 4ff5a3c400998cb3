"""The dry-run: what a run (or, with `--resume`, a resumed run) would send, from live reads only.

Owns: the order of a dry-run (journal read only with `--resume`, project check, the resume preview, the
staleness gate) and the requests it lists: under `workloads.busy_nodes: drain` the batch-drain calls first, each
with the workloads it ends (PRODUCT §9), then the migrations; under `ignore` a note per step that ends
workloads. Must not: write the journal, take the lock, or ask for any client
but `client_factory(True)`, whose transport refuses every method but GET/HEAD/OPTIONS before it is sent.
"""

from __future__ import annotations

from planner.apply.busy import busy_in_snapshot
from planner.apply.drain import planned_drains
from planner.apply.drift import check_stale
from planner.apply.journal import read_journal
from planner.apply.options import ApplyResult, ClientFactory
from planner.apply.resume import preview
from planner.apply.session import Session
from planner.apply.steps import Phase, StepRun, replay
from planner.errors import StalePlanError
from planner.files import JsonObject


def dry_run(session: Session, client_factory: ClientFactory) -> ApplyResult:
    """Every request the (resumed) run would send, wave by wave; StalePlanError when the plan no longer fits."""
    options = session.options
    records = session.read_records() if options.resume else []
    replay(session.runs, records, source=str(session.journal_path))
    if options.resume and not records:
        session.note(f"no journal at {session.journal_path}: a resumed run would start from the first step")
    with client_factory(True) as client:
        session.check_project(client)
        preview(session, client)
        moved = session.in_phase(Phase.SUCCEEDED, Phase.SUBMITTED)
        remaining = session.not_sent()
        in_flight = [r.id for r in moved if r.phase is Phase.SUBMITTED]
        if in_flight:
            session.note(f"step(s) {', '.join(map(str, in_flight))} are in flight; a resumed run tracks them")
        snapshot = session.snapshot(client)
        try:
            check_stale(session, snapshot, moved, remaining)
        except StalePlanError as exc:
            if options.resume or not read_journal(session.journal_path):
                raise
            raise type(exc)(f"{exc} (a journal of this plan exists at {session.journal_path}: add --resume to "
                                 f"see what a resumed run would send)", changes=exc.changes) from exc
    _busy_notes(session, snapshot, remaining)
    requests = [{"step": r.id, "wave": r.wave, "pool_name": r.pool_name, "body": r.body} for r in remaining]
    return session.result(executed=False, requests=requests)


def _busy_notes(session: Session, snapshot: JsonObject, remaining: list[StepRun]) -> None:
    """The drains a run would send (`drain`), or the workloads its migrations would end (`ignore`)."""
    policy = session.spec.workload_rules.busy_nodes
    if policy == "drain":
        session.drains = planned_drains(snapshot, remaining)
        if session.drains:
            nodes = sum(len(d["body"]["nodeNames"]) for d in session.drains)
            session.note(f"{nodes} busy node(s) would be drained first, in {len(session.drains)} batch-drain "
                         f"call(s); each step's migrate waits until its nodes run nothing")
    elif policy == "ignore":
        for run in remaining:
            busy = busy_in_snapshot(snapshot, run.names)
            if busy:
                session.note(f"step {run.id} would end {'; '.join(b.describe() for b in busy.values())} "
                             f"(workloads.busy_nodes is ignore)")
