"""Sending one step: its preconditions on live reads, the busy re-check, the `submitting` record, the POST, and
what its answer means.

Owns: the order that makes a crash at any moment safe (the `submitting` record is on disk before the POST,
the `submitted` record with the job id before the first poll), the preconditions read as late as possible
(the step's two pools, the workloads on its nodes, then the project's migration jobs as the last read before
the POST, every one still running counted as landed, so that another host's run is seen however the cloud
lists its nodes in flight), what a node that runs something now means under the spec's
`workloads.busy_nodes` (PRODUCT §9: `keep` stops the run before the step, exit 4; `drain` drains and waits,
planner.apply.drain; `ignore` notes it and sends), and the reading of a failed POST: a refusal
(4xx but 429) fails the step; 401/403 stop the run at once (never asked again); anything else may hide an
accepted request, so the one acceptance rule (planner.apply.acceptance) decides before anything is resent.
Must not: poll, wait between steps or decide which step goes next (that is the runner).
"""

from __future__ import annotations

import time

from planner.apply.busy import BusyNode, describe_workloads, read_busy
from planner.apply.drain import drain_or_wait
from planner.apply.inflight import SKEW_MS, as_landed, now_ms, read_migrations
from planner.apply.journal import request_fingerprint
from planner.apply.live import LiveView, read_pools, step_problems
from planner.apply.session import Session, is_final
from planner.apply.steps import StepRun
from planner.errors import ApiError, ApiStatusError
from planner.files import JsonObject
from planner.modelarts.client import ModelArtsClient
from planner.modelarts.objects import name_of


def submit(session: Session, client: ModelArtsClient, run: StepRun) -> None:
    """Send a step not sent yet (PENDING, or DRAINED with its nodes idle). It ends SUBMITTED (tracked from now),
    FAILED, PENDING (to try after a pause; or refused under `keep`: the run stops) or DRAINED (waiting for its
    drained nodes to run nothing)."""
    started = now_ms()
    try:
        snapshot = read_pools(client, {run.pool_name, run.target})
        busy = read_busy(client, run.pool_name, _listed(snapshot, run))
        migrations = read_migrations(client)  # the last read before the POST: the window left is one request
    except ApiError as exc:
        session.read_failed(run, exc)
        return
    landed, _ = as_landed(snapshot, migrations, ips_per_node=session.spec.defaults.ips_per_node,
                          since_ms=started - SKEW_MS)
    problems = step_problems(LiveView.from_snapshot(landed, partial=True), run.step, session.plan)
    if problems:
        session.fail(run, "its preconditions do not hold on the live inventory: " + "; ".join(problems))
        return
    if busy and not _clear_to_send(session, client, run, busy):
        return
    session.move(run, "submitting", attempt=run.attempts + 1, request=request_fingerprint(run.pool_name, run.body),
                 pool_name=run.pool_name, to_pool=run.target, nodes=run.names)
    try:
        job_id = client.migrate_nodes(run.pool_name, run.body)
    except ApiError as exc:
        _after_failed_post(session, client, run, exc)
        return
    _submitted(session, run, job_id, recovered=False)


def _listed(snapshot: JsonObject, run: StepRun) -> dict[str, JsonObject]:
    """The step's nodes as the source pool lists them just now (a node not there fails the preconditions)."""
    wanted = set(run.names)
    return {name_of(n): n for n in (snapshot.get("nodes") or {}).get(run.pool_name) or [] if name_of(n) in wanted}


def _clear_to_send(session: Session, client: ModelArtsClient, run: StepRun, busy: dict[str, BusyNode]) -> bool:
    """Nodes of the step run something now (PRODUCT §9). True: send it anyway (`ignore`). Otherwise the step is
    not sent now: refused, and the run stops (`keep`), or drained / waited for (`drain`)."""
    policy = session.spec.workload_rules.busy_nodes
    if policy == "ignore":
        ended = describe_workloads(dict.fromkeys(w for b in busy.values() for w in b.ended))
        session.note(f"step {run.id} moves busy node(s) {', '.join(sorted(busy))}, which ends {ended} "
                     f"(workloads.busy_nodes is ignore)")
        return True
    if policy == "keep":
        session.refuse_busy(run, busy)
        return False
    drain_or_wait(session, client, run, busy)
    return False


def _submitted(session: Session, run: StepRun, job_id: str | None, *, recovered: bool) -> None:
    session.move(run, "submitted", job_id=job_id, **({"recovered": True} if recovered else {}))
    run.submitted_at = time.monotonic()
    run.read_failures = 0
    session.requests.append({"step": run.id, "wave": run.wave, "pool_name": run.pool_name, "body": run.body,
                             "job_id": job_id})
    session.tell(f"step {run.id}: submitted, job {job_id}")


def _after_failed_post(session: Session, client: ModelArtsClient, run: StepRun, exc: ApiError) -> None:
    """The POST raised: fail the step, stop the run, adopt the job the API did accept, or try again later."""
    if is_final(exc):
        # The credentials or permissions were refused before the request was looked at: nothing was accepted,
        # and asking again (or asking the API anything) can only lock the key. The run stops (exit 5).
        session.move(run, "not_accepted", reason=f"{exc}")
        raise exc
    if isinstance(exc, ApiStatusError) and 400 <= exc.status < 500 and exc.status != 429:
        session.fail(run, f"the API refused the request: {exc}")
        return
    verdict = session.accepted(client, run)   # 429 after the client's retries, 5xx, a lost answer
    if verdict.accepted:
        _submitted(session, run, verdict.job_id, recovered=True)
        return
    session.move(run, "not_accepted", reason=f"{exc}; {verdict.note}")
    session.read_failed(run, exc)
