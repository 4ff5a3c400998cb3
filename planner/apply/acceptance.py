"""Was a batch-migrate request that may have been sent accepted? The one rule, in one place.

A step is in SUBMITTING when its POST may have reached the API but no answer says so: the POST failed
ambiguously (a 5xx, an answer lost after sending, a timeout after sending), or the run was killed between
its `submitting` record and the answer. The client never decides this (`migrate_nodes` is a plain POST);
both the run that saw the failure and a later `--resume` ask here, and get the same answer:

1. **Its job.** ListJobs for the source pool, since the step's `submitting` record minus `LOOKBACK_MS` (clock
   skew between this host and the API), newest first: the first job whose `inputs` name exactly the step's
   nodes and its target pool, and whose id the journal has not already recorded for this step (the job of an
   earlier attempt, failed or not, is never this attempt's) -> ACCEPTED with that job.
2. **Else its nodes.** Every node still in the source pool -> NOT_ACCEPTED (the caller may send it again);
   every node in the target pool -> ACCEPTED without a job (the nodes arriving confirm it); anything else ->
   UNACCOUNTED: nodes have left but no job explains it, so the caller stops and never sends it again.

Owns: that rule (`judge`, pure) and the reads it needs (`ask_api`). Must not: send a write, write the
journal, move a step's state machine (the caller does), or print.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from planner.apply.live import read_view
from planner.apply.steps import StepRun
from planner.files import JsonObject
from planner.modelarts.client import ModelArtsClient

# How far before a `submitting` record jobs are searched for (clock skew between us and the API).
LOOKBACK_MS = 10 * 60 * 1000


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    NOT_ACCEPTED = "not accepted"
    UNACCOUNTED = "unaccounted"


@dataclass(frozen=True)
class Acceptance:
    """The answer for one step: the verdict, the job when one was found, and why (one line, for the journal)."""

    verdict: Verdict
    job_id: str | None
    note: str

    @property
    def accepted(self) -> bool:
        return self.verdict is Verdict.ACCEPTED


def since_ms(submitting_ts: str | None) -> int | None:
    """The ListJobs `since` for a `submitting` record's timestamp; None (no bound) when it has none."""
    if not submitting_ts:
        return None
    try:
        moment = datetime.fromisoformat(submitting_ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1000) - LOOKBACK_MS


def _inputs(job: Mapping[str, Any]) -> Any:
    """A job's `inputs`; the SDK types it as str, so it may hold JSON text."""
    inputs = job.get("inputs")
    if isinstance(inputs, str):
        try:
            return json.loads(inputs)
        except ValueError:
            return None
    return inputs


def job_matches(job: Mapping[str, Any], nodes: Iterable[str], target: str) -> bool:
    """The job is a batch-migrate of exactly `nodes` to `target` (a job that names no target matches any)."""
    inputs = _inputs(job)
    if not isinstance(inputs, dict):
        return False
    names = inputs.get("migrateNodeNames")
    if not isinstance(names, list) or {str(n) for n in names} != set(nodes):
        return False
    return inputs.get("toPoolName") in (None, target)


def matching_job(run: StepRun, jobs: Iterable[Mapping[str, Any]]) -> str | None:
    """The newest of `jobs` that is this attempt's request, skipping every job the journal recorded for the step."""
    newest_first = sorted(jobs, key=lambda j: int(j.get("startTimestamp") or 0), reverse=True)
    for job in newest_first:
        job_id = job.get("jobId")
        if isinstance(job_id, str) and job_id not in run.past_jobs and job_matches(job, run.names, run.target):
            return job_id
    return None


def by_places(run: StepRun, places: Mapping[str, str | None]) -> Acceptance:
    """The verdict when no job matched, from the pool each of the step's nodes is in now (None: in none)."""
    if all(place == run.pool_name for place in places.values()):
        return Acceptance(Verdict.NOT_ACCEPTED, None,
                          f"no job for it and its nodes are still in pool {run.pool_name}")
    if all(place == run.target for place in places.values()):
        return Acceptance(Verdict.ACCEPTED, None, f"no job found, but its nodes are in pool {run.target}")
    where = ", ".join(f"{name} in {place or 'no pool'}" for name, place in sorted(places.items()))
    return Acceptance(Verdict.UNACCOUNTED, None, f"no job found; nodes: {where}")


def judge(run: StepRun, jobs: Iterable[Mapping[str, Any]], places: Mapping[str, str | None]) -> Acceptance:
    """The rule above, on what the API said: the source pool's recent `jobs` and where each node is now."""
    job_id = matching_job(run, jobs)
    if job_id is not None:
        return Acceptance(Verdict.ACCEPTED, job_id, f"the API has its job {job_id}")
    return by_places(run, places)


def ask_api(client: ModelArtsClient, run: StepRun) -> Acceptance:
    """Read the source pool's jobs since the `submitting` record, then (if no job matches) the node locations."""
    jobs: list[JsonObject] = client.list_jobs(pool_name=run.pool_name, since_ms=since_ms(run.submitting_ts))
    if matching_job(run, jobs) is not None:
        return judge(run, jobs, {})
    view = read_view(client, {run.pool_name, run.target}, networks=False)
    return judge(run, jobs, {name: view.where(name) for name in run.names})
