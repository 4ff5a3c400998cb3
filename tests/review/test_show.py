"""`show`'s text and Markdown, the shared text table fitting a terminal, and `inventory show`."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from planner.inventory import build_inventory
from planner.planfile import read_plan
from planner.review.inventory_view import render_inventory
from planner.review.show import render_plan, summary_lines
from planner.review.tables import text_table
from tests.review.conftest import CPU, GPU, parse, with_disrupts

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_summary_lines_end_with_the_digest(plan_a_data: dict[str, Any]) -> None:
    lines = summary_lines(parse(plan_a_data))
    assert lines[-1] == f"plan digest {plan_a_data['digest']}"
    assert lines[0] == "status OPTIMAL  deviation 5 -> 0 (proven optimal)"


def test_show_lists_every_node_of_a_request_and_what_it_does(plan_a_data: dict[str, Any]) -> None:
    doc = parse(with_disrupts(plan_a_data))
    text = render_plan(doc)
    row = next(line for line in text.splitlines() if line.startswith(" 2     1"))
    assert row.endswith("ends training job llm-pretrain-7 on 2 node(s); ends inference service chat-infer on 1 "
                        "node(s); crosses clusters cce-lite-a1 -> pool-dev-91b0  os-node-created-i1g, "
                        "os-node-created-i2g")
    assert "what the requests do: 1 request(s) end 2 running workload(s) on 2 node(s); 3 request(s) cross " \
           "clusters" in text
    assert "2 busy node moves" in text
    md = render_plan(doc, "md")
    assert "| 2 | 1 | infer | dev | modelarts.vm.gpu.8xv100 | 2 | ends training job llm-pretrain-7 on 2 node(s); " \
           "ends inference service chat-infer on 1 node(s); crosses clusters cce-lite-a1 → pool-dev-91b0 | " \
           "os-node-created-i1g, os-node-created-i2g |" in md
    assert "more" not in md  # every node listed, nothing left out of a small plan


def test_example_plan_in_markdown_lists_all_four_nodes_of_a_request() -> None:
    md = render_plan(read_plan(EXAMPLES / "plan.json"), "md")
    assert ("| os-node-created-002cr, os-node-created-003dn, os-node-created-004ew, os-node-created-005fs |"
            in md)  # was "..., +1 more"
    assert "relabels 2 node(s) modelarts.vm.cpu.8u32g → modelarts.vm.cpu.8u32g.d" in md
    assert "deviation left 3: 2 at pool totals, 1 at per-flavor targets" in md
    assert "| pool-c71f5e93-infer-b | infer-b | 2 | 4 | 5 | 2 | 2 | - | modelarts.vm.cpu.8u32g.d 2-&gt;4 |" not in md
    assert "| pool-c71f5e93-infer-b | infer-b | 2 | 4 | 5 | 2 | 2 | - | modelarts.vm.cpu.8u32g.d 2->4 |" in md


def _wide_plan(data: dict[str, Any], pools: int, steps: int) -> dict[str, Any]:
    big = copy.deepcopy(data)
    template = big["pools"]["pool-legacy-0a11"]
    for i in range(pools):
        big["pools"][f"pool-extra-{i:03d}"] = {**copy.deepcopy(template), "before": 2, "after": 3 + i,
                                               "display_name": f"extra-{i:03d}", "by_flavor": {CPU: [2, 3 + i]}}
    first = big["steps"][0]
    for i in range(4, steps + 4):
        step = copy.deepcopy(first)
        step.update(id=i, wave=2)
        step["body"]["migrateNodeNames"] = [f"os-node-created-{i:03d}{j}" for j in range(8)]
        big["steps"].append(step)
    return big


def test_markdown_summary_keeps_the_top_rows_and_counts_the_rest(plan_a_data: dict[str, Any]) -> None:
    doc = parse(_wide_plan(plan_a_data, 40, 40))
    md = render_plan(doc, "md", top=5)
    assert "## Pools that change (largest change first)" in md
    pools = [line for line in md.split("## Pools that change")[1].split("##")[0].splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[0] for row in pools[2:]] == [f"| pool-extra-0{i}" for i in (39, 38, 37, 36, 35)]
    assert "_… and 38 more pools that change (--full lists every one)_" in md
    assert "_… and 38 more requests (--full lists every one)_" in md
    assert "| pool-legacy-0a11 |" not in md.split("## Nodes that may not move")[0]  # unchanged: not listed
    full = render_plan(doc, "md")
    assert "more" not in full and full.count("os-node-created-") > md.count("os-node-created-")


def test_text_fits_the_terminal_and_wide_shows_everything(plan_a_data: dict[str, Any]) -> None:
    doc = parse(_wide_plan(plan_a_data, 3, 3))
    for width in (80, 100, 132):
        text = render_plan(doc, width=width)
        assert max(len(line) for line in text.splitlines()) <= width, width
        if width > 80:  # at 80 the columns' longest words do not fit side by side: words break there
            assert all(f"os-node-created-{i:03d}{j}" in text for i in range(4, 7) for j in range(8))
    tiny = render_plan(doc, width=40)  # too narrow for the requests: as narrow as they go, nothing lost
    assert max(len(line) for line in tiny.splitlines()) < 80
    assert all(f"os-node-created-004{j}"[:12] in tiny for j in range(8))
    narrow = render_plan(doc, width=80)
    assert "(not shown to fit 80 columns: wave, nodes; --wide shows every column)" in narrow
    wide = render_plan(doc)
    assert "not shown" not in wide and max(len(line) for line in wide.splitlines()) > 132


def test_text_table_wraps_at_spaces_and_drops_columns_in_order() -> None:
    rows: list[list[Any]] = [[1, "alpha beta gamma delta epsilon", "keep", 7]]
    table = text_table(["id", "words", "name", "n"], rows, numeric=[True, False, False, True], width=24, wrap=[1],
                       droppable=[2])
    assert table.splitlines() == [
        "id  words              n",
        "--  -----------------  -",
        " 1  alpha beta gamma   7",
        "    delta epsilon",
        "(not shown to fit 24",
        "columns: name; --wide",
        "shows every column)",
    ]
    assert text_table(["a"], [["x" * 50]], width=20).splitlines()[2:] == ["x" * 20, "x" * 20, "x" * 10]
    assert text_table(["id", "words"], rows_two := [[1, "alpha beta"]], numeric=[True, False]) == \
        "id  words\n--  ----------\n 1  alpha beta" and rows_two


def _pulled_snapshot() -> dict[str, Any]:
    snapshot: dict[str, Any] = json.loads((EXAMPLES / "inventory.json").read_text())
    for pool in snapshot["pools"]:
        if pool["metadata"]["name"] == "pool-d2a8b6c4-dev":
            pool["spec"]["network"] = {"name": "network-missing"}
    snapshot["pool_subnets"] = {"pool-d2a8b6c4-dev": {"subnet": None, "source": None,
                                                      "tried": ["spec.network.subnetId: field absent",
                                                                "ShowNetwork status.subnets: network not found"]}}
    return snapshot


def test_inventory_show_lists_accepted_flavors_super_nodes_immovable_nodes_and_unknown_subnets() -> None:
    inv = build_inventory(_pulled_snapshot(), source="snap.json")
    text = render_inventory(inv)
    assert "pool-3f9a21c8-train-a   modelarts.vm.gpu.8xv100            10  yes       12" in text
    assert "pool-d2a8b6c4-dev       modelarts.vm.cpu.8u32g.d            0  yes       no cap" in text
    assert ("hyperinstance:spod-41c2  pool-e6b91a07-ascend-a  modelarts.bm.npu.arm.8snt9b3.d      4  yes       "
            "os-node-created-030am, os-node-created-031bv, os-node-created-032cr, os-node-created-033dn") in text
    assert "os-node-created-010am  pool-3f9a21c8-train-a  locked (delete)" in text
    assert "os-node-created-025fs  pool-a4e3902d-batch    cabinet-exclusive" in text
    assert ("pool-d2a8b6c4-dev  subnet unknown, it cannot receive nodes (tried spec.network.subnetId: field absent; "
            "ShowNetwork status.subnets: network not found)") in text
    md = render_inventory(inv, "md")
    assert "| pool-c71f5e93-infer-b | modelarts.vm.cpu.8u32g.d | 2 | yes | 5 |" in md


def test_inventory_show_flavors_held_but_not_accepted() -> None:
    snapshot = _pulled_snapshot()
    for pool in snapshot["pools"]:
        if pool["metadata"]["name"] == "pool-a4e3902d-batch":
            pool["spec"]["resources"] = [r for r in pool["spec"]["resources"] if r["flavor"] != GPU]
    text = render_inventory(build_inventory(snapshot, source="snap.json"))
    assert f"pool-a4e3902d-batch     {GPU}             1  no (held, not accepted)  -" in text
