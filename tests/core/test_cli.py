"""The core commands end to end through the CLI: plan, show (table, md, json), inventory show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from planner.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_plan_then_show_in_every_format(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    code, out, _ = run("plan", "--inventory", str(EXAMPLES / "inventory.json"), "--spec", str(EXAMPLES / "spec.yaml"),
                       "-o", str(plan))
    assert code == 0 and "status OPTIMAL  deviation 25 -> 3 (proven optimal)" in out
    doc = json.loads(plan.read_text())
    assert doc["format"] == "poolshift.plan/v1" and len(doc["steps"]) == 3
    # busy_nodes: keep (the default): the 7 busy nodes stay, none of the moved nodes runs anything (README)
    busy = {e["node"]: e["reason"] for e in doc["excluded"] if e["reason"].startswith("busy: ")}
    assert len(busy) == 7 and busy["os-node-created-001bv"] == "busy: runs nb-feature-exploration (notebook)"
    assert doc["summary"]["busy_moves"] == 0 and all(s["disrupts"] == [] for s in doc["steps"])
    assert not busy.keys() & {n for s in doc["steps"] for n in s["body"]["migrateNodeNames"]}
    committed = json.loads((EXAMPLES / "plan.json").read_text())
    for d in (doc, committed):  # the fields that differ between runs (and the digest over them)
        del d["created_at"], d["digest"]
        del d["summary"]["solve_seconds"]
    assert doc == committed  # examples/plan.json is what `poolshift plan` writes today

    code, table, _ = run("show", str(plan))
    assert code == 0
    assert "Requests (in order)" in table and f"plan digest {json.loads(plan.read_text())['digest']}" in table
    row = next(line for line in table.splitlines() if line.startswith(" 1     1  train-a    train-b   "))
    assert row.endswith("  os-node-created-002cr, os-node-created-003dn, os-node-created-004ew, os-node-created-005fs")
    assert "subnet subnet-west-a-0d17 has no free address left above its reserve" in table
    code, md, _ = run("show", str(plan), "--format", "md")
    assert code == 0 and md.startswith("# poolshift plan for project") and "| pool | name | before |" in md
    code, as_json, _ = run("show", str(plan), "--format", "json")
    shown = json.loads(as_json)
    del shown["summary"]["solve_seconds"]
    assert code == 0 and shown["summary"] == doc["summary"] and shown["steps"] == doc["steps"]


def test_plan_json_output_keeps_messages_off_stdout(tmp_path: Path) -> None:
    code, out, err = run("plan", "--inventory", str(EXAMPLES / "inventory.json"), "--spec",
                         str(EXAMPLES / "spec.yaml"), "--output", "json")
    assert code == 0 and err == ""
    summary = json.loads(out)["summary"]
    assert (summary["status"], summary["moves"], summary["requests"]) == ("OPTIMAL", 10, 3)


def test_show_rejects_a_file_that_is_not_a_plan(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"format": "something/v1"}')
    code, _, err = run("show", str(bad))
    assert code == 2 and err.strip().count("\n") == 0 and f"{bad}: $.format: unsupported format" in err
    code, _, err = run("show", str(tmp_path / "missing.json"))
    assert code == 2 and "missing.json: file not found" in err


def test_inventory_show_tables_and_json() -> None:
    code, out, _ = run("inventory", "show", str(EXAMPLES / "inventory.json"))
    assert code == 0
    assert "9 pools, 41 nodes, 35 movable" in out
    assert "subnet-west-a-0d17  network-west-88d0  192.168.16.0/24    251   247     4" in out
    assert "no (phase Abnormal)" in out
    code, out, _ = run("inventory", "show", str(EXAMPLES / "inventory.json"), "--output", "json")
    data = json.loads(out)
    assert code == 0 and data["nodes"] == {"total": 41, "movable": 35}
    caps = {(r["pool"], r["flavor"]): r["max_count"] for r in data["pool_flavors"]}
    assert caps[("pool-3f9a21c8-train-a", "modelarts.vm.gpu.8xv100")] == 12
    assert caps[("pool-51d07e44-train-b", "modelarts.vm.gpu.8xv100")] is None


def test_help_lists_every_command() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for command in ("plan", "show", "diff", "report", "whatif", "apply", "auto", "emulator", "inventory"):
        assert f"  {command} " in out or f"  {command}\n" in out, command


@pytest.mark.slow
def test_a_solver_timeout_has_its_own_exit_code_and_says_how_to_raise_the_limit(tmp_path: Path) -> None:
    """Exit 8 with the limit and the option to raise it: a time limit hit is not "no feasible placement" (3)."""
    from benchmarks.generate import generate

    snapshot, spec = generate(100_000, 1_000, seed=1)
    inv, sp = tmp_path / "inventory.json", tmp_path / "spec.yaml"
    inv.write_text(json.dumps(snapshot))
    sp.write_text(yaml.safe_dump(spec))
    code, _, err = run("plan", "--inventory", str(inv), "--spec", str(sp), "--time-limit", "0.01",
                       "-o", str(tmp_path / "plan.json"))
    assert code == 8, err
    assert err.strip().count("\n") == 0
    assert "hit its time limit of 0.01 s before it found any placement" in err and "--time-limit" in err
    assert not (tmp_path / "plan.json").exists()
