"""Drain and wait (PRODUCT §9, `workloads.busy_nodes: drain`): a step's busy nodes are drained before its migrate.

Owns: sending one step's drains (batch-drain, at most 10 nodes a call; a `draining` record on disk before each
call and `drained` after its answer, so that no run drains a node twice: a node any `draining` record names is
never drained again by this plan's runs); what a failed drain call means (401/403: the run stops; 429 or another
refusal: not accepted, nothing was drained; anything else may hide a call the API took: `drain_unanswered`, never
resent); the wait for drained nodes to run nothing (ShowPoolNode and ListWorkloads by `hostip`, every poll
interval, up to the spec's `drain_timeout` from the step's first drain of this attempt; past it the step fails,
exit 6, and `--resume` waits again without draining again); settling a drain a crash left without an answer; and
the drains a dry-run lists (`planned_drains`).
Must not: send a migrate, decide whether a step may be sent (planner.apply.submit), or choose the next step
(planner.apply.runner).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from planner.apply.busy import BusyNode, busy_in_snapshot, describe_workloads, ends_of, read_busy, show_nodes
from planner.apply.session import Session, is_final
from planner.apply.steps import Phase, StepRun
from planner.errors import ApiError, ApiStatusError
from planner.modelarts.client import ModelArtsClient
from planner.modelarts.objects import Workload

DRAIN_BATCH = 10  # batch-drain takes at most 10 nodes per call (modelarts_api.md §12)


def drain_or_wait(session: Session, client: ModelArtsClient, run: StepRun, busy: Mapping[str, BusyNode]) -> None:
    """The step's nodes in `busy` run something: drain those no drain covers yet, else wait for them. The step ends
    DRAINED (waiting), PENDING (a drain call was not taken: tried after a pause) or FAILED."""
    fresh = {name: b for name, b in busy.items() if name not in run.drained}
    if fresh:
        send_drains(session, client, run, fresh)
        return
    if run.phase is Phase.PENDING:  # drained by an earlier attempt of the step, and still busy
        session.move(run, "drain_wait", nodes=sorted(busy), reason="drained before; waiting for them to run nothing")
    hold(session, run, busy)


def send_drains(session: Session, client: ModelArtsClient, run: StepRun, busy: Mapping[str, BusyNode]) -> None:
    """batch-drain `busy`'s nodes, at most DRAIN_BATCH a call, each call between a `draining` and an answer record."""
    names = sorted(busy)
    for start in range(0, len(names), DRAIN_BATCH):
        chunk = names[start:start + DRAIN_BATCH]
        ends = ends_of(busy[n] for n in chunk)
        session.move(run, "draining", pool_name=run.pool_name, nodes=chunk, ends=ends)
        try:
            client.drain_nodes(run.pool_name, chunk)
        except ApiError as exc:
            if not _after_failed_drain(session, run, chunk, exc):
                return
            continue
        session.move(run, "drained", nodes=chunk)
        session.drains.append({"step": run.id, "wave": run.wave, "pool_name": run.pool_name,
                               "body": {"nodeNames": chunk}, "ends": ends})
        session.tell(f"step {run.id}: drained {', '.join(chunk)} (ends "
                     f"{describe_workloads(_unique(w for n in chunk for w in busy[n].ended))})")


def _after_failed_drain(session: Session, run: StepRun, chunk: list[str], exc: ApiError) -> bool:
    """A drain call raised (after the client's retries). True: go on with the next call; False: stop here."""
    if is_final(exc):   # credentials refused before the call was looked at: nothing drained, the run stops
        session.move(run, "drain_not_accepted", nodes=chunk, reason=str(exc))
        raise exc
    if isinstance(exc, ApiStatusError) and 400 <= exc.status < 500:
        session.move(run, "drain_not_accepted", nodes=chunk, reason=str(exc))
        if exc.status == 429:     # throttled: nothing drained; the step is tried again after a pause
            session.read_failed(run, exc)
        else:
            session.fail(run, f"the API refused to drain {', '.join(chunk)}: {exc}")
        return False
    session.move(run, "drain_unanswered", nodes=chunk,
                 reason=f"{exc}; the API may have taken the call: it is not sent again")
    return True


def hold(session: Session, run: StepRun, busy: Mapping[str, BusyNode]) -> None:
    """Drained nodes still run something: keep waiting, or fail the step once `drain_timeout` has passed."""
    timeout = session.spec.workload_rules.drain_timeout
    now = time.time()
    if run.drain_since is None:
        run.drain_since = now
    waited = now - run.drain_since
    if waited <= timeout:
        if run.id not in session.waiting:
            session.waiting.add(run.id)
            session.tell(f"step {run.id}: waiting for drained node(s) to stop: "
                         f"{'; '.join(b.describe() for b in busy.values())}")
        return
    lost = sorted(set(busy) & run.unanswered)
    hint = (f"; the drain call for {', '.join(lost)} got no answer (the API may never have received it): if the "
            f"workload keeps running, drain the node from the console" if lost else "")
    session.fail(run, f"{'; '.join(b.describe() for b in busy.values())} {waited:.0f} s after it was drained "
                      f"(workloads.drain_timeout {timeout} s); its migrate was not sent{hint}")


def wait_drained(session: Session, client: ModelArtsClient, run: StepRun) -> bool:
    """One look at a DRAINED step. True: none of its nodes is busy (or one left its pool, or a node became busy
    that no drain covers): the caller checks and sends it now. False: it still waits (or it failed: timed out)."""
    try:
        nodes = show_nodes(client, run.pool_name, run.names)
        present = {name: node for name, node in nodes.items() if node is not None}
        busy = read_busy(client, run.pool_name, present)
    except ApiError as exc:
        session.read_failed(run, exc)
        return False
    run.read_failures = 0
    if len(present) < len(nodes) or not busy or set(busy) - run.drained:
        return True
    hold(session, run, busy)
    return False


def settle_unanswered(session: Session) -> None:
    """A resumed run: every drain a crash left without an answer (DRAINING) may have been taken; it is recorded
    as such (`drain_unanswered`) and never sent again: the step waits for its nodes like any drained step."""
    for run in session.in_phase(Phase.DRAINING):
        nodes = list(run.in_drain)
        session.move(run, "drain_unanswered", nodes=nodes,
                     reason="the run that sent it was interrupted before its answer; it is not sent again")
        session.note(f"step {run.id}: the drain of the interrupted run may have reached the API; not sent again")


def planned_drains(snapshot: Mapping[str, Any], runs: Iterable[StepRun]) -> list[dict[str, Any]]:
    """The drains a run would send for `runs` (in order), from a pulled snapshot: each step's busy nodes no drain
    covers yet, at most DRAIN_BATCH a call, with what they end. A workload an earlier step ends (by its drain or
    its move) is not counted again."""
    ended: set[Workload] = set()
    drains: list[dict[str, Any]] = []
    for run in runs:
        busy = busy_in_snapshot(snapshot, run.names)
        live = {name: b for name, b in busy.items()
                if not (b.workloads and set(b.workloads) <= ended) and name not in run.drained}
        names = sorted(live)
        for start in range(0, len(names), DRAIN_BATCH):
            chunk = names[start:start + DRAIN_BATCH]
            drains.append({"step": run.id, "wave": run.wave, "pool_name": run.pool_name,
                           "body": {"nodeNames": chunk}, "ends": ends_of(live[n] for n in chunk)})
        ended |= {w for b in busy.values() for w in b.workloads}
    return drains


def _unique(workloads: Iterable[Workload]) -> list[Workload]:
    return list(dict.fromkeys(workloads))
