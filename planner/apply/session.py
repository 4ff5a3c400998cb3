"""The state one apply run shares between its parts (submit, poll, resume, the staleness gate, the runner).

Owns: the plan's steps and their state machines, the open journal and the one way a step changes phase while
executing (`move`: check the transition, write the record, then move), progress notes, the requests and drains
sent, the failed steps, the refusal that stops a run before a step whose node became busy (`keep`), reads
repeated while the API keeps failing (never after 401/403: five failed AK/SK signatures lock the key), the live
snapshot with migrations in flight counted as landed, the command that continues the run (`resume_command`:
complete, to paste as it is), and the `ApplyResult` and messages built from all that.
Must not: decide what to send, or print, exit or send anything itself.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from planner.apply.acceptance import Acceptance, Verdict, ask_api
from planner.apply.busy import BusyNode, BusyNodeError
from planner.apply.inflight import SKEW_MS, as_landed, now_ms, read_migrations
from planner.apply.journal import Journal, default_journal_path, plan_fingerprint, read_journal
from planner.apply.options import ApplyOptions, ApplyResult, ProgressFn
from planner.apply.steps import EVENT_PHASE, IN_FLIGHT, NOT_SENT, Phase, StepRun, follow, new_runs
from planner.errors import ApiError, ApiStatusError, ExecutionError, InputError
from planner.files import JsonObject
from planner.modelarts.client import ModelArtsClient
from planner.modelarts.pull import pull_snapshot
from planner.planfile import PlanDocument
from planner.spec import Spec

_T = TypeVar("_T")

# Rounds of failed reads (each already retried by the client) a step tolerates before the run stops.
READ_FAILURE_LIMIT = 8
# Rounds for reads the run cannot go on without (snapshot pull, lost-answer resolution).
READ_ROUNDS = 3
# Statuses after which asking again only makes things worse: 401/403 are credentials or permissions, and
# repeated failed signatures lock the access key (modelarts_api.md).
FINAL_STATUSES = frozenset({401, 403})


def is_final(exc: ApiError) -> bool:
    """An API error no retry can mend: the credentials or permissions were refused."""
    return isinstance(exc, ApiStatusError) and exc.status in FINAL_STATUSES


class Session:
    """One apply run's shared state; built once per `apply_plan` call."""

    def __init__(self, plan: PlanDocument, plan_path: Path, options: ApplyOptions, progress: ProgressFn | None,
                 stop: threading.Event) -> None:
        options.check()
        self.plan = plan
        self.plan_path = plan_path
        self.options = options
        self.progress = progress
        self.stop = stop
        self.steps = plan.steps
        self.spec: Spec = plan.spec
        self.journal_path = options.journal or default_journal_path(plan_path)
        self.fingerprint = plan_fingerprint(plan)
        self.runs: dict[int, StepRun] = new_runs(self.steps)
        self.messages: list[str] = []
        self.changes: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.failures: list[StepRun] = []
        self.drains: list[dict[str, Any]] = []        # batch-drain calls (a dry-run: would send; a run: sent)
        self.waiting: set[int] = set()                # steps whose wait for drained nodes was told
        self.refusal: BusyNodeError | None = None    # a step not sent because a node became busy (`keep`)
        self.journal: Journal | None = None

    # -- counting and telling --------------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return len(self.steps)

    def done(self) -> int:
        return sum(1 for r in self.runs.values() if r.phase is Phase.SUCCEEDED)

    def in_phase(self, *phases: Phase) -> list[StepRun]:
        """The steps in any of `phases`, in plan order."""
        return [r for r in self.runs.values() if r.phase in phases]

    def in_flight(self) -> list[int]:
        return [r.id for r in self.runs.values() if r.phase in IN_FLIGHT]

    def halted(self) -> bool:
        """No new submissions: a stop was requested, a step was refused because a node became busy, or a step
        failed without --keep-going."""
        return (self.stop.is_set() or self.refusal is not None
                or (bool(self.failures) and not self.options.keep_going))

    def not_sent(self) -> list[StepRun]:
        """The steps whose migrate has not been sent (their drains may have been), in plan order."""
        return [r for r in self.runs.values() if r.phase in NOT_SENT]

    def note(self, text: str) -> None:
        self.messages.append(text)
        self.tell(text)

    def tell(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text, self.done(), self.total)

    def resume_hint(self) -> str:
        return f"run `{self.resume_command()}` to continue (journal {self.journal_path})"

    def resume_command(self) -> str:
        """The command that continues this run, complete: the connection comes from the journal's start record,
        credentials from the environment, and the options this run was given that change what it does."""
        o, defaults = self.options, ApplyOptions()
        words = ["poolshift", "apply", str(self.plan_path.absolute()), "--execute", "--resume"]
        if self.journal_path != default_journal_path(self.plan_path):
            words += ["--journal", str(self.journal_path.absolute())]
        for flag, value, default in (("--max-parallel", o.max_parallel, defaults.max_parallel),
                                     ("--poll-interval", o.poll_interval, defaults.poll_interval),
                                     ("--job-timeout", o.job_timeout, defaults.job_timeout)):
            if value != default:
                words += [flag, f"{value:g}"]
        words += [flag for flag, given in (("--keep-going", o.keep_going), ("--allow-drift", o.allow_drift)) if given]
        if o.expect_digest:
            words += ["--expect-digest", o.expect_digest]
        if o.lock_dir is not None:
            words += ["--lock-dir", str(o.lock_dir.absolute())]
        return shlex.join(words)

    def known_jobs(self) -> set[str]:
        """Every job id the journal (and this run) recorded for this plan's steps."""
        return {job for run in self.runs.values() for job in run.past_jobs}

    # -- the journal and the state machines ------------------------------------------------------------------

    def write(self, event: str, step: int | None = None, **fields: Any) -> JsonObject:
        assert self.journal is not None, "journal records are only written while executing"
        return self.journal.write(event, step, **fields)

    def move(self, run: StepRun, event: str, **fields: Any) -> JsonObject:
        """The one way a step changes phase while executing: check the transition the step record `event` makes,
        write the record (on disk when this returns), then move the step exactly as a replay of it would."""
        run.check(EVENT_PHASE[event])
        record = self.write(event, run.id, **fields)
        follow(run, record)
        return record

    def fail(self, run: StepRun, reason: str) -> None:
        """The step failed (`failed` record with its job and why); the run stops submitting unless --keep-going."""
        self.move(run, "failed", job_id=run.job_id, reason=reason)
        self.failures.append(run)
        self.tell(f"step {run.id} failed: {reason}")

    def read_records(self) -> list[JsonObject]:
        """The journal's records, refused when they belong to another plan."""
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

    # -- reads -----------------------------------------------------------------------------------------------

    def check_project(self, client: ModelArtsClient) -> None:
        planned = self.plan.project_id
        if planned != client.project_id:
            raise InputError(f"the plan is for project {planned}, the connection is for project {client.project_id}",
                             source=str(self.plan_path), path="$.project_id")

    def snapshot(self, client: ModelArtsClient) -> JsonObject:
        """The live inventory (pull_snapshot) with every migration still in flight counted as landed, whoever
        sent it (planner.apply.inflight); a few more rounds when the API keeps failing reads."""
        started = now_ms()
        snapshot = self.patiently(lambda: pull_snapshot(client, self.plan.region or "", client.project_id))
        migrations = self.patiently(lambda: read_migrations(client))
        landed, moved = as_landed(snapshot, migrations, ips_per_node=self.spec.defaults.ips_per_node,
                                  since_ms=started - SKEW_MS)
        if moved:
            self.note(f"{len(moved)} migration(s) still in flight counted as landed: "
                      f"{'; '.join(m.describe() for m in moved[:3])}{' ...' if len(moved) > 3 else ''}")
        return landed

    def patiently(self, read: Callable[[], _T]) -> _T:
        """`read()`, again after a pause when it raises ApiError (each read is already retried by the client).

        401 and 403 are raised at once: no retry can mend them, and failed signatures lock the key.
        """
        for round_number in range(1, READ_ROUNDS + 1):
            try:
                return read()
            except ApiError as exc:
                if round_number == READ_ROUNDS or is_final(exc):
                    raise
                self.tell(f"API read failed ({exc}); trying again")
                time.sleep(min(self.options.poll_interval, 5.0) * round_number)
        raise AssertionError("unreachable")

    def read_failed(self, run: StepRun, exc: ApiError) -> None:
        """A round of `run`'s reads failed: count it; stop the run (raise) at the limit, or at once on 401/403."""
        if is_final(exc):
            raise exc
        run.read_failures += 1
        self.tell(f"step {run.id}: API read failed ({exc}); trying again")
        if run.read_failures >= READ_FAILURE_LIMIT:
            raise ApiError(f"step {run.id}: the API failed {run.read_failures} rounds in a row: {exc}") from exc

    def accepted(self, client: ModelArtsClient, run: StepRun) -> Acceptance:
        """Ask the one acceptance rule about a SUBMITTING step (patiently); nodes that left with no job to show
        for it stop the run (ExecutionError), and nothing is ever sent again for it."""
        verdict = self.patiently(lambda: ask_api(client, run))
        if verdict.verdict is Verdict.UNACCOUNTED:
            raise ExecutionError(f"step {run.id}: cannot tell whether its request was accepted ({verdict.note}); "
                                 f"check the pools, then {self.resume_hint()}", step_id=run.id,
                                 journal=str(self.journal_path))
        return verdict

    def refuse_busy(self, run: StepRun, busy: dict[str, BusyNode]) -> None:
        """`workloads.busy_nodes: keep` and a node of `run` runs something now: the step is not sent, and the run
        stops once the steps in flight ended (StalePlanError, exit 4, naming the node and the workload)."""
        lines = [f"{b.describe()} (step {run.id})" for b in busy.values()]
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        self.refusal = BusyNodeError(
            f"step {run.id} was not sent: {lines[0]}{more}, and workloads.busy_nodes is keep, so a busy node never "
            f"moves; {self.done()}/{self.total} steps done; wait for the workload to end (or plan again), then "
            f"{self.resume_hint()}", changes=lines)
        self.tell(f"step {run.id}: not sent: {lines[0]}{more}")

    # -- the outcome -----------------------------------------------------------------------------------------

    def result(self, *, executed: bool, requests: list[dict[str, Any]], interrupted: bool = False) -> ApplyResult:
        return ApplyResult(
            executed=executed, steps_total=self.total, steps_done=self.done(),
            steps_failed=sorted(r.id for r in self.failures),
            requests=requests, journal=str(self.journal_path) if executed or self.options.resume else None,
            messages=list(self.messages), interrupted=interrupted, changes=list(self.changes),
            steps_pending=sorted(r.id for r in self.runs.values()
                                 if r.phase not in (Phase.SUCCEEDED, Phase.FAILED)),
            digest=self.plan.digest, drains=list(self.drains),
        )

    def failure_message(self) -> str:
        first = self.failures[0]
        pending = len(self.not_sent())
        others = ""
        if len(self.failures) > 1:
            others = f" (also failed: step(s) {', '.join(str(r.id) for r in self.failures[1:])})"
        what = "timed out" if first.phase is Phase.TIMED_OUT else "failed"
        return (f"step {first.id} {what}: {first.reason}{others}; {self.done()}/{self.total} steps done, {pending} "
                f"not started; fix the cause, then {self.resume_hint()}")
