"""Workload-aware planning (PRODUCT §9): busy nodes from the raw snapshot, and what keep, drain and ignore do.

Every plan here passes the independent verifier (make_plan refuses to return one it rejects), and the tests
read the plan file's own fields: `excluded`, each step's `disrupts`, `summary.busy_moves`.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from planner.errors import InputError
from planner.inventory import Workload, build_inventory
from planner.planning import make_plan
from planner.spec import parse_spec
from planner.verify import verify_plan
from tests.core.builders import node, nodes_of, pool, snapshot, spec, workload
from tests.core.test_staging import swap_at_max

GPU = {"cpu": "62", "memory": "470Gi", "nvidia.com/gpu": "8"}


def busy_snapshot() -> dict[str, Any]:
    """pool-a: a-0..a-5 (10.0.0.x). job-x (train) runs on a-0 and a-1, a Pending notebook waits for a-2, a-3's
    GPUs are half taken by something no workload shows, a-4's CPU is partly used (not an accelerator); pool-b: 2
    idle nodes."""
    a = [node(f"a-{i}", ip=f"10.0.0.{i}", resources=GPU) for i in range(6)]
    a[3]["status"]["availableResources"]["nvidia.com/gpu"] = "4"
    a[4]["status"]["availableResources"]["cpu"] = "1200m"
    b = [node(f"b-{i}", ip=f"10.0.1.{i}", resources=GPU) for i in range(2)]
    snap = snapshot([pool("pool-a"), pool("pool-b")], {"pool-a": a, "pool-b": b})
    snap["workloads"] = {"pool-a": [workload("job-x", ["10.0.0.0", "10.0.0.1"], priority="3"),
                                    workload("nb", ["10.0.0.2"], status="Pending", kind="notebook")],
                         "pool-b": []}
    return snap


def plan_of(snap: dict[str, Any], wishes: dict[str, Any], busy_nodes: str | None = None,
            **top: Any) -> dict[str, Any]:
    raw_spec = spec(wishes, **top)
    if busy_nodes is not None:
        raw_spec["workloads"] = {"busy_nodes": busy_nodes}
    plan = make_plan(snap, raw_spec)
    assert verify_plan(snap, parse_spec(raw_spec), plan.document) == []
    doc: dict[str, Any] = plan.document.model_dump(mode="json")
    doc["warnings"] = plan.warnings
    return doc


def moved(doc: dict[str, Any]) -> list[str]:
    return sorted(n for s in doc["steps"] for n in s["body"]["migrateNodeNames"])


# ------------------------------------------------------------------------------------------------ inventory


def test_inventory_tells_busy_nodes_and_their_workloads() -> None:
    inv = build_inventory(busy_snapshot())
    assert inv.workloads_known
    rows = {r["node"]: r for r in inv.nodes.to_dict(orient="records")}
    assert [n for n, r in sorted(rows.items()) if r["busy"]] == ["a-0", "a-1", "a-3"]
    assert rows["a-0"]["workloads"] == (Workload("job-x", "train", "3"),) and rows["a-0"]["private_ip"] == "10.0.0.0"
    assert rows["a-0"]["busy_reason"] == "runs job-x (train)"
    assert rows["a-2"]["workloads"] == () and not rows["a-2"]["busy"]  # a Pending workload makes nothing busy
    assert rows["a-3"]["busy_reason"] == "has accelerators in use (nvidia.com/gpu) that no listed workload explains"
    assert not rows["a-4"]["busy"]  # CPU in use is not an accelerator
    assert rows["b-0"]["busy_reason"] == "" and not rows["b-0"]["busy"]


def test_a_workload_is_found_by_its_members_and_from_any_pool_list() -> None:
    snap = busy_snapshot()
    snap["workloads"] = {"pool-a": [], "pool-b": [workload("svc", ["10.0.0.5"], kind="infer", as_members=True)]}
    rows = {r["node"]: r for r in build_inventory(snap).nodes.to_dict(orient="records")}
    assert rows["a-5"]["busy"] and rows["a-5"]["workloads"] == (Workload("svc", "infer", "2"),)
    assert not rows["a-0"]["busy"]


def test_accelerator_amounts_are_quantities() -> None:
    snap = busy_snapshot()
    for n in snap["nodes"]["pool-a"]:
        n["status"]["resources"]["huawei.com/ascend-snt9"] = "8"
        n["status"]["availableResources"]["huawei.com/ascend-snt9"] = "8000m"  # the same amount, written otherwise
    del snap["nodes"]["pool-a"][5]["status"]["availableResources"]["nvidia.com/gpu"]  # none available
    rows = {r["node"]: r for r in build_inventory(snap).nodes.to_dict(orient="records")}
    assert [n for n, r in sorted(rows.items()) if r["busy"]] == ["a-0", "a-1", "a-3", "a-5"]


def test_without_a_workloads_key_only_accelerators_tell() -> None:
    snap = busy_snapshot()
    del snap["workloads"]
    inv = build_inventory(snap)
    assert not inv.workloads_known
    assert [n for n, b in zip(inv.columns["nodes"]["node"], inv.columns["nodes"]["busy"], strict=True) if b] == ["a-3"]


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda s: s.update(workloads=[]), "$.workloads: expected object"),
    (lambda s: s["workloads"].update({"pool-zzz": []}), '$.workloads["pool-zzz"]: workloads listed under pool'),
    (lambda s: s["workloads"].update({"pool-b": {}}), '$.workloads["pool-b"]: expected an array of workloads'),
    (lambda s: s["workloads"]["pool-a"].append("job"), '$.workloads["pool-a"][2]: expected an object'),
    (lambda s: s["workloads"]["pool-a"][0].pop("name"), '$.workloads["pool-a"][0].name: required field'),
    (lambda s: s["workloads"]["pool-a"][0].update(name=""), '$.workloads["pool-a"][0].name: must not be empty'),
    (lambda s: s["workloads"]["pool-a"][1].pop("status"), '$.workloads["pool-a"][1].status: required field'),
    (lambda s: s["workloads"]["pool-a"][0].update(priority=True), '$.workloads["pool-a"][0].priority: expected'),
    (lambda s: s["workloads"]["pool-a"][0].update(hostIps=["10.0.0.0"]), '$.workloads["pool-a"][0].hostIps'),
    (lambda s: s["workloads"]["pool-a"][0].update(nodes=[{"hostIp": 7}]),
     '$.workloads["pool-a"][0].nodes[0].hostIp'),
    (lambda s: s["nodes"]["pool-a"][1]["status"].update(privateIp=10), '$.nodes["pool-a"][1].status.privateIp'),
    (lambda s: s["nodes"]["pool-a"][2]["status"].update(resources="8 GPUs"), '$.nodes["pool-a"][2].status.resources'),
    (lambda s: s["nodes"]["pool-a"][2]["status"]["availableResources"].update({"nvidia.com/gpu": "a few"}),
     '$.nodes["pool-a"][2].status.availableResources["nvidia.com/gpu"]: expected a quantity'),
])
def test_malformed_workload_facts_are_refused_with_their_json_path(mutate: Any, path: str) -> None:
    snap = busy_snapshot()
    mutate(snap)
    with pytest.raises(InputError) as info:
        build_inventory(snap, source="snap.json")
    assert str(info.value).startswith("snap.json: " + path), str(info.value)


def test_workloads_count_in_the_fingerprint_but_not_their_order() -> None:
    snap = busy_snapshot()
    other = copy.deepcopy(snap)
    other["workloads"]["pool-a"].reverse()
    assert build_inventory(snap).fingerprint == build_inventory(other).fingerprint
    other["workloads"]["pool-a"][0]["hostIps"] = "10.0.0.4"
    assert build_inventory(snap).fingerprint != build_inventory(other).fingerprint


# ------------------------------------------------------------------------------------------------ policies

WISHES = {"pool-a": {"target": 2}, "pool-b": {"target": 6}}  # 4 of pool-a's 6 nodes should move; 3 are idle


def test_keep_never_moves_a_busy_node_and_says_why() -> None:
    doc = plan_of(busy_snapshot(), WISHES)  # no workloads: section: keep
    assert moved(doc) == ["a-2", "a-4", "a-5"]
    assert doc["summary"]["deviation_after"] == 2 and doc["summary"]["busy_moves"] == 0
    assert all(s["disrupts"] == [] for s in doc["steps"])
    reasons = {e["node"]: e["reason"] for e in doc["excluded"]}
    assert reasons == {"a-0": "busy: runs job-x (train)", "a-1": "busy: runs job-x (train)",
                       "a-3": "busy: has accelerators in use (nvidia.com/gpu) that no listed workload explains"}
    assert doc["pools"]["pool-a"]["residual"]["limited_by"] == [
        "only 0 of its nodes may move (3 may not; 3 of them busy and busy_nodes is keep)"]
    assert doc["warnings"] == [] and doc["spec"].get("workloads") is None


def test_drain_moves_the_fewest_busy_nodes_and_lists_what_it_ends() -> None:
    doc = plan_of(busy_snapshot(), WISHES, "drain")
    summary = doc["summary"]
    assert (summary["deviation_after"], summary["busy_moves"], summary["moves"]) == (0, 1, 4)
    assert summary["status"] == "OPTIMAL"
    assert moved(doc) == ["a-0", "a-2", "a-4", "a-5"]  # the idle three, then the first busy one
    assert [d for s in doc["steps"] for d in s["disrupts"]] == [
        {"node": "a-0", "workload": "job-x", "type": "train", "priority": "3"}]
    assert doc["excluded"] == [] and doc["spec"]["workloads"] == {"busy_nodes": "drain", "drain_timeout": 1800}


def test_drain_takes_an_idle_node_of_another_pool_before_a_busy_one() -> None:
    snap = busy_snapshot()
    snap["pools"].append(pool("pool-c"))
    snap["nodes"]["pool-c"] = nodes_of("c", 3)
    doc = plan_of(snap, {"pool-b": {"target": 5}}, "drain")  # 3 nodes to pool-b: from a's idle ones or c's
    assert doc["summary"]["busy_moves"] == 0 and doc["summary"]["deviation_after"] == 0
    assert not set(moved(doc)) & {"a-0", "a-1", "a-3"}


def test_ignore_plans_as_if_idle_takes_idle_nodes_first_and_still_reports() -> None:
    doc = plan_of(busy_snapshot(), WISHES, "ignore")
    assert moved(doc) == ["a-0", "a-2", "a-4", "a-5"] and doc["summary"]["busy_moves"] == 1
    assert [d["workload"] for s in doc["steps"] for d in s["disrupts"]] == ["job-x"]
    doc = plan_of(busy_snapshot(), {"pool-a": {"target": 3}, "pool-b": {"target": 5}}, "ignore")
    assert moved(doc) == ["a-2", "a-4", "a-5"] and doc["summary"]["busy_moves"] == 0


def test_a_node_busy_only_by_its_accelerators_disrupts_an_unlisted_workload() -> None:
    snap = busy_snapshot()
    snap["workloads"]["pool-a"] = []
    for n in snap["nodes"]["pool-a"][:3]:
        n["metadata"]["annotations"]["os.modelarts.node/lock.action"] = "delete"
    doc = plan_of(snap, WISHES, "drain")  # only a-3 (its GPUs in use), a-4 and a-5 may move
    assert moved(doc) == ["a-3", "a-4", "a-5"]
    assert [d for s in doc["steps"] for d in s["disrupts"]] == [
        {"node": "a-3", "workload": "(unlisted: accelerators in use)", "type": "unknown", "priority": None}]
    assert doc["summary"]["busy_moves"] == 1


def test_a_super_node_with_one_busy_member_is_busy_whole() -> None:
    sn = [node(f"s-{i}", ip=f"10.0.2.{i}", super_node="spod-9") for i in range(2)]
    locked = nodes_of("a", 2, annotations={"os.modelarts.node/lock.action": "delete"})
    snap = snapshot([pool("pool-a"), pool("pool-b")], {"pool-a": sn + locked, "pool-b": nodes_of("b", 2)})
    snap["workloads"] = {"pool-a": [workload("pretrain", ["10.0.2.1"])]}
    keep = plan_of(snap, {"pool-b": {"target": 4}})
    assert keep["steps"] == [] and keep["summary"]["deviation_after"] == 2
    assert {e["node"]: e["reason"] for e in keep["excluded"] if e["node"].startswith("s-")} == {
        "s-0": "busy: super node member s-1 runs pretrain (train)", "s-1": "busy: runs pretrain (train)"}
    drain = plan_of(snap, {"pool-b": {"target": 4}}, "drain")
    [step] = drain["steps"]
    assert step["body"]["migrateNodeNames"] == ["s-0", "s-1"]
    assert [(d["node"], d["workload"]) for d in step["disrupts"]] == [("s-0", "pretrain"), ("s-1", "pretrain")]
    assert drain["summary"]["busy_moves"] == 2 and drain["summary"]["deviation_after"] == 0


def test_a_staged_busy_node_disrupts_once() -> None:
    snap, raw_spec = swap_at_max(1)
    snap["workloads"] = {}
    for k, (pool_name, items) in enumerate(sorted(snap["nodes"].items())):
        for i, n in enumerate(items):
            n["status"]["privateIp"] = f"10.1.{k}.{i}"
        snap["workloads"][pool_name] = [workload(f"job-{n['metadata']['name']}", [n["status"]["privateIp"]])
                                        for n in items]
    raw_spec["workloads"] = {"busy_nodes": "drain"}
    plan = make_plan(snap, raw_spec)
    doc = plan.document
    assert doc.summary.staging_moves >= 1
    twice = [n for n in {n for s in doc.steps for n in s.nodes} if sum(n in s.nodes for s in doc.steps) == 2]
    assert twice, "a staged node moves twice"
    for n in twice:
        assert sum(d.node == n for s in doc.steps for d in s.disrupts) == 1  # ended by its first move only
    assert doc.summary.busy_moves == len({n for s in doc.steps for n in s.nodes})
    assert verify_plan(snap, parse_spec(raw_spec), doc) == []


def test_keep_with_a_snapshot_that_does_not_say_warns_once() -> None:
    snap = busy_snapshot()
    del snap["workloads"]
    doc = plan_of(snap, WISHES)
    assert len(doc["warnings"]) == 1 and "no `workloads` key" in doc["warnings"][0]
    assert doc["warnings"][0].startswith("<snapshot>: ")
    assert moved(doc) == ["a-0", "a-1", "a-2", "a-4"]  # only a-3 (its GPUs) is known to be busy
    assert plan_of(snap, WISHES, "drain")["warnings"] == []


def test_spec_workloads_section_is_validated() -> None:
    good = parse_spec(spec({}, workloads={"busy_nodes": "ignore", "drain_timeout": 60}))
    assert good.workload_rules.busy_nodes == "ignore" and good.workload_rules.drain_timeout == 60
    assert parse_spec(spec({})).workload_rules.busy_nodes == "keep"
    # a spec without the section fingerprints as before the section existed
    assert "workloads" not in parse_spec(spec({})).model_dump(mode="json")
    for bad, where in [({"busy_nodes": "evict"}, "workloads.busy_nodes: must be one of"),
                       ({"drain_timeout": 0}, "workloads.drain_timeout: must be at least 1"),
                       ({"drain_timeout": "soon"}, "workloads.drain_timeout: expected a whole number"),
                       ({"busy": "keep"}, "workloads.busy: unknown key"), ("keep", "workloads: expected a mapping")]:
        with pytest.raises(InputError) as info:
            parse_spec(spec({}, workloads=bad), source="spec.yaml")
        assert str(info.value).startswith("spec.yaml: " + where), str(info.value)
