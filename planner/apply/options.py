"""What goes into an apply run and what comes out: `ApplyOptions`, `ApplyResult` and the callables it takes.

Owns: those types, their defaults (a dry-run), the check of the options, and `Connection`: where the API is
(endpoint, region, project, workspace; never a credential), which a run's `start` record keeps so that
`--resume` needs no connection flags. Must not: run anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.modelarts.client import ModelArtsClient

ProgressFn = Callable[[str, int, int], None]
ClientFactory = Callable[[bool], ModelArtsClient]
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Connection:
    """Where the API is, as the run used it: the explicit endpoint (None: the region's default), region,
    project and workspace. Never a credential: this goes into the journal."""

    endpoint: str | None
    region: str | None
    project_id: str
    workspace_id: str = "0"

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Connection | None:
        """The connection a journal's `start` record kept; None when it kept none (or a malformed one)."""
        saved = record.get("connection")
        if not isinstance(saved, dict) or not isinstance(saved.get("project_id"), str):
            return None
        text = {key: saved.get(key) if isinstance(saved.get(key), str) and saved.get(key) else None
                for key in ("endpoint", "region", "workspace_id")}
        return cls(endpoint=text["endpoint"], region=text["region"], project_id=saved["project_id"],
                   workspace_id=text["workspace_id"] or "0")


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
    expect_digest: str | None = None     # refuse (before any request) a plan whose digest differs
    lock_dir: Path | None = None         # the project lock's folder (default planner.locks.default_lock_dir())
    lock_timeout: float = 0.0            # seconds to wait for the project (and run) lock; 0: refuse at once
    project_locked: bool = False         # the caller already holds the project lock (auto)
    endpoint: str | None = None          # the explicit endpoint (None: the region's default), for the journal
    region: str | None = None            # the connection's region (None: the plan's), for the journal

    def check(self) -> None:
        """An InputError naming the option when one is out of range."""
        if self.expect_digest is not None and not _DIGEST.match(self.expect_digest):
            raise InputError(f"expected sha256: and 64 lowercase hex digits, got {self.expect_digest!r}",
                             source="arguments", path="--expect-digest")
        if not self.lock_timeout >= 0:
            raise InputError("must be a number of seconds, 0 or more", source="arguments", path="--lock-timeout")
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
    digest: str | None = None            # the plan's digest (what --expect-digest compares)
    drains: list[dict[str, Any]] = field(default_factory=list)  # batch-drain calls: would send (dry-run) or sent
    #                                      [{"step", "wave", "pool_name", "body": {"nodeNames"}, "ends": [...]}]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
