"""Stand-in planners for the what-if tests, passed to `run_whatif(..., planner=...)`.

A fake plan is a real `PlanDocument`: plan A of the fixtures with the summary figures taken from the inputs
(an `Inventory`, as whatif passes it, and a spec), and the process and thread that made it recorded in
`generator.poolshift`; the inventory's identity is kept too, to tell which scenarios shared one (a forked
worker sees its parent's objects at the same addresses).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from planner.errors import InputError, PlanningError
from planner.inventory import Inventory, build_inventory
from planner.planfile import PlanDocument, read_plan
from tests.review.conftest import plan_path

FAKE_PREFIX = "fake-planner "


@dataclass(frozen=True)
class FakePlan:
    document: PlanDocument


def made_by(document: PlanDocument) -> tuple[int, str, int]:
    """(process id, thread name, `id` of the inventory given) of the fake planner that made `document`."""
    assert document.generator.poolshift.startswith(FAKE_PREFIX), document.generator.poolshift
    pid, thread, inventory = document.generator.poolshift.removeprefix(FAKE_PREFIX).split("|")
    return int(pid), thread, int(inventory)


def make_plan(inventory: Inventory | dict[str, Any], spec_data: dict[str, Any], *, options: Any = None,
              snapshot_source: str = "<snapshot>", spec_source: str = "<spec>", fingerprint: bool = True,
              reuse: Inventory | None = None) -> FakePlan:
    """A plan whose figures come from the inputs: moves = node count, deviation = spec `fake.deviation`
    (`fake.infeasible`, `fake.bad_input`, `fake.crash`: a PlanningError, an InputError, a RuntimeError). Like the
    real planner it takes an inventory or a raw snapshot (which it derives, as a new inventory)."""
    if not isinstance(inventory, Inventory):
        inventory = build_inventory(inventory, source=snapshot_source, reuse=reuse)
    fake = spec_data.get("fake", {})
    if fake.get("infeasible"):
        raise PlanningError("no placement meets the hard rules: pool p must end with at least 9 nodes",
                            rules=["pool p must end with at least 9 nodes"], pools=["p"])
    if fake.get("crash"):
        raise RuntimeError("the fake planner crashed (a bug, not a poolshift error)")
    if fake.get("bad_input"):
        raise InputError("unknown pool 'ghost'", source=spec_source, path="pools.ghost")
    base = read_plan(plan_path("a"))
    nodes = len(inventory.columns["nodes"]["node"])
    summary = base.summary.model_copy(update={"moves": nodes, "deviation_before": 9,
                                              "deviation_after": fake.get("deviation", 0)})
    by = f"{FAKE_PREFIX}{os.getpid()}|{threading.current_thread().name}|{id(inventory)}"
    generator = base.generator.model_copy(update={"poolshift": by})
    return FakePlan(base.model_copy(update={"summary": summary, "generator": generator}))


def fail_if_called(*args: Any, **kwargs: Any) -> FakePlan:
    raise AssertionError("the planner must not run")
