"""Trust what you read (issue 15): a hand-edited plan is refused by `show`, `report` and `apply` alike, with the
same one-line reason, before anything is shown or sent; `show` and `report` name the plan by its digest."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from planner.cli import main
from tests.emulator_server import run_emulator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _bad_target(d: dict[str, Any]) -> str:
    d["steps"][0]["body"]["toPoolName"] = "pool-8c2b6f10-infer-a"  # takes CPU flavors only
    return "the plan does not add up (was it edited?): step 1: pool pool-8c2b6f10-infer-a does not accept flavor " \
           "modelarts.vm.gpu.8xv100"


def _string_wave(d: dict[str, Any]) -> str:
    d["steps"][1]["wave"] = "1"
    return "$.steps[1].wave: expected a whole number, got '1'"


def _deleted_step(d: dict[str, Any]) -> str:
    del d["steps"][1]
    return "the plan does not add up (was it edited?): step 3 is at position 2: step ids must be 1, 2, 3, ... in order"


def _renamed_node(d: dict[str, Any]) -> str:
    d["steps"][0]["body"]["migrateNodeNames"][0] = "os-node-created-999zz"
    return (f"$.digest: the plan was modified after it was written: its content does not match its digest "
            f"{d['digest']}; plan again, or review and re-plan the change")


EDITS: dict[str, Callable[[dict[str, Any]], str]] = {
    "target pool that does not accept the flavor": _bad_target,
    "wave written as a string": _string_wave,
    "deleted step": _deleted_step,
    "changed node name": _renamed_node,
}


@pytest.fixture(scope="module")
def example_plan() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "plan.json").read_text())
    return data


@pytest.mark.emulator
@pytest.mark.parametrize("edit", list(EDITS))
def test_show_report_and_apply_refuse_a_hand_edited_plan_with_the_same_line(
        edit: str, example_plan: dict[str, Any], tmp_path: Path) -> None:
    data = copy.deepcopy(example_plan)
    reason = EDITS[edit](data)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(data, indent=2))
    expected = f"poolshift: error: {plan}: {reason}"
    snapshot = json.loads((EXAMPLES / "inventory.json").read_text())
    with run_emulator(snapshot) as emu:
        commands = {
            "show": ["show", str(plan)],
            "show md": ["show", str(plan), "--format", "md"],
            "report": ["report", str(plan), "-o", str(tmp_path / "r.html")],
            "report md": ["report", str(plan), "--format", "md"],
            "apply": ["apply", str(plan), *emu.cli_args()],
        }
        for name, args in commands.items():
            result = CliRunner().invoke(main, args, env=emu.env())
            assert result.exit_code == 2, (name, result.output)
            assert result.stderr.splitlines() == [expected], name
            assert result.stdout == "", name
        assert emu.requests() == []  # apply read the plan before it asked the API anything
    assert not (tmp_path / "r.html").exists()


def test_show_and_report_print_the_digest(example_plan: dict[str, Any], tmp_path: Path) -> None:
    plan = str(EXAMPLES / "plan.json")
    digest = example_plan["digest"]
    assert f"plan digest {digest}" in CliRunner().invoke(main, ["show", plan]).stdout
    assert f"- plan digest {digest}" in CliRunner().invoke(main, ["show", plan, "--format", "md"]).stdout
    assert f"plan digest `{digest}`" in CliRunner().invoke(main, ["report", plan, "--format", "md"]).stdout
    html = CliRunner().invoke(main, ["report", plan, "-o", str(tmp_path / "r.html"), "--output", "json"])
    assert json.loads(html.stdout)["digest"] == digest and digest in (tmp_path / "r.html").read_text()
    planned = CliRunner().invoke(main, ["plan", "--inventory", str(EXAMPLES / "inventory.json"), "--spec",
                                        str(EXAMPLES / "spec.yaml"), "-o", str(tmp_path / "p.json")])
    written = json.loads((tmp_path / "p.json").read_text())["digest"]
    assert f"plan digest {written}" in planned.stdout
