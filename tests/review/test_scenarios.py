from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.errors import InputError
from planner.review.scenarios import (
    ANNOTATION_LOCK,
    LABEL_CLUSTER,
    InventoryOverrides,
    NodeIndex,
    Where,
    apply_inventory_overrides,
    apply_scenario,
    deep_merge,
    load_scenarios,
    merge_spec,
    parse_scenarios,
)
from tests.review.conftest import DATA

GPU = "modelarts.vm.gpu.8xv100"
CPU = "modelarts.vm.cpu.8u"
WHERE = Where("sc.yaml", 1, "what-if")


@pytest.fixture
def snapshot() -> dict[str, Any]:
    return json.loads((DATA / "snapshot.json").read_text())


def _apply(snapshot: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    return apply_inventory_overrides(snapshot, InventoryOverrides.model_validate(overrides), WHERE)


def _nodes(snap: dict[str, Any], pool: str) -> dict[str, dict[str, Any]]:
    return {n["metadata"]["name"]: n for n in snap["nodes"][pool]}


def _subnet(snap: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for net in snap["networks"] for s in net["subnets"] if s["networkId"] == sid)


def _pool(snap: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in snap["pools"] if p["metadata"]["name"] == name)


def _fail(snapshot: dict[str, Any], overrides: dict[str, Any]) -> InputError:
    with pytest.raises(InputError) as info:
        _apply(snapshot, overrides)
    return info.value


# ---------------------------------------------------------------------------------------------- add_nodes


def test_add_nodes_builds_raw_nodes_modelled_on_the_pool(snapshot: dict[str, Any]) -> None:
    before = copy.deepcopy(snapshot)
    out = _apply(snapshot, {"add_nodes": [{"pool": "train", "flavor": GPU, "count": 2}]})
    assert snapshot == before  # the input is not changed
    added = {k: v for k, v in _nodes(out, "pool-train-7f3a").items() if "whatif" in k}
    assert sorted(added) == ["os-node-whatif-train-1", "os-node-whatif-train-2"]
    node = added["os-node-whatif-train-1"]
    assert node["apiVersion"] == "v2" and node["kind"] == "Node"
    assert node["spec"]["flavor"] == GPU
    assert node["status"]["phase"] == "Available"
    assert node["metadata"]["labels"][LABEL_CLUSTER] == "cce-lite-a1"
    assert node["metadata"]["annotations"] == {}
    assert node["spec"]["hostNetwork"]["subnet"] == "subnet-5d2c8e71"
    assert _subnet(out, "subnet-5d2c8e71")["usedIps"] == 32  # each new node takes an address
    gpu_res = next(r for r in _pool(out, "pool-train-7f3a")["spec"]["resources"] if r["flavor"] == GPU)
    assert gpu_res["count"] == 8


def test_add_nodes_names_do_not_collide(snapshot: dict[str, Any]) -> None:
    out = _apply(snapshot, {"add_nodes": [{"pool": "pool-dev-91b0", "flavor": CPU, "count": 1},
                                          {"pool": "dev", "flavor": GPU, "count": 1}]})
    names = sorted(k for k in _nodes(out, "pool-dev-91b0") if "whatif" in k)
    assert names == ["os-node-whatif-dev-1", "os-node-whatif-dev-2"]
    # dev nodes carry no cluster label, so neither do the copies
    assert LABEL_CLUSTER not in _nodes(out, "pool-dev-91b0")["os-node-whatif-dev-1"]["metadata"]["labels"]


def test_add_nodes_unknown_pool_and_flavor(snapshot: dict[str, Any]) -> None:
    err = _fail(snapshot, {"add_nodes": [{"pool": "nope", "flavor": GPU, "count": 1}]})
    assert err.path == "scenarios[1] (what-if).inventory.add_nodes[0].pool"
    assert "unknown pool 'nope'" in str(err) and str(err).startswith("sc.yaml: ")
    err = _fail(snapshot, {"add_nodes": [{"pool": "train", "flavor": "modelarts.vm.npu", "count": 1}]})
    assert err.path == "scenarios[1] (what-if).inventory.add_nodes[0].flavor"
    assert "does not take flavor" in str(err)


def test_add_nodes_needs_room_in_the_subnet_unless_set_explicitly(snapshot: dict[str, Any]) -> None:
    err = _fail(snapshot, {"add_nodes": [{"pool": "dev", "flavor": CPU, "count": 19}]})
    assert err.path == "scenarios[1] (what-if).inventory.add_nodes[0].count"
    assert "18 free address(es)" in str(err)
    out = _apply(snapshot, {"add_nodes": [{"pool": "dev", "flavor": CPU, "count": 19}],
                            "set_free_ips": {"subnet-a9f04b36": 0}})
    assert len(out["nodes"]["pool-dev-91b0"]) == 22
    assert _subnet(out, "subnet-a9f04b36")["usedIps"] == 27


# ------------------------------------------------------------------------------------------- remove_nodes


def test_remove_nodes_by_name_frees_the_address(snapshot: dict[str, Any]) -> None:
    out = _apply(snapshot, {"remove_nodes": ["os-node-created-i1g"]})
    assert "os-node-created-i1g" not in _nodes(out, "pool-infer-2c9e")
    assert _subnet(out, "subnet-5d2c8e71")["usedIps"] == 29


def test_remove_nodes_by_count_takes_plain_nodes_by_name(snapshot: dict[str, Any]) -> None:
    out = _apply(snapshot, {"remove_nodes": [{"pool": "infer", "flavor": GPU, "count": 3}]})
    gpu = sorted(k for k, n in _nodes(out, "pool-infer-2c9e").items() if n["spec"]["flavor"] == GPU)
    assert gpu == ["os-node-created-i4g", "os-node-created-i5g", "os-node-created-i6g"]


def test_remove_nodes_errors(snapshot: dict[str, Any]) -> None:
    err = _fail(snapshot, {"remove_nodes": ["os-node-created-nope"]})
    assert err.path == "scenarios[1] (what-if).inventory.remove_nodes[0]"
    assert "unknown node" in str(err)
    err = _fail(snapshot, {"remove_nodes": [{"pool": "dev", "flavor": CPU, "count": 4}]})
    assert err.path == "scenarios[1] (what-if).inventory.remove_nodes[0].count"
    assert "has 3 node(s)" in str(err)


# ----------------------------------------------------------------------------------------------- add_pool


def test_add_pool_on_an_existing_subnet(snapshot: dict[str, Any]) -> None:
    out = _apply(snapshot, {"add_pool": {"name": "pool-burst-5e5e", "display_name": "burst", "flavors": [GPU],
                                         "subnet": "subnet-0c4417d2", "cluster": "cce-lite-b2"}})
    pool = _pool(out, "pool-burst-5e5e")
    assert pool["kind"] == "Pool" and pool["status"]["phase"] == "Running" and pool["spec"]["type"] == "Dedicate"
    assert pool["metadata"]["labels"]["os.modelarts/name"] == "burst"
    assert pool["spec"]["resources"] == [{"flavor": GPU, "count": 0}]
    assert pool["spec"]["network"] == {"name": "network-main", "subnetId": "subnet-0c4417d2"}
    assert pool["status"]["clusters"] == {"name": "cce-lite-b2"}
    assert out["nodes"]["pool-burst-5e5e"] == []


def test_add_pool_with_a_new_subnet_and_resources(snapshot: dict[str, Any]) -> None:
    out = _apply(snapshot, {"add_pool": [{"name": "pool-new-1", "network": "network-new",
                                          "subnet": {"id": "subnet-new-1", "total_ips": 100, "cidr": "10.9.0.0/25"},
                                          "resources": [{"flavor": CPU, "maxCount": 6}]}]})
    assert _subnet(out, "subnet-new-1") == {"networkId": "subnet-new-1", "totalIps": 100, "usedIps": 0,
                                            "cidr": "10.9.0.0/25"}
    assert _pool(out, "pool-new-1")["spec"]["resources"] == [{"flavor": CPU, "count": 0, "maxCount": 6}]


@pytest.mark.parametrize(
    ("add_pool", "key", "text"),
    [
        ({"name": "train", "flavors": [CPU], "network": "network-dev"}, "add_pool[0].name", "already exists"),
        ({"name": "p1", "flavors": [CPU], "subnet": "subnet-x"}, "add_pool[0].subnet", "unknown subnet"),
        ({"name": "p1", "flavors": [CPU], "network": "network-x"}, "add_pool[0].network", "unknown network"),
        ({"name": "p1", "flavors": [CPU], "network": "network-main"}, "add_pool[0].subnet", "has 2 subnets"),
        ({"name": "p1", "flavors": [CPU], "network": "network-dev", "subnet": "subnet-5d2c8e71"},
         "add_pool[0].network", "belongs to network 'network-main'"),
    ],
)
def test_add_pool_errors(snapshot: dict[str, Any], add_pool: dict[str, Any], key: str, text: str) -> None:
    err = _fail(snapshot, {"add_pool": add_pool})
    assert err.path == f"scenarios[1] (what-if).inventory.{key}"
    assert text in str(err)


def test_nodes_can_be_added_to_an_added_pool(snapshot: dict[str, Any]) -> None:
    out = _apply(snapshot, {"add_pool": {"name": "pool-new-1", "flavors": [CPU], "subnet": "subnet-0c4417d2"},
                            "add_nodes": [{"pool": "pool-new-1", "flavor": CPU, "count": 2}]})
    assert sorted(_nodes(out, "pool-new-1")) == ["os-node-whatif-pool-new-1-1", "os-node-whatif-pool-new-1-2"]
    assert _subnet(out, "subnet-0c4417d2")["usedIps"] == 5


# ------------------------------------------------------------------------------- set_free_ips, lock_nodes


def test_set_free_ips(snapshot: dict[str, Any]) -> None:
    out = _apply(snapshot, {"set_free_ips": {"subnet-5d2c8e71": 5}})
    assert _subnet(out, "subnet-5d2c8e71") == {"networkId": "subnet-5d2c8e71", "cidr": "192.168.0.0/24",
                                               "totalIps": 60, "usedIps": 55}
    err = _fail(snapshot, {"set_free_ips": {"subnet-nope": 5}})
    assert err.path == "scenarios[1] (what-if).inventory.set_free_ips.subnet-nope"
    err = _fail(snapshot, {"set_free_ips": {"subnet-5d2c8e71": 61}})
    assert "more than the subnet's totalIps (60)" in str(err)


def test_lock_nodes(snapshot: dict[str, Any]) -> None:
    out = _apply(snapshot, {"lock_nodes": ["os-node-created-t1g", "os-node-created-d1c"]})
    assert _nodes(out, "pool-train-7f3a")["os-node-created-t1g"]["metadata"]["annotations"][ANNOTATION_LOCK] == "whatif"
    assert _nodes(out, "pool-dev-91b0")["os-node-created-d1c"]["metadata"]["annotations"] == {ANNOTATION_LOCK: "whatif"}
    err = _fail(snapshot, {"lock_nodes": ["os-node-created-t1g", "ghost"]})
    assert err.path == "scenarios[1] (what-if).inventory.lock_nodes[1]"


def test_every_override_kind_leaves_the_callers_snapshot_as_it_was(snapshot: dict[str, Any]) -> None:
    # The edits share unedited objects with the caller's snapshot (copy-on-write); none may leak back.
    before = copy.deepcopy(snapshot)
    out = _apply(snapshot, {
        "add_pool": [{"name": "pool-new-1", "network": "network-main",
                      "subnet": {"id": "subnet-new-1", "total_ips": 10}, "flavors": [CPU]}],
        "remove_nodes": ["os-node-created-t1g", {"pool": "dev", "flavor": CPU, "count": 1}],
        "add_nodes": [{"pool": "pool-new-1", "flavor": CPU, "count": 2}, {"pool": "train", "flavor": GPU, "count": 1}],
        "set_free_ips": {"subnet-5d2c8e71": 7},
        "lock_nodes": ["os-node-created-d3c"],
    })
    assert snapshot == before
    assert "os-node-created-t1g" not in _nodes(out, "pool-train-7f3a")
    assert _nodes(out, "pool-dev-91b0")["os-node-created-d3c"]["metadata"]["annotations"][ANNOTATION_LOCK] == "whatif"
    assert _subnet(out, "subnet-5d2c8e71")["usedIps"] == 53
    assert [s["networkId"] for s in _subnet_list(out, "network-main")][-1] == "subnet-new-1"
    assert "subnet-new-1" not in json.dumps(snapshot)
    # an unedited pool, node list and node are the caller's own objects, not copies
    assert out["nodes"]["pool-dev-91b0"] is not snapshot["nodes"]["pool-dev-91b0"]
    untouched = [p for p in out["nodes"] if p not in ("pool-dev-91b0", "pool-train-7f3a", "pool-new-1")]
    assert untouched and all(out["nodes"][p] is snapshot["nodes"][p] for p in untouched)


def test_scenarios_sharing_one_node_index_do_not_see_each_others_edits(snapshot: dict[str, Any]) -> None:
    # whatif indexes the snapshot's node names once for every scenario; each copy keeps its own changes.
    names = NodeIndex(snapshot)
    removed = apply_inventory_overrides(
        snapshot, InventoryOverrides.model_validate({"remove_nodes": ["os-node-created-t1g"],
                                                     "add_nodes": [{"pool": "dev", "flavor": CPU, "count": 1}]}),
        WHERE, names)
    assert "os-node-created-t1g" not in _nodes(removed, "pool-train-7f3a")
    # another scenario still finds the node the first one removed, and reuses the name the first one added
    locked = apply_inventory_overrides(
        snapshot, InventoryOverrides.model_validate({"lock_nodes": ["os-node-created-t1g"],
                                                     "add_nodes": [{"pool": "dev", "flavor": CPU, "count": 1}]}),
        WHERE, names)
    assert _nodes(locked, "pool-train-7f3a")["os-node-created-t1g"]["metadata"]["annotations"][ANNOTATION_LOCK]
    assert "os-node-whatif-dev-1" in _nodes(removed, "pool-dev-91b0") and "os-node-whatif-dev-1" in _nodes(
        locked, "pool-dev-91b0")
    # within one copy, a removed node is gone for later edits and an added one is known
    err = _fail(snapshot, {"remove_nodes": ["os-node-created-t1g"], "lock_nodes": ["os-node-created-t1g"]})
    assert err.path == "scenarios[1] (what-if).inventory.lock_nodes[0]" and "unknown node" in str(err)
    twice = _apply(snapshot, {"add_nodes": [{"pool": "dev", "flavor": CPU, "count": 1},
                                            {"pool": "dev", "flavor": CPU, "count": 1}]})
    assert sorted(k for k in _nodes(twice, "pool-dev-91b0") if "whatif" in k) == [
        "os-node-whatif-dev-1", "os-node-whatif-dev-2"]


def test_a_pool_whose_subnet_the_pull_recorded_gets_its_address_back(snapshot: dict[str, Any]) -> None:
    # The pool names no subnet and its network has two: only the pull's `pool_subnets` record tells which.
    pool = _pool(snapshot, "pool-train-7f3a")
    recorded = pool["spec"]["network"].pop("subnetId", None) or "subnet-5d2c8e71"
    pool["spec"]["network"]["name"] = "network-main"
    snapshot["pool_subnets"] = {"pool-train-7f3a": {"subnet": recorded, "source": "ShowPool spec.resources"}}
    used = _subnet(snapshot, recorded)["usedIps"]
    out = _apply(snapshot, {"remove_nodes": ["os-node-created-t1g"]})
    assert _subnet(out, recorded)["usedIps"] == used - 1
    assert _subnet(snapshot, recorded)["usedIps"] == used


def _subnet_list(snap: dict[str, Any], network: str) -> list[dict[str, Any]]:
    return list(next(n for n in snap["networks"] if n["name"] == network)["subnets"])


# ------------------------------------------------------------------------------------------- spec merge


def test_deep_merge_rules() -> None:
    base = {"defaults": {"min_nodes": 2, "ip_reserve": 1}, "pin": ["a", "b"], "balance": "none",
            "pools": {"train": {"target": 10, "max": 12}}}
    overlay = {"defaults": {"ip_reserve": 3}, "pin": ["c"], "balance": "even",
               "pools": {"train": {"max": None, "min": 4}, "dev": {"target": 3, "max": None}},
               "limits": {"max_moves": 5}}
    merged = deep_merge(base, overlay)
    assert merged == {
        "defaults": {"min_nodes": 2, "ip_reserve": 3},  # mappings merge
        "pin": ["c"],  # lists replace
        "balance": "even",  # scalars replace
        "pools": {"train": {"target": 10, "min": 4}, "dev": {"target": 3}},  # null deletes
        "limits": {"max_moves": 5},
    }
    assert base["pools"]["train"] == {"target": 10, "max": 12}  # the base is not changed
    assert "pin" not in deep_merge(base, {"pin": None})


def test_merge_spec_matches_pools_by_id_or_display_name(snapshot: dict[str, Any]) -> None:
    base = yaml.safe_load((DATA / "spec.yaml").read_text())
    merged = merge_spec(base, {"pools": {"pool-train-7f3a": {"target": 12}, "infer": {"min": None}}}, snapshot)
    assert merged["pools"] == {"train": {"target": 12}, "pool-infer-2c9e": {"target": 8}}


# ------------------------------------------------------------------------------------------ scenario file


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "sc.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_scenario_file_loads_and_marks_the_baseline(tmp_path: Path) -> None:
    path = _write(tmp_path, {"format": "poolshift.scenarios/v1", "scenarios": [
        {"name": "baseline"},
        {"name": "drain", "inventory": {"remove_nodes": ["n1", {"pool": "p", "flavor": "f", "count": 2}]}},
        {"name": "targets", "spec": {"pools": {"p": {"target": 3}}}},
        {"name": "empty-overrides", "inventory": {}, "spec": {}},
    ]})
    sf = load_scenarios(path)
    assert [s.is_baseline for s in sf.scenarios] == [True, False, False, True]


@pytest.mark.parametrize(
    ("scenarios", "path", "text"),
    [
        ([{"name": "a", "inventory": {"add_nodes": [{"pool": "p", "flavor": "f", "count": 0}]}}],
         "scenarios[0] (a).inventory.add_nodes[0].count", "greater than or equal to 1"),
        ([{"name": "ok"}, {"name": "b", "inventory": {"add_node": []}}],
         "scenarios[1] (b).inventory.add_node", "unknown key"),
        ([{"name": "c", "inventory": {"remove_nodes": [{"pool": "p", "count": 1}]}}],
         "scenarios[0] (c).inventory.remove_nodes[0].flavor", "required key is missing"),
        ([{"name": "d", "inventory": {"add_pool": {"name": "x", "network": "n"}}}],
         "scenarios[0] (d).inventory.add_pool[0]", "exactly one of flavors"),
        ([{"name": "e", "inventory": {"set_free_ips": {"s": -1}}}],
         "scenarios[0] (e).inventory.set_free_ips.s", "greater than or equal to 0"),
        ([{"name": "f", "inventory": {"add_nodes": [{"pool": "p", "flavor": "f", "count": "2"}]}}],
         "scenarios[0] (f).inventory.add_nodes[0].count", "valid integer"),
        ([{"name": "g", "spec": ["not", "a", "mapping"]}], "scenarios[0] (g).spec", "valid dictionary"),
        ([{"name": "bad name!"}], "scenarios[0] (bad name!).name", "letters, digits"),
        ([{"name": "x"}, {"name": "x"}], "scenarios", "used twice"),
        ([{"inventory": {}}], "scenarios[0].name", "required key is missing"),
        ([], "scenarios", "at least 1 item"),
    ],
)
def test_bad_scenario_files_name_scenario_and_key(tmp_path: Path, scenarios: Any, path: str, text: str) -> None:
    file = _write(tmp_path, {"format": "poolshift.scenarios/v1", "scenarios": scenarios})
    with pytest.raises(InputError) as info:
        load_scenarios(file)
    assert info.value.path == path
    assert text in info.value.detail
    assert str(info.value).startswith(f"{file}: ")


def test_scenario_file_format_yaml_and_duplicates(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="format: expected format 'poolshift.scenarios/v1'"):
        parse_scenarios({"format": "poolshift.spec/v1", "scenarios": []}, source="sc.yaml")
    with pytest.raises(InputError, match=r"not valid YAML \(line 3"):
        load_scenarios(_write(tmp_path, "format: poolshift.scenarios/v1\nscenarios: [\n"))
    with pytest.raises(InputError, match="duplicate key 'name'"):
        load_scenarios(_write(tmp_path, "format: poolshift.scenarios/v1\nscenarios:\n- name: a\n  name: b\n"))
    with pytest.raises(InputError, match="file not found"):
        load_scenarios(tmp_path / "missing.yaml")


def test_apply_scenario_applies_both_parts(snapshot: dict[str, Any]) -> None:
    sf = parse_scenarios({"format": "poolshift.scenarios/v1", "scenarios": [
        {"name": "s", "inventory": {"lock_nodes": ["os-node-created-t1g"]},
         "spec": {"pools": {"train": {"target": 11}}}}]}, source="sc.yaml")
    base = yaml.safe_load((DATA / "spec.yaml").read_text())
    snap, spec = apply_scenario(snapshot, base, sf.scenarios[0], Where("sc.yaml", 0, "s"))
    assert spec["pools"]["train"] == {"target": 11}
    assert base["pools"]["train"] == {"target": 10}
    assert _nodes(snap, "pool-train-7f3a")["os-node-created-t1g"]["metadata"]["annotations"][ANNOTATION_LOCK]


def test_the_package_exports_its_public_names() -> None:
    import planner.review.scenarios as scenarios

    assert all(getattr(scenarios, name, None) is not None for name in scenarios.__all__)
    assert {"ScenarioFile", "Where", "apply_scenario", "scenario_key", "load_scenarios", "parse_scenarios",
            "apply_inventory_overrides", "deep_merge", "merge_spec", "InventoryOverrides"} <= set(scenarios.__all__)


def test_a_display_name_two_pools_share_is_an_error_naming_both(snapshot: dict[str, Any]) -> None:
    """The one alias rule (planner.modelarts.objects.PoolNames), as in `plan`: a shared display name names neither."""
    shared = copy.deepcopy(snapshot)
    for pool in shared["pools"]:
        if pool["metadata"]["name"] in ("pool-train-7f3a", "pool-infer-2c9e"):
            pool["metadata"]["labels"]["os.modelarts/name"] = "gpu"
    err = _fail(shared, {"add_nodes": [{"pool": "gpu", "flavor": GPU, "count": 1}]})
    assert err.path == "scenarios[1] (what-if).inventory.add_nodes[0].pool"
    assert "display name 'gpu' is shared by pools pool-infer-2c9e, pool-train-7f3a" in str(err)
