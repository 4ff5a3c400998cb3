"""What one `auto` cycle did and why: `CycleResult`, whose `record()` is both the audit line and the
`--output json` document.

Owns: the fields of that document and how they are filled from the cycle's state and its error.
Must not: write files, or hold a credential (errors are one-line messages of planner.errors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from planner.auto.gates import Gates
from planner.errors import ExecutionError, PoolshiftError

Action = Literal["none", "planned", "executed"]
OUTCOMES = ("none", "planned", "executed", "failed")


def iso(moment: datetime) -> str:
    """`2026-01-07T12:00:00Z`: UTC, whole seconds."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class CycleResult:
    """What one cycle did and why; `record()` is both the audit line and the `--output json` document."""

    started_at: datetime
    execute: bool
    state_dir: Path
    action: Action = "none"
    reason: str = ""
    stage: str = "start"
    locked: bool = False
    gates: Gates | None = None
    project_id: str | None = None
    inventory_fingerprint: str | None = None
    spec_fingerprint: str | None = None
    summary: dict[str, Any] | None = None
    plan_path: Path | None = None
    journal: str | None = None
    frozen_by: list[str] = field(default_factory=list)
    in_window: bool | None = None
    steps_total: int = 0
    steps_done: int = 0
    steps_failed: list[int] = field(default_factory=list)
    requests_sent: int = 0
    messages: list[str] = field(default_factory=list)
    error: PoolshiftError | None = None
    duration: float = 0.0

    @property
    def outcome(self) -> str:
        """`failed` when the cycle ended in an error, else its action."""
        return "failed" if self.error is not None else self.action

    @property
    def exit_code(self) -> int:
        return self.error.exit_code if self.error is not None else 0

    def record(self) -> dict[str, Any]:
        summary = self.summary or {}
        return {
            "time": iso(self.started_at),
            "duration_seconds": round(self.duration, 3),
            "action": self.action,
            "reason": self.reason,
            "outcome": self.outcome,
            "stage": self.stage,
            "execute": self.execute,
            "locked": self.locked,
            "project_id": self.project_id,
            "inventory_fingerprint": self.inventory_fingerprint,
            "spec_fingerprint": self.spec_fingerprint,
            "deviation_before": summary.get("deviation_before"),
            "deviation_after": summary.get("deviation_after"),
            "moves": summary.get("moves", 0),
            "requests": summary.get("requests", 0),
            "plan_summary": {k: summary[k] for k in ("moves", "requests", "waves", "staging_moves",
                                                     "deviation_before", "deviation_after", "status", "bound",
                                                     "blocked_by") if k in summary} or None,
            "gates": self.gates.to_dict() if self.gates else None,
            "frozen_by": self.frozen_by,
            "in_window": self.in_window,
            "plan": str(self.plan_path) if self.plan_path else None,
            "journal": self.journal,
            "steps_total": self.steps_total,
            "steps_done": self.steps_done,
            "steps_failed": self.steps_failed,
            "requests_sent": self.requests_sent,
            "messages": self.messages,
            "error": None if self.error is None else {
                "type": type(self.error).__name__, "exit_code": self.error.exit_code,
                "message": str(self.error).replace("\n", " ").strip(),
                **({"step_id": self.error.step_id} if isinstance(self.error, ExecutionError) else {}),
            },
            "state_dir": str(self.state_dir),
        }
