from __future__ import annotations

import copy
import json
from typing import Any

from planner.review.diff import diff_plans, render_diff
from planner.review.plandoc import parse_plan


def _diff(a: dict[str, Any], b: dict[str, Any]):  # type: ignore[no-untyped-def]
    return diff_plans(parse_plan(a, source="a"), parse_plan(b, source="b"))


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
    changed = {c.key: (c.before, c.after) for c in d.summary}
    assert changed == {
        "status": ("OPTIMAL", "FEASIBLE"),
        "deviation_after": (0, 2),
        "staging_moves": (0, 1),
        "requests": (3, 4),
        "waves": (2, 3),
        "blocked_by": ([], ["subnet subnet-a9f04b36 reserve (pool-dev-91b0)"]),
    }
    assert [c.key for c in d.identity] == ["spec_fingerprint"]


def test_pool_changes(plan_a_data: dict[str, Any], plan_b_data: dict[str, Any]) -> None:
    d = _diff(plan_a_data, plan_b_data)
    rows = {(c.pool, c.key): (c.before, c.after) for c in d.pools}
    assert rows[("pool-train-7f3a", "after")] == (14, 13)
    assert rows[("pool-infer-2c9e", "modelarts.vm.gpu.8xv100 after")] == (3, 4)
    assert ("pool-npu-44d1", "after") not in rows


def test_pool_only_in_one_plan(plan_a_data: dict[str, Any]) -> None:
    b = copy.deepcopy(plan_a_data)
    b["pools"]["pool-new-1"] = {"before": 0, "after": 0, "target": None, "by_flavor": {}}
    del b["pools"]["pool-dev-91b0"]
    rows = {(c.pool, c.key): (c.before, c.after) for c in _diff(plan_a_data, b).pools}
    assert rows == {("pool-dev-91b0", "pool"): ("present", None), ("pool-new-1", "pool"): (None, "present")}


def test_subnet_changes(plan_a_data: dict[str, Any]) -> None:
    b = copy.deepcopy(plan_a_data)
    b["subnets"]["subnet-a9f04b36"]["free_after"] = 3
    del b["subnets"]["subnet-5d2c8e71"]
    d = _diff(plan_a_data, b)
    rows = {(c.subnet, c.key): (c.before, c.after) for c in d.subnets}
    assert rows[("subnet-a9f04b36", "free_after")] == (5, 3)
    assert rows[("subnet-5d2c8e71", "free_before")] == (18, None)
    assert "Subnets:" in render_diff(d, name_a="a", name_b="b")


def test_node_routes(plan_a_data: dict[str, Any], plan_b_data: dict[str, Any]) -> None:
    d = _diff(plan_a_data, plan_b_data)
    by_node = {n.node: n for n in d.nodes}
    assert set(by_node) == {"os-node-created-g3c9e", "os-node-created-g4d0f", "os-node-created-g5e1a"}
    assert by_node["os-node-created-g3c9e"].kind == "removed"
    staged = by_node["os-node-created-g5e1a"]
    assert staged.kind == "added"
    assert [(h.source, h.target, h.staging) for h in staged.after] == [
        ("pool-infer-2c9e", "pool-dev-91b0", True),
        ("pool-dev-91b0", "pool-train-7f3a", False),
    ]


def test_requests_matched_by_body_not_id(plan_a_data: dict[str, Any], plan_b_data: dict[str, Any]) -> None:
    d = _diff(plan_a_data, plan_b_data)
    assert d.requests_kept == 2
    assert [r.id for r in d.requests_added] == [3, 4]
    assert [(r.id, r.nodes) for r in d.requests_removed] == [
        (3, ("os-node-created-g3c9e", "os-node-created-g4d0f"))
    ]
    # steps 1 and 2 swapped places in plan B
    assert [(o.before_id, o.after_id) for o in d.order] == [(1, 2), (2, 1)]


def test_changed_flavor_is_a_new_request(plan_a_data: dict[str, Any]) -> None:
    b = copy.deepcopy(plan_a_data)
    b["steps"][1]["body"]["resourceSpec"]["flavor"] = "modelarts.vm.cpu.8u.d"
    d = _diff(plan_a_data, b)
    assert [r.flavor for r in d.requests_added] == ["modelarts.vm.cpu.8u.d"]
    assert [r.flavor for r in d.requests_removed] == ["modelarts.vm.cpu.8u"]
    assert [n.kind for n in d.nodes] == ["changed"]
    assert d.order == []


def test_wave_change_only_is_an_order_change(plan_a_data: dict[str, Any]) -> None:
    b = copy.deepcopy(plan_a_data)
    b["steps"][2]["wave"] = 1
    d = _diff(plan_a_data, b)
    assert not d.requests_added and not d.requests_removed and not d.nodes
    assert [(o.before_wave, o.after_wave) for o in d.order] == [(2, 1)]


def test_node_order_inside_a_request_does_not_matter(plan_a_data: dict[str, Any]) -> None:
    b = copy.deepcopy(plan_a_data)
    b["steps"][0]["body"]["migrateNodeNames"].reverse()
    d = _diff(plan_a_data, b)
    assert not d.requests_added and not d.requests_removed and d.requests_kept == 3


def test_excluded_changes(plan_a_data: dict[str, Any], plan_b_data: dict[str, Any]) -> None:
    d = _diff(plan_a_data, plan_b_data)
    assert [(e.node, e.reason) for e in d.excluded_added] == [("os-node-created-z7w2v", "pinned by spec")]
    assert [(e.node, e.reason) for e in d.excluded_removed] == [("os-node-created-k2m9x", "locked")]


def test_render_text_markdown_and_json(plan_a_data: dict[str, Any], plan_b_data: dict[str, Any]) -> None:
    d = _diff(plan_a_data, plan_b_data)
    text = render_diff(d, name_a="a.json", name_b="b.json")
    assert text.startswith("Plan diff: a.json -> b.json")
    for heading in ("Summary:", "Pools:", "Nodes (3 with different moves):",
                    "Requests (2 added, 1 removed, 2 kept):", "Order", "Excluded nodes:"):
        assert heading in text
    md = render_diff(d, name_a="a.json", name_b="b.json", markdown=True)
    assert "### Summary" in md and "| deviation_after | 0 | 2 | +2 |" in md
    data = json.loads(json.dumps(d.to_dict()))
    assert data["identical"] is False
    assert data["requests_kept"] == 2
