"""Each hard rule of PRODUCT §4 on a case where a naive plan would break it: the plan keeps it or exits 3."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from planner.errors import PlanningError
from planner.planning.pipeline import Plan, make_plan
from planner.spec import parse_spec
from planner.verify import verify_plan
from tests.core.builders import node, nodes_of, pool, snapshot, spec, two_pool_snapshot


def plan(snap: dict[str, Any], sp: dict[str, Any]) -> Plan:
    result = make_plan(snap, sp)
    assert verify_plan(snap, parse_spec(sp), result.document) == []
    return result


def data(result: Plan) -> dict[str, Any]:
    """The plan as it is written to the plan file (JSON data)."""
    written: dict[str, Any] = result.document.model_dump(mode="json")
    return written


def final_counts(result: Plan) -> dict[str, int]:
    return {p: v["after"] for p, v in data(result)["pools"].items()}


def moved_nodes(result: Plan) -> list[str]:
    return [n for s in data(result)["steps"] for n in s["body"]["migrateNodeNames"]]


# --- rule 1: floors
def test_pool_never_drops_below_two_nodes() -> None:
    r = plan(two_pool_snapshot(a=3, b=2), spec({"pool-a": {"target": 0}, "pool-b": {"target": 9}}))
    assert final_counts(r) == {"pool-a": 2, "pool-b": 3}


def test_spec_min_and_min_nodes_raise_the_floor() -> None:
    r = plan(two_pool_snapshot(a=6, b=2), spec({"pool-a": {"min": 5}, "pool-b": {"target": 9}}))
    assert final_counts(r)["pool-a"] == 5
    r = plan(two_pool_snapshot(a=6, b=2), spec({"pool-a": {"target": 0}, "pool-b": {"target": 9}},
                                               defaults={"min_nodes": 4}))
    assert final_counts(r)["pool-a"] == 4


def test_pool_below_its_min_is_filled() -> None:
    r = plan(two_pool_snapshot(a=8, b=2), spec({"pool-b": {"min": 5}}))
    assert final_counts(r)["pool-b"] == 5


def test_unfillable_min_exits_3_naming_the_pool() -> None:
    snap = two_pool_snapshot(a=2, b=2)
    with pytest.raises(PlanningError) as err:
        make_plan(snap, spec({"pool-b": {"min": 6}}))
    assert "pool-b" in str(err.value) and "at least 6" in str(err.value)
    assert err.value.exit_code == 3


def test_pool_at_its_floor_receives_before_it_sends() -> None:
    # pool-b holds 2 x f.a (floor 2) and must swap them for f.b nodes from pool-c.
    snap = snapshot(
        [pool("pool-a", ["f.a"]), pool("pool-b", ["f.a", "f.b"]), pool("pool-c", ["f.b"])],
        {"pool-a": nodes_of("a", 2), "pool-b": nodes_of("b", 2), "pool-c": nodes_of("c", 4, "f.b")},
    )
    sp = spec({"pool-a": {"target": 4}, "pool-b": {"target": 2, "flavors": {"f.a": 0, "f.b": 2}},
               "pool-c": {"target": 2}})
    r = plan(snap, sp)
    steps = data(r)["steps"]
    into_b = next(s for s in steps if s["body"]["toPoolName"] == "pool-b")
    out_of_b = next(s for s in steps if s["pool_name"] == "pool-b")
    assert into_b["id"] < out_of_b["id"]
    assert into_b["wave"] < out_of_b["wave"]
    assert r.document.summary.deviation_after == 0


# --- rule 2: ceilings, accept/give, pools that do not take part
def test_spec_max_caps_a_receiving_pool() -> None:
    r = plan(two_pool_snapshot(a=8, b=2), spec({"pool-a": {"target": 2}, "pool-b": {"max": 5}}))
    assert final_counts(r)["pool-b"] == 5


def test_pool_above_its_max_sheds() -> None:
    r = plan(two_pool_snapshot(a=8, b=2), spec({"pool-a": {"max": 5}}))
    assert final_counts(r) == {"pool-a": 5, "pool-b": 5}


def test_max_count_caps_the_arriving_flavor() -> None:
    snap = snapshot([pool("pool-a"), pool("pool-b", {"f.a": 4})],
                    {"pool-a": nodes_of("a", 8), "pool-b": nodes_of("b", 2)})
    r = plan(snap, spec({"pool-a": {"target": 2}, "pool-b": {"target": 8}}))
    assert final_counts(r)["pool-b"] == 4


def test_accept_false_never_receives_and_give_false_never_sends() -> None:
    snap = snapshot([pool("pool-a"), pool("pool-b"), pool("pool-c")],
                    {"pool-a": nodes_of("a", 6), "pool-b": nodes_of("b", 2), "pool-c": nodes_of("c", 6)})
    r = plan(snap, spec({"pool-a": {"target": 2, "give": False}, "pool-b": {"target": 8, "accept": False},
                         "pool-c": {"target": 2}}))
    assert final_counts(r) == {"pool-a": 6, "pool-b": 2, "pool-c": 6}
    assert data(r)["summary"]["moves"] == 0
    reasons = {e["reason"] for e in data(r)["excluded"] if e["pool"] == "pool-a"}
    assert reasons == {"pool may not give (give: false)"}


def test_pools_that_do_not_take_part_are_left_alone() -> None:
    snap = snapshot([pool("pool-a", phase="Abnormal"), pool("pool-b", ptype="Logical"), pool("pool-c")],
                    {"pool-a": nodes_of("a", 6), "pool-b": nodes_of("b", 6), "pool-c": nodes_of("c", 2)})
    r = plan(snap, spec({"pool-c": {"target": 8}}))
    assert data(r)["summary"]["moves"] == 0
    assert data(r)["pools"]["pool-a"]["excluded_reason"] == "phase Abnormal"
    assert data(r)["pools"]["pool-b"]["excluded_reason"] == "type Logical"


# --- rule 3: subnets
def test_target_subnet_room_limits_arrivals() -> None:
    snap = snapshot([pool("pool-a", subnet="s1"), pool("pool-b", subnet="s2")],
                    {"pool-a": nodes_of("a", 8), "pool-b": nodes_of("b", 2)}, subnets={"s1": (50, 40), "s2": (50, 47)})
    r = plan(snap, spec({"pool-a": {"target": 2}, "pool-b": {"target": 8}}))
    assert final_counts(r)["pool-b"] == 5


def test_ip_reserve_and_ips_per_node() -> None:
    snap = snapshot([pool("pool-a", subnet="s1"), pool("pool-b", subnet="s2")],
                    {"pool-a": nodes_of("a", 8), "pool-b": nodes_of("b", 2)}, subnets={"s1": (50, 40), "s2": (50, 40)})
    r = plan(snap, spec({"pool-a": {"target": 2}, "pool-b": {"target": 8}},
                        defaults={"ip_reserve": 2, "ips_per_node": 2}))
    assert final_counts(r)["pool-b"] == 6  # (10 free - 2 reserve) / 2 per node
    assert data(r)["subnets"]["s2"]["free_after"] == 2


def test_moves_inside_a_full_shared_subnet_need_room_in_flight() -> None:
    # Both pools share s1 with no free address: the new address is taken before the old one is freed.
    snap = snapshot([pool("pool-a"), pool("pool-b")], {"pool-a": nodes_of("a", 6), "pool-b": nodes_of("b", 2)},
                    subnets={"s1": (8, 8)})
    r = plan(snap, spec({"pool-a": {"target": 4}, "pool-b": {"target": 4}}))
    summary = data(r)["summary"]
    # The better placement is valid but out of reach: the plan keeps the current one and says why.
    assert (summary["status"], summary["moves"], summary["bound"]) == ("FEASIBLE", 0, 0)
    assert any("subnet s1" in b for b in summary["blocked_by"])
    assert data(r)["pools"]["pool-a"]["residual"]["deviation"] == 2


def test_wave_of_moves_never_overfills_a_subnet() -> None:
    snap = snapshot([pool("pool-a", subnet="s1"), pool("pool-b", subnet="s2")],
                    {"pool-a": nodes_of("a", 10), "pool-b": nodes_of("b", 2)}, subnets={"s1": (50, 40), "s2": (50, 46)})
    r = plan(snap, spec({"pool-a": {"target": 2}, "pool-b": {"target": 10}}, limits={"max_batch_size": 1}))
    per_wave = Counter(s["wave"] for s in data(r)["steps"])
    assert max(per_wave.values()) <= 4
    assert final_counts(r)["pool-b"] == 6


# --- rule 4: flavors
def test_node_only_goes_where_its_flavor_is_accepted_or_compatible() -> None:
    snap = snapshot([pool("pool-a", ["f.a"]), pool("pool-b", ["f.b"])],
                    {"pool-a": nodes_of("a", 6), "pool-b": nodes_of("b", 2, "f.b")})
    sp = spec({"pool-a": {"target": 2}, "pool-b": {"target": 6}})
    assert plan(snap, sp).document.model_dump(mode="json")["summary"]["moves"] == 0
    r = plan(snap, {**sp, "flavor_compat": {"f.a": ["f.b"]}})
    assert data(r)["summary"]["moves"] == 4
    assert {s["body"]["resourceSpec"]["flavor"] for s in data(r)["steps"]} == {"f.b"}
    assert data(r)["pools"]["pool-b"]["by_flavor"]["f.b"] == [2, 6]


def test_a_node_keeps_its_own_flavor_wherever_the_target_accepts_it() -> None:
    """PRODUCT §3 (ruling of 2026-11-29): never relabelled when its own flavor fits, even if compat lists others."""
    snap = snapshot([pool("pool-a", ["f.a"]), pool("pool-b", ["f.a", "f.a.d"])],
                    {"pool-a": nodes_of("a", 6), "pool-b": nodes_of("b", 2)})
    r = plan(snap, spec({"pool-a": {"target": 4}, "pool-b": {"target": 4}}, flavor_compat={"f.a": ["f.a.d", "f.a"]}))
    assert {s["body"]["resourceSpec"]["flavor"] for s in data(r)["steps"]} == {"f.a"}


def test_where_the_own_flavor_does_not_fit_the_first_listed_compatible_flavor_is_used() -> None:
    snap = snapshot([pool("pool-a", ["f.a"]), pool("pool-b", ["f.a.d", "f.a.e"])],
                    {"pool-a": nodes_of("a", 6), "pool-b": nodes_of("b", 2, "f.a.d")})
    r = plan(snap, spec({"pool-a": {"target": 4}, "pool-b": {"target": 4}}, flavor_compat={"f.a": ["f.a.e", "f.a.d"]}))
    assert {s["body"]["resourceSpec"]["flavor"] for s in data(r)["steps"]} == {"f.a.e"}
    assert data(r)["summary"]["deviation_after"] == 0


def test_relabelling_a_node_that_fits_would_have_cost_deviation() -> None:
    """Relabelled as f.a.d the nodes would hit pool-b's maxCount 2 of f.a.d and nothing could move (D 8);
    keeping their own flavor f.a they all fit (D 0)."""
    snap = snapshot([pool("pool-a", ["f.a"]), pool("pool-b", {"f.a": None, "f.a.d": 2})],
                    {"pool-a": nodes_of("a", 6), "pool-b": nodes_of("b", 2, "f.a.d")})
    r = plan(snap, spec({"pool-a": {"target": 2}, "pool-b": {"target": 6}}, flavor_compat={"f.a": ["f.a.d"]}))
    summary = data(r)["summary"]
    assert (summary["deviation_after"], summary["moves"], summary["status"]) == (0, 4, "OPTIMAL")
    assert {s["body"]["resourceSpec"]["flavor"] for s in data(r)["steps"]} == {"f.a"}


# --- rule 5: movable units, super nodes
def test_unmovable_nodes_stay_and_are_listed_with_reasons() -> None:
    nodes = [node("a-lock", annotations={"os.modelarts.node/lock.action": "delete"}),
             node("a-bad", phase="Abnormal"), node("a-frozen", labels={"os.modelarts/billing.status": "1"}),
             node("a-cab", labels={"os.modelarts.node/volcano.scheduler.cabinet-exclusive": "job-1"}),
             node("a-pin"), *nodes_of("a", 2)]
    snap = snapshot([pool("pool-a"), pool("pool-b")], {"pool-a": nodes, "pool-b": nodes_of("b", 2)})
    r = plan(snap, spec({"pool-a": {"target": 2}, "pool-b": {"target": 20}}, pin=["a-pin"]))
    assert sorted(moved_nodes(r)) == ["a-0", "a-1"] or len(moved_nodes(r)) <= 2
    reasons = {e["node"]: e["reason"] for e in data(r)["excluded"]}
    assert reasons["a-lock"] == "locked (delete)"
    assert reasons["a-bad"] == "phase Abnormal"
    assert reasons["a-frozen"].startswith("billing status 1")
    assert reasons["a-cab"] == "cabinet-exclusive"
    assert reasons["a-pin"] == "pinned by the spec"


def test_super_node_moves_whole_with_creating_step() -> None:
    sn = [node(f"a-s{i}", super_node="spod-1") for i in range(4)]
    snap = snapshot([pool("pool-a"), pool("pool-b")], {"pool-a": sn + nodes_of("a", 4), "pool-b": nodes_of("b", 2)})
    r = plan(snap, spec({"pool-a": {"target": 2}, "pool-b": {"target": 8}}, limits={"max_batch_size": 4}))
    super_steps = [s for s in data(r)["steps"] if "creatingStep" in s["body"]["resourceSpec"]]
    assert len(super_steps) == 1
    assert sorted(super_steps[0]["body"]["migrateNodeNames"]) == ["a-s0", "a-s1", "a-s2", "a-s3"]
    assert super_steps[0]["body"]["resourceSpec"]["creatingStep"] == {"step": 4, "type": "hyperinstance"}
    assert r.document.summary.deviation_after == 0


def test_super_node_with_a_locked_member_stays_whole() -> None:
    sn = [node("a-s0", super_node="spod-1", annotations={"os.modelarts.node/lock.action": "x"}),
          node("a-s1", super_node="spod-1")]
    snap = snapshot([pool("pool-a"), pool("pool-b")], {"pool-a": sn + nodes_of("a", 2), "pool-b": nodes_of("b", 2)})
    r = plan(snap, spec({"pool-a": {"target": 2}, "pool-b": {"target": 4}}))
    assert "a-s1" not in moved_nodes(r)
    reasons = {e["node"]: e["reason"] for e in data(r)["excluded"]}
    assert reasons["a-s1"] == "super node member a-s0 may not move"


def test_super_node_larger_than_max_batch_size_is_excluded() -> None:
    sn = [node(f"a-s{i}", super_node="spod-1") for i in range(4)]
    snap = snapshot([pool("pool-a"), pool("pool-b")], {"pool-a": sn + nodes_of("a", 2), "pool-b": nodes_of("b", 2)})
    r = plan(snap, spec({"pool-a": {"target": 2}, "pool-b": {"target": 6}}, limits={"max_batch_size": 3}))
    assert not set(moved_nodes(r)) & {"a-s0", "a-s1", "a-s2", "a-s3"}


# --- rule 6: limits
def test_max_moves_caps_the_plan() -> None:
    r = plan(two_pool_snapshot(a=10, b=2), spec({"pool-a": {"target": 2}, "pool-b": {"target": 10}},
                                                limits={"max_moves": 3}))
    assert data(r)["summary"]["moves"] == 3


def test_max_batch_size_splits_requests() -> None:
    r = plan(two_pool_snapshot(a=10, b=2), spec({"pool-a": {"target": 2}, "pool-b": {"target": 10}},
                                                limits={"max_batch_size": 3}))
    sizes = [len(s["body"]["migrateNodeNames"]) for s in data(r)["steps"]]
    assert sizes == [3, 3, 2]


def test_cross_cluster_moves_can_be_forbidden() -> None:
    snap = snapshot([pool("pool-a"), pool("pool-b"), pool("pool-c")],
                    {"pool-a": nodes_of("a", 8, cluster="east"), "pool-b": nodes_of("b", 2, cluster="west"),
                     "pool-c": nodes_of("c", 2, cluster="east")})
    sp = spec({"pool-a": {"target": 2}, "pool-b": {"target": 5}, "pool-c": {"target": 5}})
    r = plan(snap, sp)
    assert data(r)["summary"]["cross_cluster_requests"] >= 1
    r = plan(snap, {**sp, "limits": {"allow_cross_cluster": False}})
    assert data(r)["summary"]["cross_cluster_requests"] == 0
    assert final_counts(r) == {"pool-a": 5, "pool-b": 2, "pool-c": 5}
    assert all(s["body"]["fromClusterName"] == s["body"]["toClusterName"] for s in data(r)["steps"])


def test_requests_carry_cluster_names() -> None:
    snap = snapshot([pool("pool-a"), pool("pool-b", cluster="lite-b")],
                    {"pool-a": nodes_of("a", 6, cluster="lite-a"), "pool-b": []})
    r = plan(snap, spec({"pool-a": {"target": 3}, "pool-b": {"target": 3}}))
    body = data(r)["steps"][0]["body"]
    assert (body["fromClusterName"], body["toClusterName"]) == ("lite-a", "lite-b")


def test_max_count_room_freed_by_departures_can_be_used() -> None:
    # pool-b is at maxCount 4 for f.b; two of its f.b nodes leave first, making room for a converted super node.
    sn = [node(f"a-s{i}", super_node="spod-1") for i in range(2)]
    snap = snapshot([pool("pool-a", ["f.a", "f.b"]), pool("pool-b", {"f.b": 4})],
                    {"pool-a": sn, "pool-b": nodes_of("b", 4, "f.b")})
    r = plan(snap, spec({"pool-a": {"flavors": {"f.a": 0, "f.b": 2}}}, flavor_compat={"f.a": ["f.b"]}))
    summary = data(r)["summary"]
    assert (summary["status"], summary["deviation_after"], summary["moves"]) == ("OPTIMAL", 0, 4)
    steps = data(r)["steps"]
    assert steps[0]["pool_name"] == "pool-b" and steps[-1]["pool_name"] == "pool-a"


def test_unreachable_swap_keeps_current_placement_and_says_why() -> None:
    # pool-b is at its floor (2) and at maxCount (2): it can neither send first nor receive first.
    sn = [node(f"a-s{i}", super_node="spod-1") for i in range(2)]
    snap = snapshot([pool("pool-a", ["f.a", "f.b"]), pool("pool-b", {"f.b": 2})],
                    {"pool-a": sn + nodes_of("a", 1), "pool-b": nodes_of("b", 2, "f.b")})
    r = plan(snap, spec({"pool-a": {"flavors": {"f.a": 0, "f.b": 3}}}, flavor_compat={"f.a": ["f.b"]}))
    summary = data(r)["summary"]
    assert summary["status"] == "FEASIBLE"
    assert summary["bound"] == 2 and summary["deviation_after"] == 6 and summary["moves"] == 0
    assert any("pool-b" in b for b in summary["blocked_by"])


def test_what_limits_a_target_names_each_pool_and_its_limit() -> None:
    """Issue 12: not "no pool has room left (subnet, max, maxCount)" but which pool, and which limit, named by
    display name with the id in parentheses."""
    snap = snapshot([pool("pool-a", display="alpha"), pool("pool-b", display="beta"),
                     pool("pool-c", display="gamma", subnet="s2")],
                    {"pool-a": nodes_of("a", 6), "pool-b": nodes_of("b", 2), "pool-c": nodes_of("c", 2)},
                    subnets={"s1": (100, 8), "s2": (2, 2)})
    r = plan(snap, spec({"pool-a": {"target": 2}, "pool-b": {"max": 2}}))
    assert data(r)["pools"]["pool-a"]["residual"]["limited_by"] == [
        "its nodes have nowhere to go: beta (pool-b) is at its max 2; gamma (pool-c)'s subnet s2 has no free "
        "address above its reserve"]
    r = plan(snap, spec({"pool-b": {"target": 4}, "pool-a": {"give": False}, "pool-c": {"target": 2}}))
    assert data(r)["pools"]["pool-b"]["residual"]["limited_by"] == [
        "no pool can spare a node it accepts: alpha (pool-a) has give: false; gamma (pool-c) is at its floor 2"]


def test_what_limits_a_target_names_the_first_givers_in_pool_order_and_counts_the_rest() -> None:
    """Each pool short of its target names the first three pools (in the snapshot's order, never itself) that take
    part and hold a flavor it accepts, and counts the others; a pool that does not take part, or holds only flavors
    it does not accept, is not named. Pools accepting the same flavors (pool-a, pool-c) each leave only themselves
    out."""
    givers = [pool(f"pool-{k}", ["f.a"], display=f"giver{k}") for k in "bcdef"]
    snap = snapshot([pool("pool-x", ["f.a"], display="ex", phase="Creating"), pool("pool-a", ["f.a"], display="alpha"),
                     *givers, pool("pool-z", ["f.a", "f.b"], display="zed"), pool("pool-y", ["f.c"], display="why")],
                    {"pool-x": nodes_of("x", 3), "pool-a": nodes_of("a", 2),
                     **{f"pool-{k}": nodes_of(k, 3) for k in "bcdef"},
                     "pool-z": nodes_of("z", 3, "f.b"), "pool-y": nodes_of("y", 3, "f.c")})
    held = {f"pool-{k}": {"give": False} for k in "bcdefy"}
    r = plan(snap, spec({"pool-a": {"target": 6}, "pool-z": {"target": 9}, **held,
                         "pool-c": {"give": False, "target": 5}}))
    pools = data(r)["pools"]
    assert pools["pool-a"]["residual"]["limited_by"] == [
        "no pool can spare a node it accepts: giverb (pool-b) has give: false; giverc (pool-c) has give: false; "
        "giverd (pool-d) has give: false; and 2 more pool(s)"]
    assert pools["pool-z"]["residual"]["limited_by"] == [
        "no pool can spare a node it accepts: alpha (pool-a) is at its floor 2; giverb (pool-b) has give: false; "
        "giverc (pool-c) has give: false; and 3 more pool(s)"]
    assert pools["pool-c"]["residual"]["limited_by"] == [  # the same flavors as pool-a's: named without itself
        "no pool can spare a node it accepts: alpha (pool-a) is at its floor 2; giverb (pool-b) has give: false; "
        "giverd (pool-d) has give: false; and 2 more pool(s)"]
