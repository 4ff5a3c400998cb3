"""Stand-in planners for the what-if tests, passed to `run_whatif(..., planner=...)`.

They are module-level functions, so they pickle to the spawned worker processes (monkeypatching would not
reach those). A fake plan is a real `PlanDocument`: plan A of the fixtures with the summary figures taken from
the inputs, and the process that made it recorded in `generator.poolshift`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from planner.errors import InputError, PlanningError
from planner.planfile import PlanDocument, read_plan
from tests.review.conftest import plan_path

FAKE_PREFIX = "fake-planner pid "


@dataclass(frozen=True)
class FakePlan:
    document: PlanDocument


def pid_of(document: PlanDocument) -> int:
    """The process id of the fake planner that made `document`."""
    assert document.generator.poolshift.startswith(FAKE_PREFIX), document.generator.poolshift
    return int(document.generator.poolshift.removeprefix(FAKE_PREFIX))


def make_plan(snapshot: dict[str, Any], spec_data: dict[str, Any], *, options: Any = None,
              snapshot_source: str = "<snapshot>", spec_source: str = "<spec>") -> FakePlan:
    """A plan whose figures come from the inputs: moves = node count, deviation = spec `fake.deviation`."""
    fake = spec_data.get("fake", {})
    if fake.get("infeasible"):
        raise PlanningError("no placement meets the hard rules: pool p must end with at least 9 nodes",
                            rules=["pool p must end with at least 9 nodes"], pools=["p"])
    if fake.get("bad_input"):
        raise InputError("unknown pool 'ghost'", source=spec_source, path="pools.ghost")
    base = read_plan(plan_path("a"))
    nodes = sum(len(v) for v in snapshot.get("nodes", {}).values())
    summary = base.summary.model_copy(update={"moves": nodes, "deviation_before": 9,
                                              "deviation_after": fake.get("deviation", 0)})
    generator = base.generator.model_copy(update={"poolshift": f"{FAKE_PREFIX}{os.getpid()}"})
    return FakePlan(base.model_copy(update={"summary": summary, "generator": generator}))


def fail_if_called(*args: Any, **kwargs: Any) -> FakePlan:
    raise AssertionError("the planner must not run")
