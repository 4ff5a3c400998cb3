"""Instance families: the default one unchanged, each other one unlike it in the way it promises."""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import Counter
from typing import Any

import pytest

from benchmarks import families
from benchmarks import generate as gen
from planner.inventory import build_inventory
from planner.planning.problem import build_problem
from planner.spec import parse_spec
from solvers.flow import solve_flow
from solvers.problem import deviation_of, final_counts
from solvers.result import Status

# sha256 of json.dumps([snapshot, spec], sort_keys=True) from the generator before families existed
# (commit aa80520), node status.resources / availableResources left out: the planning facts must not move.
HISTORIC = {
    (1000, 40, 8, 1): "be4aeae2fa0af185c10d690e74ae22a8d0bb26540408eb4c7bed14a5e2048079",
    (1000, 40, 8, 7): "cadf76d502ee586c34ddad3fab4fb598f9b119ed2d1e865e6ea538b320c363cd",
    (2000, 60, 12, 3): "deb51bf6b4b84d45e58e400d291be408f3a8c1032a27db9868015e69fcc3b4f6",
}


def _nodes(snapshot: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(pool, node) for pool, items in snapshot["nodes"].items() for node in items]


@pytest.mark.parametrize("args", sorted(HISTORIC))
def test_default_family_has_the_historic_planning_facts(args: tuple[int, int, int, int]) -> None:
    nodes, pools, clusters, seed = args
    snapshot, spec = gen.generate(nodes, pools, clusters=clusters, seed=seed)
    for _, node in _nodes(snapshot):
        del node["status"]["resources"], node["status"]["availableResources"]
    digest = hashlib.sha256(json.dumps([snapshot, spec], sort_keys=True).encode()).hexdigest()
    assert digest == HISTORIC[args]


@pytest.mark.parametrize("family", sorted(families.FAMILIES))
def test_every_node_carries_address_subnet_and_resources(family: str) -> None:
    snapshot, _ = gen.generate(1000, 40, clusters=8, seed=2, family=family)
    busy = families.busy_node_names(snapshot)
    for _, node in _nodes(snapshot):
        status = node["status"]
        assert status["privateIp"] and node["spec"]["hostNetwork"]["subnet"]
        assert {"cpu", "memory"} <= status["resources"].keys() == status["availableResources"].keys()
        if node["metadata"]["name"] not in busy:
            accelerators = families.accelerators(status["resources"])
            assert all(status["availableResources"][k] == status["resources"][k] for k in accelerators)
    assert gen.generate(1000, 40, clusters=8, seed=2, family=family) == gen.generate(1000, 40, clusters=8, seed=2,
                                                                                        family=family)


def test_unknown_family_and_busy_option_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown family 'nope'"):
        gen.generate(300, 20, family="nope")
    with pytest.raises(ValueError, match="busy_nodes"):
        gen.generate(300, 20, busy_nodes="sometimes")


def _plan(snapshot: dict[str, Any], spec: dict[str, Any]) -> tuple[int, int, Status]:
    problem, _ = build_problem(build_inventory(snapshot), parse_spec(spec))
    before = deviation_of(problem, final_counts(problem, (0,) * len(problem.classes), (0,) * len(problem.arrivals)))
    result = solve_flow(problem)
    assert result.deviation is not None
    return before, result.deviation, result.status


def test_unreachable_targets_are_far_and_leave_a_large_residual() -> None:
    snapshot, spec = gen.generate(2000, 60, clusters=12, seed=4, family="unreachable")
    sizes = {name: len(items) for name, items in snapshot["nodes"].items()}
    by_display = {p["metadata"]["labels"]["os.modelarts/name"]: p["metadata"]["name"] for p in snapshot["pools"]}
    far = [abs(e["target"] - sizes[by_display.get(k, k)]) > 0.4 * sizes[by_display.get(k, k)]
           for k, e in spec["pools"].items() if "target" in e]
    assert sum(far) >= 0.8 * len(far) and len(far) >= 0.8 * 58
    before, after, status = _plan(snapshot, spec)
    assert status == Status.OPTIMAL and after >= 0.3 * before
    _, default_spec = gen.generate(2000, 60, clusters=12, seed=4)
    d_before, d_after, _ = _plan(gen.generate(2000, 60, clusters=12, seed=4)[0], default_spec)
    assert after / before > 2 * d_after / d_before


def test_compat_pools_accept_many_flavors_along_chains() -> None:
    snapshot, spec = gen.generate(2000, 60, clusters=12, seed=4, family="compat")
    accepted = [len(p["spec"]["resources"]) for p in snapshot["pools"]]
    assert statistics.mean(accepted) >= 3.5 and sum(1 for a in accepted if a >= 3) >= 0.8 * len(accepted)
    compat = spec["flavor_compat"]
    assert all(flavor not in targets for flavor, targets in compat.items()), "a chain entry lists the flavor itself"
    chained = [f for f, targets in compat.items() if targets[0] in compat]
    assert len(chained) >= 5, "a -> [b], b -> [c]"
    assert compat.get("modelarts.bm.npu.arm.8snt9b.d", [None])[0] == "modelarts.bm.npu.arm.8snt9b3.d"
    # pools accept chain neighbours, so compat arrivals exist
    problem, ctx = build_problem(build_inventory(snapshot), parse_spec(spec))
    relabels = [a for a in problem.arrivals if problem.commodities[a.commodity].flavor != a.flavor]
    assert len(relabels) >= 20


def test_subnet_family_shares_few_near_full_subnets() -> None:
    snapshot, spec = gen.generate(10_000, 200, seed=3, family="subnets")
    subnets = [s for net in snapshot["networks"] for s in net["subnets"]]
    assert len(subnets) == 8
    reserve = spec["defaults"]["ip_reserve"]
    free = sorted(s["totalIps"] - s["usedIps"] - reserve for s in subnets)
    assert free[0] >= 0 and sum(1 for f in free if f <= 60) >= 4, free
    default_subnets = [s for net in gen.generate(10_000, 200, seed=3)[0]["networks"] for s in net["subnets"]]
    assert len(default_subnets) == 20


def test_busy_family_workloads() -> None:
    snapshot, spec = gen.generate(2000, 60, clusters=12, seed=5, family="busy")
    assert "workloads" not in spec, "the spec key only behind busy_nodes"
    available = [n for _, n in _nodes(snapshot) if n["status"]["phase"] == "Available"]
    busy = families.busy_node_names(snapshot)
    assert 0.55 <= len(busy) / len(available) <= 0.65
    ip_pool = {n["status"]["privateIp"]: pool for pool, n in _nodes(snapshot)}
    spans: Counter[int] = Counter()
    for pool, items in snapshot["workloads"].items():
        for w in items:
            assert w["status"] == "Running" and w["type"] in ("train", "infer", "notebook")
            ips = w["hostIps"].split(",")
            assert ips == [n["hostIp"] for n in w["nodes"]] and {ip_pool[ip] for ip in ips} == {pool}
            spans[len(ips)] += 1
    assert set(snapshot["workloads"]) == set(snapshot["nodes"])
    assert spans[1] > 0 and max(spans) >= 8 and max(spans) <= 16 + 8  # a job may end on a whole super node
    listed = {ip for items in snapshot["workloads"].values() for w in items for ip in w["hostIps"].split(",")}
    hidden = [n for _, n in _nodes(snapshot)
              if n["metadata"]["name"] in busy and n["status"]["privateIp"] not in listed]
    assert hidden, "some nodes are busy only by their accelerators"
    groups: dict[str, set[bool]] = {}
    for _, n in _nodes(snapshot):
        uid = n["metadata"]["labels"].get(gen.LABEL_BATCH_UID)
        if uid:
            groups.setdefault(uid, set()).add(n["metadata"]["name"] in busy)
    assert all(len(states) == 1 for states in groups.values()), "a super node is busy whole or idle whole"
    # the planning facts of the inventory are the default family's
    plain, _ = gen.generate(2000, 60, clusters=12, seed=5)
    assert [p["metadata"]["name"] for p in plain["pools"]] == [p["metadata"]["name"] for p in snapshot["pools"]]
    assert gen.generate(2000, 60, clusters=12, seed=5, family="busy", busy_nodes="keep")[1]["workloads"] == {
        "busy_nodes": "keep", "drain_timeout": 1800}


def test_hard_family_combines_everything() -> None:
    snapshot, spec = gen.generate(10_000, 200, seed=6, family="hard")
    facts = gen.describe(snapshot, spec)
    assert facts["subnets"] == 8 and facts["flavors_per_pool"] >= 3.5 and facts["allow_cross_cluster"]
    assert 0.05 * 10_000 <= facts["super_node_members"] <= 0.07 * 10_000
    assert facts["busy_nodes"] >= 0.5 * 10_000 and facts["pools_with_target"] >= 0.8 * 194
    assert any(targets[0] in spec["flavor_compat"] for targets in spec["flavor_compat"].values())
