"""What goes into an apply run and what comes out: `ApplyOptions`, `ApplyResult` and the callables it takes.

Owns: those types, their defaults (a dry-run) and the check of the options. Must not: run anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.modelarts.client import ModelArtsClient

ProgressFn = Callable[[str, int, int], None]
ClientFactory = Callable[[bool], ModelArtsClient]


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

    def check(self) -> None:
        """An InputError naming the option when one is out of range."""
        if self.max_parallel < 1:
            raise InputError("must be at least 1", source="arguments", path="--max-parallel")
        if not self.poll_interval > 0:
            raise InputError("must be a positive number of seconds", source="arguments", path="--poll-interval")
        if not self.job_timeout > 0:
            raise InputError("must be a positive number of seconds", source="arguments", path="--job-timeout")


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
