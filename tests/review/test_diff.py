"""`diff_plans` and `render_diff` on plans the planner wrote (tests/review/data/make_fixtures.py).

Plan A and plan B come from the same snapshot with different specs; plan B needs a staging hop. The blocked
plan is FEASIBLE. Edited variants are made on the JSON data and read through `parse_plan`.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from planner.review.diff import PlanDiff, diff_plans, render_diff
from tests.review.conftest import CPU, GPU, parse

DEV, INFER, LEGACY, TRAIN = "pool-dev-91b0", "pool-infer-2c9e", "pool-legacy-0a11", "pool-train-7f3a"
BLOCKED_BY = [
    "pool dev (pool-dev-91b0) would have to receive before it sends, but it cannot go below its floor 3 or above its "
    "max 3 and no pool can hold a unit in transit",
    "no safe order moves modelarts.vm.gpu.8xv100 nodes into pool dev (pool-dev-91b0) (pool dev (pool-dev-91b0) "
    "would have 5 nodes, above its max 3)",
]


def _diff(a: dict[str, Any], b: dict[str, Any]) -> PlanDiff:
    return diff_plans(parse(a, "a.json"), parse(b, "b.json"))


def test_same_plan_is_identical(plan_a_data: dict[str, Any]) -> None:
    d = _diff(plan_a_data, copy.deepcopy(plan_a_data))
    assert d.identical
    assert "No changes" in render_diff(d, name_a="a", name_b="b")


def test_timings_and_timestamps_are_ignored(plan_a_data: dict[str, Any]) -> None:
    b = copy.deepcopy(plan_a_data)
    b["summary"]["solve_seconds"] = 9.5
    b["created_at"] = "2030-01-01T00:00:00Z"
    assert _diff(plan_a_data, b).identical


def test_summary_and_identity_changes(plan_a_data: dict[str, Any], plan_b_data: dict[str, Any]) -> None:
    d = _diff(plan_a_data, plan_b_data)
    assert not d.identical
    assert [(c.key, c.before, c.after) for c in d.summary] == [
        ("deviation_before", 5, 8),
        ("moves", 4, 5),
        ("staging_moves", 0, 1),
        ("requests", 3, 5),
        ("waves", 2, 4),
    ]
    assert [c.key for c in d.identity] == ["spec_fingerprint"]  # same snapshot, other spec


def test_status_and_blocked_by_changes(plan_a_data: dict[str, Any], plan_blocked_data: dict[str, Any]) -> None:
    d = _diff(plan_a_data, plan_blocked_data)
    assert [(c.key, c.before, c.after) for c in d.summary] == [
        ("status", "OPTIMAL", "FEASIBLE"),
        ("deviation_before", 5, 8),
        ("deviation_after", 0, 4),
        ("moves", 4, 2),
        ("requests", 3, 1),
        ("waves", 2, 1),
        ("blocked_by", [], BLOCKED_BY),
        ("cross_cluster_requests", 3, 0),
    ]


def test_pool_changes(plan_a_data: dict[str, Any], plan_b_data: dict[str, Any]) -> None:
    d = _diff(plan_a_data, plan_b_data)
    rows = {(c.pool, c.key): (c.before, c.after) for c in d.pools}
    assert rows == {
        (DEV, "after"): (7, 4),
        (DEV, f"{CPU} after"): (5, 4),
        (DEV, f"{GPU} after"): (2, 0),
        (INFER, "after"): (7, 9),
        (INFER, f"{CPU} after"): (3, 5),
        (TRAIN, "after"): (7, 8),
        (TRAIN, "target"): (7, None),
        (TRAIN, f"{CPU} after"): (1, 0),
        (TRAIN, f"{GPU} after"): (6, 8),
    }
    assert not any(pool == LEGACY for pool, _ in rows)  # unchanged pools are not listed


def test_pool_only_in_one_plan(plan_a_data: dict[str, Any]) -> None:
    b = copy.deepcopy(plan_a_data)
    b["pools"]["pool-new-1"] = {"before": 0, "after": 0, "target": None, "floor": 2, "max": None,
                                "display_name": "new", "by_flavor": {}, "takes_part": True,
                                "cluster": "pool-new-1", "subnet": "subnet-0c4417d2", "accepts": {}}
    del b["pools"][LEGACY]
    b["excluded"] = [e for e in b["excluded"] if e["pool"] != LEGACY]
    rows = {(c.pool, c.key): (c.before, c.after) for c in _diff(plan_a_data, b).pools}
    assert rows == {(LEGACY, "pool"): ("present", None), ("pool-new-1", "pool"): (None, "present")}


def test_subnet_changes(plan_a_data: dict[str, Any]) -> None:
    b = copy.deepcopy(plan_a_data)
    b["subnets"]["subnet-a9f04b36"]["free_after"] = 12
    del b["subnets"]["subnet-0c4417d2"]
    d = _diff(plan_a_data, b)
    rows = {(c.subnet, c.key): (c.before, c.after) for c in d.subnets}
    assert rows == {
        ("subnet-a9f04b36", "free_after"): (14, 12),
        ("subnet-0c4417d2", "free_before"): (248, None),
        ("subnet-0c4417d2", "free_after"): (248, None),
        ("subnet-0c4417d2", "reserve"): (0, None),
    }
    assert "Subnets:" in render_diff(d, name_a="a", name_b="b")


def test_node_routes(plan_a_data: dict[str, Any], plan_b_data: dict[str, Any]) -> None:
    d = _diff(plan_a_data, plan_b_data)
    by_node = {n.node: n for n in d.nodes}
    assert {node: n.kind for node, n in by_node.items()} == {
        "os-node-created-i1c": "removed",   # moves only in A
        "os-node-created-i1g": "changed",   # to dev in A, to train in B
        "os-node-created-i2g": "changed",   # to dev in A, through dev to train in B
        "os-node-created-t2c": "added",     # moves only in B
    }
    staged = by_node["os-node-created-i2g"]
    assert [(h.source, h.target, h.flavor, h.staging) for h in staged.before] == [(INFER, DEV, GPU, False)]
    assert [(h.source, h.target, h.flavor, h.staging) for h in staged.after] == [
        (INFER, DEV, GPU, True),
        (DEV, TRAIN, GPU, False),
    ]
    assert by_node["os-node-created-i1c"].after == () and by_node["os-node-created-t2c"].before == ()


def test_requests_matched_by_body_not_id(plan_a_data: dict[str, Any], plan_b_data: dict[str, Any]) -> None:
    d = _diff(plan_a_data, plan_b_data)
    assert d.requests_kept == 1  # train -> dev [t1c]: step 3 in A, step 1 in B
    assert [(r.id, r.staging, r.nodes) for r in d.requests_added] == [
        (2, False, ("os-node-created-i1g",)),
        (3, True, ("os-node-created-i2g",)),
        (4, False, ("os-node-created-t2c",)),
        (5, False, ("os-node-created-i2g",)),
    ]
    assert [(r.id, r.nodes) for r in d.requests_removed] == [
        (1, ("os-node-created-i1c",)),
        (2, ("os-node-created-i1g", "os-node-created-i2g")),
    ]
    assert [(o.request, o.before_id, o.before_wave, o.after_id, o.after_wave) for o in d.order] == [
        (f"{TRAIN} -> {DEV} {CPU} x1", 3, 2, 1, 1),
    ]


def test_swapped_requests_are_an_order_change(plan_a_data: dict[str, Any]) -> None:
    b = copy.deepcopy(plan_a_data)
    first, second = b["steps"][0], b["steps"][1]  # both in wave 1
    first["body"], second["body"] = second["body"], first["body"]
    d = _diff(plan_a_data, b)
    assert d.requests_kept == 3 and not d.requests_added and not d.requests_removed and not d.nodes
    assert [(o.before_id, o.after_id) for o in d.order] == [(1, 2), (2, 1)]


def test_changed_flavor_is_a_new_request(plan_a_data: dict[str, Any]) -> None:
    b = copy.deepcopy(plan_a_data)
    b["steps"][0]["body"]["resourceSpec"]["flavor"] = "modelarts.vm.cpu.8u.d"
    d = _diff(plan_a_data, b)
    assert [r.flavor for r in d.requests_added] == ["modelarts.vm.cpu.8u.d"]
    assert [r.flavor for r in d.requests_removed] == [CPU]
    assert [(n.node, n.kind) for n in d.nodes] == [("os-node-created-i1c", "changed")]
    assert d.order == []


def test_wave_change_only_is_an_order_change(plan_a_data: dict[str, Any]) -> None:
    b = copy.deepcopy(plan_a_data)
    b["steps"][2]["wave"] = 1
    d = _diff(plan_a_data, b)
    assert not d.requests_added and not d.requests_removed and not d.nodes
    assert [(o.before_id, o.before_wave, o.after_wave) for o in d.order] == [(3, 2, 1)]


def test_node_order_inside_a_request_does_not_matter(plan_a_data: dict[str, Any]) -> None:
    b = copy.deepcopy(plan_a_data)
    b["steps"][1]["body"]["migrateNodeNames"].reverse()
    d = _diff(plan_a_data, b)
    assert not d.requests_added and not d.requests_removed and d.requests_kept == 3


def test_excluded_changes(plan_a_data: dict[str, Any], plan_b_data: dict[str, Any]) -> None:
    d = _diff(plan_a_data, plan_b_data)
    assert [(e.node, e.pool, e.reason) for e in d.excluded_added] == [
        ("os-node-created-d3c", DEV, "pinned by the spec")]
    assert [(e.node, e.pool, e.reason) for e in d.excluded_removed] == [
        ("os-node-created-t6g", TRAIN, "pinned by the spec")]


def test_render_text_markdown_and_json(plan_a_data: dict[str, Any], plan_b_data: dict[str, Any],
                                       plan_blocked_data: dict[str, Any]) -> None:
    d = _diff(plan_a_data, plan_b_data)
    text = render_diff(d, name_a="a.json", name_b="b.json")
    assert text.startswith("Plan diff: a.json -> b.json\n")
    for heading in ("Inputs:", "Summary:", "Pools:", "Subnets:", "Nodes (4 with different moves):",
                    "Requests (4 added, 2 removed, 1 kept):", "Order (requests in both plans that moved):",
                    "Excluded nodes:"):
        assert f"\n{heading}\n" in text
    md = render_diff(d, name_a="a.json", name_b="b.json", markdown=True)
    assert md.startswith("## Plan diff: a.json -> b.json\n")
    assert "### Summary" in md and "| staging_moves | 0 | 1 | +1 |" in md
    assert f"| {TRAIN} -> {DEV} {CPU} x1 | #3 wave 2 | #1 wave 1 |" in md
    blocked = render_diff(_diff(plan_a_data, plan_blocked_data), name_a="a", name_b="c", markdown=True)
    assert "| deviation_after | 0 | 4 | +4 |" in blocked and "| status | OPTIMAL | FEASIBLE |  |" in blocked
    data = json.loads(json.dumps(d.to_dict()))
    assert data["identical"] is False
    assert data["requests_kept"] == 1
    assert [r["id"] for r in data["requests_added"]] == [2, 3, 4, 5]


def test_requests_say_what_they_do_and_a_new_disruption_is_a_new_request(plan_a_data: dict[str, Any]) -> None:
    from tests.review.conftest import with_disrupts

    b = with_disrupts(copy.deepcopy(plan_a_data))
    d = _diff(plan_a_data, b)
    assert d.requests_kept == 2 and not d.nodes  # the same nodes move the same way, but request 2 now ends jobs
    assert [(r.id, r.does) for r in d.requests_added] == [(2, (
        "ends training job llm-pretrain-7 on 2 node(s)", "ends inference service chat-infer on 1 node(s)",
        "crosses clusters cce-lite-a1 -> pool-dev-91b0"))]
    assert [(r.id, r.does) for r in d.requests_removed] == [(2, ("crosses clusters cce-lite-a1 -> pool-dev-91b0",))]
    text = render_diff(d, name_a="a.json", name_b="b.json")
    assert ("+  #2 wave 1: pool-infer-2c9e -> pool-dev-91b0 modelarts.vm.gpu.8xv100 x2  ends training job "
            "llm-pretrain-7 on 2 node(s); ends inference service chat-infer on 1 node(s); crosses clusters "
            "cce-lite-a1 -> pool-dev-91b0  os-node-created-i1g, os-node-created-i2g") in text
    md = render_diff(d, name_a="<b>a</b>.json", name_b="b.json", markdown=True)
    assert md.startswith("## Plan diff: &lt;b>a&lt;/b>.json -> b.json\n")
