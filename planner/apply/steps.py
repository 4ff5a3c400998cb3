"""One state machine per plan step, and the replay of a journal into those machines.

```
PENDING ──submitting──▶ SUBMITTING ──submitted(job_id)──▶ SUBMITTED ──succeeded──▶ SUCCEEDED
 │                       │    │                            │  │  ▲
 │                       │    │                            │  │  └──track (the next run's start)──┐
 │                       │    │                            │  └──timeout──▶ TIMED_OUT ────────────┘
 │     failed (refused)  │    └──not_accepted──▶ PENDING   │
 │                       ▼                                 │
 └──failed (precheck)──▶ FAILED ◀──failed (job, or nodes)──┘
                         │
                         └──retry (resume)──▶ PENDING

Drains (workloads.busy_nodes: drain):

PENDING ──draining──▶ DRAINING ──drained, drain_unanswered──▶ DRAINED ──submitting (its nodes idle)──▶ SUBMITTING
 │                     │    ▲                                  │  │
 │                     │    └──draining (more of its nodes)────┘  └──failed (drain timeout, precheck)──▶ FAILED
 │                     └──drain_not_accepted (the call was refused: nothing drained)──▶ PENDING
 └──drain_wait (all its busy nodes drained by an earlier attempt)──▶ DRAINED
```

SUBMITTING means "a request may be on its way": the journal has a `submitting` record and no answer yet.
A crash leaves a step there; the next run asks the API (planner.apply.acceptance) before it moves the step
on, so it never sends a request the API already accepted. `failed (job, or nodes)`: the job ended Failed,
or a request accepted without a known job saw its nodes come back. TIMED_OUT means "its job has not ended
within `--job-timeout`": this run stops watching it and never sends it again; every later run starts by
watching the same job again (`track`: it has no record of its own, the run's `start` record implies it, so
journals written before TIMED_OUT existed replay the same way).

Drains (PRODUCT §9, `workloads.busy_nodes: drain`; planner.apply.drain): DRAINING means "a batch-drain for
some of the step's nodes may be on its way" (a `draining` record, no answer yet); DRAINED "its drains were
sent, its migrate not yet": the run waits for the nodes to run nothing, then sends the migrate from there.
Every node a `draining` record names stays in `StepRun.drained` for good (a `drain_not_accepted` answer, which
proves the call was not taken, takes its nodes out again): no run drains it a second time. A crash in
DRAINING is settled by the next run with `drain_unanswered` (the call may have been received; it is never
resent). `drain_wait` puts a step whose nodes were all drained by an earlier attempt (then the step failed and
was retried) back to waiting without draining them again. Journals written before drains existed have none of
these records and replay as before.

Any other transition is a bug and raises IllegalTransition; a journal whose records break the diagram is
refused (InputError naming the line).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from planner.errors import InputError
from planner.files import JsonObject
from planner.planfile import PlanStep


class Phase(StrEnum):
    PENDING = "pending"
    DRAINING = "draining"
    DRAINED = "drained"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    TIMED_OUT = "timed_out"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


_ALLOWED: dict[Phase, frozenset[Phase]] = {
    Phase.PENDING: frozenset({Phase.DRAINING, Phase.DRAINED, Phase.SUBMITTING, Phase.FAILED}),
    Phase.DRAINING: frozenset({Phase.DRAINED, Phase.PENDING}),
    Phase.DRAINED: frozenset({Phase.DRAINING, Phase.SUBMITTING, Phase.FAILED}),
    Phase.SUBMITTING: frozenset({Phase.SUBMITTED, Phase.PENDING, Phase.FAILED}),
    Phase.SUBMITTED: frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.TIMED_OUT}),
    Phase.TIMED_OUT: frozenset({Phase.SUBMITTED}),
    Phase.SUCCEEDED: frozenset(),
    Phase.FAILED: frozenset({Phase.PENDING}),
}

# journal event -> the phase it moves a step to (events not listed here change no phase)
EVENT_PHASE: dict[str, Phase] = {
    "draining": Phase.DRAINING,
    "drained": Phase.DRAINED,
    "drain_unanswered": Phase.DRAINED,
    "drain_wait": Phase.DRAINED,
    "drain_not_accepted": Phase.PENDING,
    "submitting": Phase.SUBMITTING,
    "submitted": Phase.SUBMITTED,
    "not_accepted": Phase.PENDING,
    "succeeded": Phase.SUCCEEDED,
    "failed": Phase.FAILED,
    "timeout": Phase.TIMED_OUT,
    "retry": Phase.PENDING,
}

# The phases of a step whose request may have reached the API and whose outcome this run has not seen.
IN_FLIGHT = frozenset({Phase.SUBMITTING, Phase.SUBMITTED, Phase.TIMED_OUT})
# The phases of a step whose migrate has not been sent (its drains may have been).
NOT_SENT = frozenset({Phase.PENDING, Phase.DRAINING, Phase.DRAINED})


class IllegalTransition(AssertionError):
    """A step was asked to move where its state machine does not go (a bug, or a corrupt journal)."""


@dataclass
class StepRun:
    """A plan step and where it stands."""

    step: PlanStep
    phase: Phase = Phase.PENDING
    job_id: str | None = None
    attempts: int = 0
    reason: str = ""
    past_jobs: set[str] = field(default_factory=set)  # every job id the journal recorded for the step
    submitting_ts: str | None = None
    submitted_at: float | None = None       # monotonic time this run started tracking the job
    read_failures: int = 0                  # consecutive rounds whose reads failed
    drained: set[str] = field(default_factory=set)      # nodes a drain was (or may have been) sent for: never again
    unanswered: set[str] = field(default_factory=set)   # of those, nodes whose drain call got no answer
    in_drain: tuple[str, ...] = ()          # the nodes of the last `draining` record (the call a crash may cut)
    drain_since: float | None = None        # epoch seconds this attempt began waiting for drained nodes

    @property
    def id(self) -> int:
        return self.step.id

    @property
    def wave(self) -> int:
        return self.step.wave

    @property
    def pool_name(self) -> str:
        return self.step.source

    @property
    def body(self) -> JsonObject:
        """The request body exactly as it is sent."""
        return self.step.body_json()

    @property
    def target(self) -> str:
        return self.step.target

    @property
    def names(self) -> list[str]:
        return list(self.step.nodes)

    @property
    def flavor(self) -> str:
        return self.step.flavor

    def check(self, phase: Phase) -> None:
        """Raise IllegalTransition unless the diagram above allows `self.phase -> phase`."""
        if phase not in _ALLOWED[self.phase]:
            raise IllegalTransition(f"step {self.id}: {self.phase} -> {phase} is not a legal transition")

    def to(self, phase: Phase, *, job_id: str | None = None, reason: str = "") -> None:
        """Move to `phase`; anything the diagram above does not allow raises IllegalTransition.

        `job_id` is the job a `submitted` record names (None: accepted, but its job is unknown); a job id
        given with any other phase is remembered as one the journal recorded for this step.
        """
        self.check(phase)
        if job_id is not None:
            self.past_jobs.add(job_id)
        if phase is Phase.SUBMITTING:
            self.attempts += 1
            self.reason = ""
        elif phase is Phase.SUBMITTED:
            if self.phase is Phase.TIMED_OUT:  # `track`: the same job, watched again
                self.reason = ""
            else:
                self.job_id = job_id
        elif phase is Phase.PENDING:
            self.job_id = None
        elif phase in (Phase.FAILED, Phase.TIMED_OUT):
            self.reason = reason
        self.phase = phase


def new_runs(steps: Iterable[PlanStep]) -> dict[int, StepRun]:
    """A PENDING machine per step, by step id."""
    return {s.id: StepRun(s) for s in steps}


def track_timed_out(runs: Iterable[StepRun]) -> list[StepRun]:
    """A run starts by tracking again every job an earlier run stopped waiting for (TIMED_OUT -> SUBMITTED)."""
    moved = [run for run in runs if run.phase is Phase.TIMED_OUT]
    for run in moved:
        run.to(Phase.SUBMITTED)
    return moved


def follow(run: StepRun, record: JsonObject) -> None:
    """Move `run` as its journal record says: the same for a record just written and for one replayed."""
    event = str(record.get("event"))
    job_id = record.get("job_id")
    run.to(EVENT_PHASE[event], job_id=job_id if isinstance(job_id, str) else None,
           reason=str(record.get("reason") or ""))
    if event == "submitting":
        run.submitting_ts = str(record.get("ts") or "")
    elif event in ("draining", "drain_wait", "drain_not_accepted", "drain_unanswered", "retry"):
        _follow_drain(run, event, record)


def _follow_drain(run: StepRun, event: str, record: JsonObject) -> None:
    """What a drain record (or a `retry`) changes besides the phase: the nodes drained, and the wait's start."""
    listed = record.get("nodes")
    nodes = {str(n) for n in listed} if isinstance(listed, list) else set()
    if event in ("draining", "drain_wait"):
        run.drained |= nodes
        run.in_drain = tuple(sorted(nodes)) if event == "draining" else run.in_drain
        if run.drain_since is None:
            run.drain_since = epoch_of(record.get("ts"))
    elif event == "drain_not_accepted":
        run.drained -= nodes
    elif event == "drain_unanswered":
        run.unanswered |= nodes
    else:  # retry: a new attempt waits drain_timeout again
        run.drain_since = None


def epoch_of(ts: Any) -> float | None:
    """A record's `ts` (`2026-11-28T00:00:00.123Z`) in epoch seconds; None when it has none."""
    if not isinstance(ts, str) or not ts:
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def replay(runs: dict[int, StepRun], records: Iterable[JsonObject], *, source: str) -> None:
    """Move the machines through the journal's records; a record that breaks the diagram is an InputError."""
    for record in records:
        step = record.get("step")
        event = str(record.get("event"))
        where = f"line {record.get('_line', '?')}"
        if event == "start" and step is None:
            track_timed_out(runs.values())
            continue
        if step is None or event not in EVENT_PHASE:
            continue
        run = runs.get(step) if isinstance(step, int) else None
        if run is None:
            raise InputError(f"record for step {step!r}, which the plan does not have", source=source, path=where)
        try:
            follow(run, record)
        except IllegalTransition as exc:
            raise InputError(f"inconsistent journal: {exc}", source=source, path=where) from exc
