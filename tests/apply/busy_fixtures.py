"""Inventories with workloads for the apply tests (PRODUCT §9): nodes with private addresses, Running workloads
on most of pool-a, and checks on what the emulator recorded (drains before migrates, nothing killed)."""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

from planner.planfile import PlanDocument
from tests.apply.conftest import apply_snapshot, apply_spec, make_apply_plan
from tests.core.builders import workload


def ip_of(node: str) -> str:
    """`a-03` -> `10.9.0.3`: the private address every node of these inventories has."""
    pool, index = node.split("-")
    return f"10.9.{'abcd'.index(pool)}.{int(index)}"


def busy_apply_snapshot(*, with_workloads: bool = True) -> dict[str, Any]:
    """apply_snapshot() with a private address on every node; pool-a runs train-x (a-00, a-01, priority 3), svc
    (infer, a-02) and one training job on each of a-03..a-10 (a-11 is idle)."""
    snap = apply_snapshot()
    for items in snap["nodes"].values():
        for node in items:
            node["status"]["privateIp"] = ip_of(node["metadata"]["name"])
    snap["workloads"] = {pool: [] for pool in snap["nodes"]}
    if with_workloads:
        snap["workloads"]["pool-a"] = [workload("train-x", [ip_of("a-00"), ip_of("a-01")], priority="3"),
                                       workload("svc", [ip_of("a-02")], kind="infer"),
                                       *(workload(f"job-{i}", [ip_of(f"a-{i:02d}")]) for i in range(3, 11))]
    return snap


def busy_plan(busy_nodes: str | None, *, drain_timeout: int = 30, snapshot: dict[str, Any] | None = None
              ) -> dict[str, Any]:
    """The plan of apply_spec() over `snapshot` (default busy_apply_snapshot()) with `workloads.busy_nodes`."""
    spec = apply_spec()
    if busy_nodes is not None:
        spec["workloads"] = {"busy_nodes": busy_nodes, "drain_timeout": drain_timeout}
    return make_apply_plan(copy.deepcopy(snapshot or busy_apply_snapshot()), spec)


def drain_problems(state: dict[str, Any], plan: PlanDocument) -> list[str]:
    """What breaks "each busy node is drained once, before the migrate that moves it, and nothing is killed":
    a node drained twice, a migrate of a busy node (the emulator's `disrupted`), a drain after its migrate."""
    problems = [f"{d['workload']} on {d['node']} was ended by migration {d['job_id']}" for d in state["disrupted"]]
    drained = Counter(n for d in state["drains"] for n in d["nodes"])
    problems += [f"{node} drained {count} times" for node, count in drained.items() if count > 1]
    drain_ms = {n: int(d["at"] * 1000) for d in state["drains"] for n in d["nodes"]}
    for job in state["jobs"]:
        for node in json.loads(job["inputs"]).get("migrateNodeNames") or []:
            if node in drain_ms and job["startTimestamp"] < drain_ms[node]:
                problems.append(f"{node} was migrated (job {job['jobId']}) before it was drained")
    planned = {n for s in plan.steps for n in s.nodes}
    problems += [f"{n} was drained but no step moves it" for n in drained if n not in planned]
    return problems
