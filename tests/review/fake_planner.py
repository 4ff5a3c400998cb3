"""Stand-in planners for the what-if tests: importable by dotted path, so they also work in the
spawned worker processes (monkeypatching would not reach those)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from planner.errors import InputError, PlanningError


@dataclass
class FakePlan:
    document: dict[str, Any]


def make_plan(snapshot: dict[str, Any], spec_data: dict[str, Any], *, options: Any = None,
              snapshot_source: str = "<snapshot>", spec_source: str = "<spec>") -> FakePlan:
    """A plan whose figures come from the inputs: moves = node count, deviation = spec `fake.deviation`."""
    fake = spec_data.get("fake", {})
    if fake.get("infeasible"):
        raise PlanningError("no placement meets the hard rules: pool p must end with at least 9 nodes",
                            rules=["pool p must end with at least 9 nodes"], pools=["p"])
    if fake.get("bad_input"):
        raise InputError("unknown pool 'ghost'", source=spec_source, path="pools.ghost")
    nodes = sum(len(v) for v in snapshot.get("nodes", {}).values())
    summary = {"moves": nodes, "requests": 1, "deviation_before": 9, "deviation_after": fake.get("deviation", 0),
               "status": "OPTIMAL", "bound": 0, "solve_seconds": 0.0, "staging_moves": 0, "waves": 1,
               "blocked_by": [], "pid": os.getpid()}
    return FakePlan({"format": "poolshift.plan/v1", "summary": summary, "pools": {}, "steps": []})


def fail_if_called(*args: Any, **kwargs: Any) -> FakePlan:
    raise AssertionError("the planner must not run")
