"""`auto` and busy nodes (PRODUCT §9): without a `workloads` section a cycle keeps every busy node where it is;
with `busy_nodes: drain` it drains them before moving them. The emulator's records are the evidence."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from planner.planfile import read_plan
from tests.auto.conftest import write_spec
from tests.auto.test_cycle import cycle
from tests.core.builders import workload
from tests.emulator_server import run_emulator, sample_snapshot

pytestmark = pytest.mark.emulator

BUSY = {"src-1": "192.168.0.10", "src-2": "192.168.0.11", "src-3": "192.168.0.12"}


def _busy_sample() -> dict[str, Any]:
    """sample_snapshot() with Running workloads on three of pool-src's five movable nodes."""
    snap = copy.deepcopy(sample_snapshot())
    snap["workloads"] = {"pool-src": [workload("train-big", [BUSY["src-1"], BUSY["src-2"]], priority="3"),
                                      workload("svc", [BUSY["src-3"]], kind="infer")]}
    return snap


def _where(state: dict[str, Any]) -> dict[str, str]:
    return {n["metadata"]["name"]: pool for pool, nodes in state["inventory"]["nodes"].items() for n in nodes}


def test_auto_without_a_workloads_section_never_moves_a_busy_node(tmp_path: Path) -> None:
    with run_emulator(_busy_sample()) as emu:
        result = cycle(emu, write_spec(tmp_path), execute=True)
        state = emu.state()
    assert result.error is None, result.reason
    assert result.action == "executed" and result.plan_path is not None
    plan = read_plan(result.plan_path)
    assert plan.spec.workload_rules.busy_nodes == "keep"
    assert plan.summary.busy_moves == 0 and all(not s.disrupts for s in plan.steps)
    where = _where(state)
    assert all(where[node] == "pool-src" for node in BUSY)
    assert {n for s in plan.steps for n in s.nodes} == {"src-4", "src-5"}   # the idle movable nodes only
    assert state["disrupted"] == [] and state["drains"] == []


def test_auto_with_drain_in_the_spec_drains_before_it_moves(tmp_path: Path) -> None:
    with run_emulator(_busy_sample(), drain_seconds=0.05) as emu:
        spec = write_spec(tmp_path, workloads={"busy_nodes": "drain", "drain_timeout": 30})
        result = cycle(emu, spec, execute=True)
        state = emu.state()
    assert result.error is None, result.reason
    assert result.plan_path is not None
    plan = read_plan(result.plan_path)
    assert plan.summary.busy_moves == 2 and plan.summary.deviation_after == 0
    moved_busy = {d.node for s in plan.steps for d in s.disrupts}
    drained = {n for d in state["drains"] for n in d["nodes"]}
    assert drained and drained <= moved_busy
    where = _where(state)
    assert all(where[n] == "pool-dst" for n in moved_busy)
    assert state["disrupted"] == []          # every workload ended by its drain, none by a migration
