"""After a step landed: do the hard rules still hold on its two pools? (issue 17.1)

Two hosts share no lock file, and each checks a step's preconditions (with every migration in flight counted
as landed) just before its POST; what is left is the moment between one host's check and its POST, when
another host's request may slip in. This module is how a run notices: once a step's nodes have arrived, it
reads its two pools again, counts every migration still in flight as landed, and checks the hard rules a
step must keep (PRODUCT §4): the source keeps its floor, the target stays within its `max` and the arriving
flavor's `maxCount`, the target subnet keeps its reserve. When one is broken the run stops (ExecutionError,
exit 6; `--resume` continues once the pools are sorted out) naming the pool and the jobs this run did not
start that moved nodes into or out of it, so that it does not make things worse.

Owns: that check (`landed_problems`, pure) and its reads (`check_landed`). Must not: send anything, or try to
repair anything (a migration cannot be undone from here).
"""

from __future__ import annotations

from planner.apply.acceptance import since_ms
from planner.apply.inflight import SKEW_MS, Migration, as_landed, now_ms, read_migrations, touching
from planner.apply.live import LiveView, read_pools
from planner.apply.session import Session
from planner.apply.steps import StepRun
from planner.errors import ExecutionError
from planner.modelarts.client import ModelArtsClient
from planner.modelarts.objects import dig
from planner.planfile import PlanDocument, PlanStep


def landed_problems(view: LiveView, plan: PlanDocument, step: PlanStep) -> list[tuple[str, str]]:
    """(pool, problem) for each hard rule the landed state of `step`'s pools breaks (empty: none)."""
    src, tgt, flavor = step.source, step.target, step.flavor
    problems: list[tuple[str, str]] = []
    source_row, target_row = plan.pools.get(src), plan.pools.get(tgt)
    floor = source_row.floor if source_row is not None else max(2, plan.spec.defaults.min_nodes)
    if src in view.pools and view.count(src) < floor:
        problems.append((src, f"pool {src} has {view.count(src)} node(s), below its floor {floor}"))
    ceiling = target_row.max if target_row is not None else None
    if tgt in view.pools and ceiling is not None and view.count(tgt) > ceiling:
        problems.append((tgt, f"pool {tgt} has {view.count(tgt)} nodes, above its max {ceiling}"))
    cap = view.flavors(tgt).get(flavor) if tgt in view.pools else None
    have = sum(1 for n in view.nodes.get(tgt, {}).values() if dig(n, "spec", "flavor") == flavor)
    if cap is not None and have > cap:
        problems.append((tgt, f"pool {tgt} has {have} {flavor} nodes, above its maxCount {cap}"))
    subnet = view.subnet(tgt) if tgt in view.pools else None
    reserve = plan.spec.defaults.ip_reserve
    if subnet is not None and subnet in view.free and view.free[subnet] < reserve:
        problems.append((tgt, f"subnet {subnet} of pool {tgt} has {view.free[subnet]} free address(es), below "
                              f"its reserve {reserve}"))
    return problems


def check_landed(session: Session, client: ModelArtsClient, run: StepRun) -> None:
    """Raise ExecutionError (exit 6) when a hard rule is broken on the pools `run` just landed in and left."""
    started = now_ms()
    snapshot = session.patiently(lambda: read_pools(client, {run.pool_name, run.target}))
    migrations = session.patiently(lambda: read_migrations(client))
    # the API's own address count, no guessing: a false alarm here would stop a healthy run
    landed, _ = as_landed(snapshot, migrations, addresses=False, since_ms=started - SKEW_MS)
    problems = landed_problems(LiveView.from_snapshot(landed, partial=True), session.plan, run.step)
    if not problems:
        return
    ours, since = session.known_jobs(), since_ms(run.submitting_ts) or 0
    pool, problem = problems[0]
    foreign = [m for m in touching(migrations, pool)
               if m.job_id not in ours and (m.running or m.ended_ms >= since)]  # not one that ended long before
    raise ExecutionError(f"after step {run.id}: {problem} (migrations in flight counted as landed); "
                         f"{_blame(foreign)}; this run stops so as not to make it worse: check the pools, then "
                         f"{session.resume_hint()}", step_id=run.id, journal=str(session.journal_path))


def _blame(foreign: list[Migration]) -> str:
    if not foreign:
        return "no migration job explains it (a change made outside poolshift?)"
    named = "; ".join(m.describe() for m in foreign[:3])
    more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
    return f"changed by {named}{more}, which this plan did not send"
