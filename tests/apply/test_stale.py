"""A plan made before the inventory changed: refused (exit 4) with the changes that matter listed."""

from __future__ import annotations

import threading
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


def new_subnet_for_pool_c(snap: Snapshot) -> None:
    """pool-c moved to another subnet of its network after planning (plenty of room there); pool-d, on the same
    network, names the subnet it always had."""
    snap["networks"][1]["subnets"].append({"networkId": "subnet-3", "cidr": "10.3.0.0/24", "totalIps": 250,
                                           "usedIps": 10})
    _pool(snap, "pool-c")["spec"]["network"]["subnetId"] = "subnet-3"
    _pool(snap, "pool-d")["spec"]["network"]["subnetId"] = "subnet-2"


@pytest.mark.parametrize("execute", [False, True], ids=["dry-run", "execute"])
def test_allow_drift_refuses_before_sending_when_a_later_step_would_fail_its_preconditions(
        plan_file: Path, execute: bool) -> None:
    # issue 17.2: the verifier accepts every step on the live inventory, but the steps into pool-c would fail
    # their preconditions (the pool no longer uses the subnet the plan knew): step 1 was sent, then step 4
    # failed, and every --resume failed the same way. Now nothing is sent.
    plan = read_plan(plan_file)
    first_into_c = next(s.id for s in plan.steps if s.target == "pool-c")
    live = apply_snapshot()
    new_subnet_for_pool_c(live)
    with run_emulator(live) as emu:
        with pytest.raises(StalePlanError) as caught:
            apply_plan(plan, plan_file, factory(emu), fast(execute=execute, allow_drift=True))
        assert emu.state()["migrate_requests"] == []
    message = str(caught.value)
    assert caught.value.exit_code == 4
    assert message.startswith(f"the plan is stale: step {first_into_c} would not pass its preconditions on the live "
                              f"inventory (pool pool-c now uses subnet subnet-3, the plan has subnet-2)")
    assert "refused before sending any of the remaining steps" in message
    assert f"step {first_into_c} would fail: pool pool-c now uses subnet subnet-3, the plan has subnet-2" \
        in caught.value.changes
    assert not plan_file.with_name(plan_file.name + ".journal.jsonl").exists()


def test_a_resume_with_allow_drift_refuses_the_same_way_before_sending(plan_file: Path) -> None:
    plan = read_plan(plan_file)
    with run_emulator(apply_snapshot(), job_seconds=0.0) as emu:
        stop_after_first = fast(max_parallel=1)
        progress_stop: list[str] = []

        def stop_when_done(text: str, done: int, total: int) -> None:
            if done >= 1 and not progress_stop:
                progress_stop.append(text)
                stop.set()

        stop = threading.Event()
        result = apply_plan(plan, plan_file, factory(emu), stop_after_first, progress=stop_when_done, stop=stop)
        assert result.interrupted and 1 <= result.steps_done < 8
        sent = len(emu.state()["migrate_requests"])
        with emu.machine.lock:   # pool-c moves to another subnet while the run is stopped
            emu.machine.store.networks["net-2"]["subnets"].append(
                {"networkId": "subnet-3", "cidr": "10.3.0.0/24", "totalIps": 250, "usedIps": 10})
            emu.machine.store.subnets["subnet-3"] = emu.machine.store.networks["net-2"]["subnets"][-1]
            emu.machine.store.pools["pool-c"]["spec"]["network"]["subnetId"] = "subnet-3"
            emu.machine.store.pools["pool-d"]["spec"]["network"]["subnetId"] = "subnet-2"
        with pytest.raises(StalePlanError, match="would not pass its preconditions") as caught:
            apply_plan(plan, plan_file, factory(emu), fast(resume=True, allow_drift=True))
        assert len(emu.state()["migrate_requests"]) == sent
    assert "pool pool-c now uses subnet subnet-3" in str(caught.value)
