"""The plan file (`planner/planfile.py`): one model, one reader, one writer, used by every command.

Plans here are the review fixtures (what `make_plan` writes, see tests/review/data/make_fixtures.py) and plans
made on the spot; broken plans are those fixtures edited as JSON, the way a hand-edited file would be.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from planner.cli import main
from planner.errors import InputError
from planner.planfile import PlanDocument, parse_plan, read_plan, write_plan
from planner.planning import make_plan
from tests.core.builders import node, nodes_of, pool, snapshot, spec
from tests.emulator_server import run_emulator
from tests.review.data.make_fixtures import FIXTURES, SNAPSHOT, plan_path

Edit = Callable[[dict[str, Any]], Any]


def plan_a() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(plan_path("a").read_text(encoding="utf-8"))
    return data


def _write(tmp_path: Path, data: Any, name: str = "plan.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def super_node_plan() -> PlanDocument:
    """A plan that moves a super node (two nodes, one request with `creatingStep`)."""
    members = [node(f"a-s{i}", super_node="spod-1") for i in range(2)]
    snap = snapshot([pool("pool-a"), pool("pool-b")],
                    {"pool-a": members + nodes_of("a", 4), "pool-b": nodes_of("b", 2)})
    return make_plan(snap, spec({"pool-a": {"target": 4}, "pool-b": {"target": 4}},
                                pin=[f"a-{i}" for i in range(4)])).document


# --------------------------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("name", FIXTURES)
def test_round_trip_of_a_written_plan_is_byte_identical(name: str) -> None:
    text = plan_path(name).read_text(encoding="utf-8")
    assert parse_plan(json.loads(text), source=name).to_json() == text
    assert read_plan(plan_path(name)).to_json() == text


def test_write_then_read_gives_the_same_plan_and_the_same_bytes(tmp_path: Path) -> None:
    document = super_node_plan()
    [step] = document.steps
    assert step.super_node and step.body_json()["resourceSpec"] == {
        "flavor": "f.a", "creatingStep": {"step": 2, "type": "hyperinstance"}}
    path = tmp_path / "plan.json"
    write_plan(path, document)
    assert path.read_text(encoding="utf-8") == document.to_json()
    again = read_plan(path)
    assert again == document
    write_plan(path, again)
    assert path.read_text(encoding="utf-8") == document.to_json()


def test_the_json_leaves_out_unset_optional_keys() -> None:
    data = plan_a()
    assert "creatingStep" not in data["steps"][0]["body"]["resourceSpec"]
    train = data["pools"]["pool-train-7f3a"]
    assert "residual" not in train and "flavor_targets" not in train
    assert data["pools"]["pool-legacy-0a11"]["excluded_reason"] == "phase Abnormal"
    assert "excluded_reason" not in data["pools"]["pool-dev-91b0"]


# ------------------------------------------------------------------------------------------------ errors



def _decreasing_wave(d: dict[str, Any]) -> None:
    d["steps"][1]["wave"] = 2
    d["steps"][2]["wave"] = 1  # waves 1, 2, 1


CASES: list[Any] = [
    pytest.param(lambda d: d.update(format="poolshift.plan/v2"), "$.format",
                 "unsupported format 'poolshift.plan/v2' (expected 'poolshift.plan/v1')", id="wrong format"),
    pytest.param(lambda d: d.pop("format"), "$.format", "unsupported format None", id="no format"),
    pytest.param(lambda d: d["summary"].pop("moves"), "$.summary.moves", "required key is missing",
                 id="missing key"),
    pytest.param(lambda d: d.pop("spec"), "$.spec", "required key is missing", id="no embedded spec"),
    pytest.param(lambda d: d["steps"][1].update(note="x"), "$.steps[1].note", "unknown key", id="unknown key"),
    pytest.param(lambda d: d["steps"][1].update(wave="1"), "$.steps[1].wave", "expected a whole number, got '1'",
                 id="wave as a string"),
    pytest.param(lambda d: d["steps"][0].update(wave=0), "$.steps[0].wave", "must be at least 1 (got 0)",
                 id="wave 0"),
    pytest.param(_decreasing_wave, "$.steps[2].wave", "wave 1 comes after wave 2", id="decreasing wave"),
    pytest.param(lambda d: d["steps"][2].update(id=1), "$.steps[2].id", "step id 1 is used twice",
                 id="duplicate step id"),
    pytest.param(lambda d: d["steps"][1]["body"].update(migrateNodeNames=[]), "$.steps[1].body.migrateNodeNames",
                 "at least 1 item", id="empty migrateNodeNames"),
    pytest.param(lambda d: d["steps"][1]["body"].update(migrateNodeNames=["os-node-created-i1g"] * 2),
                 "$.steps[1].body.migrateNodeNames[1]", "node os-node-created-i1g is listed twice",
                 id="node listed twice"),
    pytest.param(lambda d: d["steps"][1]["body"]["resourceSpec"].update(creatingStep={"step": 3,
                                                                                      "type": "hyperinstance"}),
                 "$.steps[1]", "creatingStep.step is 3 but the request moves 2 node(s)", id="creatingStep.step"),
    pytest.param(lambda d: d["steps"][1]["body"].update(toPoolName="pool-infer-2c9e"), "$.steps[1]",
                 "the source and target pool are the same", id="source is target"),
    pytest.param(lambda d: d["steps"][0].update(staging="no"), "$.steps[0].staging", "expected true or false",
                 id="staging not a flag"),
    pytest.param(lambda d: d["pools"]["pool-dev-91b0"].update(before=-1), "$.pools.pool-dev-91b0.before",
                 "must not be negative (got -1)", id="negative count"),
    pytest.param(lambda d: d["excluded"][0].pop("reason"), "$.excluded[0].reason", "required key is missing",
                 id="excluded without reason"),
    pytest.param(lambda d: d["summary"].update(status="BEST"), "$.summary.status",
                 "must be one of 'OPTIMAL' or 'FEASIBLE' (got 'BEST')", id="unknown status"),
    pytest.param(lambda d: d["spec"]["pools"]["dev"].update(min=9, max=3), "$.spec.pools.dev",
                 "min (9) is greater than max (3) (in the spec the plan embeds)", id="broken embedded spec"),
    pytest.param(lambda d: d["spec"].update(bogus=1), "$.spec.bogus", "unknown key (in the spec the plan embeds)",
                 id="unknown key in the embedded spec"),
]


@pytest.mark.parametrize(("edit", "path", "problem"), CASES)
def test_a_broken_plan_is_one_line_naming_file_and_key_path(tmp_path: Path, edit: Edit, path: str,
                                                            problem: str) -> None:
    data = plan_a()
    edit(data)
    file = _write(tmp_path, data)
    with pytest.raises(InputError) as info:
        read_plan(file)
    message = str(info.value)
    assert "\n" not in message
    assert info.value.exit_code == 2 and info.value.source == str(file)
    assert info.value.path == path
    assert message.startswith(f"{file}: {path}: ") and problem in message


def test_file_level_problems_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found") as info:
        read_plan(tmp_path / "absent.json")
    assert info.value.source == str(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "format": "poolshift.plan/v1",\n  oops\n}')
    with pytest.raises(InputError, match=r"broken.json: not valid JSON \(line 3"):
        read_plan(broken)
    with pytest.raises(InputError, match="list.json: top level must be a JSON object, not list"):
        read_plan(_write(tmp_path, [1, 2], "list.json"))
    with pytest.raises(InputError, match="p: top level must be a JSON object, not str"):
        parse_plan("plan", source="p")


# ------------------------------------------------------------------------------------- one reader for all

READER_CASES = ["wave as a string", "node listed twice", "source is target", "no embedded spec",
                "broken embedded spec", "decreasing wave"]


def _case(name: str) -> Edit:
    for param in CASES:
        if param.id == name:
            edit: Edit = param.values[0]
            return edit
    raise KeyError(name)


@pytest.mark.parametrize("case", READER_CASES)
def test_show_report_diff_and_apply_refuse_a_broken_plan_with_the_same_line(tmp_path: Path, case: str) -> None:
    data = plan_a()
    _case(case)(data)
    bad = str(_write(tmp_path, data))
    good = str(plan_path("a"))
    lines = set()
    for args in (["show", bad], ["report", bad, "-o", str(tmp_path / "r.html")], ["diff", good, bad],
                 ["diff", bad, good], ["apply", bad]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout == "" and result.stderr.count("\n") == 1, (args, result.stderr)
        lines.add(result.stderr)
    assert len(lines) == 1
    assert lines.pop().startswith(f"poolshift: error: {bad}: $")
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("name", FIXTURES)
def test_show_report_and_diff_accept_every_written_plan(tmp_path: Path, name: str) -> None:
    path = str(plan_path(name))
    for args in (["show", path], ["show", path, "--format", "md"], ["report", path, "-o", str(tmp_path / "r.html")],
                 ["report", path, "--format", "md"], ["diff", path, str(plan_path("a"))]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (args, result.output)


@pytest.mark.emulator
def test_apply_accepts_every_written_plan() -> None:
    """A dry-run of each fixture against an emulator seeded with the snapshot the plans were made from."""
    expected = {"a": 3, "b": 5, "blocked": 1, "minimal": 0}
    with run_emulator(json.loads(SNAPSHOT.read_text(encoding="utf-8"))) as emu:
        for name in FIXTURES:
            result = CliRunner().invoke(main, ["apply", str(plan_path(name)), *emu.cli_args(), "--output", "json"],
                                        env=emu.env())
            assert result.exit_code == 0, (name, result.stderr)
            report = json.loads(result.stdout)
            assert report["status"] == "dry-run" and len(report["requests"]) == expected[name], name
            assert [r["body"] for r in report["requests"]] == [s.body_json() for s in read_plan(plan_path(name)).steps]
        assert emu.state()["migrate_requests"] == []


# ------------------------------------------------------------------------------------------- the model


def test_steps_read_as_requests() -> None:
    plan = read_plan(plan_path("b"))
    step = plan.steps[2]
    assert (step.id, step.wave, step.staging) == (3, 2, True)
    assert (step.source, step.target, step.flavor) == ("pool-infer-2c9e", "pool-dev-91b0", "modelarts.vm.gpu.8xv100")
    assert (step.nodes, step.size, step.super_node, step.crosses_clusters) == (["os-node-created-i2g"], 1, False, True)
    assert step.body_json() == {"migrateNodeNames": ["os-node-created-i2g"], "fromClusterName": "cce-lite-a1",
                                "toClusterName": "pool-dev-91b0", "toPoolName": "pool-dev-91b0",
                                "resourceSpec": {"flavor": "modelarts.vm.gpu.8xv100"}}
    assert [(wave, [s.id for s in steps]) for wave, steps in plan.waves()] == [(1, [1]), (2, [2, 3]), (3, [4]),
                                                                              (4, [5])]
    assert list(read_plan(plan_path("minimal")).waves()) == []


def test_pool_names_use_display_names_only_when_they_tell_pools_apart() -> None:
    data = plan_a()
    plan = parse_plan(data, source="a.json")
    assert plan.display_names() == {"pool-dev-91b0": "dev", "pool-infer-2c9e": "infer",
                                    "pool-legacy-0a11": "legacy", "pool-train-7f3a": "train"}
    assert plan.pool_name("pool-unknown") == "pool-unknown"
    data["pools"]["pool-dev-91b0"]["display_name"] = "train"
    shared = PlanDocument.model_validate(data)  # the model alone: this edit is not a plan the planner writes
    assert shared.display_names() == {p: p for p in data["pools"]}
    assert shared.pool_name("pool-train-7f3a") == "pool-train-7f3a"


def test_a_plan_never_changes_after_it_is_built() -> None:
    plan = read_plan(plan_path("a"))
    with pytest.raises(ValidationError, match="frozen"):
        plan.summary.moves = 1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        plan.steps[0].wave = 2  # type: ignore[misc]


# ------------------------------------------------------------------------- a plan that does not add up, or was edited

def _deleted_step(data: dict[str, Any]) -> None:
    del data["steps"][1]


def _renamed_node(data: dict[str, Any]) -> None:
    data["steps"][0]["body"]["migrateNodeNames"][0] = "os-node-created-zzzzz"


def _pin_dropped(data: dict[str, Any]) -> None:
    data["spec"]["pin"] = []


EDITS: list[Any] = [
    pytest.param(lambda d: d["steps"][0]["body"].update(toPoolName="pool-legacy-0a11"),
                 "the plan does not add up (was it edited?): step 1: pool pool-legacy-0a11 does not take part",
                 id="target that does not take part"),
    pytest.param(_deleted_step, "the plan does not add up (was it edited?): step 3 is at position 2: step ids must "
                                "be 1, 2, 3, ... in order", id="deleted step"),
    pytest.param(_renamed_node, "$.digest: the plan was modified after it was written", id="renamed node"),
    pytest.param(_pin_dropped, "the plan does not add up (was it edited?): spec_fingerprint is", id="pin dropped"),
    pytest.param(lambda d: d["summary"].update(moves=d["summary"]["moves"] + 1),
                 "the plan does not add up (was it edited?): summary.moves is", id="summary moves"),
]


@pytest.mark.parametrize(("edit", "reason"), EDITS)
def test_an_edited_plan_is_refused_naming_what_does_not_add_up(tmp_path: Path, edit: Edit, reason: str) -> None:
    data = plan_a()
    edit(data)
    with pytest.raises(InputError) as info:
        read_plan(_write(tmp_path, data))
    assert info.value.exit_code == 2 and "\n" not in str(info.value) and reason in str(info.value), str(info.value)


def test_the_digest_covers_the_whole_content_and_is_checked_last(tmp_path: Path) -> None:
    from planner.planfile import content_digest

    data = plan_a()
    assert data["digest"] == content_digest(data) and data["digest"].startswith("sha256:")
    data["created_at"] = "2030-01-01T00:00:00Z"  # consistent, but not what was written
    with pytest.raises(InputError, match=r"\$\.digest: the plan was modified"):
        read_plan(_write(tmp_path, data))
    data["digest"] = content_digest(data)  # whoever re-seals a plan takes its content as theirs
    assert read_plan(_write(tmp_path, data)).created_at == "2030-01-01T00:00:00Z"


_INCOMPLETE_MODELS = """
import sys
from pydantic import BaseModel
import planner.planfile.model, planner.spec
print(sorted(f"{m.__name__}.{n}" for m in (planner.planfile.model, planner.spec) for n, c in vars(m).items()
             if isinstance(c, type) and issubclass(c, BaseModel) and c.__module__ == m.__name__
             and not c.__pydantic_complete__))
"""


def test_every_model_of_the_plan_and_the_spec_is_built_once_at_import() -> None:
    """A model that names one defined further down is built at import without it, and again at its first use (a
    second schema build on every `poolshift plan`); each is defined after the models it holds. In a fresh process:
    a model once rebuilt stays complete."""
    done = subprocess.run([sys.executable, "-c", _INCOMPLETE_MODELS], capture_output=True, text=True, timeout=60,
                          check=False, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
