"""The stage table of the work around the solve (`benchmarks/stages.py`): every stage timed, trees side by side."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks import stages
from tests.core.builders import node, nodes_of, pool, snapshot, spec

ROOT = Path(__file__).resolve().parents[2]


def instance(tmp_path: Path) -> tuple[Path, Path]:
    snap = snapshot([pool("pool-a", ["f.a"]), pool("pool-b", ["f.a"], cluster="lite-b")],
                    {"pool-a": nodes_of("a", 6, cluster="lite-a") + [node("a-x", cluster="lite-a")],
                     "pool-b": nodes_of("b", 2, cluster="lite-b")})
    inventory, spec_path = tmp_path / "inventory.json", tmp_path / "spec.yaml"
    inventory.write_text(json.dumps(snap), encoding="utf-8")
    spec_path.write_text(yaml.safe_dump(spec({"pool-a": {"target": 4}, "pool-b": {"target": 5}})), encoding="utf-8")
    return inventory, spec_path


def test_one_run_times_every_stage_and_plans(tmp_path: Path) -> None:
    inventory, spec_path = instance(tmp_path)
    run = stages.stages_once(inventory, spec_path, workers=1)
    assert all(run[s] >= 0 for s in stages.STAGES) and run["solve"] > 0
    assert abs(run["around"] - sum(run[s] for s in stages.AROUND)) < 1e-9
    assert abs(run["total"] - sum(run[s] for s in stages.STAGES)) < 1e-9
    assert run["status"] == "OPTIMAL" and run["moves"] == 3 and run["deviation"] == 0


def test_the_planner_times_every_stage_it_runs(tmp_path: Path) -> None:
    """The stages inside `make_plan` are the planner's own timings: every one present and the laps add up."""
    from planner.inventory import read_snapshot_file
    from planner.planning import make_plan
    from planner.spec import read_spec_file

    inventory, spec_path = instance(tmp_path)
    t0 = time.perf_counter()
    plan = make_plan(read_snapshot_file(inventory), read_spec_file(spec_path))
    wall = time.perf_counter() - t0
    assert tuple(plan.timings) == stages.PLAN_STAGES
    assert all(v >= 0 for v in plan.timings.values()) and plan.timings["solve"] > 0
    assert sum(plan.timings.values()) <= wall


def test_one_profile_gives_medians_shares_and_the_work_around_the_solve(tmp_path: Path) -> None:
    inventory, spec_path = instance(tmp_path)
    result = stages.profile(inventory, spec_path, repeat=1)
    assert result["status"] == ["OPTIMAL"] and len(result["runs"]) == 1
    med = result["median"]
    assert med["around"] == round(result["runs"][0]["around"], 3) and med["total"] >= med["around"] + med["solve"]
    table = stages.format_profile(result).splitlines()
    assert table[0] == "| stage | median s | share |" and len(table) == 2 + len(stages.STAGES) + 2
    assert table[-1].startswith(f"| work around the solve (all but imports and solve) | {med['around']:.3f} |")


def test_trees_alternate_and_the_table_gives_ratios(tmp_path: Path) -> None:
    inventory, spec_path = instance(tmp_path)
    result = stages.run_trees([ROOT, ROOT], inventory, spec_path, repeat=1, workers=1)
    assert list(result["median"]) == [str(ROOT)] and len(result["runs"][str(ROOT)]) == 2  # one tree, twice
    medians = result["median"][str(ROOT)]
    result["median"] = {"A": medians, "B": {k: 2 * v for k, v in medians.items()}}
    table = stages.format_table(result)
    lines = table.splitlines()
    assert lines[0] == "| stage | `A` s | `B` s | ratio 2/1 |" and lines[1] == "|---|---|---|---|"
    assert len(lines) == 2 + len(stages.STAGES) + 1
    verify: Any = next(line for line in lines if line.startswith("| verify |"))
    assert verify.endswith("| 2.00 |")
