"""`inventory show` lists busy nodes with their workloads (PRODUCT §9): text, Markdown and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from planner.cli import main
from planner.inventory import build_inventory
from planner.review.inventory_view import busy_nodes_json, render_inventory
from tests.core.test_workloads import busy_snapshot


def test_busy_nodes_are_listed_with_name_type_and_priority_of_what_runs() -> None:
    text = render_inventory(build_inventory(busy_snapshot(), source="s.json"), width=200)
    assert text.splitlines()[0].endswith("8 nodes, 8 movable, 3 busy")
    section = text[text.index("Busy nodes (moving one ends what runs on it)"):]
    rows = section.split("\n\n")[0].splitlines()[3:]
    assert [r.split()[0] for r in rows] == ["a-0", "a-1", "a-3"]     # a-2's notebook is Pending: idle
    assert rows[0].split(None, 2)[2] == "job-x (train, priority 3)"
    assert rows[2].split(None, 2)[2] == "has accelerators in use (nvidia.com/gpu) that no listed workload explains"
    assert "the snapshot has no workloads" not in text
    md = render_inventory(build_inventory(busy_snapshot(), source="s.json"), "md")
    assert "| a-1 | pool-a | job-x (train, priority 3) |" in md


def test_a_snapshot_without_workloads_says_only_accelerators_tell() -> None:
    snap = busy_snapshot()
    del snap["workloads"]
    text = render_inventory(build_inventory(snap, source="s.json"), width=300)
    assert "the snapshot has no workloads (pulled before poolshift read them)" in text
    section = text[text.index("Busy nodes"):].split("\n\n")[0]
    assert "a-3" in section and "a-0" not in section


def test_no_busy_node_reads_none() -> None:
    snap = busy_snapshot()
    snap["workloads"] = {"pool-a": [], "pool-b": []}
    snap["nodes"]["pool-a"][3]["status"]["availableResources"]["nvidia.com/gpu"] = "8"
    inv = build_inventory(snap, source="s.json")
    assert "Busy nodes (moving one ends what runs on it): none" in render_inventory(inv)
    assert busy_nodes_json(inv) == []


def test_inventory_show_json_has_the_busy_nodes(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(busy_snapshot()), encoding="utf-8")
    result = CliRunner().invoke(main, ["inventory", "show", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    busy = json.loads(result.stdout)["busy_nodes"]
    assert [b["node"] for b in busy] == ["a-0", "a-1", "a-3"]
    assert busy[0]["workloads"] == [{"name": "job-x", "type": "train", "priority": "3"}]
    assert busy[2]["workloads"] == [] and busy[2]["reason"].startswith("has accelerators in use")
