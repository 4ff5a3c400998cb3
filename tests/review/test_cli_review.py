from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from planner.cli import main
from tests.review.conftest import DATA, plan_path

A = str(plan_path("a"))
B = str(plan_path("b"))
BLOCKED = str(plan_path("blocked"))


def test_diff_text() -> None:
    result = CliRunner().invoke(main, ["diff", A, B])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Plan diff: {A} -> {B}\n")
    assert "Requests (4 added, 2 removed, 1 kept):" in result.stdout


def test_diff_json_and_markdown() -> None:
    result = CliRunner().invoke(main, ["diff", A, BLOCKED, "--output", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["identical"] is False
    assert {c["key"] for c in data["summary"]} >= {"status", "deviation_after", "blocked_by"}
    same = CliRunner().invoke(main, ["diff", A, BLOCKED, "--format", "json"])
    assert same.exit_code == 0 and json.loads(same.stdout) == data
    md = CliRunner().invoke(main, ["diff", A, A, "--format", "md"])
    assert md.exit_code == 0 and "No changes" in md.stdout and md.stdout.startswith("## Plan diff")


def test_diff_bad_file_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(main, ["diff", A, str(bad)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert f"{bad}: not valid JSON" in result.stderr
    assert "Traceback" not in result.output


def test_report_html_to_file(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", A, "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert html.startswith("<!doctype html>") and "<title>poolshift plan: plan_a.json</title>" in html
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temp file left behind


def test_report_markdown_from_suffix_and_stdout(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    result = CliRunner().invoke(main, ["report", B, "-o", str(out), "--output", "json"])
    assert result.exit_code == 0, result.output
    info: dict[str, Any] = json.loads(result.stdout)
    assert info["format"] == "md" and info["report"] == str(out)
    assert out.read_text().startswith("## poolshift plan: plan_b.json")
    stdout = CliRunner().invoke(main, ["report", B, "--format", "md", "--title", "PR 42"])
    assert stdout.exit_code == 0 and stdout.stdout.startswith("## PR 42\n")


def test_report_of_a_bad_plan_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps({"format": "poolshift.plan/v1"}))
    result = CliRunner().invoke(main, ["report", str(bad), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert f"{bad}: $.project_id: required key is missing" in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_report_json_output_needs_a_file() -> None:
    result = CliRunner().invoke(main, ["report", A, "--output", "json"])
    assert result.exit_code == 2
    assert "--out" in result.stderr


# ------------------------------------------------------------------------------------------------ whatif

SNAP = str(DATA / "snapshot.json")
SPEC = str(DATA / "spec.yaml")


def _scenarios(tmp_path: Path, text: str) -> str:
    path = tmp_path / "sc.yaml"
    path.write_text(text)
    return str(path)


def test_whatif_json_and_saved_plans(tmp_path: Path) -> None:
    sc = _scenarios(tmp_path, """
format: poolshift.scenarios/v1
scenarios:
  - name: baseline
  - name: stuck
    spec: {pools: {infer: {min: 40, target: 40}}}
""")
    plans = tmp_path / "plans"
    result = CliRunner().invoke(main, ["whatif", "--inventory", SNAP, "--spec", SPEC, "--scenarios", sc,
                                       "--output", "json", "--save-plans", str(plans), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    base, stuck = doc["scenarios"]
    assert doc["baseline"] == "baseline"
    assert (base["name"], base["feasible"], base["deviation_before"], base["deviation_after"], base["moves"],
            base["requests"]) == ("baseline", True, 4, 0, 2, 1)
    assert stuck["feasible"] is False and stuck["error_kind"] == "infeasible" and stuck["plan_file"] is None
    assert base["plan_file"] == str(plans / "baseline.plan.json")
    report = CliRunner().invoke(main, ["report", base["plan_file"], "--format", "md"])
    assert report.exit_code == 0 and "| train (pool-train-7f3a) | 8 | 10 | +2 | 10 |" in report.stdout


def test_whatif_table_of_the_examples() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    result = CliRunner().invoke(main, ["whatif", "--inventory", str(examples / "inventory.json"),
                                       "--spec", str(examples / "spec.yaml"),
                                       "--scenarios", str(examples / "scenarios.yaml"), "--format", "md"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) >= 4
    assert any("| NO |" in row for row in rows) and any("| yes |" in row for row in rows)


def test_whatif_bad_scenario_exits_2_naming_scenario_and_key(tmp_path: Path) -> None:
    sc = _scenarios(tmp_path, """
format: poolshift.scenarios/v1
scenarios:
  - name: baseline
  - name: typo
    inventory:
      add_nodes: [{pool: train, flavour: x, count: 1}]
""")
    result = CliRunner().invoke(main, ["whatif", "--inventory", SNAP, "--spec", SPEC, "--scenarios", sc])
    assert result.exit_code == 2
    assert "scenarios[1] (typo).inventory.add_nodes[0].flavor: required key is missing" in result.stderr
    assert "Traceback" not in result.output


def test_whatif_unknown_pool_in_override_exits_2(tmp_path: Path) -> None:
    sc = _scenarios(tmp_path, """
format: poolshift.scenarios/v1
scenarios:
  - name: ghost
    inventory: {remove_nodes: [{pool: nowhere, flavor: f, count: 1}]}
""")
    result = CliRunner().invoke(main, ["whatif", "--inventory", SNAP, "--spec", SPEC, "--scenarios", sc])
    assert result.exit_code == 2
    assert "scenarios[0] (ghost).inventory.remove_nodes[0].pool: unknown pool 'nowhere'" in result.stderr


def test_whatif_ends_with_the_collector_still_paused(finishes: list[tuple[bool, int]]) -> None:
    """`whatif` calls `finish` (where the console script ends, os._exit) inside its collector pause, as `plan`:
    turned back on after the read or the planning, the collector walked the snapshot and the plans again (0.5-0.8 s
    at 100k nodes). An in-process caller gets the collector back as it was."""
    examples = Path(__file__).resolve().parents[2] / "examples"
    result = CliRunner().invoke(main, ["whatif", "--inventory", str(examples / "inventory.json"),
                                       "--spec", str(examples / "spec.yaml"),
                                       "--scenarios", str(examples / "scenarios.yaml"), "--output", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scenarios"]
    assert finishes == [(False, 0)] and gc.isenabled()


def test_the_console_script_ends_whatif_with_its_whole_output(tmp_path: Path) -> None:
    """Through the `poolshift` console script (os._exit once its output is flushed, the forked worker done): the
    comparison arrives whole through a pipe, the same as in process, and the saved plans are written."""
    examples = Path(__file__).resolve().parents[2] / "examples"
    args = ["whatif", "--inventory", str(examples / "inventory.json"), "--spec", str(examples / "spec.yaml"),
            "--scenarios", str(examples / "scenarios.yaml"), "--output", "json", "--jobs", "2"]
    done = subprocess.run([str(Path(sys.executable).parent / "poolshift"), *args, "--save-plans",
                           str(tmp_path / "plans")], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    in_process = CliRunner().invoke(main, args)
    assert in_process.exit_code == 0, in_process.output

    def outcome(text: str) -> list[dict[str, Any]]:
        return [{k: v for k, v in s.items() if k not in ("seconds", "plan_file")}
                for s in json.loads(text)["scenarios"]]

    assert outcome(done.stdout) == outcome(in_process.stdout)
    saved = [s["plan_file"] for s in json.loads(done.stdout)["scenarios"] if s["plan_file"]]
    assert saved and all(Path(p).is_file() for p in saved)
