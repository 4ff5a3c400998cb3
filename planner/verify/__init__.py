"""Independent verifier: checks a plan against the hard rules of PRODUCT §4, §6 and §9, from the raw snapshot.

It shares no code with the model: it reads the raw API objects itself (no `planner.inventory`, no
`planner.snapshot`, no `planner.modelarts`, no planning core, no `solvers`) — the label names and field rules
in `world` and `busy` repeat `planner.modelarts.objects` and `planner.inventory` on purpose, so that a mistake
there cannot hide from this check — replays the steps one by one and wave by wave (`replay`), and recomputes the
summary numbers. It reads the plan through its typed model (`planner.planfile`), which only describes the file.
Every plan passes it before it is written; `apply` runs it again on the remaining steps against live state.
Returns a list of violations in words; an empty list means the plan is valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from planner.planfile import PlanDocument, PlanStep
from planner.spec import Spec
from planner.verify.busy import running_index
from planner.verify.replay import replay
from planner.verify.world import World, read_world

__all__ = ["World", "read_ahead", "verify_plan", "verify_steps"]


def verify_steps(raw: dict[str, Any], spec: Spec, steps: Sequence[PlanStep]) -> list[str]:
    """Every hard rule of PRODUCT §4 the steps break on this snapshot (empty: none), wave by wave.

    For the remaining steps of a plan against live state: step ids need not start at 1.
    """
    return replay(raw, spec, steps).bad


def read_ahead(raw: dict[str, Any], spec: Spec) -> World:
    """The verifier's own reading of the snapshot (pools, nodes, units, subnets, and the Running workloads by
    address), taken before the plan exists (the planner takes it in a thread while it solves). Good for one
    `verify_plan` of a plan for this snapshot and spec, which uses it up."""
    world = read_world(raw, spec)
    world.running = running_index(raw)
    return world


def verify_plan(raw: dict[str, Any], spec: Spec, plan: PlanDocument, world: World | None = None) -> list[str]:
    """Every way `plan` breaks PRODUCT §4/§6 for this snapshot and spec (empty: none), its summary included.
    `world`: `read_ahead(raw, spec)`, when it was taken ahead."""
    done = replay(raw, spec, plan.steps, world)
    if [s.id for s in plan.steps] != list(range(1, len(plan.steps) + 1)):
        done.bad.append("step ids must be 1, 2, 3, ... in order")
    if done.complete:
        done.summary_checks(plan)
        done.bad += done.disrupt_errors
    return done.bad
