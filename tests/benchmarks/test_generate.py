"""The benchmark instance generator: deterministic, structurally valid, realistic, loadable."""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks import generate as gen
from planner.inventory import load_snapshot
from planner.planning.pipeline import load_problem
from planner.spec import load_spec

NODES, POOLS = 1_000, 40


@pytest.fixture(scope="module", params=[1, 7])
def instance(request: pytest.FixtureRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    return gen.generate(NODES, POOLS, clusters=8, seed=request.param)


def _all_nodes(snapshot: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(pool, node) for pool, items in snapshot["nodes"].items() for node in items]


def _pools_by_name(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p for p in snapshot["pools"]}


def test_same_seed_same_documents() -> None:
    assert gen.generate(300, 20, clusters=5, seed=11) == gen.generate(300, 20, clusters=5, seed=11)


def test_other_seed_other_documents() -> None:
    a, _ = gen.generate(300, 20, clusters=5, seed=11)
    b, _ = gen.generate(300, 20, clusters=5, seed=12)
    assert a != b


def test_cross_cluster_flag_changes_only_the_limit() -> None:
    snap_on, spec_on = gen.generate(300, 20, clusters=5, seed=3, cross_cluster=True)
    snap_off, spec_off = gen.generate(300, 20, clusters=5, seed=3, cross_cluster=False)
    assert snap_on == snap_off
    assert spec_on["limits"]["allow_cross_cluster"] is True
    assert spec_off["limits"]["allow_cross_cluster"] is False
    spec_off["limits"]["allow_cross_cluster"] = True
    assert spec_on == spec_off


def test_rejects_impossible_sizes() -> None:
    with pytest.raises(ValueError):
        gen.generate(10, 6)
    with pytest.raises(ValueError):
        gen.generate(10, 0)


def test_top_level_format(instance: tuple[dict[str, Any], dict[str, Any]]) -> None:
    snapshot, spec = instance
    assert snapshot["format"] == "poolshift.inventory/v1"
    assert re.fullmatch(r"[0-9a-f]{32}", snapshot["project_id"])
    assert {"region", "captured_at", "pools", "nodes", "networks"} <= snapshot.keys()
    assert spec["format"] == "poolshift.spec/v1"
    assert spec["defaults"]["min_nodes"] == 2 and spec["defaults"]["ips_per_node"] == 1
    assert 0 <= spec["defaults"]["ip_reserve"] <= 5
    assert spec["limits"]["max_batch_size"] == 20
    assert spec["limits"]["max_moves"] >= NODES
    for pool in snapshot["pools"]:
        assert pool["apiVersion"] == "v2" and pool["kind"] == "Pool"
        assert {"metadata", "spec", "status"} <= pool.keys()
    for _, node in _all_nodes(snapshot):
        assert node["apiVersion"] == "v2" and node["kind"] == "Node"


def test_counts_and_names(instance: tuple[dict[str, Any], dict[str, Any]]) -> None:
    snapshot, _ = instance
    pool_names = [p["metadata"]["name"] for p in snapshot["pools"]]
    display = [p["metadata"]["labels"]["os.modelarts/name"] for p in snapshot["pools"]]
    node_names = [n["metadata"]["name"] for _, n in _all_nodes(snapshot)]
    assert len(pool_names) == POOLS and len(set(pool_names)) == POOLS
    assert len(set(display)) == POOLS and not set(display) & set(pool_names)
    assert len(node_names) == NODES and len(set(node_names)) == NODES
    assert all(re.fullmatch(r"pool-[0-9a-f]{8}-[0-9a-f]{32}", n) for n in pool_names)
    assert all(36 <= len(n) <= 63 for n in pool_names)
    assert all(re.fullmatch(r"os-node-created-[a-z0-9]{5}", n) for n in node_names)
    # every node's pool is listed, and every pool has at least 2 nodes
    assert set(snapshot["nodes"]) == set(pool_names)
    assert min(len(items) for items in snapshot["nodes"].values()) >= 2


def test_pool_sizes_are_skewed(instance: tuple[dict[str, Any], dict[str, Any]]) -> None:
    snapshot, _ = instance
    sizes = sorted(len(items) for items in snapshot["nodes"].values())
    assert sizes[-1] >= 2 * (NODES / POOLS)  # a few big pools ...
    assert sum(sizes[-POOLS // 10:]) >= 0.2 * NODES  # ... the largest tenth of the pools holds a fifth


def test_flavors_resources_and_max_count(instance: tuple[dict[str, Any], dict[str, Any]]) -> None:
    snapshot, _ = instance
    per_pool: dict[str, Counter[str]] = defaultdict(Counter)
    for pool, node in _all_nodes(snapshot):
        per_pool[pool][node["spec"]["flavor"]] += 1
    max_count_seen = 0
    for pool in snapshot["pools"]:
        resources = pool["spec"]["resources"]
        accepted = [r["flavor"] for r in resources]
        assert 1 <= len(accepted) <= 4 and len(set(accepted)) == len(accepted)
        counts = per_pool[pool["metadata"]["name"]]
        assert set(counts) <= set(accepted), "a node of a flavor its pool does not accept"
        for r in resources:
            assert r["count"] == counts[r["flavor"]]
            if "maxCount" in r:
                max_count_seen += 1
                assert r["count"] < r["maxCount"] <= r["count"] + max(16, r["count"] // 5 + 1)
    assert max_count_seen > 0
    assert len({f for c in per_pool.values() for f in c}) >= 10


def test_super_nodes(instance: tuple[dict[str, Any], dict[str, Any]]) -> None:
    snapshot, _ = instance
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for pool, node in _all_nodes(snapshot):
        labels = node["metadata"]["labels"]
        if gen.LABEL_BATCH_UID in labels:
            assert labels[gen.LABEL_BATCH_TYPE] == "hyperinstance"
            groups[labels[gen.LABEL_BATCH_UID]].append((pool, node))
        else:
            assert gen.LABEL_BATCH_TYPE not in labels
    assert groups
    members = sum(len(g) for g in groups.values())
    assert 0.01 * NODES <= members <= 0.05 * NODES
    for uid, group in groups.items():
        assert len(group) in (4, 8), uid
        assert len({pool for pool, _ in group}) == 1, "a super node spans pools"
        assert len({n["spec"]["flavor"] for _, n in group}) == 1, "a super node mixes flavors"
        assert {n["metadata"]["labels"][gen.LABEL_BATCH_COUNT] for _, n in group} == {str(len(group))}


def test_node_conditions(instance: tuple[dict[str, Any], dict[str, Any]]) -> None:
    snapshot, _ = instance
    nodes = [n for _, n in _all_nodes(snapshot)]
    locked = sum(1 for n in nodes if n["metadata"]["annotations"].get(gen.ANNOTATION_LOCK) == "delete")
    abnormal = sum(1 for n in nodes if n["status"]["phase"] == "Abnormal")
    frozen = sum(1 for n in nodes if n["metadata"]["labels"].get(gen.LABEL_BILLING) == "1")
    assert {n["status"]["phase"] for n in nodes} <= {"Available", "Abnormal"}
    assert (locked, abnormal, frozen) == (20, 10, 5)
    odd_pools = [p for p in snapshot["pools"]
                 if p["status"]["phase"] != "Running" or p["spec"]["type"] != "Dedicate"]
    assert 1 <= len(odd_pools) <= 4
    assert {p["spec"]["type"] for p in snapshot["pools"]} == {"Dedicate", "Logical"}


def test_clusters(instance: tuple[dict[str, Any], dict[str, Any]]) -> None:
    snapshot, _ = instance
    pools = _pools_by_name(snapshot)
    clusters = {p["status"]["clusters"]["name"] for p in snapshot["pools"]}
    assert len(clusters) == 8
    for pool, node in _all_nodes(snapshot):
        assert node["metadata"]["labels"][gen.LABEL_CLUSTER] == pools[pool]["status"]["clusters"]["name"]


def test_networks_subnets_and_addresses(instance: tuple[dict[str, Any], dict[str, Any]]) -> None:
    snapshot, spec = instance
    networks = {net["name"]: net["subnets"] for net in snapshot["networks"]}
    subnets = {s["networkId"]: s for subs in networks.values() for s in subs}
    assert len(subnets) == sum(len(s) for s in networks.values()), "duplicate subnet id"
    assert any(len(s) > 1 for s in networks.values()) and any(len(s) == 1 for s in networks.values())
    pools_on: Counter[str] = Counter()
    nodes_on: Counter[str] = Counter()
    pool_subnet: dict[str, str] = {}
    for pool in snapshot["pools"]:
        net = pool["spec"]["network"]
        assert net["name"] in networks, "a pool's network does not exist"
        if "subnetId" in net:
            assert net["subnetId"] in {s["networkId"] for s in networks[net["name"]]}
            sid = net["subnetId"]
        else:
            assert len(networks[net["name"]]) == 1, "pool subnet cannot be told"
            sid = networks[net["name"]][0]["networkId"]
        pool_subnet[pool["metadata"]["name"]] = sid
        pools_on[sid] += 1
    assert max(pools_on.values()) >= 3, "no subnet is shared by several pools"
    addresses: set[str] = set()
    for pool, node in _all_nodes(snapshot):
        sid = node["spec"]["hostNetwork"]["subnet"]
        assert sid == pool_subnet[pool]
        nodes_on[sid] += 1
        ip = node["status"]["privateIp"]
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(subnets[sid]["cidr"])
        addresses.add(ip)
    assert len(addresses) == NODES
    blocks = [ipaddress.ip_network(s["cidr"]) for s in subnets.values()]
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1:])
    reserve = spec["defaults"]["ip_reserve"]
    for sid, s in subnets.items():
        assert 0 <= s["usedIps"] <= s["totalIps"] < ipaddress.ip_network(s["cidr"]).num_addresses
        assert s["usedIps"] >= nodes_on[sid]
        assert s["totalIps"] - s["usedIps"] >= reserve


def test_spec_pools(instance: tuple[dict[str, Any], dict[str, Any]]) -> None:
    snapshot, spec = instance
    pools = _pools_by_name(snapshot)
    by_display = {p["metadata"]["labels"]["os.modelarts/name"]: n for n, p in pools.items()}
    sizes = {name: len(items) for name, items in snapshot["nodes"].items()}
    taking_part = {n for n, p in pools.items()
                   if p["status"]["phase"] == "Running" and p["spec"]["type"] == "Dedicate"}
    targets = 0
    for key, entry in spec["pools"].items():
        name = key if key in pools else by_display[key]
        assert name in taking_part
        assert set(entry) <= {"target", "min", "max", "flavors", "accept", "give"}
        size = sizes[name]
        if "target" in entry:
            targets += 1
            assert entry["target"] >= 2
            assert abs(entry["target"] - size) <= 0.3 * size + 1
        if "min" in entry:
            assert 2 <= entry["min"] <= size
        if "max" in entry:
            assert entry["max"] >= size
        accepted = {r["flavor"] for r in pools[name]["spec"]["resources"]}
        assert set(entry.get("flavors", {})) <= accepted
    assert targets == round(0.6 * len(taking_part))
    node_names = {n["metadata"]["name"] for _, n in _all_nodes(snapshot)}
    assert spec["pin"] and set(spec["pin"]) <= node_names
    for flavor, targets_of in spec["flavor_compat"].items():
        assert targets_of[0] == flavor and all(t.startswith(flavor) for t in targets_of)
    assert spec["flavor_compat"]


def test_current_placement_meets_the_spec_bounds(instance: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Doing nothing is valid: every instance has a feasible plan."""
    snapshot, spec = instance
    pools = _pools_by_name(snapshot)
    by_display = {p["metadata"]["labels"]["os.modelarts/name"]: n for n, p in pools.items()}
    for key, entry in spec["pools"].items():
        name = key if key in pools else by_display[key]
        size = len(snapshot["nodes"][name])
        assert entry.get("min", 0) <= size <= entry.get("max", size)


def test_cli_writes_files_and_reuse_meta(tmp_path: Path) -> None:
    code = gen.main(["--nodes", "300", "--pools", "20", "--clusters", "5", "--seed", "1",
                     "--out-dir", str(tmp_path)])
    assert code == 0
    inventory, spec, meta = gen.instance_paths(tmp_path, 300, True, "default", 1)
    assert (inventory.name, spec.name) == ("inventory-default-300-s1.json", "spec-default-300-s1.yaml")
    snapshot, spec_doc = gen.generate(300, 20, clusters=5, seed=1)
    assert json.loads(inventory.read_text()) == snapshot
    assert yaml.safe_load(spec.read_text()) == spec_doc
    params = {"nodes": 300, "pools": 20, "flavors": 20, "clusters": 5, "seed": 1, "cross_cluster": False,
              "family": "default"}
    assert gen.meta_matches(meta, params)
    assert not gen.meta_matches(meta, {**params, "seed": 2})
    assert not gen.meta_matches(meta, {**params, "family": "hard"})
    assert gen.main(["--nodes", "300", "--pools", "20", "--clusters", "5", "--seed", "1",
                     "--no-cross-cluster", "--out-dir", str(tmp_path)]) == 0
    nocross = gen.instance_paths(tmp_path, 300, False, "default", 1)[1]
    assert nocross.name == "spec-default-300-s1-nocross.yaml"
    assert yaml.safe_load(nocross.read_text())["limits"]["allow_cross_cluster"] is False
    # the workloads: spec variant only behind the option
    assert gen.main(["--nodes", "300", "--pools", "20", "--clusters", "5", "--seed", "1", "--family", "busy",
                     "--busy-nodes", "drain", "--out-dir", str(tmp_path)]) == 0
    drain = gen.instance_paths(tmp_path, 300, True, "busy", 1, "drain")[1]
    assert drain.name == "spec-busy-300-s1-drain.yaml"
    assert yaml.safe_load(drain.read_text())["workloads"] == {"busy_nodes": "drain", "drain_timeout": 1800}
    # regenerating the inventory with other parameters drops the stale spec variants
    assert gen.main(["--nodes", "300", "--pools", "20", "--clusters", "4", "--seed", "1",
                     "--out-dir", str(tmp_path)]) == 0
    assert not nocross.exists()


def test_size_labels() -> None:
    labels = [gen.size_label(n) for n in (1_000, 2_000, 10_000, 100_000, 1_500)]
    assert labels == ["1k", "2k", "10k", "100k", "1500"]


def test_1k_instance_loads(tmp_path: Path) -> None:
    """Written to files, the 1k instance loads through the planner's own readers and builds a problem."""
    snapshot, spec = gen.generate(NODES, POOLS, clusters=8, seed=0)
    params = {"nodes": NODES, "pools": POOLS, "flavors": 20, "clusters": 8, "seed": 0, "cross_cluster": True,
              "family": "default"}
    inventory_path, spec_path, _ = gen.write_instance(snapshot, spec, tmp_path, params)
    inv = load_snapshot(inventory_path)
    assert len(inv.nodes) == NODES and len(inv.pools) == POOLS
    assert int(inv.pools["takes_part"].sum()) == POOLS - 2
    assert (inv.pools["subnet_reason"].fillna("") == "").all(), "a pool whose subnet cannot be told"
    movable = int(inv.nodes["movable"].sum())
    assert 0.85 * NODES <= movable <= 0.98 * NODES
    load_spec(spec_path)
    problem, _context = load_problem(inventory_path, spec_path)
    assert problem is not None
