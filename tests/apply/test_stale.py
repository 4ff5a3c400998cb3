"""A plan made before the inventory changed: refused (exit 4) with the changes that matter listed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from planner.apply import ApplyOptions, apply_plan
from planner.errors import StalePlanError
from planner.planfile import read_plan
from tests.apply.conftest import apply_snapshot
from tests.apply.helpers import accepted_per_step, factory, fast
from tests.emulator_server import run_emulator

pytestmark = pytest.mark.emulator

Snapshot = dict[str, Any]


def _node(snap: Snapshot, name: str) -> dict[str, Any]:
    return next(n for items in snap["nodes"].values() for n in items if n["metadata"]["name"] == name)


def _pool(snap: Snapshot, name: str) -> dict[str, Any]:
    return next(p for p in snap["pools"] if p["metadata"]["name"] == name)


def lock(snap: Snapshot) -> None:
    _node(snap, "a-00")["metadata"]["annotations"]["os.modelarts.node/lock.action"] = "delete"


def creating(snap: Snapshot) -> None:
    _node(snap, "a-02")["status"]["phase"] = "Creating"


def billing(snap: Snapshot) -> None:
    _node(snap, "a-01")["metadata"]["labels"]["os.modelarts/billing.status"] = "1"


def move(snap: Snapshot) -> None:
    node = _node(snap, "a-05")
    snap["nodes"]["pool-a"].remove(node)
    snap["nodes"]["pool-b"].append(node)


def gone(snap: Snapshot) -> None:
    snap["nodes"]["pool-a"] = [n for n in snap["nodes"]["pool-a"] if n["metadata"]["name"] != "a-07"]


def pool_phase(snap: Snapshot) -> None:
    _pool(snap, "pool-d")["status"]["phase"] = "Abnormal"


def pool_flavor(snap: Snapshot) -> None:
    _pool(snap, "pool-c")["spec"]["resources"] = [{"flavor": "modelarts.vm.cpu.16u"}]


def subnet_short(snap: Snapshot) -> None:
    snap["networks"][1]["subnets"][0]["usedIps"] = 28   # 2 free; steps 4-8 bring 5 nodes into subnet-2


def extra_node(snap: Snapshot) -> None:
    node = _node(snap, "b-00")
    snap["nodes"]["pool-b"].append({**node, "metadata": {**node["metadata"], "name": "b-new"}})


CASES: list[tuple[Callable[[Snapshot], None], list[str]]] = [
    (lock, ["node a-00 (step 1) may not move: locked (delete)"]),
    (creating, ["node a-02 (step 3) may not move: phase Creating"]),
    (billing, ["node a-01 (step 2) may not move: billing status 1 (frozen)"]),
    (move, ["pool pool-a has 11 nodes, the plan expects 12 (before: 12)",
            "pool pool-b has 3 nodes, the plan expects 2 (before: 2)",
            "node a-05 (step 6) moved: it is in pool pool-b, the plan expects pool pool-a"]),
    (gone, ["pool pool-a has 11 nodes, the plan expects 12 (before: 12)", "node a-07 (step 8) is gone"]),
    (pool_phase, ["pool pool-d is Abnormal, not Running"]),
    (pool_flavor, ["pool pool-c no longer accepts flavor modelarts.vm.cpu.8u.d (step 4)",
                   "pool pool-c no longer accepts flavor modelarts.vm.cpu.8u.d (step 5)"]),
    (subnet_short, ["subnet subnet-2 has 2 free addresses now (the plan saw 26); the remaining steps need 5 "
                    "(reserve 0 included)"]),
    (extra_node, ["pool pool-b has 3 nodes, the plan expects 2 (before: 2)"]),
]


@pytest.mark.parametrize(("change", "expected"), CASES, ids=[c.__name__ for c, _ in CASES])
@pytest.mark.parametrize("execute", [False, True], ids=["dry-run", "execute"])
def test_a_stale_plan_is_refused_with_what_changed(plan_file: Path, change: Callable[[Snapshot], None],
                                                   expected: list[str], execute: bool) -> None:
    plan = read_plan(plan_file)
    live = apply_snapshot()
    change(live)
    with run_emulator(live) as emu:
        with pytest.raises(StalePlanError) as caught:
            apply_plan(plan, plan_file, factory(emu), ApplyOptions(execute=execute))
        assert emu.state()["migrate_requests"] == []
    assert caught.value.exit_code == 4
    assert caught.value.changes == expected
    assert str(caught.value).startswith(f"the plan is stale: {expected[0]}")
    assert not plan_file.with_name(plan_file.name + ".journal.jsonl").exists()


def test_a_change_that_does_not_matter_is_noted_and_the_plan_runs(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    live = apply_snapshot()
    _node(live, "a-11")["metadata"]["labels"]["team"] = "vision"       # a node the plan does not move
    live["networks"][0]["subnets"][0]["usedIps"] -= 3                    # more room, not less
    with run_emulator(live, job_seconds=0.0) as emu:
        result = apply_plan(plan, plan_file, factory(emu), fast())
        assert len(emu.state()["migrate_requests"]) == 8
    assert result.steps_done == 8
    assert any("differs from the one the plan was made from, but nothing this plan depends on changed" in m
               for m in result.messages)


def test_allow_drift_runs_a_drifted_plan_whose_remaining_steps_verify(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    live = apply_snapshot()
    gone_node = "a-11"   # pool-a keeps 3 nodes after the plan instead of 4: still above its floor
    live["nodes"]["pool-a"] = [n for n in live["nodes"]["pool-a"] if n["metadata"]["name"] != gone_node]
    with run_emulator(live, job_seconds=0.0) as emu:
        with pytest.raises(StalePlanError, match="pass --allow-drift"):
            apply_plan(plan, plan_file, factory(emu), fast())
        result = apply_plan(plan, plan_file, factory(emu), fast(allow_drift=True))
        state = emu.state()
    assert result.steps_done == 8
    assert result.changes == ["pool pool-a has 11 nodes, the plan expects 12 (before: 12)"]
    assert any("--allow-drift" in m for m in result.messages)
    assert sorted(accepted_per_step(state, plan).items()) == [(i, 1) for i in range(1, 9)]
    records = plan_file.with_name(plan_file.name + ".journal.jsonl").read_text()
    assert '"event":"drift_accepted"' in records


def test_allow_drift_still_refuses_when_a_remaining_step_fails_the_verifier(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    live = apply_snapshot()
    lock(live)
    with run_emulator(live) as emu:
        with pytest.raises(StalePlanError) as caught:
            apply_plan(plan, plan_file, factory(emu), fast(allow_drift=True))
        assert emu.state()["migrate_requests"] == []
    assert "do not pass the verifier" in str(caught.value)
    assert any(c.startswith("verifier: step 1: node a-00 may not move (locked)") for c in caught.value.changes)
