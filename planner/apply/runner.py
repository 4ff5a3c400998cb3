"""Apply a reviewed plan: dry-run by default; with `execute`, run it wave by wave with a journal and a lock.

Owns: the order of work (lock, journal, reconciliation with the API after a crash, the staleness check,
waves, at most `max_parallel` steps in flight, polling, confirmation that nodes arrived), what goes into
the journal and when, and the outcome (`ApplyResult`, or an error of `planner.errors`).
Must not: print, exit, install signal handlers (the CLI does; it sets `stop`), or send a write from a
dry-run: a dry-run only ever asks `client_factory(True)` for a client, which refuses anything but reads.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from planner.apply.journal import (
    JOURNAL_FORMAT,
    Journal,
    default_journal_path,
    plan_fingerprint,
    read_journal,
    request_fingerprint,
    run_lock,
)
from planner.apply.live import LiveView, node_phase, read_view, stale_changes, step_problems
from planner.apply.steps import Phase, StepRun, new_runs, replay
from planner.errors import ApiError, ApiStatusError, ExecutionError, InputError, StalePlanError
from planner.files import JsonObject
from planner.modelarts.client import ModelArtsClient
from planner.modelarts.pull import pull_snapshot
from planner.planfile import PlanDocument
from planner.spec import Spec, parse_spec

ProgressFn = Callable[[str, int, int], None]
ClientFactory = Callable[[bool], ModelArtsClient]
_T = TypeVar("_T")

# Rounds of failed reads (each already retried by the client) a step tolerates before the run stops.
READ_FAILURE_LIMIT = 8
# Rounds for reads the run cannot go on without (snapshot pull, lost-answer resolution).
_READ_ROUNDS = 3
# How far before a `submitting` record jobs are searched for (clock skew between us and the API).
_LOOKBACK_MS = 10 * 60 * 1000


@dataclass(frozen=True)
class ApplyOptions:
    """How to apply a plan; the defaults are a dry-run."""

    execute: bool = False
    max_parallel: int = 4
    poll_interval: float = 5.0
    job_timeout: float = 3600.0
    keep_going: bool = False
    allow_drift: bool = False
    resume: bool = False
    journal: Path | None = None          # default: <plan path>.journal.jsonl


@dataclass
class ApplyResult:
    """What a run did (or, for a dry-run, would do)."""

    executed: bool                       # False for a dry-run
    steps_total: int
    steps_done: int                      # succeeded (incl. found done on resume)
    steps_failed: list[int]
    requests: list[dict[str, Any]]       # dry-run: what would be sent [{"step", "pool_name", "body"}]; else sent
    journal: str | None
    messages: list[str]                  # human-readable notes (drift accepted, etc.)
    interrupted: bool = False            # `stop` was set: no new submissions, in-flight steps were tracked
    changes: list[str] = field(default_factory=list)      # drift that --allow-drift accepted
    steps_pending: list[int] = field(default_factory=list)  # not done and not failed (not started, or timed out)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ApplyFailedError(ExecutionError):
    """A step failed (exit 6); `result` tells what the run did before it stopped."""

    def __init__(self, message: str, *, step_id: int | None, journal: str | None, result: ApplyResult) -> None:
        super().__init__(message, step_id=step_id, journal=journal)
        self.result = result


@dataclass
class _Resolution:
    accepted: bool
    job_id: str | None
    note: str


def apply_plan(plan: PlanDocument | dict[str, Any], plan_path: Path, client_factory: ClientFactory,
               options: ApplyOptions, *, progress: ProgressFn | None = None,
               stop: threading.Event | None = None) -> ApplyResult:
    """Dry-run (default) or execute `plan`; see docs/apply.md.

    `client_factory(read_only)` builds a client; a dry-run only ever calls it with True. Raises
    StalePlanError (`.changes`), ExecutionError (`.step_id`, `.journal`; ApplyFailedError adds `.result`),
    ApiError, LockedError, InputError.
    """
    if not isinstance(plan, dict):  # TODO(typed plan): the runner reads the PlanDocument's attributes
        plan = plan.model_dump(mode="json")
    runner = _Runner(plan, Path(plan_path), options, progress, stop or threading.Event())
    if not options.execute:
        return runner.dry_run(client_factory)
    return runner.execute(client_factory)


def _check_options(options: ApplyOptions) -> None:
    if options.max_parallel < 1:
        raise InputError("must be at least 1", source="arguments", path="--max-parallel")
    if not options.poll_interval > 0:
        raise InputError("must be a positive number of seconds", source="arguments", path="--poll-interval")
    if not options.job_timeout > 0:
        raise InputError("must be a positive number of seconds", source="arguments", path="--job-timeout")


def _plan_steps(plan: dict[str, Any], source: str) -> list[JsonObject]:
    steps = plan.get("steps")
    if not isinstance(steps, list):
        raise InputError("expected an array", source=source, path="$.steps")
    seen: set[int] = set()
    last_wave = 0
    for i, step in enumerate(steps):
        where = f"$.steps[{i}]"
        if not isinstance(step, dict) or not isinstance(step.get("body"), dict):
            raise InputError("expected {id, wave, staging, pool_name, body}", source=source, path=where)
        sid, wave = step.get("id"), step.get("wave")
        if not isinstance(sid, int) or isinstance(sid, bool) or sid in seen:
            raise InputError("step id must be a distinct integer", source=source, path=f"{where}.id")
        if not isinstance(wave, int) or isinstance(wave, bool) or wave < last_wave:
            raise InputError("wave must be an integer that never decreases", source=source, path=f"{where}.wave")
        names = step["body"].get("migrateNodeNames")
        if not isinstance(names, list) or not names or not isinstance(step.get("pool_name"), str):
            raise InputError("a step needs pool_name and body.migrateNodeNames", source=source, path=where)
        seen.add(sid)
        last_wave = wave
    return steps


def _since_ms(ts: str | None) -> int | None:
    if not ts:
        return None
    try:
        moment = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1000) - _LOOKBACK_MS


def _job_matches(job: JsonObject, run: StepRun) -> bool:
    """A job is this step's request when its inputs name the same nodes and target pool."""
    inputs = job.get("inputs")
    if isinstance(inputs, str):
        try:
            inputs = json.loads(inputs)
        except ValueError:
            return False
    if not isinstance(inputs, dict):
        return False
    names = inputs.get("migrateNodeNames")
    if not isinstance(names, list) or {str(n) for n in names} != set(run.names):
        return False
    return inputs.get("toPoolName") in (None, run.target)


class _Runner:
    def __init__(self, plan: dict[str, Any], plan_path: Path, options: ApplyOptions, progress: ProgressFn | None,
                 stop: threading.Event) -> None:
        _check_options(options)
        self.plan = plan
        self.plan_path = plan_path
        self.options = options
        self.progress = progress
        self.stop = stop
        source = str(plan_path)
        self.steps = _plan_steps(plan, source)
        if not isinstance(plan.get("spec"), dict):
            raise InputError("the plan embeds no spec (made by an older poolshift?); plan again", source=source,
                             path="$.spec")
        self.spec: Spec = parse_spec(plan["spec"], source=f"{source}: $.spec")
        self.plan_pools: dict[str, Any] = plan.get("pools") or {}
        self.journal_path = options.journal or default_journal_path(plan_path)
        self.fingerprint = plan_fingerprint(plan)
        self.runs: dict[int, StepRun] = new_runs(self.steps)
        self.messages: list[str] = []
        self.changes: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.failures: list[StepRun] = []
        self.journal: Journal | None = None

    # -- helpers ---------------------------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return len(self.steps)

    def done(self) -> int:
        return sum(1 for r in self.runs.values() if r.phase is Phase.SUCCEEDED)

    def note(self, text: str) -> None:
        self.messages.append(text)
        self.tell(text)

    def tell(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text, self.done(), self.total)

    def write(self, event: str, step: int | None = None, **fields: Any) -> JsonObject:
        assert self.journal is not None, "journal records are only written while executing"
        return self.journal.write(event, step, **fields)

    def _check_project(self, client: ModelArtsClient) -> None:
        planned = self.plan.get("project_id")
        if planned != client.project_id:
            raise InputError(f"the plan is for project {planned}, the connection is for project {client.project_id}",
                             source=str(self.plan_path), path="$.project_id")

    def _read_records(self) -> list[JsonObject]:
        records = read_journal(self.journal_path)
        starts = [r for r in records if r.get("event") == "start"]
        if records and not starts:
            raise InputError("not a poolshift apply journal (no start record)", source=str(self.journal_path))
        for record in starts:
            if record.get("plan") != self.fingerprint:
                raise InputError(f"this journal belongs to another plan ({record.get('plan_path')}); pass "
                                 f"--journal to use another file", source=str(self.journal_path),
                                 path=f"line {record.get('_line')}")
        return records

    def _snapshot(self, client: ModelArtsClient) -> JsonObject:
        """The live inventory (pull_snapshot), with a few more rounds when the API keeps failing reads."""
        return self._patiently(lambda: pull_snapshot(client, str(self.plan.get("region") or ""), client.project_id))

    def _patiently(self, read: Callable[[], _T]) -> _T:
        """`read()`, again after a pause when it raises ApiError (each read is already retried by the client)."""
        for round_number in range(1, _READ_ROUNDS + 1):
            try:
                return read()
            except ApiError as exc:
                if round_number == _READ_ROUNDS:
                    raise
                self.tell(f"API read failed ({exc}); trying again")
                time.sleep(min(self.options.poll_interval, 5.0) * round_number)
        raise AssertionError("unreachable")

    def _result(self, *, executed: bool, requests: list[dict[str, Any]], interrupted: bool = False) -> ApplyResult:
        return ApplyResult(
            executed=executed, steps_total=self.total, steps_done=self.done(),
            steps_failed=sorted(r.id for r in self.failures),
            requests=requests, journal=str(self.journal_path) if executed or self.options.resume else None,
            messages=list(self.messages), interrupted=interrupted, changes=list(self.changes),
            steps_pending=sorted(r.id for r in self.runs.values()
                                 if r.phase not in (Phase.SUCCEEDED, Phase.FAILED)),
        )

    def _resume_hint(self) -> str:
        return f"run `poolshift apply {self.plan_path} --execute --resume` to continue (journal {self.journal_path})"

    # -- the staleness check ---------------------------------------------------------------------------------

    def check_stale(self, snapshot: JsonObject, moved: list[StepRun], remaining: list[StepRun]) -> None:
        """Refuse (StalePlanError) when what changed matters to the remaining steps, unless drift is allowed."""
        from planner.planfile import PlanStep
        from planner.verify import verify_steps

        if not remaining:
            return
        view = LiveView.from_snapshot(snapshot)
        changes = stale_changes(view, self.plan, self.spec, moved=[r.step for r in moved],
                                remaining=[r.step for r in remaining])
        problems = verify_steps(snapshot, self.spec, [PlanStep.model_validate(r.step) for r in remaining])
        if not changes and problems:
            changes = [f"the remaining steps no longer pass the verifier: {p}" for p in problems]
        if not changes:
            if moved:
                self.note(f"{len(moved)} step(s) already done or in flight; the other {len(remaining)} still match "
                          f"the live inventory")
                return
            from planner.inventory import fingerprint_snapshot

            live = fingerprint_snapshot(snapshot)
            if live == self.plan.get("inventory_fingerprint"):
                self.note("the live inventory is the one the plan was made from")
            else:
                self.note("the live inventory differs from the one the plan was made from, but nothing this plan "
                          "depends on changed (its nodes, pools, node counts and subnet headroom)")
            return
        if self.options.allow_drift and not problems:
            self.changes = changes
            self.note(f"the inventory drifted ({len(changes)} change(s)); --allow-drift: every remaining step still "
                      f"passes the verifier on the live inventory, so they run")
            return
        if self.options.allow_drift:
            changes = changes + [f"verifier: {p}" for p in problems if f"verifier: {p}" not in changes]
            advice = "the remaining steps do not pass the verifier on the live inventory; plan again"
        else:
            advice = "plan again, or pass --allow-drift to run it if its remaining steps still verify"
        more = f" (and {len(changes) - 1} more)" if len(changes) > 1 else ""
        raise StalePlanError(f"the plan is stale: {changes[0]}{more}; {advice}", changes=changes)

    # -- resolution of a request whose answer was lost ---------------------------------------------------------

    def resolve(self, client: ModelArtsClient, run: StepRun) -> _Resolution:
        """Ask the API whether a request that may have been sent was accepted: its job, else its nodes."""
        jobs = client.list_jobs(pool_name=run.pool_name, since_ms=_since_ms(run.submitting_ts))
        jobs.sort(key=lambda j: int(j.get("startTimestamp") or 0), reverse=True)
        for job in jobs:
            job_id = job.get("jobId")
            if isinstance(job_id, str) and job_id not in run.past_jobs and _job_matches(job, run):
                return _Resolution(True, job_id, f"the API has its job {job_id}")
        view = read_view(client, {run.pool_name, run.target}, networks=False)
        places = {n: view.where(n) for n in run.names}
        if all(p == run.pool_name for p in places.values()):
            return _Resolution(False, None, f"no job for it and its nodes are still in pool {run.pool_name}")
        if all(p == run.target for p in places.values()):
            return _Resolution(True, None, f"no job found, but its nodes are in pool {run.target}")
        where = ", ".join(f"{n} in {p or 'no pool'}" for n, p in sorted(places.items()))
        raise ExecutionError(f"step {run.id}: cannot tell whether its request was accepted (no job found; nodes: "
                             f"{where}); check the pools, then {self._resume_hint()}",
                             step_id=run.id, journal=str(self.journal_path))

    # -- dry-run ---------------------------------------------------------------------------------------------

    def dry_run(self, client_factory: ClientFactory) -> ApplyResult:
        records = self._read_records() if self.options.resume else []
        replay(self.runs, records, source=str(self.journal_path))
        if self.options.resume and not records:
            self.note(f"no journal at {self.journal_path}: a resumed run would start from the first step")
        with client_factory(True) as client:
            self._check_project(client)
            for run in self.runs.values():
                if run.phase is Phase.SUBMITTING:
                    res = self._patiently(functools.partial(self.resolve, client, run))
                    self.note(f"step {run.id}: its last request {'was' if res.accepted else 'was not'} accepted "
                              f"({res.note})")
                    if res.accepted:
                        run.to(Phase.SUBMITTED, job_id=res.job_id)
                    else:
                        run.to(Phase.PENDING)
                elif run.phase is Phase.FAILED:
                    self.note(f"step {run.id} failed before ({run.reason}); a resumed run tries it again")
                    run.to(Phase.PENDING)
            moved = [r for r in self.runs.values() if r.phase in (Phase.SUCCEEDED, Phase.SUBMITTED)]
            remaining = [r for r in self.runs.values() if r.phase is Phase.PENDING]
            in_flight = [r.id for r in moved if r.phase is Phase.SUBMITTED]
            if in_flight:
                self.note(f"step(s) {', '.join(map(str, in_flight))} are in flight; a resumed run tracks them")
            try:
                self.check_stale(self._snapshot(client), moved, remaining)
            except StalePlanError as exc:
                if self.options.resume or not read_journal(self.journal_path):
                    raise
                raise StalePlanError(f"{exc} (a journal of this plan exists at {self.journal_path}: add --resume to "
                                     f"see what a resumed run would send)", changes=exc.changes) from None
        requests = [{"step": r.id, "wave": r.wave, "pool_name": r.pool_name, "body": r.body} for r in remaining]
        return self._result(executed=False, requests=requests)

    # -- execute ---------------------------------------------------------------------------------------------

    def execute(self, client_factory: ClientFactory) -> ApplyResult:
        owner = f"project {self.plan.get('project_id')} plan {self.plan_path}"
        with run_lock(self.journal_path, owner=owner), client_factory(False) as client:
            records = self._read_records()
            if records and not self.options.resume:
                raise InputError("the journal already records a run of this plan; pass --resume to continue it "
                                 "(or --journal FILE to keep a separate journal)", source=str(self.journal_path))
            replay(self.runs, records, source=str(self.journal_path))
            self._check_project(client)
            if not records:
                if self.options.resume:
                    self.note(f"no journal at {self.journal_path}: starting from the first step")
                # A fresh run: refuse a stale plan before anything is written or sent.
                self.check_stale(self._snapshot(client), [], list(self.runs.values()))
            with self._open_journal(resumed=bool(records)):
                try:
                    interrupted = self._run(client, resumed=bool(records))
                except ApiError as exc:
                    in_flight = self._in_flight()
                    self.write("stopped", reason=f"API error: {exc}", in_flight=in_flight)
                    raise ApiError(f"{exc}; {len(in_flight)} step(s) in flight; {self._resume_hint()}") from exc
                except ExecutionError as exc:  # a lost answer the API cannot account for
                    self.write("stopped", reason=str(exc), in_flight=self._in_flight())
                    raise
            result = self._result(executed=True, requests=self.requests, interrupted=interrupted)
        if self.failures:
            raise ApplyFailedError(self._failure_message(), step_id=self.failures[0].id,
                                   journal=str(self.journal_path), result=result)
        return result

    @contextlib.contextmanager
    def _open_journal(self, *, resumed: bool) -> Iterator[None]:
        with Journal(self.journal_path) as journal:
            self.journal = journal
            o = self.options
            self.write("start", format=JOURNAL_FORMAT, plan=self.fingerprint, plan_path=str(self.plan_path),
                       project_id=self.plan.get("project_id"), steps=self.total, resume=resumed,
                       pid=os.getpid(),
                       options={"max_parallel": o.max_parallel, "poll_interval": o.poll_interval,
                                "job_timeout": o.job_timeout, "keep_going": o.keep_going,
                                "allow_drift": o.allow_drift})
            if self.changes:
                self.write("drift_accepted", changes=self.changes)
            try:
                yield
            finally:
                self.journal = None

    def _failure_message(self) -> str:
        first = self.failures[0]
        pending = sum(1 for r in self.runs.values() if r.phase is Phase.PENDING)
        others = ""
        if len(self.failures) > 1:
            others = f" (also failed: step(s) {', '.join(str(r.id) for r in self.failures[1:])})"
        what = "timed out" if first.timed_out else "failed"
        return (f"step {first.id} {what}: {first.reason}{others}; {self.done()}/{self.total} steps done, {pending} "
                f"not started; fix the cause, then {self._resume_hint()}")

    def _in_flight(self) -> list[int]:
        return [r.id for r in self.runs.values() if r.phase in (Phase.SUBMITTING, Phase.SUBMITTED)]

    def _halted(self) -> bool:
        return self.stop.is_set() or (bool(self.failures) and not self.options.keep_going)

    def _run(self, client: ModelArtsClient, *, resumed: bool) -> bool:
        """Reconcile (after a crash), track what is in flight, re-check staleness, then run the waves."""
        if resumed:
            self._reconcile(client)
            in_flight = [r for r in self.runs.values() if r.phase is Phase.SUBMITTED]
            if in_flight:
                self.note(f"tracking step(s) {', '.join(str(r.id) for r in in_flight)} already in flight")
                self._track(client, in_flight)
            remaining = [r for r in self.runs.values() if r.phase is Phase.PENDING]
            if remaining and not self._halted():
                moved = [r for r in self.runs.values() if r.phase in (Phase.SUCCEEDED, Phase.SUBMITTED)]
                try:
                    self.check_stale(self._snapshot(client), moved, remaining)
                except StalePlanError as exc:
                    self.write("refused", reason="stale", changes=exc.changes)
                    raise
                if self.changes:
                    self.write("drift_accepted", changes=self.changes)
        for wave in sorted({r.wave for r in self.runs.values()}):
            if self._halted():
                break
            self._run_wave(client, [r for r in self.runs.values() if r.wave == wave])
        pending = [r.id for r in self.runs.values() if r.phase is Phase.PENDING]
        if self.stop.is_set() and pending:
            self.write("stopped", reason="signal", pending=pending)
            self.note(f"stopped on request: {len(pending)} step(s) not started; {self._resume_hint()}")
            return True
        self.write("finished", done=self.done(), failed=sorted(r.id for r in self.failures), pending=pending)
        return False

    def _reconcile(self, client: ModelArtsClient) -> None:
        for run in self.runs.values():
            if run.phase is Phase.SUBMITTING:
                res = self._patiently(functools.partial(self.resolve, client, run))
                if res.accepted:
                    run.to(Phase.SUBMITTED, job_id=res.job_id)
                    self.write("submitted", run.id, job_id=res.job_id, recovered=True, reason=res.note)
                else:
                    run.to(Phase.PENDING)
                    self.write("not_accepted", run.id, reason=res.note)
                self.note(f"step {run.id}: the request of the interrupted run "
                          f"{'was' if res.accepted else 'was not'} accepted ({res.note})")
            elif run.phase is Phase.FAILED:
                self.note(f"step {run.id} failed before ({run.reason}); trying it again")
                run.to(Phase.PENDING)
                self.write("retry", run.id)
            if run.phase is Phase.SUBMITTED:
                run.submitted_at = time.monotonic()

    def _track(self, client: ModelArtsClient, in_flight: list[StepRun]) -> None:
        while in_flight:
            time.sleep(self.options.poll_interval)
            for run in list(in_flight):
                self._poll(client, run)
                if run.phase is not Phase.SUBMITTED or run.timed_out:
                    in_flight.remove(run)

    def _run_wave(self, client: ModelArtsClient, wave: list[StepRun]) -> None:
        queue = deque(r for r in wave if r.phase is Phase.PENDING)
        in_flight = [r for r in wave if r.phase is Phase.SUBMITTED and not r.timed_out]
        while True:
            while queue and len(in_flight) < self.options.max_parallel and not self._halted():
                run = queue[0]
                self._submit(client, run)
                if run.phase is Phase.PENDING:  # reads failed or the API did not take it: try after a pause
                    break
                queue.popleft()
                if run.phase is Phase.SUBMITTED:
                    in_flight.append(run)
            if not in_flight and (not queue or self._halted()):
                return
            time.sleep(self.options.poll_interval)
            for run in list(in_flight):
                self._poll(client, run)
                if run.phase is not Phase.SUBMITTED or run.timed_out:
                    in_flight.remove(run)

    def _read_failed(self, run: StepRun, exc: ApiError) -> None:
        run.read_failures += 1
        self.tell(f"step {run.id}: API read failed ({exc}); trying again")
        if run.read_failures >= READ_FAILURE_LIMIT:
            raise ApiError(f"step {run.id}: the API failed {run.read_failures} rounds in a row: {exc}") from exc

    def _fail(self, run: StepRun, reason: str) -> None:
        self.write("failed", run.id, job_id=run.job_id, reason=reason)
        run.to(Phase.FAILED, reason=reason)
        self.failures.append(run)
        self.tell(f"step {run.id} failed: {reason}")

    def _submit(self, client: ModelArtsClient, run: StepRun) -> None:
        try:
            view = read_view(client, {run.pool_name, run.target})
        except ApiError as exc:
            self._read_failed(run, exc)
            return
        problems = step_problems(view, run.step, self.plan_pools, self.spec)
        if problems:
            self._fail(run, "its preconditions do not hold on the live inventory: " + "; ".join(problems))
            return
        run.to(Phase.SUBMITTING)
        record = self.write("submitting", run.id, attempt=run.attempts,
                            request=request_fingerprint(run.pool_name, run.body), pool_name=run.pool_name,
                            to_pool=run.target, nodes=run.names)
        run.submitting_ts = str(record["ts"])
        recovered = False
        job_id: str | None
        try:
            job_id = client.migrate_nodes(run.pool_name, run.body, idempotency_check=True)
        except ApiStatusError as exc:
            if 400 <= exc.status < 500 and exc.status != 429:
                self._fail(run, f"the API refused the request: {exc}")
                return
            resolution = self._after_lost_answer(client, run, exc)
            if resolution is None:
                return
            job_id, recovered = resolution
        except ApiError as exc:
            resolution = self._after_lost_answer(client, run, exc)
            if resolution is None:
                return
            job_id, recovered = resolution
        run.to(Phase.SUBMITTED, job_id=job_id)
        run.submitted_at = time.monotonic()
        run.read_failures = 0
        self.write("submitted", run.id, job_id=job_id, **({"recovered": True} if recovered else {}))
        self.requests.append({"step": run.id, "wave": run.wave, "pool_name": run.pool_name, "body": run.body,
                              "job_id": job_id})
        self.tell(f"step {run.id}: submitted, job {job_id}")

    def _after_lost_answer(self, client: ModelArtsClient, run: StepRun,
                           exc: ApiError) -> tuple[str | None, bool] | None:
        """After a failed POST whose outcome is unknown: (job id, recovered) when accepted, None to try later."""
        resolution = self._patiently(functools.partial(self.resolve, client, run))
        if resolution.accepted:
            return resolution.job_id, True
        run.to(Phase.PENDING)
        self.write("not_accepted", run.id, reason=f"{exc}; {resolution.note}")
        self._read_failed(run, exc)
        return None

    def _poll(self, client: ModelArtsClient, run: StepRun) -> None:
        started = run.submitted_at if run.submitted_at is not None else time.monotonic()
        try:
            if run.job_id is not None:
                job = client.get_job(run.job_id, pool_name=run.pool_name)
                phase, message = str(job.get("phase") or ""), str(job.get("message") or "")
            else:
                phase, message = "Success", ""  # accepted but its job is unknown: the nodes tell
            if "Failed" in phase:
                self._fail(run, f"job {run.job_id} ended {phase}" + (f": {message}" if message else ""))
                return
            if phase == "Success":
                view = read_view(client, {run.pool_name, run.target}, networks=False)
                places = {n: view.where(n) for n in run.names}
                if all(p == run.target and node_phase(view.nodes[p][n]) == "Available" for n, p in places.items()):
                    self.write("succeeded", run.id, job_id=run.job_id)
                    run.to(Phase.SUCCEEDED)
                    self.tell(f"step {run.id}: done, {len(run.names)} node(s) in pool {run.target}")
                    return
                if run.job_id is None and all(p == run.pool_name for p in places.values()):
                    self._fail(run, f"its nodes are back in pool {run.pool_name}: the migration did not complete")
                    return
            run.read_failures = 0
        except ApiError as exc:
            self._read_failed(run, exc)
            return
        if time.monotonic() - started > self.options.job_timeout:
            self.write("timeout", run.id, job_id=run.job_id, seconds=self.options.job_timeout)
            run.timed_out = True
            run.reason = (f"job {run.job_id} has not ended (or its nodes not arrived) after "
                          f"{self.options.job_timeout:g} s; it may still be running")
            self.failures.append(run)
            self.tell(f"step {run.id}: {run.reason}")
