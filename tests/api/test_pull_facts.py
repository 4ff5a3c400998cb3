"""A snapshot pulled from an emulator seeded with snapshot S has the same planning facts as S."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from planner.inventory import build_inventory, fingerprint_snapshot
from planner.modelarts.pull import pull_snapshot
from planner.planning.pipeline import make_plan
from tests.emulator_server import run_emulator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.emulator
def test_pulled_example_has_the_same_facts_and_plan() -> None:
    seed = json.loads((EXAMPLES / "inventory.json").read_text())
    with run_emulator(seed) as emu, emu.client(read_only=True) as client:
        pulled = pull_snapshot(client, emu.region, emu.project_id)
    original, copy = build_inventory(seed), build_inventory(pulled)
    assert fingerprint_snapshot(pulled) == fingerprint_snapshot(seed)  # a plan of the file is not stale live
    for table in ("pools", "pool_flavors", "nodes", "subnets"):
        assert copy.columns[table] == original.columns[table], table
    spec = yaml.safe_load((EXAMPLES / "spec.yaml").read_text())
    a, b = (make_plan(seed, spec).document.model_dump(mode="json"),
            make_plan(pulled, spec).document.model_dump(mode="json"))
    assert a["steps"] == b["steps"]
    assert {k: v for k, v in a["summary"].items() if k != "solve_seconds"} == \
        {k: v for k, v in b["summary"].items() if k != "solve_seconds"}


@pytest.mark.emulator
def test_plan_live_reads_the_api_and_sends_nothing(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from planner.cli import main

    seed = json.loads((EXAMPLES / "inventory.json").read_text())
    from_file = make_plan(seed, yaml.safe_load((EXAMPLES / "spec.yaml").read_text())).document.model_dump(mode="json")
    out = tmp_path / "plan.json"
    with run_emulator(seed) as emu:
        result = CliRunner().invoke(main, ["plan", "--live", *emu.cli_args(), "--spec", str(EXAMPLES / "spec.yaml"),
                                           "-o", str(out)], env=emu.env())
        assert result.exit_code == 0, result.output
        assert emu.state()["migrate_requests"] == []
    live = json.loads(out.read_text())
    assert live["steps"] == from_file["steps"]
    assert live["summary"]["deviation_after"] == from_file["summary"]["deviation_after"]
    # --live and --inventory exclude each other
    both = CliRunner().invoke(main, ["plan", "--live", "--inventory", str(EXAMPLES / "inventory.json"),
                                     "--spec", str(EXAMPLES / "spec.yaml")])
    assert both.exit_code == 2 and "exactly one of --inventory FILE or --live" in both.output
