"""The stage table of the work around the solve (`benchmarks/stages.py`): every stage timed, trees side by side."""

from __future__ import annotations

import json
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
    assert run["status"] == "OPTIMAL" and run["moves"] == 3 and run["deviation"] == 0


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
