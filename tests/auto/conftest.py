"""Fixtures and helpers for the `poolshift auto` tests: the emulator, a spec writer, a stand-in for apply."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.planfile import PlanDocument
from tests.emulator_server import emulator, emulator_snapshot  # noqa: F401  (pytest fixtures)

# pool-src has 9 nodes (4 of them may not move), pool-dst 2: deviation 8 before, 0 after 4 moves.
BASE_SPEC: dict[str, Any] = {
    "format": "poolshift.spec/v1",
    "pools": {"pool-src": {"target": 5}, "pool-dst": {"target": 6}},
}


@pytest.fixture(autouse=True)
def private_lock_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own project-lock folder: tests (and other checkouts running theirs at the same time on this
    host) use the same project ids, and must not exclude one another through the user's state directory."""
    folder = tmp_path_factory.mktemp("locks")
    monkeypatch.setenv("POOLSHIFT_LOCK_DIR", str(folder))
    return folder


def write_spec(folder: Path, auto: dict[str, Any] | None = None, **changes: Any) -> Path:
    """Write BASE_SPEC (plus an `auto:` section and top-level changes) to folder/spec.yaml."""
    data = {**BASE_SPEC, **changes}
    if auto is not None:
        data["auto"] = auto
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class StubResult:
    """Shaped like `planner.apply.ApplyResult` (the fields auto reads)."""

    executed: bool
    steps_total: int
    steps_done: int
    steps_failed: list[int]
    requests: list[dict[str, Any]]
    journal: str | None
    messages: list[str] = field(default_factory=list)
    interrupted: bool = False


@dataclass
class StubApplier:
    """Stands in for `planner.apply.apply_plan`: sends each step in order when executing, else nothing.

    `hold` makes it wait (after being entered) until the event is set; `error` makes it raise that error.
    """

    error: Exception | None = None
    hold: threading.Event | None = None
    entered: threading.Event = field(default_factory=threading.Event)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, plan: PlanDocument, plan_path: Path, client_factory: Any, *, execute: bool,
                 journal: Path, options: Any, stop: threading.Event | None) -> StubResult:
        self.calls.append({"plan_path": plan_path, "execute": execute, "journal": journal})
        self.entered.set()
        if self.hold is not None:
            assert self.hold.wait(10)
        if self.error is not None:
            raise self.error
        requests: list[dict[str, Any]] = []
        if execute:
            with client_factory(False) as client:
                for step in plan.steps:
                    client.migrate_nodes(step.source, step.body_json())
                    requests.append({"pool_name": step.source, "body": step.body_json()})
        steps = len(plan.steps)
        return StubResult(executed=execute, steps_total=steps, steps_done=steps if execute else 0,
                          steps_failed=[], requests=requests, journal=str(journal) if execute else None)
