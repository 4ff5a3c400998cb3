"""The whatif measurement: 7 scenarios derived from an instance, all planned by the real CLI; the budget."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from benchmarks import generate as gen
from benchmarks import measure as ms
from benchmarks import whatif


@pytest.mark.parametrize("family, seed", [("hard", 3), ("default", 1)])  # default s1: a subnet of 251 addresses
def test_seven_scenarios_that_the_cli_plans(tmp_path: Path, family: str, seed: int) -> None:
    """Every scenario is one the CLI accepts: e.g. no subnet is given more free addresses than its totalIps."""
    params = {"nodes": 1000, "pools": 40, "clusters": 8, "seed": seed, "cross_cluster": True, "family": family}
    snapshot, spec = gen.generate(**params)  # type: ignore[arg-type]
    inventory, spec_path, _ = gen.write_instance(snapshot, spec, tmp_path, params)
    scenarios = whatif.write_scenarios(inventory, spec_path, tmp_path / "scenarios.yaml")
    doc = yaml.safe_load(scenarios.read_text())
    names = [s["name"] for s in doc["scenarios"]]
    assert names == ["baseline", "targets-up", "add-nodes", "remove-nodes", "free-ips", "lock-nodes",
                     "no-cross-cluster"]
    assert doc["scenarios"][1]["spec"]["pools"] and doc["scenarios"][2]["inventory"]["add_nodes"]
    done = subprocess.run(whatif.whatif_command(ms.poolshift_executable(), inventory, spec_path, scenarios),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    outcomes = json.loads(done.stdout)["scenarios"]
    assert [o["name"] for o in outcomes] == names
    assert all(o["feasible"] for o in outcomes), [o.get("error") for o in outcomes]


def test_the_nodes_removed_are_none_the_spec_pins(tmp_path: Path) -> None:
    """Removing a node the spec pins makes whatif refuse the whole file (the pin names a node that is gone): the
    remove-nodes scenario then names the nodes to remove, the pinned ones left out."""
    params = {"nodes": 1000, "pools": 40, "clusters": 8, "seed": 3, "cross_cluster": True, "family": "hard"}
    snapshot, spec = gen.generate(**params)  # type: ignore[arg-type]
    (batch, *_) = whatif.scenario_file(snapshot, spec)["scenarios"][3]["inventory"]["remove_nodes"]
    plain = sorted(n["metadata"]["name"] for n in snapshot["nodes"][batch["pool"]] if n["spec"]["flavor"] ==
                   batch["flavor"] and "os.modelarts.node/batch.uid" not in n["metadata"]["labels"])
    spec["pin"] = [*spec.get("pin", []), plain[0]]  # the first node whatif would remove
    removed = whatif.scenario_file(snapshot, spec)["scenarios"][3]["inventory"]["remove_nodes"]
    names = [item for item in removed if isinstance(item, str)]
    assert len(names) == batch["count"] and plain[0] not in names and set(names) <= set(plain)
    inventory, spec_path, _ = gen.write_instance(snapshot, spec, tmp_path, params)
    scenarios = whatif.write_scenarios(inventory, spec_path, tmp_path / "scenarios.yaml")
    done = subprocess.run(whatif.whatif_command(ms.poolshift_executable(), inventory, spec_path, scenarios),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr


def test_budget_of_a_profile() -> None:
    median = {"imports": 0.3, "read snapshot": 0.5, "spec": 0.1, "inventory": 0.4, "problem": 0.2, "solve": 1.0,
              "order": 0.2, "verify": 0.3, "document": 0.2, "write plan": 0.1, "total": 3.3}
    limits = whatif.budget({"median": median})
    assert limits["load"] == 1.0 and limits["solve"] == 1.0
    assert limits["budget"] == round(1.2 * (1.0 + 7 * 1.0), 3)
    assert limits["lenient_budget"] == round(1.2 * (0.3 + 1.0 + 7 * (3.3 - 0.3 - 1.0)), 3)


def test_the_budget_of_several_profile_runs_takes_each_stage_median() -> None:
    """The rounds' profile runs (one a round, beside the whatif runs) give the budget their medians, stage by stage."""
    runs = [{"imports": 0.3, "read snapshot": r, "spec": 0.1, "inventory": 0.4, "solve": solve, "total": 3.0}
            for r, solve in ((0.5, 2.0), (0.9, 1.0), (0.6, 0.5))]
    limits = whatif.budget_of(runs)
    assert limits["load"] == round(0.6 + 0.1 + 0.4, 3) and limits["solve"] == 1.0
    assert limits["budget"] == round(1.2 * (1.1 + 7 * 1.0), 3)

def test_trees_side_by_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = {"nodes": 300, "pools": 12, "clusters": 3, "seed": 5, "cross_cluster": True, "family": "default"}
    snapshot, spec = gen.generate(**params)  # type: ignore[arg-type]
    inventory, spec_path, _ = gen.write_instance(snapshot, spec, tmp_path, params)
    root, copy = Path(__file__).resolve().parents[2], tmp_path / "copy"
    for package in ("planner", "solvers"):  # a second tree: what a checkout contributes to the measured command
        shutil.copytree(root / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    assert whatif.main(["--inventory", str(inventory), "--spec", str(spec_path), "--out-dir", str(tmp_path / "out"),
                        "--tree", str(root), "--tree", str(copy), "--repeat", "2",
                        "--json", str(tmp_path / "r.json")]) == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert json.loads(capsys.readouterr().out) == result
    assert result["same_outcomes"] is True and set(result["trees"]) == {str(root), str(copy)}
    assert result["trees"][str(root)]["ratio"] == 1.0 and result["trees"][str(copy)]["ratio"] > 0
    assert len(result["trees"][str(copy)]["walls"]) == 2 and result["walls"] == result["trees"][str(root)]["walls"]
    assert result["budget"] > 0


def test_comparison_outcome_leaves_out_the_seconds_only() -> None:
    text = json.dumps({"baseline": "a", "scenarios": [{"name": "a", "seconds": 1.5, "moves": 3, "plan_file": None}]})
    assert whatif.comparison_outcome(text) == {"baseline": "a", "scenarios": [{"name": "a", "moves": 3,
                                                                               "plan_file": None}]}


def test_timeline_shows_every_scenario_where_and_when_it_was_planned(tmp_path: Path) -> None:
    params = {"nodes": 300, "pools": 12, "clusters": 3, "seed": 5, "cross_cluster": True, "family": "default"}
    snapshot, spec = gen.generate(**params)  # type: ignore[arg-type]
    inventory, spec_path, _ = gen.write_instance(snapshot, spec, tmp_path, params)
    scenarios = whatif.write_scenarios(inventory, spec_path, tmp_path / "scenarios.yaml")
    result = whatif.timeline(inventory, spec_path, scenarios)
    rows = {row["scenario"]: row for row in result["scenarios"]}
    assert list(rows) == ["baseline", "targets-up", "add-nodes", "remove-nodes", "free-ips", "lock-nodes",
                          "no-cross-cluster"]
    # the worker is given the first scenario that edits the inventory, the parent takes the last one in the file
    assert rows["add-nodes"]["by"] == "worker" and rows["no-cross-cluster"]["by"] == "parent"
    assert all(0 <= row["start"] <= row["end"] <= result["total"] and row["status"] for row in rows.values())
    assert all(row["solve"] > 0 and "fingerprint" in row for row in rows.values())
    table = whatif.format_timeline(result).splitlines()
    assert table[2].startswith("| scenario | by | start | end | inventory |") and len(table) == 4 + len(rows)
