"""The start-up floor benchmark (`benchmarks/floor.py`): what a plan cannot avoid, measured beside the plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import floor


def test_the_floor_imports_what_a_plan_imports_and_reads_the_snapshot(tmp_path: Path) -> None:
    out, markdown = tmp_path / "floor.json", tmp_path / "floor.md"
    code = floor.main(["--families", "default", "--sizes", "1k", "--seeds", "1", "--repeat", "1",
                       "--data-dir", str(tmp_path), "--json", str(out), "--markdown", str(markdown)])
    assert code == 0
    (row,) = json.loads(out.read_text(encoding="utf-8"))
    assert row["instance"] == "default-1k-s1" and row["target"] is None  # issue 16 sets no target at 1k
    # the module list comes from a clean interpreter that planned the instance: the planner's pipeline, its typed
    # plan file and a solver backend, and nothing of the benchmarks (the children never import this package)
    assert {"planner.planning.pipeline", "planner.planfile.model", "pydantic", "solvers.flow"} <= \
        set(_modules(row, tmp_path))
    med = row["median"]
    # the floor child timed its imports and its read inside its own wall time
    assert med["imports"] > 0 and med["read"] > 0 and med["imports"] + med["read"] < med["floor"]
    assert med["python -c pass"] > 0 and med["plan"] > 0
    assert "| default-1k-s1 |" in markdown.read_text(encoding="utf-8")


def _modules(row: dict[str, object], tmp_path: Path) -> list[str]:
    """The modules of a plan of the row's instance, listed again (the JSON keeps only their number)."""
    inventory = next(tmp_path.glob("inventory-default-1k-s1*.json"))
    spec = next(tmp_path.glob("spec-default-1k-s1*.yaml"))
    names = floor.modules_of_a_plan(inventory, spec)
    assert len(names) == row["modules"]
    assert not any(name.startswith("benchmarks") for name in names)
    return names


def test_the_share_of_the_target_is_the_floor_over_it() -> None:
    row = {"instance": "x-10k-s1", "target": 0.5, "median": {"plan": 0.9, "floor": 0.45, "python -c pass": 0.03,
                                                             "imports": 0.3, "read": 0.1}}
    assert "| x-10k-s1 | 0.900 | 0.450 | 0.450 | 0.030 | 0.300 | 0.100 | 0.5 | 0.90 |" in floor.format_markdown([row])


def test_an_unknown_family_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        floor.main(["--families", "default,nope"])
    assert stopped.value.code == 2 and "unknown family: nope" in capsys.readouterr().err
