"""Property tests for busy nodes (PRODUCT §9) on random tiny inventories, against a brute force.

Busy nodes are drawn at random and written into the raw snapshot the way ModelArts shows them: a Running
workload naming the node's `status.privateIp` in `hostIps` or in `nodes[].hostIp`, or accelerators in use with
no workload listed; Pending workloads are added as noise (they make nothing busy). The test reads which units are
busy back from the raw snapshot with its own few lines, and the brute force (`tests/core/test_properties.py`)
enumerates every final placement for the lexicographically smallest (deviation D, busy nodes moved B, moves M).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import PlanningError
from planner.planning import make_plan
from planner.spec import parse_spec
from planner.verify import verify_plan
from tests.core.builders import node, pool, snapshot, workload
from tests.core.test_properties import brute_force_busy, instances

GPU = {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "8"}


@st.composite
def busy_instances(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """An instance of `instances()` with some nodes busy, in every way the snapshot can tell it."""
    snap, raw_spec = draw(instances())
    workloads: dict[str, list[dict[str, Any]]] = {}
    k = 0
    for pool_name, items in sorted(snap["nodes"].items()):
        listed = workloads.setdefault(pool_name, [])
        for n in items:
            k += 1
            ip = f"10.9.0.{k}"
            n["status"].update(privateIp=ip, resources=dict(GPU), availableResources=dict(GPU))
            how = draw(st.sampled_from(["idle"] * 3 + ["hostIps", "members", "accelerators", "pending"]))
            if how == "hostIps":
                listed.append(workload(f"w{k}", [ip], priority=draw(st.sampled_from(["1", "2", 3]))))
            elif how == "members":
                listed.append(workload(f"w{k}", [ip], kind="infer", as_members=True))
            elif how == "accelerators":
                n["status"]["availableResources"]["nvidia.com/gpu"] = draw(st.sampled_from(["0", "4", "7"]))
            elif how == "pending":
                listed.append(workload(f"w{k}", [ip], status="Pending"))
    snap["workloads"] = workloads
    return snap, raw_spec


@st.composite
def choice_instances(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """Pools that want nodes beside pools that could give them, some of the givers all busy, some all idle, some
    mixed: a planner blind to workloads may take from any of them at the same (D, M)."""
    n_givers = draw(st.integers(2, 3))  # at most 6 movable nodes: the brute force stays small
    pools = [pool("take-0", ["f.a", "f.b"]), *(pool(f"give-{i}", ["f.a", "f.b"]) for i in range(n_givers))]
    nodes: dict[str, list[dict[str, Any]]] = {"take-0": [node("t-0", "f.a"), node("t-1", "f.b")]}
    workloads: dict[str, list[dict[str, Any]]] = {"take-0": []}
    k = 0
    for i in range(n_givers):
        name, share = f"give-{i}", draw(st.sampled_from([0.0, 0.5, 1.0]))
        count = draw(st.integers(2, 3)) if n_givers == 2 else 2
        nodes[name], workloads[name] = [], []
        for j in range(count):
            k += 1
            ip = f"10.8.0.{k}"
            nodes[name].append(node(f"g{i}-{j}", draw(st.sampled_from(["f.a", "f.b"])), ip=ip, resources=GPU))
            if j < share * count:
                workloads[name].append(workload(f"job-{k}", [ip]))
    snap = snapshot(pools, nodes)
    snap["workloads"] = workloads
    wishes: dict[str, Any] = {"take-0": {"target": draw(st.integers(3, 5)), "give": False}}
    if draw(st.booleans()):
        wishes["take-0"]["flavors"] = {"f.a": draw(st.integers(1, 3))}
    raw_spec = {"format": "poolshift.spec/v1", "pools": wishes, "limits": {"max_batch_size": draw(st.integers(1, 3))}}
    return snap, raw_spec


def busy_units(snap: dict[str, Any]) -> frozenset[str]:
    """Units (super-node uid, else node name) with a member that runs something, read from the raw snapshot."""
    running = {ip for items in snap["workloads"].values() for w in items if w["status"] == "Running"
               for ip in [*w.get("hostIps", "").split(","), *(m["hostIp"] for m in w.get("nodes", []))] if ip}
    out = set()
    for items in snap["nodes"].values():
        for n in items:
            status = n["status"]
            if status.get("privateIp") in running or status.get("availableResources", GPU)["nvidia.com/gpu"] != "8":
                out.add(n["metadata"]["labels"].get("os.modelarts.node/batch.uid") or n["metadata"]["name"])
    return frozenset(out)


def planned(snap: dict[str, Any], raw_spec: dict[str, Any], policy: str) -> dict[str, Any] | None:
    """The plan's summary under `policy` (verified independently), or None when there is no plan."""
    with_policy = {**raw_spec, "workloads": {"busy_nodes": policy}}
    try:
        plan = make_plan(snap, with_policy)
    except PlanningError:
        return None
    assert verify_plan(snap, parse_spec(with_policy), plan.document) == []
    if policy == "keep":
        assert plan.document.summary.busy_moves == 0 and all(not s.disrupts for s in plan.document.steps)
    summary: dict[str, Any] = plan.document.summary.model_dump(mode="json")
    return summary


def dbm(summary: dict[str, Any]) -> tuple[int, int, int]:
    return summary["deviation_after"], summary["busy_moves"], summary["moves"] - summary["staging_moves"]


def assert_optimal_against_brute_force(case: tuple[dict[str, Any], dict[str, Any]], policy: str) -> None:
    """The plan under `policy` (keep: busy units may not move; drain: they may) against the brute force: the same
    (D, B, M) when OPTIMAL, else the proven bound on D and a deviation no better than it."""
    snap, raw_spec = case
    best = brute_force_busy(snap, raw_spec, busy_units(snap), keep=policy == "keep")
    summary = planned(snap, raw_spec, policy)
    if summary is None:
        return
    assert best is not None
    if summary["status"] == "OPTIMAL":
        assert dbm(summary) == best
    else:
        assert summary["bound"] == best[0] and summary["deviation_after"] >= best[0]


@settings(max_examples=150, deadline=None)
@given(st.one_of(busy_instances(), choice_instances()))
def test_drain_is_lexicographically_optimal_in_deviation_busy_moves_and_moves(
        case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    assert_optimal_against_brute_force(case, "drain")


@settings(max_examples=100, deadline=None)
@given(busy_instances())
def test_keep_is_optimal_over_idle_units_only(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    assert_optimal_against_brute_force(case, "keep")


@settings(max_examples=100, deadline=None)
@given(st.one_of(busy_instances(), choice_instances()))
def test_drain_never_moves_more_busy_nodes_than_ignore_for_the_same_deviation(
        case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    snap, raw_spec = case
    drain, ignore = planned(snap, raw_spec, "drain"), planned(snap, raw_spec, "ignore")
    if drain is None or ignore is None or drain["status"] != "OPTIMAL":
        return  # (an OPTIMAL drain plan has the least B of any valid placement with its D, ignore's among them)
    if drain["deviation_after"] == ignore["deviation_after"]:
        assert drain["busy_moves"] <= ignore["busy_moves"]
