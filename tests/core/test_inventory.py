"""Derived facts of PRODUCT §2 from raw snapshots, including the documented shape variants."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest

from planner.errors import InputError
from planner.inventory import build_inventory, load_snapshot
from tests.core.builders import node, nodes_of, pool, snapshot


def facts(snap: dict) -> tuple[dict, dict]:  # type: ignore[type-arg]
    inv = build_inventory(snap)
    pools = {r["pool"]: r for r in inv.pools.to_dict(orient="records")}
    nodes = {r["node"]: r for r in inv.nodes.to_dict(orient="records")}
    return pools, nodes


def test_example_inventory_facts() -> None:
    inv = load_snapshot("examples/inventory.json")
    assert len(inv.pools) == 9 and len(inv.nodes) == 41
    pools = inv.pools.set_index("pool")
    assert not pools.loc["pool-0b7e3c5a-legacy", "takes_part"]
    assert pools.loc["pool-0b7e3c5a-legacy", "excluded_reason"] == "phase Abnormal"
    assert pools.loc["pool-c71f5e93-infer-b", "subnet"] == "subnet-west-a-0d17"
    assert pools.loc["pool-3f9a21c8-train-a", "subnet"] == "subnet-east-4b7c"  # only subnet of its network
    caps = inv.pool_flavors.set_index(["pool", "flavor"])["max_count"]
    assert caps.loc[("pool-3f9a21c8-train-a", "modelarts.vm.gpu.8xv100")] == 12
    assert inv.subnets.set_index("subnet").loc["subnet-west-a-0d17", "free_ips"] == 4
    sn = inv.nodes[inv.nodes["unit"] == "hyperinstance:spod-41c2"]
    assert len(sn) == 4 and set(sn["unit_size"]) == {4} and sn["movable"].all()
    assert sn["busy"].all() and set(sn["busy_reason"]) == {"runs llm-pretrain-70b (train)"}
    busy = inv.nodes[inv.nodes["busy"]].set_index("node")
    assert len(busy) == 7 and inv.workloads_known
    assert busy.loc["os-node-created-012cr", "workloads"] == ()  # 4 GPUs taken by something unlisted
    assert [w.name for w in busy.loc["os-node-created-014ew", "workloads"]] == ["chat-assistant-svc"]


def test_pool_subnet_cluster_and_takes_part() -> None:
    snap = snapshot([pool("p-sub", subnet="s1"), pool("p-net", subnet=None, network="net-s2"),
                     pool("p-none", subnet=None), pool("p-logical", ptype="Logical"),
                     pool("p-empty", cluster="lite-x"), pool("p-bare")],
                    {"p-sub": nodes_of("a", 3, cluster="c1") + [node("a-x", cluster="c2")],
                     "p-net": nodes_of("b", 2)},
                    subnets={"s1": (10, 2), "s2": (10, 5)})
    pools, _ = facts(snap)
    assert pools["p-sub"]["subnet"] == "s1" and pools["p-net"]["subnet"] == "s2"
    assert pd.isna(pools["p-none"]["subnet"]) and pools["p-none"]["subnet_reason"] == "the pool names no network"
    assert not pools["p-logical"]["takes_part"] and pools["p-logical"]["excluded_reason"] == "type Logical"
    assert pools["p-sub"]["cluster"] == "c1"          # the most common cluster of its nodes
    assert pools["p-net"]["cluster"] == "p-net"       # no cluster label: the pool's own name
    assert pools["p-empty"]["cluster"] == "lite-x"    # no nodes: status.clusters.name
    assert pools["p-bare"]["cluster"] == "p-bare"


def test_network_with_several_subnets_needs_a_subnet_id() -> None:
    snap = snapshot([pool("p", subnet=None, network="net-multi")], {"p": nodes_of("a", 2)})
    snap["networks"] = [{"name": "net-multi", "subnets": [
        {"networkId": "x", "cidr": "10.0.0.0/24", "totalIps": 10, "usedIps": 0},
        {"networkId": "y", "cidr": "10.0.1.0/24", "totalIps": 10, "usedIps": 0}]}]
    pools, _ = facts(snap)
    assert pd.isna(pools["p"]["subnet"]) and "2 subnets" in pools["p"]["subnet_reason"]


def test_shape_variants_of_status_resources_and_clusters() -> None:
    snap = snapshot([pool("p1"), pool("p2"), pool("p3")], {"p1": nodes_of("a", 2)})
    snap["pools"][0]["status"]["resources"] = {"available": [{"flavor": "f.a", "count": 2}], "creating": []}
    snap["pools"][1]["status"]["resources"] = {"available": {"flavor": "f.a", "count": 0}}
    snap["pools"][1]["status"]["clusters"] = [{"name": "lite-list"}]
    snap["pools"][2]["spec"]["clusters"] = [{"name": "lite-spec", "providerId": "x"}]
    pools, _ = facts(snap)
    assert pools["p2"]["cluster"] == "lite-list" and pools["p3"]["cluster"] == "lite-spec"
    broken = copy.deepcopy(snap)
    broken["pools"][0]["status"]["resources"] = {"available": 3}
    with pytest.raises(InputError, match=r"\$\.pools\[0\]\.status\.resources\.available"):
        build_inventory(broken)


def test_node_movability_reasons_and_super_nodes() -> None:
    members = [node("s-1", super_node="u1"), node("s-2", super_node="u1", phase="Checking")]
    snap = snapshot([pool("p"), pool("q", phase="Creating")],
                    {"p": members + [node("n-ok"), node("n-frozen", labels={"os.modelarts/billing.status": "2"}),
                                     node("n-lock", annotations={"os.modelarts.node/lock.action": "delete"})],
                     "q": [node("q-1")]})
    _, nodes = facts(snap)
    assert nodes["n-ok"]["movable"] and nodes["n-ok"]["unit_size"] == 1
    assert nodes["s-2"]["reason"] == "phase Checking"
    assert nodes["s-1"]["reason"] == "super node member s-2 may not move"
    assert nodes["s-1"]["unit"] == nodes["s-2"]["unit"] and nodes["s-1"]["unit_size"] == 2
    assert nodes["n-frozen"]["reason"] == "billing status 2"
    assert nodes["n-lock"]["reason"] == "locked (delete)"
    assert nodes["q-1"]["reason"] == "pool q does not take part"


def test_optional_fields_may_be_missing() -> None:
    snap = snapshot([pool("p")], {"p": [{"metadata": {"name": "bare"}, "spec": {"flavor": "f.a"},
                                          "status": {"phase": "Available"}}]})
    del snap["region"], snap["captured_at"]
    del snap["pools"][0]["metadata"]["labels"]
    _, nodes = facts(snap)
    assert nodes["bare"]["movable"] and nodes["bare"]["cluster"] == "p"


def test_fingerprint_ignores_capture_time_only() -> None:
    snap = snapshot([pool("p")], {"p": nodes_of("a", 2)})
    a = build_inventory(snap).fingerprint
    later = dict(snap, captured_at="2030-01-01T00:00:00Z")
    assert build_inventory(later).fingerprint == a
    changed = copy.deepcopy(snap)
    changed["nodes"]["p"][0]["status"]["phase"] = "Abnormal"
    assert build_inventory(changed).fingerprint != a


def test_the_fingerprint_is_a_function_of_the_content_not_of_list_order() -> None:
    import json
    import random

    from planner.inventory import fingerprint_snapshot

    raw = json.loads(Path("examples/inventory.json").read_text(encoding="utf-8"))
    before = fingerprint_snapshot(raw)
    rng = random.Random(7)
    shuffled = copy.deepcopy(raw)
    rng.shuffle(shuffled["pools"])
    shuffled["nodes"] = dict(reversed(list(shuffled["nodes"].items())))
    for items in shuffled["nodes"].values():
        rng.shuffle(items)
    rng.shuffle(shuffled["networks"])
    for net in shuffled["networks"]:
        net["subnets"].reverse()
    shuffled["captured_at"] = "2030-01-01T00:00:00Z"
    assert shuffled != raw and fingerprint_snapshot(shuffled) == before
    changed = copy.deepcopy(raw)
    changed["networks"][0]["subnets"][0]["usedIps"] += 1
    assert fingerprint_snapshot(changed) != before
