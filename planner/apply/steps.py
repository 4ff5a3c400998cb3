"""One state machine per plan step, and the replay of a journal into those machines.

```
PENDING ──submitting──▶ SUBMITTING ──submitted(job_id)──▶ SUBMITTED ──succeeded──▶ SUCCEEDED
   │                      │    │                             │
   │                      │    └──not_accepted──▶ PENDING    └──failed──▶ FAILED ──retry (resume)──▶ PENDING
   └──failed (precheck)──▶ FAILED ◀──failed (refused)──┘
```

SUBMITTING means "a request may be on its way": the journal has a `submitting` record and no answer yet.
A crash leaves a step there; the next run asks the API (jobs, then node locations) before it moves the step
on, so it never sends a request the API already accepted. Any other transition is a bug and raises.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from planner.errors import InputError
from planner.files import JsonObject


class Phase(StrEnum):
    PENDING = "pending"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


_ALLOWED: dict[Phase, frozenset[Phase]] = {
    Phase.PENDING: frozenset({Phase.SUBMITTING, Phase.FAILED}),
    Phase.SUBMITTING: frozenset({Phase.SUBMITTED, Phase.PENDING, Phase.FAILED}),
    Phase.SUBMITTED: frozenset({Phase.SUCCEEDED, Phase.FAILED}),
    Phase.SUCCEEDED: frozenset(),
    Phase.FAILED: frozenset({Phase.PENDING}),
}

# journal event -> the phase it moves a step to (events not listed here change no phase)
EVENT_PHASE: dict[str, Phase] = {
    "submitting": Phase.SUBMITTING,
    "submitted": Phase.SUBMITTED,
    "not_accepted": Phase.PENDING,
    "succeeded": Phase.SUCCEEDED,
    "failed": Phase.FAILED,
    "retry": Phase.PENDING,
}


class IllegalTransition(AssertionError):
    """A step was asked to move where its state machine does not go (a bug, or a corrupt journal)."""


@dataclass
class StepRun:
    """A plan step and where it stands."""

    step: JsonObject
    phase: Phase = Phase.PENDING
    job_id: str | None = None
    attempts: int = 0
    reason: str = ""
    past_jobs: set[str] = field(default_factory=set)  # job ids of earlier attempts that ended
    submitting_ts: str | None = None
    submitted_at: float | None = None       # monotonic time this run started tracking the job
    read_failures: int = 0                  # consecutive rounds whose reads failed
    timed_out: bool = False

    @property
    def id(self) -> int:
        return int(self.step["id"])

    @property
    def wave(self) -> int:
        return int(self.step.get("wave") or self.id)

    @property
    def pool_name(self) -> str:
        return str(self.step["pool_name"])

    @property
    def body(self) -> JsonObject:
        body: JsonObject = self.step["body"]
        return body

    @property
    def target(self) -> str:
        return str(self.body.get("toPoolName"))

    @property
    def names(self) -> list[str]:
        return [str(n) for n in self.body.get("migrateNodeNames") or []]

    @property
    def flavor(self) -> str:
        return str((self.body.get("resourceSpec") or {}).get("flavor"))

    def to(self, phase: Phase, *, job_id: str | None = None, reason: str = "") -> None:
        """Move to `phase`; anything the diagram above does not allow raises IllegalTransition."""
        if phase not in _ALLOWED[self.phase]:
            raise IllegalTransition(f"step {self.id}: {self.phase} -> {phase} is not a legal transition")
        if phase is Phase.SUBMITTING:
            self.attempts += 1
            self.reason = ""
        elif phase is Phase.SUBMITTED:
            self.job_id = job_id
        elif phase is Phase.PENDING:
            if self.job_id:
                self.past_jobs.add(self.job_id)
            self.job_id = None
            self.timed_out = False
        elif phase is Phase.FAILED:
            self.reason = reason
            if self.job_id:
                self.past_jobs.add(self.job_id)
        self.phase = phase


def new_runs(steps: Iterable[JsonObject]) -> dict[int, StepRun]:
    """A PENDING machine per step, by step id."""
    return {int(s["id"]): StepRun(s) for s in steps}


def replay(runs: dict[int, StepRun], records: Iterable[JsonObject], *, source: str) -> None:
    """Move the machines through the journal's step records; a record that breaks the diagram is an InputError."""
    for record in records:
        step = record.get("step")
        event = str(record.get("event"))
        if step is None or event not in EVENT_PHASE:
            continue
        run = runs.get(step) if isinstance(step, int) else None
        where = f"line {record.get('_line', '?')}"
        if run is None:
            raise InputError(f"record for step {step!r}, which the plan does not have", source=source, path=where)
        job_id = record.get("job_id")
        try:
            run.to(EVENT_PHASE[event], job_id=job_id if isinstance(job_id, str) else None,
                   reason=str(record.get("reason") or ""))
        except IllegalTransition as exc:
            raise InputError(f"inconsistent journal: {exc}", source=source, path=where) from None
        if event == "submitting":
            run.submitting_ts = str(record.get("ts") or "")
