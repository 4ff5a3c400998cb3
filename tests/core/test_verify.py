"""The independent verifier catches every kind of broken plan (each mutation of a valid plan must fail).

A mutated plan goes through the one plan reader first, as a plan file would: what the reader already refuses
(a malformed file) counts as caught, with the reader's message.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from planner.planfile import PlanDocument, PlanStep
from planner.planning.pipeline import make_plan
from planner.spec import Spec, parse_spec
from planner.verify import read_ahead, verify_plan, verify_steps
from tests.core.builders import node, nodes_of, pool, snapshot, spec

SNAP = snapshot(
    [pool("pool-a", ["f.a", "f.b"]), pool("pool-b", {"f.a": 6, "f.b": None}, cluster="lite-b"),
     pool("pool-c", ["f.b"], subnet="s2")],
    {"pool-a": nodes_of("a", 6, cluster="lite-a") + [node("a-lock", cluster="lite-a",
                                                          annotations={"os.modelarts.node/lock.action": "x"})]
     + [node(f"a-s{i}", cluster="lite-a", super_node="spod") for i in range(2)],
     "pool-b": nodes_of("b", 2, cluster="lite-b"), "pool-c": nodes_of("c", 2, "f.b")},
    subnets={"s1": (100, 50), "s2": (10, 7)})
SPEC = spec({"pool-a": {"target": 3}, "pool-b": {"target": 7, "max": 8}, "pool-c": {"target": 2}},
            limits={"max_batch_size": 3})


def valid_plan() -> dict[str, Any]:
    doc = make_plan(SNAP, SPEC).document
    assert verify_plan(SNAP, parse_spec(SPEC), doc) == []
    assert len(doc.steps) >= 2
    data: dict[str, Any] = doc.model_dump(mode="json")
    return data


def check(spec: Spec, data: dict[str, Any], *, steps_only: bool = False) -> list[str]:
    """What the verifier finds wrong with a plan written as `data`, read by the model alone (what the model itself
    refuses counts as caught): the plan reader's own checks (does it add up, is the digest right) are left out,
    because the verifier must catch a forged plan on its own, from the raw snapshot."""
    try:
        doc = PlanDocument.model_validate(data)
    except ValidationError as exc:
        return [str(exc)]
    return verify_steps(SNAP, spec, doc.steps) if steps_only else verify_plan(SNAP, spec, doc)


def first_plain(doc: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in doc["steps"] if "creatingStep" not in s["body"]["resourceSpec"])


def mutate_node(doc: dict[str, Any], name: str) -> None:
    first_plain(doc)["body"]["migrateNodeNames"][0] = name


MUTATIONS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "locked node": (lambda d: mutate_node(d, "a-lock"), "may not move"),
    "unknown node": (lambda d: mutate_node(d, "ghost"), "unknown node"),
    "node of another pool": (lambda d: mutate_node(d, "c-0"), "not in"),
    "wrong flavor": (lambda d: first_plain(d)["body"]["resourceSpec"].update(flavor="f.b"), "should run as"),
    "wrong from cluster": (lambda d: first_plain(d)["body"].update(fromClusterName="x"), "fromClusterName"),
    "wrong to cluster": (lambda d: first_plain(d)["body"].update(toClusterName="x"), "toClusterName"),
    "target that does not accept": (lambda d: first_plain(d)["body"].update(toPoolName="pool-c"), "accepts no flavor"),
    "batch too large": (lambda d: first_plain(d)["body"]["migrateNodeNames"].extend(["a-3", "a-4"]),
                        "max_batch_size"),
    "super node split": (lambda d: d["steps"].append({"id": len(d["steps"]) + 1, "wave": 99, "staging": False,
                                                      "pool_name": "pool-a", "body": {
                                                          "migrateNodeNames": ["a-s0"], "fromClusterName": "lite-a",
                                                          "toClusterName": "lite-b", "toPoolName": "pool-b",
                                                          "resourceSpec": {"flavor": "f.a"}}}),
                         "super node must move whole"),
    "summary moves": (lambda d: d["summary"].update(moves=d["summary"]["moves"] + 1), "summary.moves"),
    "summary deviation": (lambda d: d["summary"].update(deviation_after=0), "deviation_after"),
    "bound above deviation": (lambda d: d["summary"].update(bound=99), "bound"),
    "waves out of order": (lambda d: d["steps"][0].update(wave=5), "comes after wave 5"),
    "ids out of order": (lambda d: d["steps"][0].update(id=9), "step ids"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_verifier_rejects_mutation(name: str) -> None:
    doc = copy.deepcopy(valid_plan())
    fn, expected = MUTATIONS[name]
    fn(doc)
    problems = check(parse_spec(SPEC), doc)
    assert problems, f"{name}: verifier accepted a broken plan"
    assert any(expected in p for p in problems), problems


def test_verifier_rejects_floor_max_subnet_and_wave_breaks() -> None:
    base = valid_plan()
    sp = parse_spec(SPEC)
    # all of pool-b's nodes out at once: below its floor
    doc = copy.deepcopy(base)
    doc["steps"] = [{"id": 1, "wave": 1, "staging": False, "pool_name": "pool-b", "body": {
        "migrateNodeNames": ["b-0", "b-1"], "fromClusterName": "lite-b", "toClusterName": "lite-a",
        "toPoolName": "pool-a", "resourceSpec": {"flavor": "f.a"}}}]
    assert any("below its floor" in p for p in check(sp, doc))
    # more f.b into pool-c than its subnet has room for (3 free)
    doc["steps"] = [{"id": i + 1, "wave": 1, "staging": False, "pool_name": "pool-a", "body": {
        "migrateNodeNames": [f"a-{i}"], "fromClusterName": "lite-a", "toClusterName": "pool-c",
        "toPoolName": "pool-c", "resourceSpec": {"flavor": "f.b"}}} for i in range(4)]
    problems = check(parse_spec(dict(SPEC, flavor_compat={"f.a": ["f.b"]})), doc)
    assert any("subnet s2" in p for p in problems)
    # pool-b (2 nodes, floor 2) receives one node, then sends one: safe one after the other, not as one wave
    swap = [{"id": 1, "wave": 1, "staging": False, "pool_name": "pool-a", "body": {
        "migrateNodeNames": ["a-0"], "fromClusterName": "lite-a", "toClusterName": "lite-b",
        "toPoolName": "pool-b", "resourceSpec": {"flavor": "f.a"}}},
        {"id": 2, "wave": 2, "staging": False, "pool_name": "pool-b", "body": {
            "migrateNodeNames": ["b-0"], "fromClusterName": "lite-b", "toClusterName": "lite-a",
            "toPoolName": "pool-a", "resourceSpec": {"flavor": "f.a"}}}]
    doc = copy.deepcopy(base)
    doc["steps"] = swap
    assert not any("wave" in p for p in check(sp, doc, steps_only=True))
    doc["steps"][1]["wave"] = 1
    problems = check(sp, doc, steps_only=True)
    assert any(p.startswith("wave 1: pool pool-b drops to 1") for p in problems), problems


# ------------------------------------------------------------------------------- busy nodes (PRODUCT §9)


def busy_plan(busy_nodes: str) -> tuple[dict[str, Any], Spec, dict[str, Any]]:
    """A plan on test_workloads' busy snapshot (job-x on a-0 and a-1, a-3's GPUs in use): 4 of pool-a's nodes go."""
    from tests.core.test_workloads import WISHES, busy_snapshot

    snap = busy_snapshot()
    raw_spec = spec(WISHES, workloads={"busy_nodes": busy_nodes}, limits={"max_batch_size": 1})
    doc = make_plan(snap, raw_spec).document
    sp = parse_spec(raw_spec)
    assert verify_plan(snap, sp, doc) == []
    return snap, sp, doc.model_dump(mode="json")


def busy_check(snap: dict[str, Any], sp: Spec, data: dict[str, Any]) -> list[str]:
    """The verdict, which the reading the planner takes ahead during the solve (`read_ahead`) must share."""
    doc = PlanDocument.model_validate(data)
    fresh = verify_plan(snap, sp, doc)
    assert verify_plan(snap, sp, doc, read_ahead(snap, sp)) == fresh
    return fresh


def test_verifier_catches_a_busy_node_moved_under_keep() -> None:
    snap, sp, data = busy_plan("keep")
    step = data["steps"][0]
    step["body"]["migrateNodeNames"] = ["a-1"]  # runs job-x
    problems = busy_check(snap, sp, data)
    assert any("node a-1 is busy (runs job-x) and workloads.busy_nodes is keep" in p for p in problems), problems
    step["body"]["migrateNodeNames"] = ["a-3"]  # its GPUs are in use, no workload listed
    problems = busy_check(snap, sp, data)
    assert any("node a-3 is busy" in p and "keep" in p for p in problems), problems
    # the same move, honestly listed, is still refused under keep
    step["disrupts"] = [{"node": "a-3", "workload": "(unlisted: accelerators in use)", "type": "unknown",
                         "priority": None}]
    data["summary"]["busy_moves"] = 1
    assert [p for p in busy_check(snap, sp, data) if "busy" in p] == [
        "step 1: node a-3 is busy (runs (unlisted: accelerators in use)) and workloads.busy_nodes is keep"]


BUSY_MUTATIONS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "disrupts omitted": (lambda d: next(s for s in d["steps"] if s["disrupts"])["disrupts"].clear(),
                         "disrupts omits job-x on a-0"),
    "disrupts invented": (lambda d: next(s for s in d["steps"] if not s["disrupts"])["disrupts"].append(
        {"node": next(s for s in d["steps"] if not s["disrupts"])["body"]["migrateNodeNames"][0],
         "workload": "job-x", "type": "train", "priority": "3"}), "which the move does not end"),
    "wrong priority": (lambda d: next(s for s in d["steps"] if s["disrupts"])["disrupts"][0].update(priority="1"),
                       "disrupts omits job-x on a-0"),
    "wrong workload": (lambda d: next(s for s in d["steps"] if s["disrupts"])["disrupts"][0].update(workload="nb"),
                       "lists nb on a-0"),
    "busy_moves too low": (lambda d: d["summary"].update(busy_moves=0), "summary.busy_moves is 0"),
    "busy_moves too high": (lambda d: d["summary"].update(busy_moves=3), "summary.busy_moves is 3"),
}


@pytest.mark.parametrize("name", sorted(BUSY_MUTATIONS))
def test_verifier_checks_disrupts_and_busy_moves_against_the_raw_snapshot(name: str) -> None:
    snap, sp, data = busy_plan("drain")
    assert data["summary"]["busy_moves"] == 1
    fn, expected = BUSY_MUTATIONS[name]
    fn(data)
    problems = busy_check(snap, sp, data)
    assert any(expected in p for p in problems), problems


def test_disrupts_are_plan_time_facts_left_out_of_the_live_step_check() -> None:
    snap, sp, data = busy_plan("drain")
    next(s for s in data["steps"] if s["disrupts"])["disrupts"].clear()
    doc = PlanDocument.model_validate(data)
    assert verify_steps(snap, sp, doc.steps) == [] and verify_plan(snap, sp, doc) != []


def test_a_super_node_member_named_alone_ends_what_its_mates_run() -> None:
    """The verifier reads busy facts only for the nodes a plan names, and for the other members of a super node
    one of them belongs to: a forged step that moves s-0 alone (its mate s-1 runs job-s, s-0 runs nothing) is busy
    under keep, and its `disrupts` must name job-s on s-0."""
    from planner.verify.busy import read_busy
    from planner.verify.world import read_world
    from tests.core.builders import workload

    members = [node(f"s-{i}", super_node="spod-9", ip=f"10.0.9.{i}") for i in range(2)]
    snap = snapshot([pool("pool-a"), pool("pool-b")],
                    {"pool-a": nodes_of("a", 4) + members, "pool-b": nodes_of("b", 2)})
    snap["workloads"] = {"pool-a": [workload("job-s", ["10.0.9.1"])]}
    step = {"id": 1, "wave": 1, "staging": False, "pool_name": "pool-a",
            "body": {"migrateNodeNames": ["s-0"], "fromClusterName": "pool-a", "toClusterName": "pool-b",
                     "toPoolName": "pool-b", "resourceSpec": {"flavor": "f.a"}}}
    keep = parse_spec(spec(workloads={"busy_nodes": "keep"}))
    problems = verify_steps(snap, keep, [PlanStep.model_validate(step)])
    assert "step 1: node s-0 is busy (runs job-s) and workloads.busy_nodes is keep" in problems, problems
    assert any("super node must move whole" in p for p in problems), problems
    world = read_world(snap, keep)
    ends = read_busy(snap, world, {"s-0"})
    assert ends == {"s-0": [("job-s", "train", "2")], "s-1": [("job-s", "train", "2")]}
    assert read_busy(snap, world, {"a-0", "ghost"}) == {}
    assert read_busy(snap, read_ahead(snap, keep), {"s-0"}) == ends  # every address indexed ahead: the same ends
    twice = copy.deepcopy(snap)  # s-0 listed again, last, idle and alone: the super node its first listing put it
    twice["nodes"]["pool-b"].append(node("s-0", ip="10.0.9.7"))  # in still ends job-s through it (as before)
    assert read_busy(twice, read_world(twice, keep), {"s-0"})["s-0"] == [("job-s", "train", "2")]


@pytest.mark.parametrize("name", ["valid", *sorted(MUTATIONS)])
def test_a_world_read_ahead_finds_what_a_fresh_reading_finds(name: str) -> None:
    """The planner hands the verifier its reading of the snapshot taken during the solve (`read_ahead`): the
    verdict on any plan is the one the verifier reaches reading the snapshot itself."""
    data = copy.deepcopy(valid_plan())
    if name != "valid":
        MUTATIONS[name][0](data)
    try:
        doc = PlanDocument.model_validate(data)
    except ValidationError:
        return  # refused by the model before any verification
    parsed = parse_spec(SPEC)
    assert verify_plan(SNAP, parsed, doc, read_ahead(SNAP, parsed)) == verify_plan(SNAP, parsed, doc)


def test_a_failure_aside_the_solve_is_the_plans_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the thread beside the solve raises, make_plan raises (no plan passes unverified)."""
    import planner.verify

    def broken(raw: dict[str, Any], spec: Spec) -> Any:
        raise RuntimeError("the verifier could not read the snapshot")

    monkeypatch.setattr(planner.verify, "read_ahead", broken)
    with pytest.raises(RuntimeError, match="could not read the snapshot"):
        make_plan(SNAP, SPEC)
